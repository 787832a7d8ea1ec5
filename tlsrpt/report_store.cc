#include "tlsrpt/report_store.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <openssl/sha.h>

#include "api/redis_ops.h"
#include "store/command.h"

namespace stswatch::tlsrpt {
namespace {

// A day's aggregate hash takes at most this many fields: past it, a new MX host, result type or
// organization is counted under "(other)", and a new report id is not listed (its sessions still
// count). Real days have tens; the limit keeps hostile reports from growing a hash without end.
constexpr int kMaxDayFields = 2000;

using store::RedisReply;

// Reports and aggregates are kept this long (a year and a month: a year of history to compare).
constexpr std::int64_t kRetentionSeconds = std::int64_t{400} * 86400;
constexpr int kMaxDays = 366;

// Hash fields of a day's aggregate.
constexpr std::string_view kOk = "ok";
constexpr std::string_view kFail = "fail";
constexpr std::string_view kResultType = "rt:";
constexpr std::string_view kMx = "mx:";
constexpr std::string_view kOrgOk = "org_ok:";
constexpr std::string_view kOrgFail = "org_fail:";
constexpr std::string_view kReportId = "rid:";

const api::RedisScript& StoreScript() {
  static const api::RedisScript* script = new api::RedisScript(
#include "tlsrpt/store_report.lua.inc"
  );
  return *script;
}

std::string Hex(const unsigned char* data, std::size_t n) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(n * 2);
  for (std::size_t i = 0; i < n; ++i) {
    out += kDigits[data[i] >> 4];
    out += kDigits[data[i] & 15];
  }
  return out;
}

std::string ReportHash(const Report& r) {
  const std::string key = r.organization_name + std::string(1, '\0') + r.report_id;
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(key.data()), key.size(), digest);
  return Hex(digest, sizeof digest);
}

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) {
    return static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  });
  while (!s.empty() && s.back() == '.') {
    s.pop_back();
  }
  return s;
}

}  // namespace

std::string UtcDay(std::chrono::system_clock::time_point t) {
  const std::chrono::year_month_day ymd{std::chrono::floor<std::chrono::days>(t)};
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02u", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()));
  return buf;
}

std::optional<std::chrono::sys_days> ParseUtcDay(std::string_view day) {
  int y = 0;
  unsigned m = 0;
  unsigned d = 0;
  if (day.size() != 10 || std::sscanf(std::string(day).c_str(), "%4d-%2u-%2u", &y, &m, &d) != 3) {
    return std::nullopt;
  }
  const std::chrono::year_month_day ymd{std::chrono::year{y}, std::chrono::month{m},
                                        std::chrono::day{d}};
  if (!ymd.ok() || y < 2000 || y > 2200) {
    return std::nullopt;
  }
  return std::chrono::sys_days{ymd};
}

std::vector<DayAggregate> Contributions(const Report& report) {
  std::map<std::string, DayAggregate> by_domain;
  // The UTC day holding the middle of the range: a sender's day in its own time zone
  // ("T00:00:00+02:00" to "T23:59:59+02:00") still counts on that day, not the one before.
  const std::string day =
      UtcDay(report.date_range.start + (report.date_range.end - report.date_range.start) / 2);
  for (const PolicyResult& p : report.policies) {
    const std::string domain = Lower(p.policy.policy_domain);
    if (domain.empty()) {
      continue;
    }
    DayAggregate& a = by_domain[domain];
    if (a.domain.empty()) {
      a.domain = domain;
      a.day = day;
      a.report_ids.push_back(report.organization_name + ": " + report.report_id);
    }
    a.successful += p.summary.total_successful_session_count;
    a.failed += p.summary.total_failure_session_count;
    a.successful_by_organization[report.organization_name] +=
        p.summary.total_successful_session_count;
    a.failed_by_organization[report.organization_name] += p.summary.total_failure_session_count;
    for (const FailureDetail& f : p.failure_details) {
      a.failures_by_result_type[f.result_type] += f.failed_session_count;
      a.failures_by_mx[Lower(f.receiving_mx_hostname)] += f.failed_session_count;
    }
  }
  std::vector<DayAggregate> out;
  out.reserve(by_domain.size());
  for (auto& [domain, a] : by_domain) {
    out.push_back(std::move(a));
  }
  return out;
}

std::string ReportStore::DayKey(std::string_view domain, std::string_view day) const {
  return keys_.prefix() + ":{p" + std::to_string(keys_.PartitionOf(domain)) +
         "}:rd:" + std::string(domain) + ":" + std::string(day);
}

boost::asio::awaitable<absl::StatusOr<StoreResult>> ReportStore::Store(Report report,
                                                                       ReportOrigin origin) {
  const std::string hash = ReportHash(report);
  const std::vector<DayAggregate> contributions = Contributions(report);
  boost::json::object stored;
  stored["report"] = boost::json::parse(ReportToJson(report));
  stored["channel"] = origin.channel;
  stored["dkim"] = origin.dkim;
  stored["dkim_domain"] = origin.dkim_domain;
  stored["dkim_aligned"] = origin.dkim_aligned;
  stored["submitter"] = origin.submitter;
  stored["received_ms"] = origin.received_ms;
  api::ScriptCall call;
  call.key = keys_.prefix() + ":rpt:seen:" + hash;
  call.more_keys.push_back(keys_.prefix() + ":rpt:report:" + hash);
  call.args.push_back(boost::json::serialize(stored));
  call.args.push_back(std::to_string(kRetentionSeconds));
  call.args.push_back(std::to_string(kMaxDayFields));
  StoreResult result;
  for (const DayAggregate& a : contributions) {
    call.more_keys.push_back(DayKey(a.domain, a.day));
    std::vector<std::pair<std::string, std::uint64_t>> fields;
    fields.emplace_back(kOk, a.successful);
    fields.emplace_back(kFail, a.failed);
    for (const auto& [type, n] : a.failures_by_result_type) {
      fields.emplace_back(std::string(kResultType) + type, n);
    }
    for (const auto& [mx, n] : a.failures_by_mx) {
      fields.emplace_back(std::string(kMx) + mx, n);
    }
    for (const auto& [org, n] : a.successful_by_organization) {
      fields.emplace_back(std::string(kOrgOk) + org, n);
    }
    for (const auto& [org, n] : a.failed_by_organization) {
      fields.emplace_back(std::string(kOrgFail) + org, n);
    }
    for (const std::string& id : a.report_ids) {
      // The value orders the ids by arrival.
      fields.emplace_back(std::string(kReportId) + id,
                          static_cast<std::uint64_t>(origin.received_ms));
    }
    call.args.push_back(std::to_string(fields.size()));
    for (auto& [field, n] : fields) {
      call.args.push_back(std::move(field));
      call.args.push_back(std::to_string(n));
    }
    result.domains.push_back(a.domain);
  }
  std::vector<api::ScriptCall> calls;
  calls.push_back(std::move(call));
  absl::StatusOr<std::vector<RedisReply>> r =
      co_await api::RunScript(client_, StoreScript(), std::move(calls));
  if (!r.ok()) {
    co_return r.status();
  }
  result.duplicate = r->front().integer == 0;
  co_return result;
}

boost::asio::awaitable<absl::StatusOr<std::vector<DayAggregate>>> ReportStore::Days(
    std::string domain, std::string first, std::string last) {
  domain = Lower(domain);
  const std::optional<std::chrono::sys_days> from = ParseUtcDay(first);
  const std::optional<std::chrono::sys_days> to = ParseUtcDay(last);
  if (!from || !to || *to < *from) {
    co_return absl::InvalidArgumentError("days are YYYY-MM-DD, the first not after the last");
  }
  if ((*to - *from).count() >= kMaxDays) {
    co_return absl::InvalidArgumentError("at most 366 days at a time");
  }
  std::vector<std::string> days;
  std::vector<std::vector<std::string>> commands;
  for (std::chrono::sys_days d = *from; d <= *to; d += std::chrono::days(1)) {
    days.push_back(UtcDay(d));
    commands.push_back(store::Command("HGETALL", DayKey(domain, days.back())));
  }
  absl::StatusOr<std::vector<RedisReply>> replies =
      co_await api::Pipeline(client_, std::move(commands));
  if (!replies.ok()) {
    co_return replies.status();
  }
  std::vector<DayAggregate> out;
  for (std::size_t i = 0; i < days.size(); ++i) {
    const RedisReply& r = (*replies)[i];
    if (r.type != RedisReply::Type::kArray || r.elements.empty()) {
      continue;
    }
    DayAggregate a;
    a.domain = domain;
    a.day = days[i];
    std::vector<std::pair<std::uint64_t, std::string>> ids;
    for (std::size_t j = 0; j + 1 < r.elements.size(); j += 2) {
      const std::string& field = r.elements[j].str;
      const std::uint64_t n = std::strtoull(r.elements[j + 1].str.c_str(), nullptr, 10);
      const auto rest = [&](std::string_view prefix) { return field.substr(prefix.size()); };
      if (field == kOk) {
        a.successful = n;
      } else if (field == kFail) {
        a.failed = n;
      } else if (field.starts_with(kResultType)) {
        a.failures_by_result_type[rest(kResultType)] = n;
      } else if (field.starts_with(kMx)) {
        a.failures_by_mx[rest(kMx)] = n;
      } else if (field.starts_with(kOrgOk)) {
        a.successful_by_organization[rest(kOrgOk)] = n;
      } else if (field.starts_with(kOrgFail)) {
        a.failed_by_organization[rest(kOrgFail)] = n;
      } else if (field.starts_with(kReportId)) {
        ids.emplace_back(n, rest(kReportId));
      }
    }
    std::sort(ids.begin(), ids.end());
    for (auto& [when, id] : ids) {
      a.report_ids.push_back(std::move(id));
    }
    out.push_back(std::move(a));
  }
  co_return out;
}

}  // namespace stswatch::tlsrpt
