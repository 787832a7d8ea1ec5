#include "alerting/rules.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <ctime>
#include <set>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <openssl/sha.h>

#include "absl/status/status.h"
#include "common/json_reader.h"
#include "mtasts/policy.h"

namespace stswatch::alerting {
namespace {

namespace json = boost::json;

constexpr std::size_t kMaxEventIdsPerAlert = 20;
constexpr int kStateVersion = 1;
constexpr std::int64_t kSecondsPerDay = 86400;

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string Sha256Hex32(std::string_view input) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(input.data()), input.size(), digest);
  constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(32);
  for (int i = 0; i < 16; ++i) {
    out += kHex[digest[i] >> 4];
    out += kHex[digest[i] & 0xF];
  }
  return out;
}

// Fields are separated by a byte no tenant, domain, key or event id contains.
std::string MakeAlertId(std::string_view tenant, std::string_view domain, std::string_view key,
                        std::string_view event_id) {
  std::string input(tenant);
  for (const std::string_view part : {domain, key, event_id}) {
    input += '\x1f';
    input += part;
  }
  return Sha256Hex32(input);
}

std::int64_t Nanos(Time t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

Time FromNanos(std::int64_t ns) {
  return Time(std::chrono::duration_cast<Time::duration>(std::chrono::nanoseconds(ns)));
}

std::int64_t FloorDiv(std::int64_t a, std::int64_t b) {
  return a >= 0 ? a / b : -((-a + b - 1) / b);
}

bool IsBad(std::string_view status) { return status == "failing" || status == "broken"; }

// A suggestion for a new _mta-sts id (RFC 8461 §3.1: 1 to 32 letters and digits): the time.
std::string SuggestedId(Time t) {
  const auto tt = static_cast<std::time_t>(
      std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count());
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%d%H%M%S", &tm);
  return buf;
}

std::string Days(std::uint32_t seconds) {
  const std::uint32_t days = seconds / kSecondsPerDay;
  if (days * kSecondsPerDay == seconds) {
    return std::to_string(days) + (days == 1 ? " day" : " days");
  }
  return std::to_string(seconds) + " seconds";
}

// JSON values of drift events' before/after members.
std::optional<json::value> ParseJson(std::string_view text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec) {
    return std::nullopt;
  }
  return v;
}

std::string JsonString(std::string_view text) {
  const std::optional<json::value> v = ParseJson(text);
  if (v && v->is_string()) {
    return std::string(v->get_string());
  }
  return "";
}

std::string MemberString(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? std::string(v->get_string()) : "";
}

// RFC 6125 §6.4.3 as senders apply it: a wildcard stands for exactly the left-most label.
bool NameMatches(std::string_view name, std::string_view host) {
  const std::string n = Lower(name);
  const std::string h = Lower(host);
  if (n == h) {
    return true;
  }
  if (n.size() > 2 && n[0] == '*' && n[1] == '.') {
    const std::size_t dot = h.find('.');
    return dot != std::string::npos && dot > 0 && h.substr(dot) == n.substr(1);
  }
  return false;
}

std::string PolicyUrl(std::string_view domain) {
  return "https://mta-sts." + std::string(domain) + "/.well-known/mta-sts.txt";
}

std::string NewIdAdvice(std::string_view domain, std::string_view current_id, Time t) {
  std::string s = "publish a new id in the _mta-sts." + std::string(domain) +
                  " TXT record (`v=STSv1; id=" + SuggestedId(t) + ";`";
  if (!current_id.empty()) {
    s += " instead of id " + std::string(current_id);
  }
  return s + ")";
}

// The texts of each problem. `enforce` is the mode the sender applies (Diff's severities say it:
// critical problems are enforce-mode problems).

Problem StatusProblem(const drift::Event& e, std::string_view status, std::string_view sts_id,
                      Time at) {
  const bool enforce = e.severity == Severity::kCritical;
  const std::string& d = e.domain;
  Problem p;
  p.domain = d;
  p.key = std::string(kProblemStatus);
  p.severity = e.severity == Severity::kInfo ? Severity::kWarning : e.severity;
  if (status == "failing") {
    p.summary = d + " is failing: compliant senders refuse mail to at least one of its MX hosts";
    p.detail = e.message + " A sender applying the enforce-mode MTA-STS policy of " + d +
               " refuses or defers mail to an MX host it cannot validate (not covered by an mx "
               "line, no STARTTLS, or a certificate that is invalid, expired or does not name the "
               "host).";
    p.fix = "Fix the MX hosts named in the other alerts for " + d +
            " (the mx line to add, STARTTLS, the certificate). To stop refusals meanwhile, "
            "publish `mode: testing` in " +
            PolicyUrl(d) + " and " + NewIdAdvice(d, sts_id, at) +
            "; senders that cached the enforce policy keep it until its max_age runs out.";
    p.rfc = "RFC 8461 §5, §4.1, §4.2";
  } else {
    p.summary = "The MTA-STS policy of " + d + " cannot be discovered, fetched or parsed";
    p.detail = e.message + (enforce ? " Senders that cached the enforce-mode policy keep applying "
                                      "it, but new senders have no protection, and the policy "
                                      "cannot be updated or renewed before its max_age runs out."
                                    : " Senders apply no MTA-STS policy to " + d + ".");
    p.fix = "Check that _mta-sts." + d +
            " has exactly one TXT record starting with `v=STSv1; id=`, and that " + PolicyUrl(d) +
            " answers 200 over HTTPS with a certificate valid for mta-sts." + d +
            " and a body starting with `version: STSv1`.";
    p.rfc = "RFC 8461 §3.1, §3.2, §3.3";
    p.host = "mta-sts." + d;
  }
  return p;
}

Problem MxNotCoveredProblem(const drift::Event& e, std::string_view sts_id, Time at) {
  const bool enforce = e.severity == Severity::kCritical;
  const std::string& d = e.domain;
  const std::string& mx = e.subject;
  Problem p;
  p.domain = d;
  p.key = std::string(kProblemMxNotCovered) + ":" + mx;
  p.severity = enforce ? Severity::kCritical : Severity::kWarning;
  p.host = mx;
  p.summary = "MX host " + mx + " is not covered by the MTA-STS policy of " + d;
  p.detail = "MX host " + mx + " is not covered by the MTA-STS policy of " + d +
             (enforce ? " (mode enforce): compliant senders refuse to deliver to it."
                      : " (mode testing): senders deliver and report the failure, but would "
                        "refuse to deliver to it under enforce.");
  p.fix = "Add the line `mx: " + mx + "` to " + PolicyUrl(d) + " and " +
          NewIdAdvice(d, sts_id, at) + ".";
  p.rfc = "RFC 8461 §4.1, §3.1";
  return p;
}

Problem StartTlsProblem(const drift::Event& e) {
  const bool enforce = e.severity == Severity::kCritical;
  const std::string& d = e.domain;
  const std::string& mx = e.subject;
  const bool not_offered = JsonString(e.after) == "not-offered";
  Problem p;
  p.domain = d;
  p.key = std::string(kProblemStartTls) + ":" + mx;
  p.severity = enforce ? Severity::kCritical : Severity::kWarning;
  p.host = mx;
  p.summary = "MX host " + mx + " of " + d +
              (not_offered ? " no longer offers STARTTLS" : " fails the STARTTLS handshake");
  p.detail =
      "MX host " + mx +
      (not_offered ? " answers EHLO without offering STARTTLS (it did before)"
                   : " offers STARTTLS but no TLS handshake completes (it did before)") +
      (enforce ? ": senders applying the enforce-mode policy of " + d + " refuse to deliver to it."
               : ": MTA-STS senders report it, and would refuse to deliver to it under "
                 "enforce.");
  p.fix = "Restore STARTTLS on port 25 of " + mx + " with a certificate valid for " + mx +
          " (a chain to a public root, the name " + mx +
          ", not expired); check with `openssl s_client -starttls smtp -connect " + mx +
          ":25 -servername " + mx + "`.";
  p.rfc = "RFC 8461 §4.2, §5; RFC 3207";
  return p;
}

Problem CertExpiringProblem(const drift::Event& e, std::string_view mode) {
  const std::string& d = e.domain;
  const std::string& host = e.subject;
  const bool policy_host = host == "mta-sts." + d;
  const std::string window = JsonString(e.after);
  Problem p;
  p.domain = d;
  p.key = std::string(kProblemCertExpiring) + ":" + host;
  p.severity = e.severity;
  p.host = host;
  if (window == "expired") {
    p.summary = "The certificate of " + host + " has expired";
  } else if (!window.empty() && window.back() == 'd') {
    const std::string days = window.substr(0, window.size() - 1);
    p.summary =
        "The certificate of " + host + " expires within " + days + (days == "1" ? " day" : " days");
  } else {
    p.summary = "The certificate of " + host + " expires soon";
  }
  if (policy_host) {
    p.detail = e.message + " Once it has expired, senders cannot fetch the MTA-STS policy of " + d +
               ": the policy cannot be updated, and new senders get none.";
    p.fix = "Renew the certificate for mta-sts." + d + " and install it on the HTTPS server of " +
            PolicyUrl(d) + ".";
    p.rfc = "RFC 8461 §3.3";
  } else {
    p.detail = e.message + (mode == "enforce"
                                ? " Once it has expired, senders applying the enforce-mode "
                                  "policy of " +
                                      d + " refuse to deliver to " + host + "."
                                : " Once it has expired, MTA-STS senders cannot validate " + host +
                                      ", and would refuse to deliver to it under enforce.");
    p.fix = "Renew the certificate for " + host + " and install it in the SMTP server of " + host +
            " (port 25, STARTTLS).";
    p.rfc = "RFC 8461 §4.2";
  }
  return p;
}

Problem CertNameMissingProblem(const drift::Event& e, std::string_view mode,
                               const std::vector<std::string>& names) {
  const std::string& d = e.domain;
  const std::string& host = e.subject;
  const bool policy_host = host == "mta-sts." + d;
  const bool enforce = mode == "enforce";
  std::string listed;
  for (const std::string& n : names) {
    listed += (listed.empty() ? "" : ", ") + n;
  }
  Problem p;
  p.domain = d;
  p.key = std::string(kProblemCertNameMissing) + ":" + host;
  p.severity = enforce ? Severity::kCritical : Severity::kWarning;
  p.host = host;
  p.summary = "The certificate of " + host + " does not name " + host;
  p.detail = "The new certificate of " + host + " is issued for " +
             (listed.empty() ? std::string("no DNS names") : listed) + ", not for " + host +
             (policy_host ? ": senders cannot fetch the MTA-STS policy of " + d + "."
              : enforce   ? ": senders applying the enforce-mode policy of " + d +
                              " refuse to deliver to it."
                        : ": MTA-STS senders fail to validate it.");
  p.fix = "Install a certificate that has `" + host + "` among its subjectAltName DNS names on " +
          (policy_host ? "the HTTPS server of " + PolicyUrl(d) : "the SMTP server of " + host) +
          ".";
  p.rfc = policy_host ? "RFC 8461 §3.3; RFC 6125" : "RFC 8461 §4.2; RFC 6125";
  return p;
}

Problem PolicyChangedWithoutIdProblem(const drift::Event& e, std::string_view sts_id, Time at) {
  const std::string& d = e.domain;
  Problem p;
  p.domain = d;
  p.key = std::string(kProblemPolicyChangedWithoutIdChange);
  p.severity = Severity::kWarning;
  p.host = "mta-sts." + d;
  p.summary = "The MTA-STS policy of " + d + " changed but its id did not";
  p.detail = "The body of " + PolicyUrl(d) + " changed while the _mta-sts." + d +
             " TXT record kept " + (sts_id.empty() ? "its id" : "id " + std::string(sts_id)) +
             ": senders that cached the previous policy do not refetch it, and keep applying it "
             "until its max_age runs out.";
  std::string advice = NewIdAdvice(d, sts_id, at);
  advice[0] = 'P';
  p.fix = advice + ": senders refetch the policy when the id changes.";
  p.rfc = "RFC 8461 §3.1, §8.1";
  return p;
}

Problem MaxAgeShortProblem(std::string_view domain, std::uint32_t max_age, std::string_view sts_id,
                           Time at) {
  const std::string d(domain);
  Problem p;
  p.domain = d;
  p.key = std::string(kProblemMaxAgeShort);
  p.severity = Severity::kWarning;
  p.host = "mta-sts." + d;
  p.summary = "The MTA-STS policy of " + d + " has max_age " + std::to_string(max_age) +
              " in enforce mode (less than 30 days)";
  p.detail = "Senders cache the enforce-mode policy of " + d + " for only " + Days(max_age) +
             ": an attacker who blocks the policy fetch when the cache runs out can strip "
             "STARTTLS again. Policies are meant to be cached for weeks or more.";
  p.fix = "Set `max_age: " + std::to_string(mtasts::kThirtyDays) +
          "` (30 days) or more, up to `max_age: " + std::to_string(mtasts::kMaxMaxAge) + "`, in " +
          PolicyUrl(d) + " and " + NewIdAdvice(d, sts_id, at) + ".";
  p.rfc = "RFC 8461 §3.2";
  return p;
}

Problem NoticeProblem(const drift::Event& e) {
  Problem p;
  p.domain = e.domain;
  p.key = std::string(kNoticePrefix) + ":" + std::string(drift::EventKindName(e.kind));
  if (!e.subject.empty()) {
    p.key += ":" + e.subject;
  }
  p.severity = Severity::kInfo;
  p.summary = e.message;
  p.detail = std::string(drift::EventKindDoc(e.kind));
  p.host = e.subject;
  return p;
}

// ---- JSON state ----

json::object ProblemJson(const Problem& p) {
  json::object o;
  o["domain"] = p.domain;
  o["key"] = p.key;
  o["severity"] = SeverityName(p.severity);
  o["summary"] = p.summary;
  o["detail"] = p.detail;
  o["fix"] = p.fix;
  o["rfc"] = p.rfc;
  o["host"] = p.host;
  return o;
}

json::array StringsJson(const std::vector<std::string>& values) {
  json::array a;
  a.reserve(values.size());
  for (const std::string& v : values) {
    a.emplace_back(v);
  }
  return a;
}

json::object AlertJson(const AlertBook::Alert& a) {
  json::object o;
  o["id"] = a.id;
  o["problem"] = ProblemJson(a.problem);
  o["opened_at_ns"] = Nanos(a.opened_at);
  if (a.resolved_at) {
    o["resolved_at_ns"] = Nanos(*a.resolved_at);
  }
  o["event_ids"] = StringsJson(a.event_ids);
  o["sent"] = a.sent;
  o["notified_severity"] = SeverityName(a.notified_severity);
  o["last_sent_at_ns"] = Nanos(a.last_sent_at);
  return o;
}

json::object NotificationJson(const Notification& n) {
  json::object o;
  o["kind"] = NotificationKindName(n.kind);
  o["tenant"] = n.tenant;
  o["alert_id"] = n.alert_id;
  o["sequence"] = n.sequence;
  o["problem"] = ProblemJson(n.problem);
  o["previous_severity"] = SeverityName(n.previous_severity);
  o["opened_at_ns"] = Nanos(n.opened_at);
  if (n.resolved_at) {
    o["resolved_at_ns"] = Nanos(*n.resolved_at);
  }
  o["time_ns"] = Nanos(n.time);
  o["event_ids"] = StringsJson(n.event_ids);
  return o;
}

json::object PolicyJsonImpl(const TenantPolicy& p) {
  json::object o;
  o["tenant"] = p.tenant;
  o["minimum_severity"] = SeverityName(p.minimum_severity);
  o["muted_domains"] = StringsJson(p.muted_domains);
  if (p.quiet_hours) {
    json::object q;
    q["start_hour"] = p.quiet_hours->start_hour;
    q["end_hour"] = p.quiet_hours->end_hour;
    q["utc_offset_minutes"] = p.quiet_hours->utc_offset_minutes;
    o["quiet_hours"] = std::move(q);
  } else {
    o["quiet_hours"] = nullptr;
  }
  o["reminder_interval_s"] = p.reminder_interval.count();
  o["minimum_reminder_severity"] = SeverityName(p.minimum_reminder_severity);
  return o;
}

using Reader = JsonReader;

// Members of the alert state beyond plain JSON types.
Time TimeNs(Reader& r, std::string_view key) { return FromNanos(r.Int(key)); }

std::optional<Time> OptionalTimeNs(Reader& r, std::string_view key) {
  if (r.Get(key) == nullptr) {
    return std::nullopt;
  }
  return TimeNs(r, key);
}

Severity SeverityMember(Reader& r, std::string_view key) {
  if (r.Get(key) == nullptr) {
    return Severity::kInfo;
  }
  const std::optional<Severity> s = SeverityFromName(r.String(key));
  if (!s) {
    r.Fail(key, "info, warning or critical");
    return Severity::kInfo;
  }
  return *s;
}

Problem ReadProblem(Reader& r) {
  Problem p;
  p.domain = r.String("domain");
  p.key = r.String("key");
  p.severity = SeverityMember(r, "severity");
  p.summary = r.String("summary");
  p.detail = r.String("detail");
  p.fix = r.String("fix");
  p.rfc = r.String("rfc");
  p.host = r.String("host");
  return p;
}

Problem ReadProblemMember(Reader& r) {
  if (const json::object* o = r.RequiredObject("problem")) {
    Reader pr = r.Child(*o, r.Path("problem"));
    return ReadProblem(pr);
  }
  return {};
}

AlertBook::Alert ReadAlert(Reader& r) {
  AlertBook::Alert a;
  a.id = r.String("id");
  a.problem = ReadProblemMember(r);
  a.opened_at = TimeNs(r, "opened_at_ns");
  a.resolved_at = OptionalTimeNs(r, "resolved_at_ns");
  a.event_ids = r.Strings("event_ids");
  a.sent = r.Uint32("sent");
  a.notified_severity = SeverityMember(r, "notified_severity");
  a.last_sent_at = TimeNs(r, "last_sent_at_ns");
  return a;
}

Notification ReadNotification(Reader& r) {
  Notification n;
  const std::optional<NotificationKind> kind = NotificationKindFromName(r.String("kind"));
  if (!kind) {
    r.Fail("kind", "a notification kind");
  } else {
    n.kind = *kind;
  }
  n.tenant = r.String("tenant");
  n.alert_id = r.String("alert_id");
  n.sequence = r.Uint32("sequence");
  n.problem = ReadProblemMember(r);
  n.previous_severity = SeverityMember(r, "previous_severity");
  n.opened_at = TimeNs(r, "opened_at_ns");
  n.resolved_at = OptionalTimeNs(r, "resolved_at_ns");
  n.time = TimeNs(r, "time_ns");
  n.event_ids = r.Strings("event_ids");
  return n;
}

TenantPolicy ReadPolicyImpl(Reader& r) {
  TenantPolicy p;
  p.tenant = r.String("tenant");
  p.minimum_severity = SeverityMember(r, "minimum_severity");
  p.muted_domains = r.Strings("muted_domains");
  if (const json::object* q = r.Object("quiet_hours")) {
    Reader qr = r.Child(*q, r.Path("quiet_hours"));
    QuietHours quiet;
    quiet.start_hour = static_cast<int>(qr.IntIn("start_hour", 0, 23));
    quiet.end_hour = static_cast<int>(qr.IntIn("end_hour", 0, 23));
    constexpr std::int64_t kDayMinutes = std::int64_t{24} * 60;
    quiet.utc_offset_minutes =
        static_cast<int>(qr.IntIn("utc_offset_minutes", -kDayMinutes, kDayMinutes));
    p.quiet_hours = quiet;
  }
  p.reminder_interval = std::chrono::seconds(r.Int("reminder_interval_s"));
  p.minimum_reminder_severity = SeverityMember(r, "minimum_reminder_severity");
  return p;
}

void AddEventId(std::vector<std::string>& ids, const std::string& id) {
  if (std::find(ids.begin(), ids.end(), id) != ids.end()) {
    return;
  }
  ids.push_back(id);
  if (ids.size() > kMaxEventIdsPerAlert) {
    ids.erase(ids.begin());
  }
}

bool Allowed(const TenantPolicy& policy, const Problem& p) {
  return !IsMuted(policy, p.domain) && p.severity >= policy.minimum_severity;
}

bool Quiet(const TenantPolicy& policy, Time now) {
  return policy.quiet_hours && InQuietHours(*policy.quiet_hours, now);
}

}  // namespace

boost::json::object TenantPolicyJson(const TenantPolicy& policy) { return PolicyJsonImpl(policy); }

TenantPolicy ReadTenantPolicy(JsonReader& reader) { return ReadPolicyImpl(reader); }

std::string_view SeverityName(Severity severity) { return drift::EventSeverityName(severity); }

std::optional<Severity> SeverityFromName(std::string_view name) {
  for (const Severity s : {Severity::kInfo, Severity::kWarning, Severity::kCritical}) {
    if (SeverityName(s) == name) {
      return s;
    }
  }
  return std::nullopt;
}

bool InQuietHours(const QuietHours& quiet, Time t) {
  if (quiet.start_hour == quiet.end_hour) {
    return false;
  }
  const std::int64_t local =
      std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count() +
      std::int64_t{quiet.utc_offset_minutes} * 60;
  const std::int64_t hour = FloorDiv(local, 3600) - FloorDiv(local, kSecondsPerDay) * 24;
  if (quiet.start_hour < quiet.end_hour) {
    return hour >= quiet.start_hour && hour < quiet.end_hour;
  }
  return hour >= quiet.start_hour || hour < quiet.end_hour;
}

Time QuietHoursEnd(const QuietHours& quiet, Time t) {
  if (!InQuietHours(quiet, t)) {
    return t;
  }
  const std::int64_t offset = std::int64_t{quiet.utc_offset_minutes} * 60;
  const std::int64_t local =
      std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count() + offset;
  std::int64_t end =
      FloorDiv(local, kSecondsPerDay) * kSecondsPerDay + std::int64_t{quiet.end_hour} * 3600;
  if (end <= local) {
    end += kSecondsPerDay;
  }
  return Time(std::chrono::seconds(end - offset));
}

bool IsMuted(const TenantPolicy& policy, std::string_view domain) {
  const std::string d = Lower(domain);
  return std::any_of(policy.muted_domains.begin(), policy.muted_domains.end(),
                     [&](const std::string& m) { return Lower(m) == d; });
}

std::string_view NotificationKindName(NotificationKind kind) {
  switch (kind) {
    case NotificationKind::kOpened:
      return "opened";
    case NotificationKind::kReminder:
      return "reminder";
    case NotificationKind::kEscalated:
      return "escalated";
    case NotificationKind::kResolved:
      return "resolved";
    case NotificationKind::kNotice:
      return "notice";
  }
  return "notice";
}

std::optional<NotificationKind> NotificationKindFromName(std::string_view name) {
  for (const NotificationKind k :
       {NotificationKind::kOpened, NotificationKind::kReminder, NotificationKind::kEscalated,
        NotificationKind::kResolved, NotificationKind::kNotice}) {
    if (NotificationKindName(k) == name) {
      return k;
    }
  }
  return std::nullopt;
}

// Applies one event to one tenant's state.
class AlertBook::Rules {
 public:
  Rules(TenantState& tenant, const drift::Event& event, Time now, bool notify)
      : t_(tenant),
        e_(event),
        now_(now),
        notify_(notify),
        at_(event.time == Time{} ? now : event.time),
        facts_(tenant.domains[event.domain]) {}

  void Apply() {
    using drift::EventKind;
    switch (e_.kind) {
      case EventKind::kFirstCheck:
        FirstCheck();
        break;
      case EventKind::kStatusChanged:
        StatusChanged();
        break;
      case EventKind::kMxNotCovered:
        // Diff gives critical exactly when the policy's mode is enforce.
        facts_.mode = e_.severity == Severity::kCritical ? "enforce" : "testing";
        Open(MxNotCoveredProblem(e_, facts_.sts_id, at_));
        break;
      case EventKind::kStartTlsLost:
        Open(StartTlsProblem(e_));
        break;
      case EventKind::kStartTlsRegained:
        Resolve(std::string(kProblemStartTls) + ":" + e_.subject);
        break;
      case EventKind::kCertificateExpiring:
        Open(CertExpiringProblem(e_, facts_.mode));
        break;
      case EventKind::kCertificateChanged:
        CertificateChanged();
        break;
      case EventKind::kPolicyChangedWithoutIdChange:
        LearnPolicy();
        Open(PolicyChangedWithoutIdProblem(e_, facts_.sts_id, at_));
        break;
      case EventKind::kPolicyChanged:
        LearnPolicy();
        Resolve(std::string(kProblemPolicyChangedWithoutIdChange));
        break;
      case EventKind::kIdChanged:
      case EventKind::kIdChangedSamePolicy:
        if (const std::string id = JsonString(e_.after); !id.empty()) {
          facts_.sts_id = id;
        }
        Resolve(std::string(kProblemPolicyChangedWithoutIdChange));
        break;
      case EventKind::kModeChanged:
        facts_.mode = JsonString(e_.after);
        if (facts_.mode == "none") {
          // Mode none: senders apply nothing, so no MX is refused for want of coverage.
          ResolvePrefix(kProblemMxNotCovered);
        }
        MaxAgeRule();
        break;
      case EventKind::kMaxAgeChanged:
        if (const std::optional<json::value> v = ParseJson(e_.after);
            v && v->is_int64() && v->get_int64() >= 0 && v->get_int64() <= UINT32_MAX) {
          facts_.max_age = static_cast<std::uint32_t>(v->get_int64());
        }
        MaxAgeRule();
        break;
      case EventKind::kMxSetChanged:
        MxSetChanged();
        break;
      default:
        break;
    }
    if (!problem_event_ && !changed_) {
      Notice();
    }
  }

  // What the event made due now, in the order it happened.
  std::vector<Notification> Finish() {
    std::vector<Notification> out;
    std::set<std::pair<std::string, std::string>> done;
    std::vector<std::string> finished;  // Ids of closing alerts handed out or dropped.
    for (const Touch& touch : touches_) {
      if (touch.closed) {
        for (Alert& a : t_.closing) {
          if (a.id == touch.alert_id && TakeResolution(t_.policy, a, now_, out)) {
            finished.push_back(a.id);
          }
        }
        continue;
      }
      if (!done.insert(touch.key).second) {
        continue;
      }
      const auto it = t_.open.find(touch.key);
      // A new status alert waits for OnTick: the events after it in the same check may explain
      // it with a more precise alert (Covered).
      if (notify_ && it != t_.open.end() &&
          !(it->second.sent == 0 && it->first.second == kProblemStatus)) {
        if (std::optional<Notification> n = TakeOwed(t_.policy, it->second, now_, false)) {
          out.push_back(std::move(*n));
        }
      }
    }
    std::erase_if(t_.closing, [&](const Alert& a) {
      return std::find(finished.begin(), finished.end(), a.id) != finished.end();
    });
    if (notice_) {
      out.push_back(std::move(*notice_));
    }
    return out;
  }

 private:
  struct Touch {
    bool closed = false;
    std::pair<std::string, std::string> key;
    std::string alert_id;
  };

  void FirstCheck() {
    const std::optional<json::value> v = ParseJson(e_.after);
    if (!v || !v->is_object()) {
      return;
    }
    const json::object& o = v->get_object();
    facts_.mode = MemberString(o, "mode");
    facts_.sts_id = MemberString(o, "sts_id");
    const std::string status = MemberString(o, "status");
    if (IsBad(status)) {
      Open(StatusProblem(e_, status, facts_.sts_id, at_));
    }
  }

  void StatusChanged() {
    const std::string status = JsonString(e_.after);
    if (IsBad(status)) {
      if (e_.severity == Severity::kCritical) {
        facts_.mode = "enforce";
      }
      Open(StatusProblem(e_, status, facts_.sts_id, at_));
      return;
    }
    Resolve(std::string(kProblemStatus));
    if (status == "ok") {
      // "ok": a compliant sender delivers over validated TLS to every MX, so no MX is
      // uncovered, without STARTTLS or without its name in its certificate any more.
      ResolvePrefix(kProblemMxNotCovered);
      ResolvePrefix(kProblemStartTls);
      ResolvePrefix(kProblemCertNameMissing);
    }
  }

  void CertificateChanged() {
    const std::optional<json::value> v = ParseJson(e_.after);
    if (!v || !v->is_object()) {
      return;
    }
    const json::object& o = v->get_object();
    // A new certificate still inside an expiry window keeps the alert open: the
    // certificate_expiring event that follows it says how close it is now.
    if (MemberString(o, "window").empty()) {
      Resolve(std::string(kProblemCertExpiring) + ":" + e_.subject);
    }
    std::vector<std::string> names;
    if (const json::value* n = o.if_contains("names"); n != nullptr && n->is_array()) {
      names.reserve(n->get_array().size());
      for (const json::value& name : n->get_array()) {
        if (name.is_string()) {
          names.emplace_back(name.get_string());
        }
      }
    }
    const bool named = std::any_of(names.begin(), names.end(), [&](const std::string& name) {
      return NameMatches(name, e_.subject);
    });
    if (named || e_.subject.empty()) {
      Resolve(std::string(kProblemCertNameMissing) + ":" + e_.subject);
    } else {
      Open(CertNameMissingProblem(e_, facts_.mode, names));
    }
  }

  // The policy body of policy_changed(_without_id_change): its mode, max_age, and the MX hosts
  // it covers now.
  void LearnPolicy() {
    const mtasts::PolicyResult parsed = mtasts::ParsePolicy(JsonString(e_.after));
    if (!parsed.policy) {
      return;
    }
    facts_.mode = std::string(mtasts::PolicyModeName(parsed.policy->mode));
    facts_.max_age = parsed.policy->max_age;
    const std::string prefix = std::string(kProblemMxNotCovered) + ":";
    std::vector<std::string> hosts;
    for (const auto& [key, alert] : t_.open) {
      if (key.first == e_.domain && key.second.starts_with(prefix)) {
        hosts.push_back(key.second.substr(prefix.size()));
      }
    }
    std::vector<mtasts::Finding> findings;
    for (const mtasts::MxCoverage& c : mtasts::CoverMxHosts(*parsed.policy, hosts, findings)) {
      if (c.pattern) {
        Resolve(prefix + c.host);
      }
    }
  }

  // RFC 8461 §3.2: a max_age under 30 days in enforce mode is a warning.
  void MaxAgeRule() {
    if (facts_.mode == "enforce" && facts_.max_age > 0 && facts_.max_age < mtasts::kThirtyDays) {
      Open(MaxAgeShortProblem(e_.domain, facts_.max_age, facts_.sts_id, at_));
    } else if (!facts_.mode.empty()) {
      Resolve(std::string(kProblemMaxAgeShort));
    }
  }

  void MxSetChanged() {
    const std::optional<json::value> v = ParseJson(e_.after);
    if (!v || !v->is_array()) {
      return;
    }
    std::set<std::string> hosts;
    for (const json::value& h : v->get_array()) {
      if (h.is_string()) {
        hosts.insert(Lower(h.get_string()));
      }
    }
    // Problems of an MX host that is no longer an MX are gone with it.
    std::vector<std::string> gone;
    for (const auto& [key, alert] : t_.open) {
      if (key.first != e_.domain) {
        continue;
      }
      for (const std::string_view prefix : {kProblemMxNotCovered, kProblemStartTls,
                                            kProblemCertExpiring, kProblemCertNameMissing}) {
        const std::string p = std::string(prefix) + ":";
        if (key.second.starts_with(p) && key.second != p + "mta-sts." + e_.domain &&
            !hosts.contains(Lower(key.second.substr(p.size())))) {
          gone.push_back(key.second);
        }
      }
    }
    for (const std::string& key : gone) {
      Resolve(key);
    }
  }

  void Open(Problem p) {
    problem_event_ = true;
    const std::pair<std::string, std::string> key(p.domain, p.key);
    auto it = t_.open.find(key);
    if (it == t_.open.end()) {
      Alert a;
      a.id = MakeAlertId(t_.policy.tenant, p.domain, p.key, e_.id);
      a.problem = std::move(p);
      a.opened_at = at_;
      a.event_ids.push_back(e_.id);
      t_.open.emplace(key, std::move(a));
      touches_.push_back({false, key, ""});
      changed_ = true;
      return;
    }
    Alert& a = it->second;
    AddEventId(a.event_ids, e_.id);
    if (p.severity > a.problem.severity) {
      a.problem = std::move(p);
      touches_.push_back({false, key, ""});
      changed_ = true;
    } else if (p.severity == a.problem.severity) {
      // Same severity, newer words (7 days left instead of 14; broken instead of failing):
      // reminders say it, nobody is told now.
      a.problem = std::move(p);
    }
  }

  void Resolve(const std::string& problem_key) {
    const auto it = t_.open.find({e_.domain, problem_key});
    if (it == t_.open.end()) {
      return;
    }
    Alert a = std::move(it->second);
    t_.open.erase(it);
    a.resolved_at = at_;
    AddEventId(a.event_ids, e_.id);
    touches_.push_back({true, {}, a.id});
    t_.closing.push_back(std::move(a));
    changed_ = true;
  }

  void ResolvePrefix(std::string_view prefix) {
    const std::string p = std::string(prefix) + ":";
    std::vector<std::string> keys;
    for (const auto& [key, alert] : t_.open) {
      if (key.first == e_.domain && key.second.starts_with(p)) {
        keys.push_back(key.second);
      }
    }
    for (const std::string& key : keys) {
      Resolve(key);
    }
  }

  void Notice() {
    Notification n;
    n.kind = NotificationKind::kNotice;
    n.tenant = t_.policy.tenant;
    n.alert_id = MakeAlertId(t_.policy.tenant, e_.domain, kNoticePrefix, e_.id);
    n.problem = NoticeProblem(e_);
    n.previous_severity = n.problem.severity;
    n.opened_at = at_;
    n.resolved_at = at_;
    n.time = now_;
    n.event_ids.push_back(e_.id);
    if (!notify_ || !Allowed(t_.policy, n.problem)) {
      return;
    }
    if (Quiet(t_.policy, now_)) {
      t_.notices.push_back(std::move(n));
      return;
    }
    notice_ = std::move(n);
  }

  TenantState& t_;
  const drift::Event& e_;
  const Time now_;
  const bool notify_;  // False: history replayed, only the state moves (OnEvent).
  const Time at_;
  DomainFacts& facts_;
  bool problem_event_ = false;  // The event is about a problem: never a notice.
  bool changed_ = false;        // An alert opened, escalated or resolved.
  std::vector<Touch> touches_;
  std::optional<Notification> notice_;
};

AlertBook::AlertBook(AlertBookOptions options) : options_(options) {}

std::optional<Notification> AlertBook::TakeOwed(const TenantPolicy& policy, Alert& alert, Time now,
                                                bool reminders) {
  const Severity severity = alert.problem.severity;
  if (!Allowed(policy, alert.problem)) {
    return std::nullopt;
  }
  if (severity != Severity::kCritical && Quiet(policy, now)) {
    return std::nullopt;
  }
  NotificationKind kind;
  if (alert.sent == 0) {
    kind = NotificationKind::kOpened;
  } else if (severity > alert.notified_severity) {
    kind = NotificationKind::kEscalated;
  } else if (reminders && severity >= policy.minimum_reminder_severity &&
             now - alert.last_sent_at >= policy.reminder_interval) {
    kind = NotificationKind::kReminder;
  } else {
    return std::nullopt;
  }
  Notification n;
  n.kind = kind;
  n.tenant = policy.tenant;
  n.alert_id = alert.id;
  n.sequence = alert.sent;
  n.problem = alert.problem;
  n.previous_severity = alert.sent == 0 ? severity : alert.notified_severity;
  n.opened_at = alert.opened_at;
  n.time = now;
  n.event_ids = alert.event_ids;
  ++alert.sent;
  alert.notified_severity = severity;
  alert.last_sent_at = now;
  return n;
}

bool AlertBook::TakeResolution(const TenantPolicy& policy, Alert& alert, Time now,
                               std::vector<Notification>& out) {
  // Never told (or no longer wanted): nothing to take back.
  if (alert.sent == 0 || !Allowed(policy, alert.problem)) {
    return true;
  }
  if (alert.problem.severity != Severity::kCritical && Quiet(policy, now)) {
    return false;
  }
  Notification n;
  n.kind = NotificationKind::kResolved;
  n.tenant = policy.tenant;
  n.alert_id = alert.id;
  n.sequence = alert.sent;
  n.problem = alert.problem;
  n.previous_severity = alert.notified_severity;
  n.opened_at = alert.opened_at;
  n.resolved_at = alert.resolved_at;
  n.time = now;
  n.event_ids = alert.event_ids;
  ++alert.sent;
  alert.last_sent_at = now;
  out.push_back(std::move(n));
  return true;
}

std::vector<Notification> AlertBook::OnEvent(const TenantPolicy& policy, const drift::Event& event,
                                             Time now, bool notify) {
  TenantState& t = tenants_[policy.tenant];
  t.policy = policy;
  // At-least-once delivery upstream: the second copy of an event changes nothing.
  if (!t.seen.emplace(event.id, now).second) {
    return {};
  }
  Rules rules(t, event, now, notify);
  rules.Apply();
  std::vector<Notification> out = rules.Finish();
  if (t.notices.size() > options_.max_deferred_notices) {
    t.notices.erase(t.notices.begin(),
                    t.notices.end() - static_cast<std::ptrdiff_t>(options_.max_deferred_notices));
  }
  return out;
}

std::vector<Notification> AlertBook::OnTick(Time now) {
  std::vector<Notification> out;
  for (auto& [tenant, t] : tenants_) {
    std::erase_if(t.seen,
                  [&](const auto& entry) { return now - entry.second > options_.dedup_retention; });
    if (!Quiet(t.policy, now)) {
      for (Notification& n : t.notices) {
        n.time = now;
        out.push_back(std::move(n));
      }
      t.notices.clear();
    }
    std::vector<Alert> waiting;
    for (Alert& a : t.closing) {
      if (!TakeResolution(t.policy, a, now, out)) {
        waiting.push_back(std::move(a));
      }
    }
    t.closing = std::move(waiting);
    for (auto& [key, alert] : t.open) {
      if (alert.sent == 0 && key.second == kProblemStatus && Covered(t, alert)) {
        continue;
      }
      if (std::optional<Notification> n = TakeOwed(t.policy, alert, now, true)) {
        out.push_back(std::move(*n));
      }
    }
  }
  return out;
}

bool AlertBook::Covered(const TenantState& t, const Alert& status) {
  for (const auto& [key, other] : t.open) {
    if (key.first == status.problem.domain && key.second != kProblemStatus &&
        other.problem.severity >= status.problem.severity && Allowed(t.policy, other.problem)) {
      return true;
    }
  }
  return false;
}

void AlertBook::SetTenantPolicy(const TenantPolicy& policy) {
  tenants_[policy.tenant].policy = policy;
}

void AlertBook::NoteSnapshot(std::string_view tenant, const drift::Snapshot& snapshot) {
  TenantState& t = tenants_[std::string(tenant)];
  t.policy.tenant = std::string(tenant);
  DomainFacts& f = t.domains[snapshot.domain];
  f.mode = snapshot.mode;
  f.max_age = snapshot.max_age;
  f.sts_id = snapshot.sts_id;
}

std::vector<AlertBook::Alert> AlertBook::OpenAlerts(std::string_view tenant) const {
  std::vector<Alert> out;
  const auto it = tenants_.find(std::string(tenant));
  if (it == tenants_.end()) {
    return out;
  }
  out.reserve(it->second.open.size());
  for (const auto& [key, alert] : it->second.open) {
    out.push_back(alert);
  }
  return out;
}

std::string AlertBook::ToJson() const {
  json::array tenants;
  tenants.reserve(tenants_.size());
  for (const auto& [name, t] : tenants_) {
    json::object o;
    o["tenant"] = name;
    o["policy"] = PolicyJsonImpl(t.policy);
    json::object seen;
    for (const auto& [id, when] : t.seen) {
      seen[id] = Nanos(when);
    }
    o["seen"] = std::move(seen);
    json::object domains;
    for (const auto& [domain, f] : t.domains) {
      json::object d;
      d["mode"] = f.mode;
      d["max_age"] = f.max_age;
      d["sts_id"] = f.sts_id;
      domains[domain] = std::move(d);
    }
    o["domains"] = std::move(domains);
    json::array open;
    open.reserve(t.open.size());
    for (const auto& [key, alert] : t.open) {
      open.emplace_back(AlertJson(alert));
    }
    o["open"] = std::move(open);
    json::array closing;
    closing.reserve(t.closing.size());
    for (const Alert& alert : t.closing) {
      closing.emplace_back(AlertJson(alert));
    }
    o["closing"] = std::move(closing);
    json::array notices;
    notices.reserve(t.notices.size());
    for (const Notification& n : t.notices) {
      notices.emplace_back(NotificationJson(n));
    }
    o["notices"] = std::move(notices);
    tenants.emplace_back(std::move(o));
  }
  json::object root;
  root["version"] = kStateVersion;
  root["tenants"] = std::move(tenants);
  return json::serialize(root);
}

absl::StatusOr<AlertBook> AlertBook::FromJson(std::string_view text, AlertBookOptions options) {
  boost::system::error_code ec;
  const json::value v = json::parse(text, ec);
  if (ec) {
    return absl::InvalidArgumentError("alert state is not JSON: " + ec.message());
  }
  if (!v.is_object()) {
    return absl::InvalidArgumentError("alert state is not a JSON object");
  }
  absl::Status status;
  Reader root(v.get_object(), "state", "alert state", status);
  if (const std::int64_t version = root.Int("version"); version != kStateVersion) {
    return absl::InvalidArgumentError("alert state version " + std::to_string(version) +
                                      " is not " + std::to_string(kStateVersion));
  }
  AlertBook book(options);
  root.Objects("tenants", [&](Reader& r) {
    const std::string name = r.String("tenant");
    TenantState& t = book.tenants_[name];
    if (const json::object* p = r.RequiredObject("policy")) {
      Reader pr = r.Child(*p, r.Path("policy"));
      t.policy = ReadPolicyImpl(pr);
    }
    if (const json::object* seen = r.Object("seen")) {
      for (const auto& member : *seen) {
        Reader sr = r.Child(*seen, r.Path("seen"));
        t.seen.emplace(std::string(member.key()), TimeNs(sr, member.key()));
      }
    }
    if (const json::object* domains = r.Object("domains")) {
      for (const auto& member : *domains) {
        if (!member.value().is_object()) {
          r.Fail("domains." + std::string(member.key()), "an object");
          return;
        }
        Reader dr = r.Child(member.value().get_object(),
                            r.Path("domains") + "." + std::string(member.key()));
        DomainFacts& f = t.domains[std::string(member.key())];
        f.mode = dr.String("mode");
        f.max_age = dr.Uint32("max_age");
        f.sts_id = dr.String("sts_id");
      }
    }
    r.Objects("open", [&](Reader& ar) {
      Alert a = ReadAlert(ar);
      t.open.emplace(std::make_pair(a.problem.domain, a.problem.key), std::move(a));
    });
    r.Objects("closing", [&](Reader& ar) { t.closing.push_back(ReadAlert(ar)); });
    r.Objects("notices", [&](Reader& nr) { t.notices.push_back(ReadNotification(nr)); });
  });
  if (!status.ok()) {
    return status;
  }
  return book;
}

}  // namespace stswatch::alerting
