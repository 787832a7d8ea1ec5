#include "prober/cares_resolver.h"

#include <arpa/nameser.h>

#include <boost/asio/post.hpp>

#include "absl/status/status.h"

namespace stswatch::prober {

namespace asio = boost::asio;

struct CaresResolver::Watch {
  explicit Watch(asio::io_context& io, ares_socket_t fd) : fd(fd), descriptor(io, fd) {}
  ares_socket_t fd;
  asio::posix::stream_descriptor descriptor;
  bool want_read = false;
  bool want_write = false;
  bool read_pending = false;
  bool write_pending = false;
  bool released = false;
};

struct CaresResolver::Query {
  std::string asked;
  std::string name;  // The name being queried now (changes when chasing a CNAME).
  RrType type;
  Callback callback;
  std::vector<std::string> cnames;
  int hops = 0;
};

namespace {

constexpr int kMaxCnameHops = 8;

std::string Normalize(std::string name) {
  while (!name.empty() && name.back() == '.') {
    name.pop_back();
  }
  for (char& c : name) {
    if (c >= 'A' && c <= 'Z') {
      c = static_cast<char>(c - 'A' + 'a');
    }
  }
  return name;
}

}  // namespace

absl::StatusOr<std::unique_ptr<CaresResolver>> CaresResolver::Create(asio::io_context& io,
                                                                     const CaresOptions& options) {
  static const int init = ares_library_init(ARES_LIB_INIT_ALL);
  if (init != ARES_SUCCESS) {
    return absl::InternalError(std::string("c-ares: ") + ares_strerror(init));
  }
  std::unique_ptr<CaresResolver> resolver(new CaresResolver(io, options));
  ares_options opts{};
  opts.sock_state_cb = &CaresResolver::SockStateCallback;
  opts.sock_state_cb_data = resolver.get();
  opts.timeout = options.timeout_ms;
  opts.tries = options.tries;
  opts.flags = ARES_FLAG_NOCHECKRESP;  // Hand SERVFAIL/REFUSED answers to us, to report them.
  const int mask = ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_FLAGS;
  if (int rc = ares_init_options(&resolver->channel_, &opts, mask); rc != ARES_SUCCESS) {
    return absl::InternalError(std::string("c-ares: ") + ares_strerror(rc));
  }
  if (!options.servers.empty()) {
    if (int rc = ares_set_servers_ports_csv(resolver->channel_, options.servers.c_str());
        rc != ARES_SUCCESS) {
      return absl::InvalidArgumentError("resolver address " + options.servers +
                                        " is not IP[:PORT]: " + ares_strerror(rc));
    }
  }
  return resolver;
}

CaresResolver::CaresResolver(asio::io_context& io, const CaresOptions& options)
    : io_(io), options_(options), timer_(io) {}

CaresResolver::~CaresResolver() {
  *alive_ = false;
  try {
    timer_.cancel();
    if (channel_ != nullptr) {
      // Pending queries complete with ARES_EDESTRUCTION; OnAnswer drops them without a callback.
      ares_destroy(channel_);
    }
    for (auto& [fd, watch] : watches_) {
      if (!watch->released) {
        watch->released = true;
        watch->descriptor.release();  // c-ares owns (and has closed) the socket.
      }
    }
  } catch (...) {  // NOLINT(bugprone-empty-catch): a destructor must not throw; nothing to undo.
  }
}

void CaresResolver::Resolve(const std::string& name, RrType type, Callback callback) {
  auto query = std::make_unique<Query>();
  query->asked = Normalize(name);
  query->name = query->asked;
  query->type = type;
  query->callback = std::move(callback);
  if (static_cast<int>(in_flight_.size()) >= options_.max_in_flight) {
    waiting_.push_back(std::move(query));
    return;
  }
  Start(std::move(query));
}

void CaresResolver::Start(std::unique_ptr<Query> query) {
  Query* raw = query.get();
  in_flight_[raw] = std::move(query);
  struct Arg {
    CaresResolver* self;
    Query* query;
  };
  ares_query(
      channel_, raw->name.c_str(), ns_c_in, static_cast<int>(raw->type),
      [](void* arg, int status, int /*timeouts*/, unsigned char* answer, int length) {
        std::unique_ptr<Arg> a(static_cast<Arg*>(arg));
        if (status == ARES_EDESTRUCTION) {
          return;  // The resolver is being destroyed: no callback.
        }
        a->self->OnAnswer(a->query, status, answer, length);
      },
      new Arg{this, raw});
  RearmTimer();
}

void CaresResolver::StartNext() {
  while (!waiting_.empty() && static_cast<int>(in_flight_.size()) < options_.max_in_flight) {
    std::unique_ptr<Query> next = std::move(waiting_.front());
    waiting_.pop_front();
    Start(std::move(next));
  }
}

void CaresResolver::OnAnswer(Query* query, int status, const unsigned char* answer, int length) {
  DnsResult result;
  if (status != ARES_SUCCESS || answer == nullptr) {
    result.outcome = mtasts::DnsOutcome::kError;
    switch (status) {
      case ARES_ENOTFOUND:
        result.outcome = mtasts::DnsOutcome::kNxDomain;
        break;
      case ARES_ENODATA:
        result.outcome = mtasts::DnsOutcome::kNoData;
        break;
      case ARES_ETIMEOUT:
        result.error = "no answer from the DNS server (timeout)";
        break;
      case ARES_ESERVFAIL:
        result.error = "SERVFAIL";
        break;
      case ARES_EREFUSED:
        result.error = "REFUSED";
        break;
      default:
        result.error = ares_strerror(status);
    }
    return Finish(query, std::move(result));
  }
  const auto parsed = ParseDnsMessage(std::span<const std::uint8_t>(answer, length));
  if (!parsed.ok()) {
    result.error = "malformed DNS answer: " + std::string(parsed.status().message());
    return Finish(query, std::move(result));
  }
  switch (parsed->rcode) {
    case 0:
      break;
    case 3:
      result.outcome = mtasts::DnsOutcome::kNxDomain;
      return Finish(query, std::move(result));
    case 2:
      result.error = "SERVFAIL";
      return Finish(query, std::move(result));
    case 5:
      result.error = "REFUSED";
      return Finish(query, std::move(result));
    default:
      result.error = "DNS error code " + std::to_string(parsed->rcode);
      return Finish(query, std::move(result));
  }
  // Follow the CNAME chain inside the answer.
  std::string name = query->name;
  while (true) {
    const std::string next = FollowCnames(parsed->answers, name, 1);
    if (next == name) {
      break;
    }
    query->cnames.push_back(next);
    name = next;
    if (static_cast<int>(query->cnames.size()) > kMaxCnameHops) {
      result.error = "CNAME chain longer than 8 links";
      return Finish(query, std::move(result));
    }
  }
  for (const DnsRecord& rec : parsed->answers) {
    if (rec.type == static_cast<std::uint16_t>(query->type) && rec.name == name) {
      result.records.push_back(rec);
    }
  }
  if (result.records.empty() && name != query->name) {
    // The server gave the chain but not the target's data: ask for the target.
    if (++query->hops > kMaxCnameHops) {
      result.error = "CNAME chain longer than 8 links";
      return Finish(query, std::move(result));
    }
    query->name = name;
    auto owned = std::move(in_flight_[query]);
    in_flight_.erase(query);
    return Start(std::move(owned));
  }
  result.outcome = result.records.empty() ? mtasts::DnsOutcome::kNoData : mtasts::DnsOutcome::kOk;
  Finish(query, std::move(result));
}

void CaresResolver::Finish(Query* query, DnsResult result) {
  auto it = in_flight_.find(query);
  if (it == in_flight_.end()) {
    return;
  }
  std::unique_ptr<Query> owned = std::move(it->second);
  in_flight_.erase(it);
  result.cnames = owned->cnames;
  // Callbacks never run inside c-ares (or inside Resolve): post them.
  asio::post(io_, [alive = alive_, callback = std::move(owned->callback),
                   result = std::move(result)]() mutable {
    if (*alive) {
      callback(std::move(result));
    }
  });
  StartNext();
}

void CaresResolver::SockStateCallback(void* data, ares_socket_t fd, int readable, int writable) {
  static_cast<CaresResolver*>(data)->OnSockState(fd, readable != 0, writable != 0);
}

void CaresResolver::OnSockState(ares_socket_t fd, bool readable, bool writable) {
  auto it = watches_.find(fd);
  if (!readable && !writable) {
    if (it != watches_.end()) {
      // c-ares is closing the socket: stop watching, never close it ourselves.
      it->second->descriptor.release();
      it->second->released = true;
      watches_.erase(it);
    }
    return;
  }
  if (it == watches_.end()) {
    it = watches_.emplace(fd, std::make_shared<Watch>(io_, fd)).first;
  }
  it->second->want_read = readable;
  it->second->want_write = writable;
  Arm(it->second);
}

void CaresResolver::Arm(const std::shared_ptr<Watch>& watch) {
  if (watch->released) {
    return;
  }
  if (watch->want_read && !watch->read_pending) {
    watch->read_pending = true;
    watch->descriptor.async_wait(
        asio::posix::stream_descriptor::wait_read,
        [this, watch, alive = alive_](const boost::system::error_code& ec) {
          watch->read_pending = false;
          if (!*alive || ec || watch->released) {
            return;
          }
          ares_process_fd(channel_, watch->fd, ARES_SOCKET_BAD);
          Arm(watch);
          RearmTimer();
        });
  }
  if (watch->want_write && !watch->write_pending) {
    watch->write_pending = true;
    watch->descriptor.async_wait(
        asio::posix::stream_descriptor::wait_write,
        [this, watch, alive = alive_](const boost::system::error_code& ec) {
          watch->write_pending = false;
          if (!*alive || ec || watch->released) {
            return;
          }
          ares_process_fd(channel_, ARES_SOCKET_BAD, watch->fd);
          Arm(watch);
          RearmTimer();
        });
  }
}

void CaresResolver::RearmTimer() {
  if (in_flight_.empty()) {
    timer_.cancel();  // Nothing pending: let the io_context run out of work.
    return;
  }
  timeval max{1, 0};
  timeval tv{};
  ares_timeout(channel_, &max, &tv);
  timer_.expires_after(std::chrono::seconds(tv.tv_sec) + std::chrono::microseconds(tv.tv_usec));
  timer_.async_wait([this, alive = alive_](const boost::system::error_code& ec) {
    if (!*alive || ec) {
      return;
    }
    ares_process_fd(channel_, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
    RearmTimer();
  });
}

}  // namespace stswatch::prober
