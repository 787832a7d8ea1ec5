#include "cli/status.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include "cli/flags.h"
#include "common/time_format.h"
#include "store/command.h"
#include "store/keys.h"
#include "store/redis_client.h"

namespace stswatch::cli {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;
using store::RedisReply;

constexpr int kExitOk = 0;
constexpr int kExitError = 3;

constexpr std::string_view kUsage = R"(usage: stswatch status [OPTIONS]

Summarises what 'stswatch serve' has stored in Redis: domains by status and mode, the oldest and
newest last checks, counters, and the most recent drift events of all partitions.

Options:
  --redis URL       the Redis serve uses: redis://[:PASSWORD@]HOST[:PORT][/DB] or unix:///PATH
  --data-dir DIR    or the data directory of serve's own redis-server (default ./stswatch-data;
                    serve must be running)
  --events N        recent events to show (default 10, at most 1000)
  --domains         also list every domain: status, mode, last check, last change
  --json            one JSON object instead of text
  -h, --help        show this help

Exit status: 0 on success, 3 when Redis cannot be reached or holds no stswatch data.
)";

struct DomainRow {
  std::string name;
  std::string status;
  std::string mode;
  std::int64_t checked_ms = 0;
  std::int64_t changed_ms = 0;
};

struct EventRow {
  std::string stream_id;  // "1700000000000-0": orders events across partitions.
  std::string json;
};

struct Summary {
  int partitions = 0;
  std::vector<DomainRow> domains;
  std::map<std::string, std::int64_t> counters;
  std::vector<EventRow> events;
};

std::string TimeOf(std::int64_t ms) {
  if (ms == 0) {
    return "never";
  }
  return FormatTime(std::chrono::system_clock::time_point(std::chrono::milliseconds(ms)));
}

// Stream ids compare as (ms, seq) numbers.
bool NewerId(const std::string& a, const std::string& b) {
  const auto split = [](const std::string& id) {
    const std::size_t dash = id.find('-');
    return std::pair<std::uint64_t, std::uint64_t>(
        std::strtoull(id.substr(0, dash).c_str(), nullptr, 10),
        dash == std::string::npos ? 0 : std::strtoull(id.substr(dash + 1).c_str(), nullptr, 10));
  };
  return split(a) > split(b);
}

class Reader {
 public:
  Reader(store::RedisClient& client, int max_events) : client_(client), max_events_(max_events) {}

  asio::awaitable<absl::Status> Read(Summary& summary) {
    const store::KeySchema probe;
    absl::StatusOr<RedisReply> meta =
        co_await client_.Await(store::Command("HGET", probe.Meta(), "partitions"));
    if (!meta.ok()) {
      co_return meta.status();
    }
    if (meta->type != RedisReply::Type::kString) {
      co_return absl::NotFoundError("this Redis holds no stswatch data (no " + probe.Meta() +
                                    "); has 'stswatch serve' run against it?");
    }
    summary.partitions = std::atoi(meta->str.c_str());
    if (summary.partitions < 1 || summary.partitions > store::kMaxPartitions) {
      co_return absl::DataLossError("bad partition count in " + probe.Meta() + ": " + meta->str);
    }
    const store::KeySchema keys(summary.partitions);
    for (int p = 0; p < summary.partitions; ++p) {
      absl::StatusOr<RedisReply> index =
          co_await client_.Await(store::Command("HGETALL", keys.Index(p)));
      if (!index.ok()) {
        co_return index.status();
      }
      for (std::size_t i = 0; i + 1 < index->elements.size(); i += 2) {
        DomainRow row;
        row.name = index->elements[i].str;
        const std::string& value = index->elements[i + 1].str;
        const std::size_t space = value.find(' ');
        row.status = value.substr(0, space);
        row.mode = space == std::string::npos ? "" : value.substr(space + 1);
        summary.domains.push_back(std::move(row));
      }
      absl::StatusOr<RedisReply> stats =
          co_await client_.Await(store::Command("HGETALL", keys.Stats(p)));
      if (!stats.ok()) {
        co_return stats.status();
      }
      for (std::size_t i = 0; i + 1 < stats->elements.size(); i += 2) {
        summary.counters[stats->elements[i].str] += std::atoll(stats->elements[i + 1].str.c_str());
      }
      absl::StatusOr<RedisReply> events = co_await client_.Await(store::Command(
          "XREVRANGE", keys.Events(p), "+", "-", "COUNT", std::to_string(max_events_)));
      if (!events.ok()) {
        co_return events.status();
      }
      for (const RedisReply& entry : events->elements) {
        if (entry.elements.size() != 2) {
          continue;
        }
        const RedisReply& fields = entry.elements[1];
        for (std::size_t i = 0; i + 1 < fields.elements.size(); i += 2) {
          if (fields.elements[i].str == "event") {
            summary.events.push_back({entry.elements[0].str, fields.elements[i + 1].str});
          }
        }
      }
    }
    // Last check and change times, pipelined; the PING after them waits for them all.
    for (DomainRow& row : summary.domains) {
      client_.Command(store::Command("HMGET", keys.Domain(row.name), "checked", "changed"),
                      [&row](absl::StatusOr<RedisReply> reply) {
                        if (reply.ok() && reply->elements.size() == 2) {
                          row.checked_ms = std::atoll(reply->elements[0].str.c_str());
                          row.changed_ms = std::atoll(reply->elements[1].str.c_str());
                        }
                      });
    }
    absl::StatusOr<RedisReply> done = co_await client_.Await(store::Command("PING"));
    if (!done.ok()) {
      co_return done.status();
    }
    std::sort(summary.domains.begin(), summary.domains.end(),
              [](const DomainRow& a, const DomainRow& b) { return a.name < b.name; });
    std::sort(
        summary.events.begin(), summary.events.end(),
        [](const EventRow& a, const EventRow& b) { return NewerId(a.stream_id, b.stream_id); });
    if (summary.events.size() > static_cast<std::size_t>(max_events_)) {
      summary.events.resize(static_cast<std::size_t>(max_events_));
    }
    co_return absl::OkStatus();
  }

 private:
  store::RedisClient& client_;
  int max_events_;
};

constexpr std::string_view kStatuses[] = {"ok", "warning", "failing", "broken", "none"};

void PrintText(std::ostream& out, const Summary& s, const std::string& where, bool list) {
  std::map<std::string, int> by_status;
  std::map<std::string, int> by_mode;
  std::int64_t oldest = 0;
  std::int64_t newest = 0;
  for (const DomainRow& d : s.domains) {
    ++by_status[d.status];
    ++by_mode[d.mode.empty() ? "(no policy)" : d.mode];
    if (d.checked_ms != 0 && (oldest == 0 || d.checked_ms < oldest)) {
      oldest = d.checked_ms;
    }
    newest = std::max(newest, d.checked_ms);
  }
  out << "stswatch status of " << where << " (" << s.partitions << " partitions)\n";
  out << "domains     " << s.domains.size();
  std::string sep = " — ";
  for (const std::string_view status : kStatuses) {
    out << sep << status << " " << by_status[std::string(status)];
    sep = ", ";
  }
  out << "\nmodes      ";
  sep = " ";
  for (const auto& [mode, n] : by_mode) {
    out << sep << mode << " " << n;
    sep = ", ";
  }
  out << "\nlast check  newest " << TimeOf(newest) << ", oldest " << TimeOf(oldest) << "\n";
  const auto counter = [&](const std::string& name) {
    const auto it = s.counters.find(name);
    return it == s.counters.end() ? 0 : it->second;
  };
  out << "totals      " << counter("state_changes") << " state changes, " << counter("events")
      << " events, " << counter("writes_refused") << " stale writes refused\n";
  if (list) {
    out << "\n";
    for (const DomainRow& d : s.domains) {
      out << "  " << d.name << "  " << d.status << (d.mode.empty() ? "" : " (" + d.mode + ")")
          << "  checked " << TimeOf(d.checked_ms) << ", changed " << TimeOf(d.changed_ms) << "\n";
    }
  }
  out << "\nrecent events (newest first):\n";
  if (s.events.empty()) {
    out << "  (none)\n";
  }
  for (const EventRow& e : s.events) {
    boost::system::error_code ec;
    const json::value v = json::parse(e.json, ec);
    if (ec || !v.is_object()) {
      continue;
    }
    const json::object& o = v.get_object();
    const auto text = [&](std::string_view key) -> std::string {
      const json::value* f = o.if_contains(key);
      return f != nullptr && f->is_string() ? std::string(f->get_string()) : "";
    };
    out << "  " << text("time") << "  " << text("severity") << "  " << text("domain") << "  "
        << text("kind") << (text("subject").empty() ? "" : " [" + text("subject") + "]") << "\n"
        << "      " << text("message") << "\n";
  }
}

json::object ToJson(const Summary& s) {
  json::object o;
  o["partitions"] = s.partitions;
  json::object by_status;
  for (const std::string_view status : kStatuses) {
    by_status[status] = 0;
  }
  json::array domains;
  for (const DomainRow& d : s.domains) {
    by_status[d.status] = by_status[d.status].as_int64() + 1;
    json::object row;
    row["domain"] = d.name;
    row["status"] = d.status;
    row["mode"] = d.mode;
    row["checked"] = d.checked_ms == 0 ? json::value(nullptr) : json::value(TimeOf(d.checked_ms));
    row["changed"] = d.changed_ms == 0 ? json::value(nullptr) : json::value(TimeOf(d.changed_ms));
    domains.emplace_back(std::move(row));
  }
  o["by_status"] = std::move(by_status);
  o["domains"] = std::move(domains);
  json::object counters;
  for (const auto& [name, value] : s.counters) {
    counters[name] = value;
  }
  o["counters"] = std::move(counters);
  json::array events;
  for (const EventRow& e : s.events) {
    boost::system::error_code ec;
    json::value v = json::parse(e.json, ec);
    if (!ec) {
      events.emplace_back(std::move(v));
    }
  }
  o["events"] = std::move(events);
  return o;
}

}  // namespace

int RunStatus(Args args, CommandIo& io) {
  std::string redis;
  std::string data_dir = "stswatch-data";
  int max_events = 10;
  bool list = false;
  bool as_json = false;
  Flags flags;
  flags.String("--redis", &redis);
  flags.String("--data-dir", &data_dir);
  flags.Int("--events", 0, 1000, &max_events);
  flags.Switch("--domains", &list);
  flags.Switch("--json", &as_json);
  bool help = false;
  if (const auto error = flags.Parse(args, &help)) {
    io.err << "stswatch status: " << *error << "\nTry 'stswatch status --help'.\n";
    return kExitError;
  }
  if (help) {
    io.out << kUsage;
    return kExitOk;
  }
  absl::StatusOr<store::RedisEndpoint> endpoint =
      redis.empty() ? store::RedisEndpoint::Parse(
                          std::filesystem::absolute(std::filesystem::path(data_dir) / "redis.sock")
                              .lexically_normal()
                              .string())
                    : store::RedisEndpoint::Parse(redis);
  if (!endpoint.ok()) {
    io.err << "stswatch status: " << endpoint.status().message() << "\n";
    return kExitError;
  }
  asio::io_context io_context;
  store::RedisOptions options;
  options.connect_timeout = std::chrono::seconds(3);
  store::RedisClient client(io_context.get_executor(), *endpoint, options);
  std::string connection_error;
  client.SetLogger([&](std::string_view message) { connection_error = std::string(message); });
  Summary summary;
  absl::Status status;
  client.Start();
  asio::co_spawn(
      io_context,
      [&]() -> asio::awaitable<void> {
        // Give the first connection attempt its time before the first command.
        asio::steady_timer timer(io_context);
        const auto deadline = std::chrono::steady_clock::now() + options.connect_timeout;
        while (!client.connected() && std::chrono::steady_clock::now() < deadline) {
          timer.expires_after(std::chrono::milliseconds(20));
          co_await timer.async_wait(asio::use_awaitable);
        }
        Reader reader(client, max_events);
        status = co_await reader.Read(summary);
        client.Stop();
      },
      [&](const std::exception_ptr& e) {
        if (e) {
          status = absl::InternalError("internal error");
        }
        client.Stop();
      });
  io_context.run();
  if (!status.ok()) {
    io.err << "stswatch status: " << endpoint->ToString() << ": "
           << (status.code() == absl::StatusCode::kUnavailable && !connection_error.empty()
                   ? connection_error
                   : std::string(status.message()))
           << "\n";
    return kExitError;
  }
  if (as_json) {
    io.out << json::serialize(ToJson(summary)) << "\n";
  } else {
    PrintText(io.out, summary, endpoint->ToString(), list);
  }
  return kExitOk;
}

}  // namespace stswatch::cli
