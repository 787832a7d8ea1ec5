#pragma once

// Drift events: what changed between two snapshots of a domain, each with a deterministic id, a
// kind, a severity and the before/after values. Event kinds are stable identifiers, declared once
// in STSWATCH_EVENT_KINDS below (drift/README.md lists them for people).
//
// Pure: Diff is a function of the two snapshots and their position in the domain's history, so
// re-deriving the events of a transition that was lost (Redis restarted before it persisted)
// yields the same ids, and a consumer that saw them already recognises them.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "drift/snapshot.h"

namespace stswatch::drift {

enum class EventSeverity { kInfo, kWarning, kCritical };

// "info", "warning", "critical".
std::string_view EventSeverityName(EventSeverity severity);

// X(enumerator, "stable-name", "what it means")
#define STSWATCH_EVENT_KINDS(X)                                                                \
  X(kFirstCheck, "first_check", "The first check of the domain; `after` is its state.")        \
  X(kStatusChanged, "status_changed",                                                          \
    "The verdict changed (ok, warning, failing, broken, none). Critical when a domain in "     \
    "enforce mode becomes failing or broken: compliant senders now refuse its mail.")          \
  X(kStsRecordRemoved, "sts_record_removed",                                                   \
    "The _mta-sts TXT record disappeared: new senders no longer discover the policy.")         \
  X(kStsRecordAdded, "sts_record_added", "A _mta-sts TXT record appeared.")                    \
  X(kPolicyHostLost, "policy_host_lost",                                                       \
    "The policy could be fetched before and cannot be now (host gone, certificate, HTTP).")    \
  X(kPolicyHostRestored, "policy_host_restored", "The policy can be fetched again.")           \
  X(kPolicyChanged, "policy_changed",                                                          \
    "The policy body changed and the id changed with it: a proper update.")                    \
  X(kPolicyChangedWithoutIdChange, "policy_changed_without_id_change",                         \
    "The policy body changed but the id did not: senders that cached the old policy keep "     \
    "using it until max_age runs out (RFC 8461 §3.1).")                                        \
  X(kIdChanged, "id_changed",                                                                  \
    "The _mta-sts id changed while one of the two policies could not be fetched.")             \
  X(kIdChangedSamePolicy, "id_changed_same_policy",                                            \
    "The id changed but the policy body is the same: senders refetch for nothing.")            \
  X(kModeChanged, "mode_changed", "The policy mode changed (none, testing, enforce).")         \
  X(kMaxAgeChanged, "max_age_changed", "The policy max_age changed.")                          \
  X(kMxSetChanged, "mx_set_changed", "The MX host names changed.")                             \
  X(kMxNotCovered, "mx_not_covered",                                                           \
    "An MX host is not matched by any mx line of the policy: enforce-mode senders refuse it.") \
  X(kCertificateChanged, "certificate_changed",                                                \
    "The certificate of the policy host or of an MX changed (fingerprint, issuer, names or "   \
    "expiry).")                                                                                \
  X(kCertificateExpiring, "certificate_expiring",                                              \
    "A certificate entered the 30, 14, 7 or 1 day window before expiry, or expired.")          \
  X(kTlsVersionChanged, "tls_version_changed", "An MX negotiated a different TLS version.")    \
  X(kStartTlsLost, "starttls_lost", "An MX that offered STARTTLS no longer completes it.")     \
  X(kStartTlsRegained, "starttls_regained", "An MX completes STARTTLS again.")                 \
  X(kTlsRptRecordChanged, "tlsrpt_record_changed",                                             \
    "The _smtp._tls (TLS-RPT) record appeared, disappeared or changed.")                       \
  X(kReportFailuresUnseen, "report_failures_unseen",                                           \
    "A TLS report shows failed sessions while stswatch's own checks of the domain are clean: " \
    "senders see something the probes do not (another network path, a load-balanced MX).")     \
  X(kCheckFailuresUnreported, "check_failures_unreported",                                     \
    "stswatch's checks fail while a TLS report shows every session successful: the reporting " \
    "senders may not reach the failing MX host.")                                              \
  X(kReporterDrop, "reporter_drop",                                                            \
    "A reporting organization's successful sessions fell under a third of its usual count: "   \
    "mail from it may be going elsewhere, or its reports are incomplete.")

enum class EventKind {
#define STSWATCH_EVENT_ENUM(e, name, doc) e,
  STSWATCH_EVENT_KINDS(STSWATCH_EVENT_ENUM)
#undef STSWATCH_EVENT_ENUM
};

std::string_view EventKindName(EventKind kind);
std::string_view EventKindDoc(EventKind kind);
std::optional<EventKind> EventKindFromName(std::string_view name);
std::vector<EventKind> AllEventKinds();

struct Event {
  std::string id;  // 32 hex digits, see EventId.
  std::string domain;
  EventKind kind = EventKind::kFirstCheck;
  EventSeverity severity = EventSeverity::kInfo;
  // What the event is about within the domain: an MX host, "mta-sts.<domain>" for the policy
  // host, or "" for the domain itself.
  std::string subject;
  std::chrono::system_clock::time_point time;
  std::string before;   // JSON value ("null" when none).
  std::string after;    // JSON value.
  std::string message;  // One sentence for people.
};

// Where a transition sits in a domain's history: the stored state it starts from.
struct Transition {
  std::string domain;
  std::string previous_hash;  // "" for the first check.
  std::string next_hash;
  // How many state changes the domain had before this one (0 for the first check). Part of the
  // ids, so that a state flapping A → B → A → B gives new ids each time.
  std::uint64_t version = 0;
  std::chrono::system_clock::time_point time;
};

// Deterministic: SHA-256 over (domain, version, previous hash, next hash, kind, subject).
std::string EventId(const Transition& t, EventKind kind, std::string_view subject);

// The events of going from `previous` (nullopt: never checked) to `next`. Empty when nothing a
// user cares about changed (the state hash may still differ, e.g. a finding's code).
std::vector<Event> Diff(const std::optional<Snapshot>& previous, const Snapshot& next,
                        const Transition& transition);

// One event as a JSON object (id, domain, kind, severity, subject, time, before, after,
// message).
std::string EventToJson(const Event& event);

// Reads back what EventToJson wrote (the `event` field of an events stream entry). Errors name
// the member.
absl::StatusOr<Event> EventFromJson(std::string_view json);

}  // namespace stswatch::drift
