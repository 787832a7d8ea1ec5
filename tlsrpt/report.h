#pragma once

// The SMTP TLS Reporting report (RFC 8460 §4): the JSON document a sending mail system mails to
// the address of a domain's `_smtp._tls` record once a day, its model, and a parser tolerant of
// what real senders send but strict about anything that would corrupt the counts it carries.
//
// Pure: no I/O, no clock. Bytes in, a Report or an absl::InvalidArgument error out. Every function
// here may be called from any thread.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace stswatch::tlsrpt {

// RFC 8460 §4.3 policy types.
inline constexpr std::string_view kPolicyTypeTlsa = "tlsa";
inline constexpr std::string_view kPolicyTypeSts = "sts";
inline constexpr std::string_view kPolicyTypeNoPolicyFound = "no-policy-found";

// RFC 8460 §4.4 `policy` of a policy entry.
struct Policy {
  // "tlsa", "sts", "no-policy-found", or another string kept as the sender wrote it; then
  // `policy_type_known` is false and the report carries a warning.
  std::string policy_type;
  bool policy_type_known = false;
  // The policy as the sender saw it: the TLSA records or the lines of the MTA-STS policy.
  std::vector<std::string> policy_string;
  // Empty when the sender left it out (a warning).
  std::string policy_domain;
  // The policy's `mx` patterns. RFC 8460 as printed has one string; erratum 6241 an array. Both
  // are read; empty when absent.
  std::vector<std::string> mx_host;

  bool operator==(const Policy&) const = default;
};

// RFC 8460 §4.4 `summary`.
struct Summary {
  std::uint64_t total_successful_session_count = 0;
  std::uint64_t total_failure_session_count = 0;

  bool operator==(const Summary&) const = default;
};

// RFC 8460 §4.4 one element of `failure-details`. Absent string members are empty.
struct FailureDetail {
  // One of ResultTypes(), or another string kept as given (`result_type_known` false, a warning).
  std::string result_type;
  bool result_type_known = false;
  std::optional<std::string> sending_mta_ip;
  std::string receiving_mx_hostname;
  std::string receiving_mx_helo;
  std::string receiving_ip;
  std::uint64_t failed_session_count = 0;
  std::string additional_information;
  std::string failure_reason_code;

  bool operator==(const FailureDetail&) const = default;
};

// One element of `policies`.
struct PolicyResult {
  Policy policy;
  Summary summary;
  std::vector<FailureDetail> failure_details;

  bool operator==(const PolicyResult&) const = default;
};

struct DateRange {
  // UTC instants, to the nanosecond the sender wrote.
  std::chrono::system_clock::time_point start;
  std::chrono::system_clock::time_point end;

  bool operator==(const DateRange&) const = default;
};

struct Report {
  std::string organization_name;
  DateRange date_range;
  std::string contact_info;
  std::string report_id;
  std::vector<PolicyResult> policies;

  // One sentence for each quirk the parser tolerated ("date-range.start-datetime
  // \"2024-03-26T00:00:00\" has no time zone; read as UTC."), in document order: at most 100,
  // then "N more warnings left out."
  std::vector<std::string> warnings;

  // Compares the report's data and NOT its warnings: a report read back from ReportToJson() is
  // equal to the one written, though the quirks that were tolerated are gone from the JSON.
  bool operator==(const Report& other) const;
};

struct ParseOptions {
  // Documents larger than this are refused before they are parsed.
  std::size_t max_bytes = std::size_t{10} * 1024 * 1024;
  // Refused above these.
  std::size_t max_policies = 10000;
  std::size_t max_failure_details = 10000;  // per policy
  // A session count above this is refused as absurd (a day of the busiest sender is far below).
  std::uint64_t max_count = 1000000000000;
  // A date range longer than this is refused (RFC 8460 §4.1: reports cover a day, some senders a
  // week).
  std::chrono::seconds max_range = std::chrono::hours(24 * 31);
  // JSON nesting deeper than this is refused (a report needs 5 levels).
  std::size_t max_depth = 32;
};

// Reads an RFC 8460 JSON report (the decompressed `application/tlsrpt+json` body).
//
// Tolerated, each with a warning: date-times without a time zone (read as UTC); `mx-host` as a
// string; a `policy-string` given as one string holding a JSON array (split); a summary count
// missing (read as 0); `failed-session-count` missing (0); totals that disagree with the sum of
// the failure details (both kept); `policy-domain` or `contact-info` missing; unknown policy and
// result types (kept as given); an empty `policies` array. Silently tolerated: fractional seconds,
// numeric time zone offsets, absent optional members, null for an absent member, unknown members.
//
// Refused with absl::InvalidArgument, the message naming the member path
// ("policies[0].summary.total-failure-session-count is not a non-negative integer"): a document
// above max_bytes, invalid JSON or JSON nested deeper than max_depth, a top level that is not an
// object, a member of the wrong JSON type, a count that is negative, fractional or above
// max_count, a date-time that is not RFC 3339, with a year outside 2000..2200, an end before the
// start or a range above max_range, more than max_policies policies or max_failure_details
// failure details in one policy, `organization-name`, `report-id`, `date-range`, `policies`,
// `policy`, `policy-type`, `summary` or `result-type` missing, an empty `organization-name` or
// `report-id`, a `report-id` above 1024 bytes.
absl::StatusOr<Report> ParseReport(std::string_view json, const ParseOptions& options = {});

// The report as RFC 8460 JSON: `mx-host` as an array (erratum 6241), date-times in UTC with "Z"
// (and a fraction of a second only when there is one), optional members left out when empty, no
// warnings. ParseReport(ReportToJson(r)) == r for every report ParseReport returned.
std::string ReportToJson(const Report& report);

// The RFC 8460 §4.3 result types, in the RFC's order.
std::vector<std::string> ResultTypes();

}  // namespace stswatch::tlsrpt
