#include "scheduler/domain_source.h"

#include <cerrno>
#include <cstring>
#include <fstream>

#include <boost/json/parse.hpp>

#include "store/command.h"

namespace stswatch::scheduler {
namespace {

using std::chrono::seconds;

// Settings of a domain added in Redis: {"interval_s": 900}.
seconds IntervalOf(const std::string& settings_json) {
  boost::system::error_code ec;
  const auto settings = boost::json::parse(settings_json, ec);
  if (!ec && settings.is_object()) {
    if (const auto* v = settings.get_object().if_contains("interval_s");
        v != nullptr && v->is_int64() && v->get_int64() > 0) {
      return seconds(v->get_int64());
    }
  }
  return seconds(0);
}

absl::Status Failed(const absl::StatusOr<store::RedisReply>& reply) {
  if (!reply.ok()) {
    return reply.status();
  }
  return absl::UnavailableError("redis: " + reply->str);
}

}  // namespace

boost::asio::awaitable<absl::StatusOr<LoadedDomains>> LoadDomains(
    store::RedisClient& client, const store::KeySchema& keys, const std::string& file,
    const std::function<bool(std::string_view)>& known) {
  LoadedDomains out;
  if (!file.empty()) {
    std::ifstream in(file);
    if (!in) {
      out.file_unreadable = std::strerror(errno);
    } else {
      DomainListResult list = ParseDomainList(in, seconds(1));
      out.file_errors = std::move(list.errors);
      out.domains = std::move(list.domains);
    }
  }
  out.from_file = out.domains.size();
  std::map<std::string, std::size_t> position;
  for (std::size_t i = 0; i < out.domains.size(); ++i) {
    position[out.domains[i].name] = i;
  }
  for (int p = 0; p < keys.partitions(); ++p) {
    const absl::StatusOr<store::RedisReply> watch =
        co_await client.Await(store::Command("HGETALL", keys.Watch(p)));
    if (!watch.ok() || watch->type == store::RedisReply::Type::kError) {
      co_return Failed(watch);
    }
    for (std::size_t i = 0; i + 1 < watch->elements.size(); i += 2) {
      const std::string& name = watch->elements[i].str;
      if (!position.contains(name)) {
        position[name] = out.domains.size();
        out.domains.push_back(MonitoredDomain{name, IntervalOf(watch->elements[i + 1].str)});
      }
    }
  }
  // The replies come in order: a PING after a batch waits for the whole batch.
  constexpr std::size_t kBatch = 500;
  std::vector<const MonitoredDomain*> unknown;
  for (const MonitoredDomain& d : out.domains) {
    if (!known(d.name)) {
      unknown.push_back(&d);
    }
  }
  for (std::size_t i = 0; i < unknown.size(); i += kBatch) {
    const std::size_t end = std::min(unknown.size(), i + kBatch);
    for (std::size_t j = i; j < end; ++j) {
      client.Command(store::Command("HGET", keys.Domain(unknown[j]->name), "checked"),
                     [&out, name = unknown[j]->name](absl::StatusOr<store::RedisReply> reply) {
                       if (reply.ok() && reply->type == store::RedisReply::Type::kString) {
                         out.last_checks[name] = std::chrono::system_clock::time_point(
                             std::chrono::milliseconds(std::atoll(reply->str.c_str())));
                       }
                     });
    }
    const absl::StatusOr<store::RedisReply> ping = co_await client.Await(store::Command("PING"));
    if (!ping.ok()) {
      co_return ping.status();
    }
  }
  co_return out;
}

}  // namespace stswatch::scheduler
