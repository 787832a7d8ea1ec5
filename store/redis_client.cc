#include "store/redis_client.h"

#include <signal.h>
#include <sys/un.h>

#include <algorithm>
#include <cassert>
#include <deque>
#include <utility>

#include <boost/asio/async_result.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace stswatch::store {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

// ---------------------------------------------------------------------------------------------
// RedisReply.

std::string RedisReply::DebugString() const {
  switch (type) {
    case Type::kNil:
      return "nil";
    case Type::kString:
      return absl::StrCat("string \"", absl::CHexEscape(str), "\"");
    case Type::kStatus:
      return absl::StrCat("status ", str);
    case Type::kError:
      return absl::StrCat("error ", str);
    case Type::kInteger:
      return absl::StrCat("integer ", integer);
    case Type::kArray: {
      std::string out = "array [";
      for (std::size_t i = 0; i < elements.size(); ++i) {
        absl::StrAppend(&out, i == 0 ? "" : ", ", elements[i].DebugString());
      }
      return out + "]";
    }
  }
  return "?";
}

// ---------------------------------------------------------------------------------------------
// RedisClient.

struct RedisClient::Pending {
  enum class Kind { kCommand, kAuth, kSelect, kPing };
  Kind kind = Kind::kCommand;
  std::string name;  // The command's name, for messages.
  Clock::time_point deadline;
  Callback done;  // kCommand only; empty once called.
};

// One redisAsyncContext and what watches it. Shared between the client, the Asio handlers and
// hiredis' hooks (ev.data is a raw pointer to it); it outlives the context.
struct RedisClient::Connection : std::enable_shared_from_this<Connection> {
  Connection(const asio::any_io_executor& executor, RedisClient* owner)
      : client(owner), descriptor(executor), deadline_timer(executor) {}

  // Why the connection ends: set by whoever ends it, else hiredis' error, read while the
  // context is still there.
  const std::string& Reason() {
    if (reason.empty()) {
      reason = ac != nullptr && ac->c.err != 0 ? std::string(ac->c.errstr) : "connection closed";
    }
    return reason;
  }

  // hiredis' hooks are level-triggered ("keep reading"); an Asio wait fires once, so a wait is
  // re-armed after every event for as long as hiredis wants it.
  void Arm() {
    if (closed) {
      return;
    }
    if (want_read && !read_pending) {
      read_pending = true;
      descriptor.async_wait(asio::posix::stream_descriptor::wait_read,
                            [self = shared_from_this()](const boost::system::error_code& ec) {
                              self->read_pending = false;
                              if (ec || self->closed || !self->want_read) {
                                return;
                              }
                              // May free the context: the cleanup hook then sets `closed`.
                              redisAsyncHandleRead(self->ac);
                              self->Arm();
                            });
    }
    if (want_write && !write_pending) {
      write_pending = true;
      descriptor.async_wait(asio::posix::stream_descriptor::wait_write,
                            [self = shared_from_this()](const boost::system::error_code& ec) {
                              self->write_pending = false;
                              if (ec || self->closed || !self->want_write) {
                                return;
                              }
                              redisAsyncHandleWrite(self->ac);
                              self->Arm();
                            });
    }
  }

  static void AddRead(void* data) {
    auto* conn = static_cast<Connection*>(data);
    conn->want_read = true;
    conn->Arm();
  }
  static void DelRead(void* data) { static_cast<Connection*>(data)->want_read = false; }
  // Commands appended one after the other only set the flag: the buffer is written once, when
  // the wait completes after the caller has returned to the executor.
  static void AddWrite(void* data) {
    auto* conn = static_cast<Connection*>(data);
    conn->want_write = true;
    conn->Arm();
  }
  static void DelWrite(void* data) { static_cast<Connection*>(data)->want_write = false; }

  RedisClient* client;
  redisAsyncContext* ac = nullptr;  // Null once hiredis has freed it.
  asio::posix::stream_descriptor descriptor;
  asio::steady_timer deadline_timer;  // At the deadline of the oldest command in flight.
  bool deadline_armed = false;
  bool closed = false;  // hiredis has freed, or is freeing, the context.
  bool want_read = false;
  bool want_write = false;
  bool read_pending = false;
  bool write_pending = false;
  // In the order hiredis will answer them (replies come back in order).
  std::deque<std::unique_ptr<Pending>> in_flight;
  std::string reason;
};

namespace {

RedisReply CopyReply(const redisReply& r) {
  RedisReply out;
  switch (r.type) {
    case REDIS_REPLY_STRING:
      out.type = RedisReply::Type::kString;
      out.str.assign(r.str, r.len);
      break;
    case REDIS_REPLY_STATUS:
      out.type = RedisReply::Type::kStatus;
      out.str.assign(r.str, r.len);
      break;
    case REDIS_REPLY_ERROR:
      out.type = RedisReply::Type::kError;
      out.str.assign(r.str, r.len);
      break;
    case REDIS_REPLY_INTEGER:
      out.type = RedisReply::Type::kInteger;
      out.integer = r.integer;
      break;
    case REDIS_REPLY_ARRAY:
      out.type = RedisReply::Type::kArray;
      out.elements.reserve(r.elements);
      for (std::size_t i = 0; i < r.elements; ++i) {
        out.elements.push_back(CopyReply(*r.element[i]));
      }
      break;
    default:
      out.type = RedisReply::Type::kNil;
  }
  return out;
}

// Commands that would break the one-reply-per-command model this client is built on.
absl::Status CheckCommand(const std::vector<std::string>& args) {
  if (args.empty()) {
    return absl::InvalidArgumentError("empty Redis command");
  }
  const std::string name = absl::AsciiStrToLower(args[0]);
  // hiredis 0.14 switches the context into pub/sub or monitor mode on these names, and on any
  // of them with a leading 'p'; SSUBSCRIBE (Redis 7) is unknown to it and would crash it.
  absl::string_view stem = name;
  if (!stem.empty() && stem.front() == 'p') {
    stem.remove_prefix(1);
  }
  if (stem == "subscribe" || stem == "unsubscribe" || stem == "monitor" || name == "ssubscribe" ||
      name == "sunsubscribe") {
    return absl::InvalidArgumentError(
        absl::StrCat("Redis command ", args[0],
                     " is not supported: pub/sub and MONITOR need a connection "
                     "of their own"));
  }
  if (name == "hello") {
    return absl::InvalidArgumentError(
        "Redis command HELLO is not supported: hiredis 0.14 only "
        "speaks RESP2");
  }
  if (name == "client" && args.size() > 1 && absl::AsciiStrToLower(args[1]) == "reply") {
    return absl::InvalidArgumentError(
        "Redis command CLIENT REPLY is not supported: replies "
        "would no longer match commands");
  }
  if (name == "select" || name == "reset") {
    return absl::InvalidArgumentError(
        absl::StrCat("Redis command ", args[0],
                     " is not supported: the database is the endpoint's, "
                     "selected again on every reconnect"));
  }
  return absl::OkStatus();
}

void IgnoreSigpipe() {
  struct sigaction current {};
  if (sigaction(SIGPIPE, nullptr, &current) == 0 && current.sa_handler == SIG_DFL) {
    signal(SIGPIPE, SIG_IGN);
  }
}

std::string Millis(std::chrono::milliseconds ms) { return absl::StrCat(ms.count(), " ms"); }

}  // namespace

struct RedisClient::AwaitInitiation {
  template <typename Handler>
  void operator()(Handler&& handler, const std::vector<std::string>& args) const {
    // Asio's completion handlers are move-only; Callback is a std::function.
    auto shared = std::make_shared<std::decay_t<Handler>>(std::forward<Handler>(handler));
    client->Command(args, [shared](absl::StatusOr<RedisReply> result) {
      std::move (*shared)(std::move(result));
    });
  }
  RedisClient* client;
};

RedisClient::RedisClient(asio::any_io_executor executor, RedisEndpoint endpoint,
                         RedisOptions options)
    : executor_(std::move(executor)),
      endpoint_(std::move(endpoint)),
      options_(options),
      retry_timer_(executor_),
      backoff_(std::max(options.backoff_min, std::chrono::milliseconds(1))),
      random_(std::random_device()()) {
  options_.backoff_max = std::max(options_.backoff_max, backoff_);
}

RedisClient::~RedisClient() {
  *alive_ = false;
  logger_ = nullptr;
  connected_callback_ = nullptr;
  state_ = State::kStopped;
  try {
    retry_timer_.cancel();
    if (conn_ != nullptr && !conn_->closed) {
      Drop(*conn_, "client destroyed");
    }
  } catch (...) {  // NOLINT(bugprone-empty-catch): a destructor must not throw; nothing to undo.
  }
}

void RedisClient::Start() {
  if (state_ != State::kIdle) {
    return;
  }
  IgnoreSigpipe();
  Connect();
}

void RedisClient::Stop() {
  if (state_ == State::kStopped) {
    return;
  }
  state_ = State::kStopped;
  retry_timer_.cancel();
  if (conn_ != nullptr && !conn_->closed) {
    Drop(*conn_, "client stopped");
  }
}

bool RedisClient::connected() const { return state_ == State::kConnected; }

void RedisClient::SetConnectedCallback(std::function<void()> callback) {
  connected_callback_ = std::move(callback);
}

void RedisClient::SetLogger(std::function<void(std::string_view)> logger) {
  logger_ = std::move(logger);
}

void RedisClient::Command(const std::vector<std::string>& args, Callback done) {
  if (absl::Status s = CheckCommand(args); !s.ok()) {
    return Deliver(std::move(done), std::move(s));
  }
  if (state_ != State::kConnected) {
    return Deliver(std::move(done), absl::UnavailableError(absl::StrCat(
                                        state_ == State::kStopped ? "Redis client is stopped: "
                                                                  : "not connected to Redis at ",
                                        endpoint_.ToString())));
  }
  auto pending = std::make_unique<Pending>();
  pending->name = args[0];
  pending->deadline = Clock::now() + options_.command_timeout;
  pending->done = std::move(done);
  Send(*conn_, args, std::move(pending));
  ArmDeadline(conn_);
}

asio::awaitable<absl::StatusOr<RedisReply>> RedisClient::Await(std::vector<std::string> args) {
  return asio::async_initiate<const asio::use_awaitable_t<>&, void(absl::StatusOr<RedisReply>)>(
      AwaitInitiation{this}, asio::use_awaitable, std::move(args));
}

void RedisClient::Connect() {
  state_ = State::kConnecting;
  conn_.reset();  // The previous connection is closed: hiredis no longer refers to it.
  const std::string where = absl::StrCat("cannot connect to ", endpoint_.ToString(), ": ");
  redisAsyncContext* ac = nullptr;
  if (!endpoint_.unix_path.empty()) {
    if (absl::Status s = CheckUnixSocketPath(endpoint_.unix_path); !s.ok()) {
      return ScheduleRetry(where + std::string(s.message()));
    }
    ac = redisAsyncConnectUnix(endpoint_.unix_path.c_str());
  } else {
    // hiredis resolves the host name with a blocking getaddrinfo().
    ac = redisAsyncConnect(endpoint_.host.c_str(), endpoint_.port);
  }
  if (ac == nullptr) {
    return ScheduleRetry(where + "out of memory");
  }
  if (ac->c.err != 0) {
    // A unix socket connects (or fails) at once; a TCP connect fails here on a bad address.
    const std::string reason = ac->c.errstr;
    redisAsyncFree(ac);
    return ScheduleRetry(where + reason);
  }
  auto conn = std::make_shared<Connection>(executor_, this);
  boost::system::error_code ec;
  conn->descriptor.assign(ac->c.fd, ec);
  if (ec) {
    redisAsyncFree(ac);
    return ScheduleRetry(where + ec.message());
  }
  conn->ac = ac;
  ac->data = conn.get();
  ac->ev.data = conn.get();
  ac->ev.addRead = &Connection::AddRead;
  ac->ev.delRead = &Connection::DelRead;
  ac->ev.addWrite = &Connection::AddWrite;
  ac->ev.delWrite = &Connection::DelWrite;
  ac->ev.cleanup = &RedisClient::OnCleanup;
  conn_ = conn;

  // The handshake, pipelined behind the connect; its replies must all arrive within
  // connect_timeout.
  const Clock::time_point deadline = Clock::now() + options_.connect_timeout;
  auto step = [&](Pending::Kind kind, const std::vector<std::string>& args) {
    auto pending = std::make_unique<Pending>();
    pending->kind = kind;
    pending->name = args[0];
    pending->deadline = deadline;
    Send(*conn, args, std::move(pending));
  };
  if (!endpoint_.password.empty()) {
    if (endpoint_.user.empty()) {
      step(Pending::Kind::kAuth, {"AUTH", endpoint_.password});
    } else {
      step(Pending::Kind::kAuth, {"AUTH", endpoint_.user, endpoint_.password});
    }
  }
  if (endpoint_.db != 0) {
    step(Pending::Kind::kSelect, {"SELECT", std::to_string(endpoint_.db)});
  }
  step(Pending::Kind::kPing, {"PING"});
  ArmDeadline(conn);
}

void RedisClient::Send(Connection& conn, const std::vector<std::string>& args,
                       std::unique_ptr<Pending> pending) {
  std::vector<const char*> argv;
  std::vector<std::size_t> lengths;
  argv.reserve(args.size());
  lengths.reserve(args.size());
  for (const std::string& arg : args) {
    argv.push_back(arg.data());
    lengths.push_back(arg.size());
  }
  Pending* raw = pending.get();
  conn.in_flight.push_back(std::move(pending));
  // Only appends to hiredis' output buffer; AddWrite arms the write.
  if (redisAsyncCommandArgv(conn.ac, &RedisClient::OnReply, raw, static_cast<int>(argv.size()),
                            argv.data(), lengths.data()) != REDIS_OK) {
    // The context is disconnecting.
    std::unique_ptr<Pending> refused = std::move(conn.in_flight.back());
    conn.in_flight.pop_back();
    Deliver(std::move(refused->done),
            absl::UnavailableError(
                absl::StrCat("connection to Redis at ", endpoint_.ToString(), " is closing")));
  }
}

void RedisClient::OnReply(redisAsyncContext* ac, void* reply, void* privdata) {
  auto* conn = static_cast<Connection*>(ac->data);
  auto it = conn->in_flight.begin();
  // hiredis answers callbacks in the order of the commands, so this is the first one.
  assert(it != conn->in_flight.end() && it->get() == privdata);
  while (it != conn->in_flight.end() && it->get() != privdata) {
    ++it;
  }
  if (it == conn->in_flight.end()) {
    return;
  }
  std::unique_ptr<Pending> pending = std::move(*it);
  conn->in_flight.erase(it);
  RedisClient* self = conn->client;
  if (pending->kind != Pending::Kind::kCommand) {
    return self->HandshakeReply(*conn, *pending, reply);
  }
  if (!pending->done) {
    return;  // Timed out already.
  }
  if (reply == nullptr) {
    // hiredis frees the context: every command not answered yet gets here with no reply.
    return self->Deliver(std::move(pending->done),
                         absl::UnavailableError(absl::StrCat(
                             "Redis connection to ", self->endpoint_.ToString(),
                             " lost before the reply to ", pending->name, ": ", conn->Reason())));
  }
  self->Deliver(std::move(pending->done), CopyReply(*static_cast<const redisReply*>(reply)));
}

void RedisClient::HandshakeReply(Connection& conn, const Pending& pending, const void* reply) {
  if (reply == nullptr || !conn.reason.empty()) {
    return;  // The connection is going away; OnClosed says why.
  }
  const auto& r = *static_cast<const redisReply*>(reply);
  const absl::string_view text(r.str == nullptr ? "" : r.str, r.str == nullptr ? 0 : r.len);
  const bool pong = r.type == REDIS_REPLY_STATUS && text == "PONG";
  if (r.type == REDIS_REPLY_ERROR || (pending.kind == Pending::Kind::kPing && !pong)) {
    switch (pending.kind) {
      case Pending::Kind::kAuth:
        conn.reason = absl::StrCat("AUTH refused: ", text);
        break;
      case Pending::Kind::kSelect:
        conn.reason = absl::StrCat("SELECT ", endpoint_.db, " refused: ", text);
        break;
      default:
        conn.reason = absl::StrCat("PING answered with \"", text, "\"");
    }
    // Not from inside hiredis' callback: it would defer the free and run the rest after us.
    asio::post(executor_, [this, alive = alive_, c = conn.shared_from_this()] {
      if (*alive && !c->closed) {
        Drop(*c, c->reason);
      }
    });
    return;
  }
  if (pending.kind != Pending::Kind::kPing) {
    return;
  }
  state_ = State::kConnected;
  backoff_ = std::max(options_.backoff_min, std::chrono::milliseconds(1));
  Log(absl::StrCat("connected to ", endpoint_.ToString()));
  asio::post(executor_, [this, alive = alive_, c = conn.shared_from_this()] {
    if (*alive && c == conn_ && state_ == State::kConnected && connected_callback_) {
      connected_callback_();
    }
  });
}

void RedisClient::ArmDeadline(const std::shared_ptr<Connection>& conn) {
  if (conn->deadline_armed || conn->closed || conn->in_flight.empty()) {
    return;
  }
  conn->deadline_armed = true;
  conn->deadline_timer.expires_at(conn->in_flight.front()->deadline);
  conn->deadline_timer.async_wait([this, conn](const boost::system::error_code& ec) {
    conn->deadline_armed = false;
    if (ec || conn->closed) {
      return;  // A closed connection may have outlived the client: `this` is not used.
    }
    OnDeadline(conn);
  });
}

void RedisClient::OnDeadline(const std::shared_ptr<Connection>& conn) {
  if (conn->in_flight.empty()) {
    return;
  }
  Pending& oldest = *conn->in_flight.front();
  if (oldest.deadline > Clock::now()) {
    return ArmDeadline(conn);  // The command it was set for has been answered.
  }
  std::string reason;
  if (oldest.kind == Pending::Kind::kCommand) {
    reason =
        absl::StrCat("no reply to ", oldest.name, " within ", Millis(options_.command_timeout));
    Deliver(
        std::exchange(oldest.done, nullptr),
        absl::DeadlineExceededError(absl::StrCat("Redis at ", endpoint_.ToString(), ": ", reason)));
  } else {
    reason = absl::StrCat("no answer to ", oldest.name, " within the connect timeout of ",
                          Millis(options_.connect_timeout));
  }
  // Later replies could no longer be matched to their commands: start afresh.
  Drop(*conn, reason);
}

void RedisClient::Drop(Connection& conn, const std::string& reason) {
  if (conn.closed) {
    return;
  }
  if (conn.reason.empty()) {
    conn.reason = reason;
  }
  // Runs every pending callback with no reply, then the cleanup hook (OnClosed), then frees.
  redisAsyncFree(conn.ac);
}

void RedisClient::OnCleanup(void* data) {
  auto* conn = static_cast<Connection*>(data);
  conn->client->OnClosed(*conn);
}

void RedisClient::OnClosed(Connection& conn) {
  conn.Reason();  // While hiredis' error is still readable.
  conn.closed = true;
  conn.ac = nullptr;
  conn.want_read = false;
  conn.want_write = false;
  // Cancels the waits; hiredis closes the fd after this hook returns.
  conn.descriptor.release();
  conn.deadline_timer.cancel();
  // hiredis has run every callback by now; this is only in case it did not.
  for (std::unique_ptr<Pending>& pending : conn.in_flight) {
    Deliver(std::move(pending->done),
            absl::UnavailableError(absl::StrCat("Redis connection to ", endpoint_.ToString(),
                                                " lost before the reply: ", conn.reason)));
  }
  conn.in_flight.clear();
  if (!*alive_ || &conn != conn_.get()) {
    return;
  }
  const State was = state_;
  if (was == State::kStopped) {
    Log(absl::StrCat("disconnected from ", endpoint_.ToString(), ": ", conn.reason));
    return;
  }
  ScheduleRetry(
      absl::StrCat(was == State::kConnected ? "lost connection to " : "cannot connect to ",
                   endpoint_.ToString(), ": ", conn.reason));
}

void RedisClient::ScheduleRetry(const std::string& what) {
  state_ = State::kBackoff;
  const std::chrono::milliseconds base = backoff_;
  backoff_ = std::min(backoff_ * 2, options_.backoff_max);
  std::uniform_int_distribution<std::int64_t> jitter(base.count() / 2, base.count());
  const std::chrono::milliseconds delay(jitter(random_));
  Log(absl::StrCat(what, "; retrying in ", Millis(delay)));
  retry_timer_.expires_after(delay);
  retry_timer_.async_wait([this, alive = alive_](const boost::system::error_code& ec) {
    if (!*alive || ec || state_ != State::kBackoff) {
      return;
    }
    Connect();
  });
}

void RedisClient::Deliver(Callback done, absl::StatusOr<RedisReply> result) {
  if (!done || !*alive_) {
    return;
  }
  asio::post(executor_,
             [alive = alive_, done = std::move(done), result = std::move(result)]() mutable {
               if (*alive) {
                 done(std::move(result));
               }
             });
}

void RedisClient::Log(const std::string& message) const {
  if (logger_) {
    logger_(message);
  }
}

}  // namespace stswatch::store
