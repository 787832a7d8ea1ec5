#pragma once

// Is a domain in `testing` mode ready for `enforce`? The rollout guide's answer, made exact: enough
// days of TLS reports, from enough reporting organizations, no failures that an enforce policy
// would turn into refused mail (or fewer than a configured rate), and every one of stswatch's own
// probes in the window clean. The answer is "ready" or a list of reasons, each with its evidence
// (report ids, MX hosts, result types, check times).
//
// Also the cross-checks no single source can make: a failure type the reports show that the
// probes do not (or the reverse), and a reporter whose successful sessions suddenly drop.
//
// Pure: the caller passes the aggregates (tlsrpt/report_store.h), the probe history and the time.

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "tlsrpt/report_store.h"

namespace stswatch::tlsrpt {

struct ReadinessOptions {
  // Days with at least one report needed in the window.
  int min_days = 14;
  // The window: the last this many days before today (today is not complete yet).
  int window_days = 28;
  // Distinct reporting organizations needed over the window.
  int min_organizations = 2;
  // Failed sessions tolerated, as a share of all sessions in the window (0: none).
  double max_failure_rate = 0.0;
};

// One of stswatch's own checks of the domain (from its check history).
struct ProbeCheck {
  std::chrono::system_clock::time_point time;
  std::string status;  // "ok", "warning", "failing", "broken", "none"
  // What the check found wrong, as finding codes ("mx.starttls_missing", ...), and the MX hosts
  // it concerns.
  std::vector<std::string> findings;
  std::vector<std::string> hosts;
  // The RFC 8460 result types of the MX hosts it found failing ("certificate-expired", ...).
  std::vector<std::string> result_types;
};

struct Reason {
  std::string code;     // Stable: "too_few_days", "too_few_organizations", "failures", ...
  std::string message;  // One sentence with the numbers.
  // The evidence: "report <organization>: <id>", "mx <host>", "result-type <type>",
  // "day <YYYY-MM-DD>", "check <time> <status>".
  std::vector<std::string> evidence;

  bool operator==(const Reason&) const = default;
};

struct Readiness {
  bool ready = false;
  std::vector<Reason> reasons;  // Empty when ready.
  // Cross-checks: true findings that do not by themselves block (a report failure type the probes
  // do not see, probes failing where reports show none).
  std::vector<Reason> notes;
  // What was looked at.
  int days_with_reports = 0;
  int organizations = 0;
  std::uint64_t successful = 0;
  std::uint64_t failed = 0;
  int checks = 0;
};

// `days`: the domain's aggregates (any order; days outside the window are ignored). `checks`: its
// probes (those outside the window ignored). `today`: the UTC day of now.
Readiness JudgeReadiness(const std::vector<DayAggregate>& days,
                         const std::vector<ProbeCheck>& checks, const std::string& today,
                         const ReadinessOptions& options = {});

// A reporter whose successful sessions for the domain fell sharply: on `day`, under a third of its
// median over the previous 7 days with reports from it (and that median at least 20 sessions).
struct ReporterDrop {
  std::string organization;
  std::string day;
  std::uint64_t successful = 0;
  std::uint64_t usual = 0;  // The median it fell from.

  bool operator==(const ReporterDrop&) const = default;
};

std::vector<ReporterDrop> DetectReporterDrops(const std::vector<DayAggregate>& days);

}  // namespace stswatch::tlsrpt
