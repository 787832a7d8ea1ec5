#pragma once

// TLS reports in Redis: each report stored once (by organization and report id), and per policy
// domain and UTC day the aggregates readiness and the API read — sessions successful and failed,
// failures by result type, by receiving MX and by reporting organization, and the ids of the
// reports counted.
//
// Keys (tlsrpt/README.md documents them for people):
//
//   <prefix>:rpt:seen:<sha256 of organization NUL report-id>  string  the stored report's key
//   <prefix>:rpt:report:<same sha256>                         string  the report as JSON, with
//                                                                     where it came from
//   <prefix>:{pN}:rd:<domain>:<YYYY-MM-DD>                    hash    the day's aggregates
//
// The day's aggregate hash carries its domain's partition tag, like the domain's state; one
// report may concern several domains, so ingesting it touches several partitions: a single
// Redis node (as for alerting's keys).
//
// Threading: the client's executor, one thread; the coroutines must run on it.

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "absl/status/statusor.h"
#include "store/keys.h"
#include "store/redis_client.h"
#include "tlsrpt/report.h"

namespace stswatch::tlsrpt {

// Where a report came from and what was checked of it, stored beside it.
struct ReportOrigin {
  std::string channel;        // "https" or "email"
  std::string dkim;           // "pass", "fail", "none", ... for e-mail; "" for https
  std::string dkim_domain;    // d= of the signature that decided `dkim`
  bool dkim_aligned = false;  // d= is the submitter's or the From address's domain (or kin)
  std::string submitter;
  std::int64_t received_ms = 0;
};

// One policy domain's sessions on one UTC day, from every report stored for it.
struct DayAggregate {
  std::string domain;
  std::string day;  // "2026-11-30"
  std::uint64_t successful = 0;
  std::uint64_t failed = 0;
  std::map<std::string, std::uint64_t> failures_by_result_type;
  std::map<std::string, std::uint64_t> failures_by_mx;  // receiving MX host name ("" unknown)
  std::map<std::string, std::uint64_t> successful_by_organization;
  std::map<std::string, std::uint64_t> failed_by_organization;
  std::vector<std::string> report_ids;  // "<organization>: <report-id>", in the order stored

  bool operator==(const DayAggregate&) const = default;
};

// What one report adds to the aggregates: pure, so the counting rules are tested without Redis.
// A report's sessions count on the UTC day holding the middle of its date range; each policy counts
// for its policy domain (lower-cased; a policy without one is left out, with its warning on the
// report).
std::vector<DayAggregate> Contributions(const Report& report);

// "2026-11-30" for the UTC day of `t`, and back (nullopt unless YYYY-MM-DD of a year 2000-2200).
std::string UtcDay(std::chrono::system_clock::time_point t);
std::optional<std::chrono::sys_days> ParseUtcDay(std::string_view day);

struct StoreResult {
  bool duplicate = false;            // Already stored: nothing counted again.
  std::vector<std::string> domains;  // The policy domains it counted for.
};

class ReportStore {
 public:
  ReportStore(store::RedisClient& client, store::KeySchema keys)
      : client_(client), keys_(std::move(keys)) {}

  // Stores the report and adds it to its domains' aggregates, atomically and once: the same
  // (organization, report id) again is a duplicate and changes nothing.
  boost::asio::awaitable<absl::StatusOr<StoreResult>> Store(Report report, ReportOrigin origin);

  // The aggregates of `domain` for the days from `first` to `last` ("YYYY-MM-DD", inclusive, at
  // most 366), oldest first; days without reports are left out.
  boost::asio::awaitable<absl::StatusOr<std::vector<DayAggregate>>> Days(std::string domain,
                                                                         std::string first,
                                                                         std::string last);

  std::string DayKey(std::string_view domain, std::string_view day) const;

 private:
  store::RedisClient& client_;
  store::KeySchema keys_;
};

}  // namespace stswatch::tlsrpt
