#include "tlsrpt/report.h"

#include <algorithm>
#include <limits>
#include <utility>

#include <boost/json/parse.hpp>
#include <boost/json/parser.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace stswatch::tlsrpt {
namespace {

namespace json = boost::json;
using std::chrono::system_clock;

constexpr std::size_t kMaxReportIdBytes = 1024;
// A hostile report could otherwise make two warnings of every 20 bytes.
constexpr std::size_t kMaxWarnings = 100;
constexpr int kMinYear = 2000;
constexpr int kMaxYear = 2200;
constexpr std::string_view kResultTypes[] = {
    "starttls-not-supported", "certificate-host-mismatch",
    "certificate-expired",    "certificate-not-trusted",
    "validation-failure",     "tlsa-invalid",
    "dnssec-invalid",         "dane-required",
    "sts-policy-fetch-error", "sts-policy-invalid",
    "sts-webpki-invalid",
};

// The parse in progress: its options, the first error, and the warnings so far.
class Context {
 public:
  Context(const ParseOptions& options, std::vector<std::string>& warnings)
      : options_(options), warnings_(warnings) {}

  const ParseOptions& Options() const { return options_; }
  const absl::Status& Status() const { return status_; }

  // Records `message` as the error unless one is recorded; returns false for `return Fail(...)`.
  bool Fail(const std::string& message) {
    if (status_.ok()) {
      status_ = absl::InvalidArgumentError(message);
    }
    return false;
  }
  void Warn(std::string message) {
    if (warnings_.size() < kMaxWarnings) {
      warnings_.push_back(std::move(message));
    } else {
      ++warnings_dropped_;
    }
  }
  // Ends the list with the number of warnings left out, if any.
  void FinishWarnings() {
    if (warnings_dropped_ > 0) {
      warnings_.push_back(absl::StrCat(warnings_dropped_, " more warnings left out."));
    }
  }

 private:
  const ParseOptions& options_;
  std::vector<std::string>& warnings_;
  absl::Status status_;
  std::size_t warnings_dropped_ = 0;
};

std::string Join(std::string_view path, std::string_view key) {
  std::string out(path);
  if (!out.empty()) {
    out += '.';
  }
  out += key;
  return out;
}

std::string Index(std::string_view path, std::size_t i) {
  return std::string(path) + "[" + std::to_string(i) + "]";
}

// The member, or nullptr when absent or null.
const json::value* Member(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v == nullptr || v->is_null() ? nullptr : v;
}

// An optional string member; false (an error) when it is not a string.
bool ReadString(Context& ctx, const json::object& o, std::string_view path, std::string_view key,
                std::string& out) {
  const json::value* v = Member(o, key);
  if (v == nullptr) {
    return true;
  }
  if (!v->is_string()) {
    return ctx.Fail(absl::StrCat(Join(path, key), " is not a string"));
  }
  out = std::string(v->get_string());
  return true;
}

bool ReadRequiredString(Context& ctx, const json::object& o, std::string_view path,
                        std::string_view key, std::string& out) {
  if (Member(o, key) == nullptr) {
    return ctx.Fail(absl::StrCat(Join(path, key), " is missing"));
  }
  return ReadString(ctx, o, path, key, out);
}

// Elements of an array of strings.
bool ReadStringArray(Context& ctx, const json::array& a, const std::string& member,
                     std::vector<std::string>& out) {
  out.clear();
  out.reserve(a.size());
  for (const json::value& e : a) {
    if (!e.is_string()) {
      return ctx.Fail(absl::StrCat(member, " is not an array of strings"));
    }
    out.emplace_back(e.get_string());
  }
  return true;
}

// A session count. `present` tells whether the member was there (absent reads as 0).
bool ReadCount(Context& ctx, const json::object& o, std::string_view path, std::string_view key,
               std::uint64_t& out, bool& present) {
  out = 0;
  const json::value* v = Member(o, key);
  present = v != nullptr;
  if (v == nullptr) {
    return true;
  }
  const std::string member = Join(path, key);
  std::uint64_t n = 0;
  if (v->is_uint64()) {
    n = v->get_uint64();
  } else if (v->is_int64() && v->get_int64() >= 0) {
    n = static_cast<std::uint64_t>(v->get_int64());
  } else {
    return ctx.Fail(absl::StrCat(member, " is not a non-negative integer"));
  }
  if (n > ctx.Options().max_count) {
    return ctx.Fail(
        absl::StrCat(member, " is ", n, ", above the limit of ", ctx.Options().max_count));
  }
  out = n;
  return true;
}

const json::object* ReadObject(Context& ctx, const json::object& o, std::string_view path,
                               std::string_view key, bool required) {
  const json::value* v = Member(o, key);
  if (v == nullptr) {
    if (required) {
      ctx.Fail(absl::StrCat(Join(path, key), " is missing"));
    }
    return nullptr;
  }
  if (!v->is_object()) {
    ctx.Fail(absl::StrCat(Join(path, key), " is not an object"));
    return nullptr;
  }
  return &v->get_object();
}

const json::array* ReadArray(Context& ctx, const json::object& o, std::string_view path,
                             std::string_view key) {
  const json::value* v = Member(o, key);
  if (v == nullptr) {
    return nullptr;
  }
  if (!v->is_array()) {
    ctx.Fail(absl::StrCat(Join(path, key), " is not an array"));
    return nullptr;
  }
  return &v->get_array();
}

// Digits of `text` from `pos`; false when they are not all digits.
bool Digits(std::string_view text, std::size_t pos, std::size_t count, int& out) {
  if (pos + count > text.size()) {
    return false;
  }
  out = 0;
  for (std::size_t i = pos; i < pos + count; ++i) {
    if (text[i] < '0' || text[i] > '9') {
      return false;
    }
    out = out * 10 + (text[i] - '0');
  }
  return true;
}

// An RFC 3339 date-time ("2016-04-01T00:00:00Z", "...T00:00:00.123+02:00"), or one without a time
// zone, which Microsoft sends ("2024-03-26T00:00:00"; `zoneless` is set and it is read as UTC).
std::optional<system_clock::time_point> ParseDateTime(std::string_view text, bool& zoneless) {
  zoneless = false;
  int year = 0;
  int month = 0;
  int day = 0;
  int hour = 0;
  int minute = 0;
  int second = 0;
  if (!Digits(text, 0, 4, year) || text.size() < 19 || text[4] != '-' ||
      !Digits(text, 5, 2, month) || text[7] != '-' || !Digits(text, 8, 2, day) ||
      (text[10] != 'T' && text[10] != 't' && text[10] != ' ') || !Digits(text, 11, 2, hour) ||
      text[13] != ':' || !Digits(text, 14, 2, minute) || text[16] != ':' ||
      !Digits(text, 17, 2, second)) {
    return std::nullopt;
  }
  const std::chrono::year_month_day date{std::chrono::year(year),
                                         std::chrono::month(static_cast<unsigned>(month)),
                                         std::chrono::day(static_cast<unsigned>(day))};
  // RFC 3339 §5.6: a second of 60 is a leap second.
  if (!date.ok() || hour > 23 || minute > 59 || second > 60) {
    return std::nullopt;
  }
  std::size_t pos = 19;
  std::int64_t nanos = 0;
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    const std::size_t first = pos;
    std::int64_t scale = 100000000;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      // Digits beyond the nanosecond are dropped.
      nanos += (text[pos] - '0') * scale;
      scale /= 10;
      ++pos;
    }
    if (pos == first) {
      return std::nullopt;
    }
  }
  std::chrono::seconds offset(0);
  if (pos == text.size()) {
    zoneless = true;
  } else if ((text[pos] == 'Z' || text[pos] == 'z') && pos + 1 == text.size()) {
    // UTC.
  } else if (text[pos] == '+' || text[pos] == '-') {
    int offset_hours = 0;
    int offset_minutes = 0;
    if (pos + 6 != text.size() || !Digits(text, pos + 1, 2, offset_hours) || text[pos + 3] != ':' ||
        !Digits(text, pos + 4, 2, offset_minutes) || offset_hours > 23 || offset_minutes > 59) {
      return std::nullopt;
    }
    offset = std::chrono::hours(offset_hours) + std::chrono::minutes(offset_minutes);
    if (text[pos] == '-') {
      offset = -offset;
    }
  } else {
    return std::nullopt;
  }
  // The written year is checked before any arithmetic, so that nothing below can overflow; the
  // caller refuses min() as out of range.
  if (year < kMinYear - 1 || year > kMaxYear + 1) {
    return system_clock::time_point::min();
  }
  const auto local = std::chrono::sys_days(date) + std::chrono::hours(hour) +
                     std::chrono::minutes(minute) + std::chrono::seconds(second);
  return std::chrono::time_point_cast<system_clock::duration>(local - offset) +
         std::chrono::nanoseconds(nanos);
}

bool InYearRange(system_clock::time_point t) {
  const auto low = std::chrono::sys_days(std::chrono::year(kMinYear) / 1 / 1);
  const auto high = std::chrono::sys_days(std::chrono::year(kMaxYear + 1) / 1 / 1);
  return t >= low && t < high;
}

bool ReadDateTime(Context& ctx, const json::object& o, std::string_view path, std::string_view key,
                  system_clock::time_point& out) {
  std::string text;
  if (!ReadRequiredString(ctx, o, path, key, text)) {
    return false;
  }
  const std::string member = Join(path, key);
  bool zoneless = false;
  const std::optional<system_clock::time_point> t = ParseDateTime(text, zoneless);
  if (!t) {
    return ctx.Fail(absl::StrCat(member, " \"", text, "\" is not an RFC 3339 date-time"));
  }
  if (!InYearRange(*t)) {
    return ctx.Fail(
        absl::StrCat(member, " \"", text, "\" is not in the years ", kMinYear, " to ", kMaxYear));
  }
  if (zoneless) {
    // Microsoft's reports (2023-2024) have no time zone in their date-range.
    ctx.Warn(absl::StrCat(member, " \"", text, "\" has no time zone; read as UTC."));
  }
  out = *t;
  return true;
}

bool ReadDateRange(Context& ctx, const json::object& root, DateRange& out) {
  const json::object* o = ReadObject(ctx, root, "", "date-range", /*required=*/true);
  if (o == nullptr) {
    return false;
  }
  if (!ReadDateTime(ctx, *o, "date-range", "start-datetime", out.start) ||
      !ReadDateTime(ctx, *o, "date-range", "end-datetime", out.end)) {
    return false;
  }
  if (out.end < out.start) {
    return ctx.Fail("date-range.end-datetime is before date-range.start-datetime");
  }
  if (out.end - out.start > ctx.Options().max_range) {
    const std::int64_t seconds = ctx.Options().max_range.count();
    return ctx.Fail(seconds % 86400 == 0
                        ? absl::StrCat("date-range covers more than ", seconds / 86400, " days")
                        : absl::StrCat("date-range covers more than ", seconds, " seconds"));
  }
  return true;
}

bool IsResultType(std::string_view s) {
  return std::find(std::begin(kResultTypes), std::end(kResultTypes), s) != std::end(kResultTypes);
}

bool ReadPolicyString(Context& ctx, const json::object& o, const std::string& path,
                      std::vector<std::string>& out) {
  const json::value* v = Member(o, "policy-string");
  const std::string member = Join(path, "policy-string");
  if (v == nullptr) {
    return true;
  }
  if (v->is_array()) {
    return ReadStringArray(ctx, v->get_array(), member, out);
  }
  if (!v->is_string()) {
    return ctx.Fail(absl::StrCat(member, " is not an array of strings"));
  }
  // Some senders of TLSA policies put the whole array, serialised, in one string.
  const json::string& s = v->get_string();
  boost::system::error_code ec;
  json::parse_options parse_options;
  parse_options.max_depth = 2;
  const json::value inner = json::parse(s, ec, {}, parse_options);
  if (!ec && inner.is_array() &&
      std::all_of(inner.get_array().begin(), inner.get_array().end(),
                  [](const json::value& e) { return e.is_string(); })) {
    ctx.Warn(
        absl::StrCat(member, " is one string holding a JSON array; read as the array's strings."));
    return ReadStringArray(ctx, inner.get_array(), member, out);
  }
  ctx.Warn(absl::StrCat(member, " is a string, not an array; read as an array of that string."));
  out = {std::string(s)};
  return true;
}

bool ReadPolicy(Context& ctx, const json::object& entry, const std::string& path, Policy& out) {
  const json::object* o = ReadObject(ctx, entry, path, "policy", /*required=*/true);
  if (o == nullptr) {
    return false;
  }
  const std::string policy_path = Join(path, "policy");
  if (!ReadRequiredString(ctx, *o, policy_path, "policy-type", out.policy_type)) {
    return false;
  }
  out.policy_type_known = out.policy_type == kPolicyTypeTlsa || out.policy_type == kPolicyTypeSts ||
                          out.policy_type == kPolicyTypeNoPolicyFound;
  if (!out.policy_type_known) {
    ctx.Warn(absl::StrCat(Join(policy_path, "policy-type"), " \"", out.policy_type,
                          "\" is not an RFC 8460 policy type; kept as given."));
  }
  if (!ReadPolicyString(ctx, *o, policy_path, out.policy_string)) {
    return false;
  }
  if (Member(*o, "policy-domain") == nullptr) {
    ctx.Warn(absl::StrCat(Join(policy_path, "policy-domain"), " is missing."));
  } else if (!ReadString(ctx, *o, policy_path, "policy-domain", out.policy_domain)) {
    return false;
  }
  // RFC 8460 §4.4 prints `mx-host` as a string; erratum 6241 makes it an array. Senders do both.
  const json::value* mx = Member(*o, "mx-host");
  const std::string mx_path = Join(policy_path, "mx-host");
  if (mx != nullptr) {
    if (mx->is_string()) {
      out.mx_host = {std::string(mx->get_string())};
    } else if (mx->is_array()) {
      if (!ReadStringArray(ctx, mx->get_array(), mx_path, out.mx_host)) {
        return false;
      }
    } else {
      return ctx.Fail(absl::StrCat(mx_path, " is not a string or an array of strings"));
    }
  }
  return true;
}

bool ReadSummary(Context& ctx, const json::object& entry, const std::string& path, Summary& out) {
  const json::object* o = ReadObject(ctx, entry, path, "summary", /*required=*/true);
  if (o == nullptr) {
    return false;
  }
  const std::string summary_path = Join(path, "summary");
  for (const auto& [key, count] : {std::pair{std::string_view("total-successful-session-count"),
                                             &out.total_successful_session_count},
                                   std::pair{std::string_view("total-failure-session-count"),
                                             &out.total_failure_session_count}}) {
    bool present = false;
    if (!ReadCount(ctx, *o, summary_path, key, *count, present)) {
      return false;
    }
    if (!present) {
      ctx.Warn(absl::StrCat(Join(summary_path, key), " is missing; read as 0."));
    }
  }
  return true;
}

bool ReadFailureDetail(Context& ctx, const json::object& o, const std::string& path,
                       FailureDetail& out) {
  if (!ReadRequiredString(ctx, o, path, "result-type", out.result_type)) {
    return false;
  }
  out.result_type_known = IsResultType(out.result_type);
  if (!out.result_type_known) {
    ctx.Warn(absl::StrCat(Join(path, "result-type"), " \"", out.result_type,
                          "\" is not an RFC 8460 result type; kept as given."));
  }
  if (Member(o, "sending-mta-ip") != nullptr) {
    std::string ip;
    if (!ReadString(ctx, o, path, "sending-mta-ip", ip)) {
      return false;
    }
    out.sending_mta_ip = std::move(ip);
  }
  bool present = false;
  if (!ReadString(ctx, o, path, "receiving-mx-hostname", out.receiving_mx_hostname) ||
      !ReadString(ctx, o, path, "receiving-mx-helo", out.receiving_mx_helo) ||
      !ReadString(ctx, o, path, "receiving-ip", out.receiving_ip) ||
      !ReadCount(ctx, o, path, "failed-session-count", out.failed_session_count, present) ||
      !ReadString(ctx, o, path, "additional-information", out.additional_information) ||
      !ReadString(ctx, o, path, "failure-reason-code", out.failure_reason_code)) {
    return false;
  }
  if (!present) {
    ctx.Warn(absl::StrCat(Join(path, "failed-session-count"), " is missing; read as 0."));
  }
  return true;
}

std::uint64_t SaturatingAdd(std::uint64_t a, std::uint64_t b) {
  return a > std::numeric_limits<std::uint64_t>::max() - b
             ? std::numeric_limits<std::uint64_t>::max()
             : a + b;
}

bool ReadPolicyResult(Context& ctx, const json::object& o, const std::string& path,
                      PolicyResult& out) {
  if (!ReadPolicy(ctx, o, path, out.policy) || !ReadSummary(ctx, o, path, out.summary)) {
    return false;
  }
  const std::string details_path = Join(path, "failure-details");
  const json::array* details = ReadArray(ctx, o, path, "failure-details");
  if (details == nullptr) {
    return ctx.Status().ok();
  }
  if (details->size() > ctx.Options().max_failure_details) {
    return ctx.Fail(absl::StrCat(details_path, " has ", details->size(),
                                 " elements, above the limit of ",
                                 ctx.Options().max_failure_details));
  }
  out.failure_details.reserve(details->size());
  std::uint64_t sum = 0;
  for (std::size_t i = 0; i < details->size(); ++i) {
    const std::string element = Index(details_path, i);
    if (!(*details)[i].is_object()) {
      return ctx.Fail(absl::StrCat(element, " is not an object"));
    }
    FailureDetail& detail = out.failure_details.emplace_back();
    if (!ReadFailureDetail(ctx, (*details)[i].get_object(), element, detail)) {
      return false;
    }
    sum = SaturatingAdd(sum, detail.failed_session_count);
  }
  // Mail.ru's reports count fewer failures in the summary than in the details. Failure details
  // are optional (a sender may count failures without describing them), so only a report that
  // has some is compared.
  if (!out.failure_details.empty() && sum != out.summary.total_failure_session_count) {
    ctx.Warn(absl::StrCat(Join(path, "summary.total-failure-session-count"), " is ",
                          out.summary.total_failure_session_count,
                          " but the failed-session-count of its failure-details add up to ", sum,
                          "; both kept."));
  }
  return true;
}

bool ReadReport(Context& ctx, const json::object& root, Report& out) {
  if (!ReadRequiredString(ctx, root, "", "organization-name", out.organization_name)) {
    return false;
  }
  if (out.organization_name.empty()) {
    return ctx.Fail("organization-name is empty");
  }
  if (!ReadDateRange(ctx, root, out.date_range)) {
    return false;
  }
  if (Member(root, "contact-info") == nullptr) {
    ctx.Warn("contact-info is missing.");
  } else if (!ReadString(ctx, root, "", "contact-info", out.contact_info)) {
    return false;
  }
  if (!ReadRequiredString(ctx, root, "", "report-id", out.report_id)) {
    return false;
  }
  if (out.report_id.empty()) {
    return ctx.Fail("report-id is empty");
  }
  if (out.report_id.size() > kMaxReportIdBytes) {
    return ctx.Fail(absl::StrCat("report-id has ", out.report_id.size(),
                                 " bytes, above the limit of ", kMaxReportIdBytes));
  }
  if (Member(root, "policies") == nullptr) {
    return ctx.Fail("policies is missing");
  }
  const json::array* policies = ReadArray(ctx, root, "", "policies");
  if (policies == nullptr) {
    return false;
  }
  if (policies->size() > ctx.Options().max_policies) {
    return ctx.Fail(absl::StrCat("policies has ", policies->size(),
                                 " elements, above the limit of ", ctx.Options().max_policies));
  }
  if (policies->empty()) {
    ctx.Warn("policies is empty: the report reports nothing.");
  }
  out.policies.reserve(policies->size());
  for (std::size_t i = 0; i < policies->size(); ++i) {
    const std::string element = Index("policies", i);
    if (!(*policies)[i].is_object()) {
      return ctx.Fail(absl::StrCat(element, " is not an object"));
    }
    if (!ReadPolicyResult(ctx, (*policies)[i].get_object(), element, out.policies.emplace_back())) {
      return false;
    }
  }
  return true;
}

std::string FormatDateTime(system_clock::time_point t) {
  const auto day = std::chrono::floor<std::chrono::days>(t);
  const std::chrono::year_month_day date(day);
  const std::chrono::hh_mm_ss<system_clock::duration> time(t - day);
  std::string out = absl::StrFormat(
      "%04d-%02u-%02uT%02d:%02d:%02d", static_cast<int>(date.year()),
      static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()),
      static_cast<int>(time.hours().count()), static_cast<int>(time.minutes().count()),
      static_cast<int>(time.seconds().count()));
  const auto nanos = std::chrono::duration_cast<std::chrono::nanoseconds>(time.subseconds());
  if (nanos.count() != 0) {
    std::string fraction = absl::StrFormat("%09d", static_cast<std::int64_t>(nanos.count()));
    while (fraction.back() == '0') {
      fraction.pop_back();
    }
    absl::StrAppend(&out, ".", fraction);
  }
  out += "Z";
  return out;
}

json::array StringArray(const std::vector<std::string>& values) {
  json::array a;
  a.reserve(values.size());
  for (const std::string& v : values) {
    a.emplace_back(v);
  }
  return a;
}

void PutIfNotEmpty(json::object& o, std::string_view key, const std::string& value) {
  if (!value.empty()) {
    o[key] = value;
  }
}

}  // namespace

bool Report::operator==(const Report& other) const {
  return organization_name == other.organization_name && date_range == other.date_range &&
         contact_info == other.contact_info && report_id == other.report_id &&
         policies == other.policies;
}

absl::StatusOr<Report> ParseReport(std::string_view json, const ParseOptions& options) {
  if (json.size() > options.max_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the report has ", json.size(), " bytes, above the limit of ", options.max_bytes));
  }
  json::parse_options parse_options;
  parse_options.max_depth = options.max_depth;
  json::parser parser({}, parse_options);
  boost::system::error_code ec;
  const std::size_t consumed = parser.write(json.data(), json.size(), ec);
  if (ec == json::error::too_deep) {
    return absl::InvalidArgumentError(
        absl::StrCat("the report is nested deeper than ", options.max_depth, " levels"));
  }
  if (ec) {
    return absl::InvalidArgumentError(
        absl::StrCat("the report is not valid JSON (", ec.message(), " at byte ", consumed, ")"));
  }
  const json::value root = parser.release();
  if (!root.is_object()) {
    return absl::InvalidArgumentError("the report is not a JSON object");
  }
  Report report;
  Context ctx(options, report.warnings);
  if (!ReadReport(ctx, root.get_object(), report)) {
    return ctx.Status();
  }
  ctx.FinishWarnings();
  return report;
}

std::string ReportToJson(const Report& report) {
  json::object root;
  root["organization-name"] = report.organization_name;
  json::object range;
  range["start-datetime"] = FormatDateTime(report.date_range.start);
  range["end-datetime"] = FormatDateTime(report.date_range.end);
  root["date-range"] = std::move(range);
  PutIfNotEmpty(root, "contact-info", report.contact_info);
  root["report-id"] = report.report_id;
  json::array policies;
  policies.reserve(report.policies.size());
  for (const PolicyResult& p : report.policies) {
    json::object entry;
    json::object policy;
    policy["policy-type"] = p.policy.policy_type;
    if (!p.policy.policy_string.empty()) {
      policy["policy-string"] = StringArray(p.policy.policy_string);
    }
    PutIfNotEmpty(policy, "policy-domain", p.policy.policy_domain);
    if (!p.policy.mx_host.empty()) {
      policy["mx-host"] = StringArray(p.policy.mx_host);
    }
    entry["policy"] = std::move(policy);
    json::object summary;
    summary["total-successful-session-count"] = p.summary.total_successful_session_count;
    summary["total-failure-session-count"] = p.summary.total_failure_session_count;
    entry["summary"] = std::move(summary);
    if (!p.failure_details.empty()) {
      json::array details;
      details.reserve(p.failure_details.size());
      for (const FailureDetail& d : p.failure_details) {
        json::object o;
        o["result-type"] = d.result_type;
        if (d.sending_mta_ip) {
          o["sending-mta-ip"] = *d.sending_mta_ip;
        }
        PutIfNotEmpty(o, "receiving-mx-hostname", d.receiving_mx_hostname);
        PutIfNotEmpty(o, "receiving-mx-helo", d.receiving_mx_helo);
        PutIfNotEmpty(o, "receiving-ip", d.receiving_ip);
        o["failed-session-count"] = d.failed_session_count;
        PutIfNotEmpty(o, "additional-information", d.additional_information);
        PutIfNotEmpty(o, "failure-reason-code", d.failure_reason_code);
        details.emplace_back(std::move(o));
      }
      entry["failure-details"] = std::move(details);
    }
    policies.emplace_back(std::move(entry));
  }
  root["policies"] = std::move(policies);
  return json::serialize(root);
}

std::vector<std::string> ResultTypes() {
  return {std::begin(kResultTypes), std::end(kResultTypes)};
}

}  // namespace stswatch::tlsrpt
