#pragma once

// Alert rules and alert state: drift events in, notifications out.
//
// A drift event (drift/events.h) says what changed in one check. An alert is a *problem* of a
// domain — "mx9.example.net is not covered", "the certificate of mx1 expires within 7 days" — with
// a lifecycle: opened once, reminded after a quiet period while it stays open, resolved once. One
// alert per (tenant, domain, problem key), however many checks see the problem; a problem that
// comes back after being resolved is a new alert with a new id. Drift that is not a problem
// (a TLS-RPT record changed, an MX set changed) is a one-off notice.
//
// Pure: no I/O, no clock, no randomness. The caller feeds events (in stream order) and ticks with
// the time, and delivers what comes back; the state serializes to JSON so an alerter can persist
// it between events. alerting/README.md has the rule table for people.
//
// Thread: an AlertBook is not thread-safe; one owner calls it.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/json/object.hpp>

#include "absl/status/statusor.h"
#include "common/json_reader.h"
#include "drift/events.h"
#include "drift/snapshot.h"

namespace stswatch::alerting {

using Time = std::chrono::system_clock::time_point;

// One scale for events and alerts: info < warning < critical.
using Severity = drift::EventSeverity;

// "info", "warning", "critical".
std::string_view SeverityName(Severity severity);
std::optional<Severity> SeverityFromName(std::string_view name);

// Problem keys (stable identifiers: they are part of alert ids, the webhook body and stored
// state). Per-host keys are "<prefix>:<host>".
inline constexpr std::string_view kProblemStatus = "status";
inline constexpr std::string_view kProblemMxNotCovered = "mx_not_covered";        // :<mx host>
inline constexpr std::string_view kProblemStartTls = "starttls";                  // :<mx host>
inline constexpr std::string_view kProblemCertExpiring = "cert_expiring";         // :<host>
inline constexpr std::string_view kProblemCertNameMissing = "cert_name_missing";  // :<host>
inline constexpr std::string_view kProblemPolicyChangedWithoutIdChange =
    "policy_changed_without_id_change";
inline constexpr std::string_view kProblemMaxAgeShort = "max_age_short";
// Notices (no lifecycle) have the key "event:<drift kind>" or "event:<drift kind>:<subject>".
inline constexpr std::string_view kNoticePrefix = "event";

// What is wrong with a domain, in words a mail operator can act on.
struct Problem {
  std::string domain;
  // Stable id of the problem within the domain, e.g. "status", "mx_not_covered:mx9.example",
  // "cert_expiring:mx1.example", "policy_changed_without_id_change".
  std::string key;
  Severity severity = Severity::kInfo;
  std::string summary;  // One line: what is wrong.
  std::string detail;   // What is wrong and what it does to mail, with the values seen.
  // The concrete fix: the policy line to add, the certificate name missing, the id to bump.
  // Code-like parts (a policy line, a TXT record, a command) are between `backticks`.
  std::string fix;
  std::string rfc;   // The rule, e.g. "RFC 8461 §4.1, §3.1"; may be empty for notices.
  std::string host;  // The host concerned (an MX, "mta-sts.<domain>"), "" for the domain.

  bool operator==(const Problem&) const = default;
};

// Local hours [start_hour, end_hour) in a fixed offset from UTC during which only critical
// notifications go out; the others wait for the end of the quiet hours and come out of the first
// OnTick after it. start_hour > end_hour wraps midnight (22 → 7); start_hour == end_hour is no
// quiet hours at all.
struct QuietHours {
  int start_hour = 0;  // 0..23
  int end_hour = 0;    // 0..23
  int utc_offset_minutes = 0;

  bool operator==(const QuietHours&) const = default;
};

bool InQuietHours(const QuietHours& quiet, Time t);
// The first instant at or after `t` that is not in the quiet hours (`t` itself when it is not).
Time QuietHoursEnd(const QuietHours& quiet, Time t);

// A tenant's alerting settings. The book keeps the last policy it was given per tenant and
// applies it at the next OnTick too.
struct TenantPolicy {
  std::string tenant;
  // Alerts and notices below this severity are tracked but not notified. Raising an alert's
  // severity above it (a certificate going from 30 to 14 days) notifies it as opened then.
  Severity minimum_severity = Severity::kInfo;
  // Domains (exact names, case-insensitive) whose alerts are tracked silently.
  std::vector<std::string> muted_domains;
  std::optional<QuietHours> quiet_hours;
  // The quiet period: an open alert is notified again this long after its last notification.
  std::chrono::seconds reminder_interval = std::chrono::hours(24);
  // Reminders go out only for alerts at least this severe (an info alert — a certificate 30
  // days from expiry — is said once).
  Severity minimum_reminder_severity = Severity::kWarning;

  bool operator==(const TenantPolicy&) const = default;
};

bool IsMuted(const TenantPolicy& policy, std::string_view domain);

// A policy as JSON (members tenant, minimum_severity, muted_domains, quiet_hours,
// reminder_interval_s, minimum_reminder_severity), as in the alert state; and back, absent
// members taking their defaults, errors in `reader`'s status.
boost::json::object TenantPolicyJson(const TenantPolicy& policy);
TenantPolicy ReadTenantPolicy(JsonReader& reader);

enum class NotificationKind {
  kOpened,     // The first notification of an alert.
  kReminder,   // Still open, reminder_interval after the previous notification.
  kEscalated,  // Still open and more severe than last notified (e.g. 14 → 1 day to expiry).
  kResolved,   // The problem is gone; the last notification of the alert.
  kNotice,     // Drift that is no problem: opened and closed at once, no thread.
};

// "opened", "reminder", "escalated", "resolved", "notice".
std::string_view NotificationKindName(NotificationKind kind);
std::optional<NotificationKind> NotificationKindFromName(std::string_view name);

// Something to tell a tenant. Self-contained: the renderers need nothing else.
struct Notification {
  NotificationKind kind = NotificationKind::kNotice;
  std::string tenant;
  // 32 hex digits, deterministic: SHA-256 over (tenant, domain, problem key, id of the event
  // that opened the alert). A reopened problem has a new opening event, hence a new alert id.
  std::string alert_id;
  // 0 for the first notification handed out for the alert, then 1, 2, ... (e-mail threading and
  // Message-IDs are built from (alert_id, sequence)). Always 0 for notices.
  std::uint32_t sequence = 0;
  Problem problem;  // Its severity is the alert's severity now.
  // The severity of the previous notification of the alert (differs only for kEscalated).
  Severity previous_severity = Severity::kInfo;
  Time opened_at;                   // When a check first saw the problem (event time).
  std::optional<Time> resolved_at;  // kResolved and kNotice: when a check saw it gone.
  Time time;                        // When the notification was handed out (the `now` given).
  // Ids of the drift events that opened, changed and resolved the alert (the last 20).
  std::vector<std::string> event_ids;

  bool operator==(const Notification&) const = default;
};

struct AlertBookOptions {
  // How long event ids are remembered to drop redeliveries of the same event.
  std::chrono::seconds dedup_retention = std::chrono::hours(24 * 7);
  // Notices deferred by quiet hours kept per tenant; beyond it the oldest are dropped.
  std::size_t max_deferred_notices = 1000;
};

// Alert state of every tenant, and the rules. Keyed by (tenant, domain, problem key).
//
// Notifications are "owed" by the state (an open alert never notified owes kOpened, a resolved
// one that was notified owes kResolved, ...); a method hands out what is owed and allowed now:
// not muted, at least the minimum severity, and outside quiet hours unless critical. What is not
// allowed waits in the state (OnTick hands it out later) or, when muted or below the minimum, is
// never said: an alert opened and resolved within one night's quiet hours sends nothing, and
// an alert that was never notified resolves silently.
class AlertBook {
 public:
  // A read-only view of one alert (OpenAlerts).
  struct Alert {
    std::string id;
    Problem problem;
    Time opened_at;
    std::optional<Time> resolved_at;
    std::vector<std::string> event_ids;
    std::uint32_t sent = 0;                        // Notifications handed out so far.
    Severity notified_severity = Severity::kInfo;  // Severity of the last one handed out.
    Time last_sent_at;

    bool operator==(const Alert&) const = default;
  };

  explicit AlertBook(AlertBookOptions options = {});

  // Applies one drift event for the tenant of `policy` (which becomes the tenant's policy) and
  // returns what it makes due now: kOpened, kEscalated, kResolved, kNotice; never kReminder. An
  // event id already seen for this tenant returns nothing. Events of one domain must come in
  // stream order.
  //
  // With `notify` false the event is history being caught up on (an alerter starting on events
  // hours old): the state moves, but nothing is handed out for it except the resolution of an
  // alert already notified. An alert it opens stays owed, and OnTick notifies it if it is still
  // open then; one it opens and resolves is never said; its notice is dropped.
  std::vector<Notification> OnEvent(const TenantPolicy& policy, const drift::Event& event, Time now,
                                    bool notify = true);

  // Everything due at `now`: reminders, notifications deferred by quiet hours, alerts that
  // became notifiable (a domain unmuted). Forgets event ids older than dedup_retention. Call it
  // every minute or so; `now` must not go backwards.
  std::vector<Notification> OnTick(Time now);

  // Replaces a tenant's policy (as OnEvent does) without an event.
  void SetTenantPolicy(const TenantPolicy& policy);

  // Tells the book what it cannot learn from events seen so far: the mode, max_age and id of a
  // domain, from its stored snapshot. An alerter that starts in the middle of a stream calls it
  // for its domains; the book otherwise learns them from first_check, mode_changed,
  // max_age_changed, id_changed and the severities of mx_not_covered and status_changed.
  void NoteSnapshot(std::string_view tenant, const drift::Snapshot& snapshot);

  // The open alerts of a tenant, sorted by (domain, key).
  std::vector<Alert> OpenAlerts(std::string_view tenant) const;

  // The whole state as JSON (policies, open alerts, resolutions and notices still owed, event ids
  // remembered, what is known of the domains). Deterministic: the same state gives the same
  // bytes.
  std::string ToJson() const;
  // Reads back what ToJson wrote. Errors name the member.
  static absl::StatusOr<AlertBook> FromJson(std::string_view json, AlertBookOptions options = {});

 private:
  struct DomainFacts {
    std::string mode;           // "enforce", "testing", "none"; "" unknown.
    std::uint32_t max_age = 0;  // 0 unknown.
    std::string sts_id;
  };
  struct TenantState {
    TenantPolicy policy;
    std::map<std::string, Time> seen;  // Event id → when first seen.
    std::map<std::string, DomainFacts> domains;
    std::map<std::pair<std::string, std::string>, Alert> open;  // (domain, key) → alert.
    std::vector<Alert> closing;         // Resolved; kResolved owed but deferred.
    std::vector<Notification> notices;  // Notices deferred by quiet hours.
  };
  class Rules;

  // What `alert` owes and may be handed out now, if anything; updates the alert as sent.
  static std::optional<Notification> TakeOwed(const TenantPolicy& policy, Alert& alert, Time now,
                                              bool reminders);
  // For a resolved alert: true when it is finished with (kResolved handed out into `out`, or
  // nothing to say); false when it must wait for the end of quiet hours.
  static bool TakeResolution(const TenantPolicy& policy, Alert& alert, Time now,
                             std::vector<Notification>& out);

  // A status alert not yet notified is covered by another open alert of its domain at least as
  // severe (an expired certificate explains "failing"): one message per cause, not two. It is
  // notified once nothing covers it while it stays open.
  static bool Covered(const TenantState& t, const Alert& status);

  AlertBookOptions options_;
  std::map<std::string, TenantState> tenants_;
};

}  // namespace stswatch::alerting
