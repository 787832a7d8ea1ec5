#include "tlsrpt/ingest.h"

#include <algorithm>
#include <cstdlib>
#include <map>
#include <optional>
#include <set>
#include <utility>

#include <boost/json.hpp>

#include "api/redis_ops.h"
#include "drift/snapshot.h"
#include "store/command.h"

namespace stswatch::tlsrpt {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;
using Clock = std::chrono::system_clock;
using store::RedisReply;

// Kept like the state store's events (store/redis_state_store.h).
constexpr int kEventsMax = 100000;
constexpr int kHistoryMax = 1000;
// Days before the report's day read for reporter drops: the median looks back 7 days with
// reports from the organization.
constexpr int kDropLookbackDays = 14;

IngestResult Result(IngestStatus status, std::string message) {
  IngestResult r;
  r.status = status;
  r.message = std::move(message);
  return r;
}

std::string JoinComma(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& s : items) {
    out += (out.empty() ? "" : ", ") + s;
  }
  return out;
}

std::string Field(const RedisReply& entry, std::string_view name) {
  if (entry.elements.size() != 2) {
    return "";
  }
  const auto& f = entry.elements[1].elements;
  for (std::size_t i = 0; i + 1 < f.size(); i += 2) {
    if (f[i].str == name) {
      return f[i + 1].str;
    }
  }
  return "";
}

std::optional<Clock::time_point> MsTime(const std::string& ms) {
  if (ms.empty()) {
    return std::nullopt;
  }
  char* end = nullptr;
  const long long v = std::strtoll(ms.c_str(), &end, 10);
  if (end == ms.c_str() || *end != '\0' || v < 0) {
    return std::nullopt;
  }
  return Clock::time_point(std::chrono::milliseconds(v));
}

// Is the domain watched (in its partition's watch hash, or with a stored state)?
asio::awaitable<absl::StatusOr<bool>> Watched(store::RedisClient& client, store::KeySchema keys,
                                              std::string domain) {
  std::vector<std::vector<std::string>> commands;
  commands.push_back(store::Command("HEXISTS", keys.Watch(keys.PartitionOf(domain)), domain));
  commands.push_back(store::Command("EXISTS", keys.Domain(domain)));
  absl::StatusOr<std::vector<RedisReply>> r = co_await api::Pipeline(client, std::move(commands));
  if (!r.ok()) {
    co_return r.status();
  }
  co_return (*r)[0].integer == 1 || (*r)[1].integer == 1;
}

std::string EventsList(const std::map<std::string, std::uint64_t>& counts) {
  std::string out;
  for (const auto& [name, n] : counts) {
    out += (out.empty() ? "" : ", ") + (name.empty() ? std::string("(not reported)") : name) +
           " (" + std::to_string(n) + ")";
  }
  return out;
}

json::object CountsJson(const std::map<std::string, std::uint64_t>& counts) {
  json::object o;
  for (const auto& [name, n] : counts) {
    o[name] = n;
  }
  return o;
}

drift::Event MakeEvent(drift::EventKind kind, drift::EventSeverity severity,
                       const std::string& domain, const std::string& subject,
                       const std::string& report_key, const std::string& day,
                       Clock::time_point now) {
  drift::Event e;
  drift::Transition t;
  t.domain = domain;
  t.previous_hash = report_key;
  t.next_hash = day;
  e.id = drift::EventId(t, kind, subject);
  e.domain = domain;
  e.kind = kind;
  e.severity = severity;
  e.subject = subject;
  e.time = now;
  e.before = "null";
  return e;
}

}  // namespace

std::vector<drift::Event> CrossCheckEvents(const DayAggregate& contribution,
                                           const std::vector<DayAggregate>& days,
                                           const std::optional<ProbeCheck>& latest,
                                           const std::string& report_key, Clock::time_point now) {
  using drift::EventKind;
  using drift::EventSeverity;
  std::vector<drift::Event> out;
  const std::string& domain = contribution.domain;
  if (latest) {
    const bool checks_clean = latest->status == "ok";
    if (contribution.failed > 0 && checks_clean) {
      drift::Event e = MakeEvent(EventKind::kReportFailuresUnseen, EventSeverity::kWarning, domain,
                                 "", report_key, contribution.day, now);
      json::object after;
      after["report"] = report_key;
      after["day"] = contribution.day;
      after["failed"] = contribution.failed;
      after["result_types"] = CountsJson(contribution.failures_by_result_type);
      after["mx"] = CountsJson(contribution.failures_by_mx);
      e.after = json::serialize(after);
      e.message = "Report " + report_key + " shows " + std::to_string(contribution.failed) +
                  " failed sessions on " + contribution.day + " (" +
                  EventsList(contribution.failures_by_result_type) + "; MX " +
                  EventsList(contribution.failures_by_mx) + ") while stswatch's checks of " +
                  domain + " are clean.";
      out.push_back(std::move(e));
    }
    if (!checks_clean && latest->status != "none" && contribution.failed == 0 &&
        contribution.successful > 0) {
      drift::Event e = MakeEvent(EventKind::kCheckFailuresUnreported, EventSeverity::kInfo, domain,
                                 "", report_key, contribution.day, now);
      json::object after;
      after["report"] = report_key;
      after["day"] = contribution.day;
      after["successful"] = contribution.successful;
      after["check_status"] = latest->status;
      json::array findings;
      for (const std::string& f : latest->findings) {
        findings.emplace_back(f);
      }
      after["findings"] = std::move(findings);
      e.after = json::serialize(after);
      e.message = "stswatch's checks of " + domain + " are " + latest->status + " (" +
                  JoinComma(latest->findings) + ") but report " + report_key + " shows all " +
                  std::to_string(contribution.successful) + " sessions on " + contribution.day +
                  " successful.";
      out.push_back(std::move(e));
    }
  }
  for (const ReporterDrop& drop : DetectReporterDrops(days)) {
    if (drop.day != contribution.day ||
        contribution.successful_by_organization.count(drop.organization) == 0) {
      continue;
    }
    drift::Event e = MakeEvent(EventKind::kReporterDrop, EventSeverity::kInfo, domain,
                               drop.organization, report_key, drop.day, now);
    json::object before;
    before["successful"] = drop.usual;
    json::object after;
    after["successful"] = drop.successful;
    after["day"] = drop.day;
    after["report"] = report_key;
    e.before = json::serialize(before);
    e.after = json::serialize(after);
    e.message = drop.organization + " reported " + std::to_string(drop.successful) +
                " successful sessions to " + domain + " on " + drop.day + ", down from a usual " +
                std::to_string(drop.usual) + " a day.";
    out.push_back(std::move(e));
  }
  return out;
}

asio::awaitable<absl::StatusOr<std::vector<ProbeCheck>>> LoadProbeChecks(store::RedisClient& client,
                                                                         store::KeySchema keys,
                                                                         std::string domain,
                                                                         Clock::time_point since) {
  std::vector<std::vector<std::string>> commands;
  commands.push_back(store::Command("HMGET", keys.Domain(domain), "snapshot", "checked", "status"));
  commands.push_back(store::Command("XREVRANGE", keys.History(domain), "+", "-", "COUNT",
                                    std::to_string(kHistoryMax)));
  absl::StatusOr<std::vector<RedisReply>> r = co_await api::Pipeline(client, std::move(commands));
  if (!r.ok()) {
    co_return r.status();
  }
  std::vector<ProbeCheck> out;
  const RedisReply& state = (*r)[0];
  if (state.elements.size() != 3 || state.elements[2].type != RedisReply::Type::kString) {
    co_return out;  // Never checked.
  }
  // Newest first: the state changes in the window, and the one in effect at its start.
  std::vector<ProbeCheck> changes;
  for (const RedisReply& entry : (*r)[1].elements) {
    if (Field(entry, "type") != "state") {
      continue;
    }
    const std::optional<Clock::time_point> t = MsTime(Field(entry, "time"));
    if (!t) {
      continue;
    }
    ProbeCheck c;
    c.status = Field(entry, "status");
    c.time = std::max(*t, since);
    changes.push_back(std::move(c));
    if (*t <= since) {
      break;
    }
  }
  std::reverse(changes.begin(), changes.end());
  out = std::move(changes);
  // The latest check, with what it found.
  ProbeCheck latest;
  latest.status = state.elements[2].str;
  latest.time = MsTime(state.elements[1].str).value_or(Clock::time_point{});
  if (absl::StatusOr<drift::Snapshot> s = drift::FromJson(state.elements[0].str); s.ok()) {
    latest.findings = s->findings;
    for (const drift::MxSnapshot& mx : s->mx) {
      if (!mx.deliver) {
        latest.hosts.push_back(mx.host);
      }
    }
  }
  if (latest.time >= since) {
    out.push_back(std::move(latest));
  } else if (!out.empty()) {
    out.back().findings = latest.findings;
    out.back().hosts = latest.hosts;
  }
  co_return out;
}

asio::awaitable<IngestResult> RedisReportSink::Ingest(Report report, ReportOrigin origin) {
  const std::vector<DayAggregate> contributions = Contributions(report);
  if (contributions.empty()) {
    co_return Result(IngestStatus::kRefused,
                     "the report names no policy domain: there is nothing to count it for");
  }
  if (options_.refuse_unwatched) {
    std::vector<std::string> unwatched;
    for (const DayAggregate& a : contributions) {
      absl::StatusOr<bool> w = co_await Watched(client_, keys_, a.domain);
      if (!w.ok()) {
        co_return Result(IngestStatus::kUnavailable, std::string(w.status().message()));
      }
      if (!*w) {
        unwatched.push_back(a.domain);
      }
    }
    if (!unwatched.empty()) {
      co_return Result(IngestStatus::kRefused,
                       "the report is for domains nobody watches here: " + JoinComma(unwatched));
    }
  }
  const std::string report_key = report.organization_name + ": " + report.report_id;
  ReportStore store(client_, keys_);
  absl::StatusOr<StoreResult> stored = co_await store.Store(std::move(report), origin);
  if (!stored.ok()) {
    co_return Result(IngestStatus::kUnavailable, std::string(stored.status().message()));
  }
  IngestResult out =
      Result(stored->duplicate ? IngestStatus::kDuplicate : IngestStatus::kStored,
             (stored->duplicate ? "duplicate (already stored) for " : "stored for ") +
                 JoinComma(stored->domains));
  out.domains = stored->domains;
  if (stored->duplicate || !options_.cross_check) {
    co_return out;
  }
  const Clock::time_point now = Clock::now();
  for (const DayAggregate& c : contributions) {
    const std::optional<std::chrono::sys_days> day = ParseUtcDay(c.day);
    if (!day) {
      continue;
    }
    absl::StatusOr<std::vector<DayAggregate>> days =
        co_await store.Days(c.domain, UtcDay(*day - std::chrono::days(kDropLookbackDays)), c.day);
    absl::StatusOr<std::vector<ProbeCheck>> checks =
        co_await LoadProbeChecks(client_, keys_, c.domain, *day);
    if (!days.ok() || !checks.ok()) {
      // The report is stored; only its cross-checks are missed.
      out.message += " (cross-checks skipped: Redis failed)";
      continue;
    }
    std::optional<ProbeCheck> latest;
    if (!checks->empty()) {
      latest = checks->back();
    }
    for (drift::Event& e : CrossCheckEvents(c, *days, latest, report_key, now)) {
      const std::string event_json = drift::EventToJson(e);
      const std::string kind(drift::EventKindName(e.kind));
      const std::string severity(drift::EventSeverityName(e.severity));
      const int partition = keys_.PartitionOf(e.domain);
      std::vector<std::vector<std::string>> commands;
      commands.push_back(store::Command("XADD", keys_.Events(partition), "MAXLEN", "~",
                                        std::to_string(kEventsMax), "*", "id", e.id, "domain",
                                        e.domain, "kind", kind, "severity", severity, "subject",
                                        e.subject, "event", event_json));
      commands.push_back(store::Command(
          "XADD", keys_.History(e.domain), "MAXLEN", "~", std::to_string(kHistoryMax), "*", "type",
          "event", "id", e.id, "kind", kind, "severity", severity, "event", event_json));
      commands.push_back(store::Command("HINCRBY", keys_.Stats(partition), "events:" + kind, "1"));
      absl::StatusOr<std::vector<RedisReply>> written =
          co_await api::Pipeline(client_, std::move(commands));
      if (!written.ok()) {
        out.message += " (a cross-check event was not written: Redis failed)";
        break;
      }
      out.events.push_back(std::move(e));
    }
  }
  co_return out;
}

}  // namespace stswatch::tlsrpt
