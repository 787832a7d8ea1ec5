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
// Reports older than this many days are not cross-checked: what stswatch keeps of its checks
// says little about the past.
constexpr int kCrossCheckDays = 7;
// How long an event's marker keeps a second write of it out: longer than reports come late.
constexpr int kEventMarkerSeconds = 400 * 86400;
// The history is read in pages of this many entries, at most this many pages.
constexpr int kHistoryPage = 200;
constexpr int kHistoryPages = 10;

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
                       const std::string& day, Clock::time_point now) {
  drift::Event e;
  // One per domain, kind, day and subject, whichever report found it first.
  drift::Transition t;
  t.domain = domain;
  t.previous_hash = "tlsrpt";
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

const api::RedisScript& AppendEventScript() {
  static const api::RedisScript* script = new api::RedisScript(
#include "tlsrpt/append_event.lua.inc"
  );
  return *script;
}

}  // namespace

std::vector<drift::Event> CrossCheckEvents(const DayAggregate& contribution,
                                           const std::vector<DayAggregate>& days,
                                           const std::vector<ProbeCheck>& checks,
                                           const std::string& report_key, Clock::time_point now) {
  using drift::EventKind;
  using drift::EventSeverity;
  std::vector<drift::Event> out;
  const std::string& domain = contribution.domain;
  const std::optional<std::chrono::sys_days> day = ParseUtcDay(contribution.day);
  if (!day) {
    return out;
  }
  const Clock::time_point day_end = *day + std::chrono::days(1);
  // What the checks saw that day: their statuses, and (when the state did not change from the
  // start of that day to now) the latest check's failing result types.
  bool any = false;
  bool all_ok = true;
  bool all_failing = true;
  bool changed = false;
  for (const ProbeCheck& c : checks) {
    if (c.time < day_end) {
      any = true;
      all_ok = all_ok && c.status == "ok";
      all_failing = all_failing && c.status != "ok" && c.status != "none";
    }
    changed = changed || c.status != checks.front().status;
  }
  std::set<std::string> probe_types;
  const bool types_known = any && !changed;
  if (types_known) {
    probe_types.insert(checks.back().result_types.begin(), checks.back().result_types.end());
  }
  std::set<std::string> report_types;
  for (const auto& [type, n] : contribution.failures_by_result_type) {
    if (n > 0) {
      report_types.insert(type);
    }
  }
  if (any && !report_types.empty()) {
    std::vector<std::string> unseen;
    for (const std::string& t : report_types) {
      if (all_ok || (types_known && probe_types.count(t) == 0)) {
        unseen.push_back(t);
      }
    }
    if (!unseen.empty()) {
      drift::Event e = MakeEvent(EventKind::kReportFailuresUnseen, EventSeverity::kWarning, domain,
                                 "", contribution.day, now);
      json::object after;
      after["report"] = report_key;
      after["day"] = contribution.day;
      after["failed"] = contribution.failed;
      after["result_types"] = CountsJson(contribution.failures_by_result_type);
      after["mx"] = CountsJson(contribution.failures_by_mx);
      json::array probe;
      for (const std::string& t : probe_types) {
        probe.emplace_back(t);
      }
      after["check_result_types"] = std::move(probe);
      e.after = json::serialize(after);
      e.message =
          "Report " + report_key + " shows " + std::to_string(contribution.failed) +
          " failed sessions on " + contribution.day + " (" +
          EventsList(contribution.failures_by_result_type) + "; MX " +
          EventsList(contribution.failures_by_mx) + ") of which stswatch's checks of " + domain +
          " saw " +
          (all_ok
               ? std::string("nothing: they were clean")
               : "not " + JoinComma(unseen) + " (they found " +
                     JoinComma(std::vector<std::string>(probe_types.begin(), probe_types.end())) +
                     ")") +
          ".";
      out.push_back(std::move(e));
    }
  }
  std::vector<std::string> unreported;
  bool report_shows_check_failures = false;
  if (types_known) {
    for (const std::string& t : probe_types) {
      if (report_types.count(t) == 0) {
        unreported.push_back(t);
      } else {
        report_shows_check_failures = true;
      }
    }
  } else {
    report_shows_check_failures = !report_types.empty();
  }
  if (any && all_failing && contribution.successful > 0 && !report_shows_check_failures) {
    drift::Event e = MakeEvent(EventKind::kCheckFailuresUnreported, EventSeverity::kInfo, domain,
                               "", contribution.day, now);
    json::object after;
    after["report"] = report_key;
    after["day"] = contribution.day;
    after["successful"] = contribution.successful;
    json::array types;
    for (const std::string& t : unreported) {
      types.emplace_back(t);
    }
    after["check_result_types"] = std::move(types);
    json::array findings;
    for (const std::string& f : checks.back().findings) {
      findings.emplace_back(f);
    }
    after["findings"] = std::move(findings);
    e.after = json::serialize(after);
    e.message = "stswatch's checks of " + domain + " failed all of " + contribution.day + " (" +
                JoinComma(checks.back().findings) + ") but report " + report_key +
                (report_types.empty() ? " shows all " + std::to_string(contribution.successful) +
                                            " sessions successful"
                                      : " shows none of those failures") +
                ": the reporting senders may not reach the failing MX.";
    out.push_back(std::move(e));
  }
  for (const ReporterDrop& drop : DetectReporterDrops(days)) {
    if (drop.day != contribution.day ||
        contribution.successful_by_organization.count(drop.organization) == 0) {
      continue;
    }
    drift::Event e = MakeEvent(EventKind::kReporterDrop, EventSeverity::kInfo, domain,
                               drop.organization, drop.day, now);
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
  absl::StatusOr<RedisReply> state = co_await api::Run(
      client, store::Command("HMGET", keys.Domain(domain), "snapshot", "checked", "status"));
  if (!state.ok()) {
    co_return state.status();
  }
  std::vector<ProbeCheck> out;
  if (state->elements.size() != 3 || state->elements[2].type != RedisReply::Type::kString) {
    co_return out;  // Never checked.
  }
  // Newest first, a page at a time: the state changes since `since`, and the one in effect then.
  std::vector<ProbeCheck> changes;
  std::string end = "+";
  bool reached = false;
  for (int read = 0; !reached && read < kHistoryPages; ++read) {
    absl::StatusOr<RedisReply> page =
        co_await api::Run(client, store::Command("XREVRANGE", keys.History(domain), end, "-",
                                                 "COUNT", std::to_string(kHistoryPage)));
    if (!page.ok()) {
      co_return page.status();
    }
    for (const RedisReply& entry : page->elements) {
      if (entry.elements.size() == 2) {
        end = "(" + entry.elements[0].str;
      }
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
        reached = true;
        break;
      }
    }
    if (page->elements.size() < static_cast<std::size_t>(kHistoryPage)) {
      break;  // The start of the history.
    }
  }
  std::reverse(changes.begin(), changes.end());
  out = std::move(changes);
  // The latest check, with what it found.
  ProbeCheck latest;
  latest.status = state->elements[2].str;
  latest.time = MsTime(state->elements[1].str).value_or(Clock::time_point{});
  if (absl::StatusOr<drift::Snapshot> snapshot = drift::FromJson(state->elements[0].str);
      snapshot.ok()) {
    latest.findings = snapshot->findings;
    std::set<std::string> types;
    for (const drift::MxSnapshot& mx : snapshot->mx) {
      if (!mx.deliver) {
        latest.hosts.push_back(mx.host);
        if (!mx.result_type.empty()) {
          types.insert(mx.result_type);
        }
      }
    }
    latest.result_types.assign(types.begin(), types.end());
  }
  if (latest.time >= since) {
    out.push_back(std::move(latest));
  } else if (!out.empty()) {
    out.back().findings = latest.findings;
    out.back().hosts = latest.hosts;
    out.back().result_types = latest.result_types;
  }
  co_return out;
}

asio::awaitable<IngestResult> RedisReportSink::Ingest(Report report, ReportOrigin origin) {
  const std::vector<DayAggregate> contributions = Contributions(report);
  if (contributions.empty()) {
    co_return Result(IngestStatus::kRefused,
                     "the report names no policy domain: there is nothing to count it for");
  }
  if (contributions.size() > options_.max_domains) {
    co_return Result(IngestStatus::kRefused,
                     "the report names " + std::to_string(contributions.size()) +
                         " policy domains; at most " + std::to_string(options_.max_domains) +
                         " are taken in one report");
  }
  std::vector<bool> watched;
  watched.reserve(contributions.size());
  std::vector<std::string> unwatched;
  for (const DayAggregate& a : contributions) {
    absl::StatusOr<bool> w = co_await Watched(client_, keys_, a.domain);
    if (!w.ok()) {
      co_return Result(IngestStatus::kUnavailable, std::string(w.status().message()));
    }
    watched.push_back(*w);
    if (!*w) {
      unwatched.push_back(a.domain);
    }
  }
  if (options_.refuse_unwatched && unwatched.size() == contributions.size()) {
    co_return Result(IngestStatus::kRefused,
                     "the report is for domains nobody watches here: " + JoinComma(unwatched));
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
  if (!options_.cross_check) {
    co_return out;
  }
  // For a duplicate too: the events are idempotent, and a first attempt may have stored the
  // report and failed before them.
  const Clock::time_point now = clock_.Now();
  const std::chrono::sys_days today = std::chrono::floor<std::chrono::days>(now);
  for (std::size_t i = 0; i < contributions.size(); ++i) {
    const DayAggregate& c = contributions[i];
    const std::optional<std::chrono::sys_days> day = ParseUtcDay(c.day);
    if (!watched[i] || !day || *day < today - std::chrono::days(kCrossCheckDays) || *day > today) {
      continue;
    }
    absl::StatusOr<std::vector<DayAggregate>> days =
        co_await store.Days(c.domain, UtcDay(*day - std::chrono::days(kDropLookbackDays)), c.day);
    if (!days.ok()) {
      out.message += " (cross-checks skipped: " + std::string(days.status().message()) + ")";
      continue;
    }
    absl::StatusOr<std::vector<ProbeCheck>> checks =
        co_await LoadProbeChecks(client_, keys_, c.domain, *day);
    if (!checks.ok()) {
      out.message += " (cross-checks skipped: " + std::string(checks.status().message()) + ")";
      continue;
    }
    for (drift::Event& e : CrossCheckEvents(c, *days, *checks, report_key, now)) {
      const int partition = keys_.PartitionOf(e.domain);
      api::ScriptCall call;
      call.key = keys_.prefix() + ":{p" + std::to_string(partition) + "}:rpt:ev:" + e.id;
      call.more_keys.push_back(keys_.Events(partition));
      call.more_keys.push_back(keys_.History(e.domain));
      call.more_keys.push_back(keys_.Stats(partition));
      call.args.push_back(std::to_string(kEventMarkerSeconds));
      call.args.push_back(std::to_string(kEventsMax));
      call.args.push_back(std::to_string(kHistoryMax));
      call.args.push_back(e.id);
      call.args.push_back(e.domain);
      call.args.emplace_back(drift::EventKindName(e.kind));
      call.args.emplace_back(drift::EventSeverityName(e.severity));
      call.args.push_back(e.subject);
      call.args.push_back(drift::EventToJson(e));
      std::vector<api::ScriptCall> calls;
      calls.push_back(std::move(call));
      absl::StatusOr<std::vector<RedisReply>> written =
          co_await api::RunScript(client_, AppendEventScript(), std::move(calls));
      if (!written.ok()) {
        out.message +=
            " (a cross-check event was not written: " + std::string(written.status().message()) +
            "; the report's next delivery writes it)";
        break;
      }
      if (written->front().integer == 1) {
        out.events.push_back(std::move(e));
      }
    }
  }
  co_return out;
}

}  // namespace stswatch::tlsrpt
