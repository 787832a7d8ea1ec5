#include "drift/events.h"

#include <algorithm>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <openssl/sha.h>

#include "common/json_reader.h"
#include "common/time_format.h"

namespace stswatch::drift {
namespace {

namespace json = boost::json;

struct KindInfo {
  EventKind kind;
  std::string_view name;
  std::string_view doc;
};

constexpr KindInfo kKinds[] = {
#define STSWATCH_EVENT_INFO(e, name, doc) {EventKind::e, name, doc},
    STSWATCH_EVENT_KINDS(STSWATCH_EVENT_INFO)
#undef STSWATCH_EVENT_INFO
};

std::string Hex(const unsigned char* bytes, int n) {
  constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (int i = 0; i < n; ++i) {
    out += kHex[bytes[i] >> 4];
    out += kHex[bytes[i] & 0xF];
  }
  return out;
}

std::string UnixTime(std::int64_t seconds) {
  return FormatTime(std::chrono::system_clock::time_point(std::chrono::seconds(seconds)));
}

json::array Strings(const std::vector<std::string>& values) {
  json::array a;
  for (const std::string& v : values) {
    a.emplace_back(v);
  }
  return a;
}

json::object CertValue(const CertSnapshot& c) {
  json::object o;
  o["sha256"] = c.sha256;
  o["issuer"] = c.issuer;
  o["names"] = Strings(c.names);
  o["not_after"] = UnixTime(c.not_after);
  o["window"] = ExpiryWindowName(c.window);
  return o;
}

std::string Quoted(std::string_view s) { return json::serialize(json::value(s)); }

std::string Join(const std::vector<std::string>& values) {
  std::string out;
  for (const std::string& v : values) {
    out += (out.empty() ? "" : ", ") + v;
  }
  return out.empty() ? "(none)" : out;
}

bool IsBad(std::string_view status) { return status == "failing" || status == "broken"; }

// Builds the events of one transition.
class Differ {
 public:
  Differ(const Transition& t, bool enforce) : t_(t), enforce_(enforce) {}

  void Add(EventKind kind, EventSeverity severity, std::string subject, std::string before,
           std::string after, std::string message) {
    Event e;
    e.id = EventId(t_, kind, subject);
    e.domain = t_.domain;
    e.kind = kind;
    e.severity = severity;
    e.subject = std::move(subject);
    e.time = t_.time;
    e.before = std::move(before);
    e.after = std::move(after);
    e.message = std::move(message);
    events_.push_back(std::move(e));
  }

  // Worse in enforce mode, where the sender acts on it.
  EventSeverity ByMode() const {
    return enforce_ ? EventSeverity::kCritical : EventSeverity::kWarning;
  }

  void Certificates(const std::string& subject, const std::optional<CertSnapshot>& before,
                    const std::optional<CertSnapshot>& after) {
    // A certificate that was not seen before (host unreachable, first TLS) is no change: only
    // two certificates are compared.
    if (!before || !after) {
      return;
    }
    const bool changed = before->sha256 != after->sha256;
    if (changed) {
      std::string what;
      if (before->issuer != after->issuer) {
        what += "issuer, ";
      }
      if (before->names != after->names) {
        what += "names, ";
      }
      if (before->not_after != after->not_after) {
        what += "expiry, ";
      }
      what += "fingerprint";
      Add(EventKind::kCertificateChanged, EventSeverity::kInfo, subject,
          json::serialize(CertValue(*before)), json::serialize(CertValue(*after)),
          "The certificate of " + subject + " changed (" + what + "); it now expires " +
              UnixTime(after->not_after) + ".");
    }
    // Windows only grow more urgent for one certificate; each is reported when entered.
    const bool entered = changed
                             ? after->window != ExpiryWindow::kNone
                             : static_cast<int>(after->window) > static_cast<int>(before->window);
    if (entered) {
      const EventSeverity severity =
          after->window == ExpiryWindow::kDays30 ? EventSeverity::kInfo
          : after->window == ExpiryWindow::kDays14 || after->window == ExpiryWindow::kDays7
              ? EventSeverity::kWarning
              : EventSeverity::kCritical;
      const std::string window(ExpiryWindowName(after->window));
      const std::string when =
          after->window == ExpiryWindow::kExpired
              ? "has expired"
              : "expires within " + window.substr(0, window.size() - 1) + " days";
      Add(EventKind::kCertificateExpiring, severity, subject,
          Quoted(changed ? "" : ExpiryWindowName(before->window)), Quoted(window),
          "The certificate of " + subject + " " + when + " (not after " +
              UnixTime(after->not_after) + "); renew it.");
    }
  }

  std::vector<Event> Take() { return std::move(events_); }

 private:
  const Transition& t_;
  bool enforce_;
  std::vector<Event> events_;
};

}  // namespace

std::string_view EventSeverityName(EventSeverity severity) {
  switch (severity) {
    case EventSeverity::kInfo:
      return "info";
    case EventSeverity::kWarning:
      return "warning";
    case EventSeverity::kCritical:
      return "critical";
  }
  return "info";
}

std::string_view EventKindName(EventKind kind) { return kKinds[static_cast<int>(kind)].name; }

std::string_view EventKindDoc(EventKind kind) { return kKinds[static_cast<int>(kind)].doc; }

std::optional<EventKind> EventKindFromName(std::string_view name) {
  for (const KindInfo& k : kKinds) {
    if (k.name == name) {
      return k.kind;
    }
  }
  return std::nullopt;
}

std::vector<EventKind> AllEventKinds() {
  std::vector<EventKind> all;
  for (const KindInfo& k : kKinds) {
    all.push_back(k.kind);
  }
  return all;
}

std::string EventId(const Transition& t, EventKind kind, std::string_view subject) {
  // Fields are separated by a byte no domain, hash or kind contains.
  std::string input = t.domain;
  const std::string version = std::to_string(t.version);
  for (const std::string_view part :
       {std::string_view(version), std::string_view(t.previous_hash), std::string_view(t.next_hash),
        EventKindName(kind), subject}) {
    input += '\x1f';
    input += part;
  }
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(input.data()), input.size(), digest);
  return Hex(digest, 16);
}

std::vector<Event> Diff(const std::optional<Snapshot>& previous, const Snapshot& next,
                        const Transition& transition) {
  // Senders keep a cached enforce policy for max_age after it vanishes: judge by the last mode
  // known.
  const bool enforce =
      next.mode == "enforce" || (next.mode.empty() && previous && previous->mode == "enforce");
  Differ d(transition, enforce);
  if (!previous) {
    json::object after;
    after["status"] = next.status;
    after["mode"] = next.mode;
    after["sts_id"] = next.sts_id;
    after["mx_hosts"] = Strings(next.mx_hosts);
    const EventSeverity severity = IsBad(next.status) ? d.ByMode() : EventSeverity::kInfo;
    d.Add(EventKind::kFirstCheck, severity, "", "null", json::serialize(after),
          "First check of " + next.domain + ": " + next.status +
              (next.mode.empty() ? "" : " (mode " + next.mode + ")") + ".");
    return d.Take();
  }
  const Snapshot& prev = *previous;
  const std::string policy_host = "mta-sts." + next.domain;

  if (prev.status != next.status) {
    EventSeverity severity = EventSeverity::kInfo;
    if (IsBad(next.status)) {
      severity = d.ByMode();
    } else if (next.status == "warning") {
      severity = EventSeverity::kWarning;
    }
    std::string message = next.domain + " went from " + prev.status + " to " + next.status;
    if (enforce && IsBad(next.status) && !IsBad(prev.status)) {
      message += ": the policy is in enforce mode, so compliant senders now refuse or defer mail";
    }
    d.Add(EventKind::kStatusChanged, severity, "", Quoted(prev.status), Quoted(next.status),
          message + ".");
  }

  if (prev.sts_present && !next.sts_present) {
    d.Add(EventKind::kStsRecordRemoved, EventSeverity::kWarning, "", Quoted(prev.sts_id), "null",
          "The _mta-sts." + next.domain +
              " TXT record is gone: senders that have not cached the policy no longer apply it.");
  } else if (!prev.sts_present && next.sts_present) {
    d.Add(EventKind::kStsRecordAdded, EventSeverity::kInfo, "", "null", Quoted(next.sts_id),
          "A _mta-sts." + next.domain + " TXT record appeared.");
  }

  if (prev.fetch == "ok" && !next.fetch.empty() && next.fetch != "ok") {
    d.Add(EventKind::kPolicyHostLost, d.ByMode(), policy_host, Quoted(prev.fetch),
          Quoted(next.fetch),
          "The policy at https://" + policy_host +
              "/.well-known/mta-sts.txt can no longer be fetched (" + next.fetch + ").");
  } else if (!prev.fetch.empty() && prev.fetch != "ok" && next.fetch == "ok") {
    d.Add(EventKind::kPolicyHostRestored, EventSeverity::kInfo, policy_host, Quoted(prev.fetch),
          Quoted(next.fetch), "The policy at https://" + policy_host + " can be fetched again.");
  }

  const bool id_changed =
      !prev.sts_id.empty() && !next.sts_id.empty() && prev.sts_id != next.sts_id;
  const bool bodies = !prev.policy_sha256.empty() && !next.policy_sha256.empty();
  const bool body_changed = bodies && prev.policy_sha256 != next.policy_sha256;
  if (body_changed && id_changed) {
    d.Add(EventKind::kPolicyChanged, EventSeverity::kInfo, policy_host, Quoted(prev.policy_body),
          Quoted(next.policy_body),
          "The policy changed and its id went from " + prev.sts_id + " to " + next.sts_id + ".");
  } else if (body_changed) {
    d.Add(EventKind::kPolicyChangedWithoutIdChange, EventSeverity::kWarning, policy_host,
          Quoted(prev.policy_body), Quoted(next.policy_body),
          "The policy changed but the _mta-sts id stayed " + next.sts_id +
              ": senders keep their cached copy until max_age runs out. Give the record a new "
              "id (RFC 8461 §3.1).");
  } else if (id_changed && bodies) {
    d.Add(EventKind::kIdChangedSamePolicy, EventSeverity::kInfo, "", Quoted(prev.sts_id),
          Quoted(next.sts_id),
          "The _mta-sts id went from " + prev.sts_id + " to " + next.sts_id +
              " but the policy is the same.");
  } else if (id_changed) {
    d.Add(EventKind::kIdChanged, EventSeverity::kInfo, "", Quoted(prev.sts_id), Quoted(next.sts_id),
          "The _mta-sts id went from " + prev.sts_id + " to " + next.sts_id + ".");
  }

  if (!prev.mode.empty() && !next.mode.empty() && prev.mode != next.mode) {
    d.Add(EventKind::kModeChanged,
          prev.mode == "enforce" ? EventSeverity::kWarning : EventSeverity::kInfo, "",
          Quoted(prev.mode), Quoted(next.mode),
          "The policy mode went from " + prev.mode + " to " + next.mode + ".");
  }
  if (!prev.mode.empty() && !next.mode.empty() && prev.max_age != next.max_age) {
    d.Add(EventKind::kMaxAgeChanged, EventSeverity::kInfo, "", std::to_string(prev.max_age),
          std::to_string(next.max_age),
          "The policy max_age went from " + std::to_string(prev.max_age) + " to " +
              std::to_string(next.max_age) + " seconds.");
  }

  if (prev.mx_hosts != next.mx_hosts) {
    d.Add(EventKind::kMxSetChanged, EventSeverity::kInfo, "",
          json::serialize(Strings(prev.mx_hosts)), json::serialize(Strings(next.mx_hosts)),
          "The MX hosts of " + next.domain + " went from " + Join(prev.mx_hosts) + " to " +
              Join(next.mx_hosts) + ".");
  }

  const auto find = [](const Snapshot& s, const std::string& host) -> const MxSnapshot* {
    for (const MxSnapshot& m : s.mx) {
      if (m.host == host) {
        return &m;
      }
    }
    return nullptr;
  };
  const bool had_policy = !prev.mode.empty();
  if (!next.mode.empty() && next.mode != "none") {
    for (const MxSnapshot& m : next.mx) {
      const MxSnapshot* before = find(prev, m.host);
      const bool was_uncovered = had_policy && before != nullptr && !before->covered;
      if (!m.covered && !was_uncovered) {
        d.Add(EventKind::kMxNotCovered,
              next.mode == "enforce" ? EventSeverity::kCritical : EventSeverity::kWarning, m.host,
              "null", Quoted(m.host),
              "MX host " + m.host + " matches no mx line of the policy (" + Join(next.policy_mx) +
                  "): enforce-mode senders refuse to deliver to it. Add "
                  "\"mx: " +
                  m.host + "\" to the policy and give the record a new id.");
      }
    }
  }

  d.Certificates(policy_host, prev.policy_cert, next.policy_cert);
  for (const MxSnapshot& m : next.mx) {
    const MxSnapshot* before = find(prev, m.host);
    if (before == nullptr) {
      continue;
    }
    d.Certificates(m.host, before->cert, m.cert);
    if (before->starttls == StartTls::kEstablished && m.starttls == StartTls::kEstablished &&
        before->tls_version != m.tls_version) {
      d.Add(EventKind::kTlsVersionChanged, EventSeverity::kInfo, m.host,
            Quoted(before->tls_version), Quoted(m.tls_version),
            "MX " + m.host + " now negotiates " + m.tls_version + " (was " + before->tls_version +
                ").");
    }
    // Reachability is the status's business; these are about STARTTLS itself.
    if (before->starttls == StartTls::kEstablished &&
        (m.starttls == StartTls::kNotOffered || m.starttls == StartTls::kFailed)) {
      d.Add(EventKind::kStartTlsLost, d.ByMode(), m.host, Quoted(StartTlsName(before->starttls)),
            Quoted(StartTlsName(m.starttls)),
            "MX " + m.host +
                (m.starttls == StartTls::kNotOffered ? " no longer offers STARTTLS"
                                                     : " offers STARTTLS but the handshake fails") +
                ": MTA-STS senders will not deliver to it.");
    } else if ((before->starttls == StartTls::kNotOffered ||
                before->starttls == StartTls::kFailed) &&
               m.starttls == StartTls::kEstablished) {
      d.Add(EventKind::kStartTlsRegained, EventSeverity::kInfo, m.host,
            Quoted(StartTlsName(before->starttls)), Quoted(StartTlsName(m.starttls)),
            "MX " + m.host + " completes STARTTLS again.");
    }
  }

  if (prev.tlsrpt != next.tlsrpt) {
    d.Add(
        EventKind::kTlsRptRecordChanged, EventSeverity::kInfo, "",
        prev.tlsrpt.empty() ? "null" : Quoted(prev.tlsrpt),
        next.tlsrpt.empty() ? "null" : Quoted(next.tlsrpt),
        next.tlsrpt.empty()
            ? "The _smtp._tls." + next.domain + " TLS-RPT record is gone: no more failure reports."
            : "The _smtp._tls." + next.domain + " TLS-RPT record is now " + next.tlsrpt + ".");
  }
  return d.Take();
}

std::string EventToJson(const Event& event) {
  json::object o;
  o["id"] = event.id;
  o["domain"] = event.domain;
  o["kind"] = EventKindName(event.kind);
  o["severity"] = EventSeverityName(event.severity);
  o["subject"] = event.subject;
  o["time"] = FormatTime(event.time, /*millis=*/true);
  boost::system::error_code ec;
  o["before"] = json::parse(event.before, ec);
  if (ec) {
    o["before"] = event.before;
  }
  o["after"] = json::parse(event.after, ec);
  if (ec) {
    o["after"] = event.after;
  }
  o["message"] = event.message;
  return json::serialize(o);
}

absl::StatusOr<Event> EventFromJson(std::string_view text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) {
    return absl::InvalidArgumentError("drift event is not a JSON object");
  }
  absl::Status status;
  JsonReader r(v.get_object(), "event", "drift event", status);
  Event e;
  e.id = r.String("id");
  e.domain = r.String("domain");
  const std::string kind = r.String("kind");
  const std::string severity = r.String("severity");
  e.subject = r.String("subject");
  const std::string time = r.String("time");
  e.message = r.String("message");
  const auto raw = [&](std::string_view key) {
    const json::value* m = r.Get(key);
    return m == nullptr ? std::string("null") : json::serialize(*m);
  };
  e.before = raw("before");
  e.after = raw("after");
  if (!status.ok()) {
    return status;
  }
  if (std::optional<EventKind> k = EventKindFromName(kind)) {
    e.kind = *k;
  } else {
    return absl::InvalidArgumentError("drift event member event.kind is not an event kind: " +
                                      kind.substr(0, 64));
  }
  bool severity_known = false;
  for (EventSeverity s :
       {EventSeverity::kInfo, EventSeverity::kWarning, EventSeverity::kCritical}) {
    if (EventSeverityName(s) == severity) {
      e.severity = s;
      severity_known = true;
    }
  }
  if (!severity_known) {
    return absl::InvalidArgumentError("drift event member event.severity is not a severity");
  }
  if (std::optional<std::chrono::system_clock::time_point> t = ParseTime(time)) {
    e.time = *t;
  } else {
    return absl::InvalidArgumentError("drift event member event.time is not an RFC 3339 UTC time");
  }
  if (e.id.empty() || e.domain.empty()) {
    return absl::InvalidArgumentError("drift event has no id or domain");
  }
  return e;
}

}  // namespace stswatch::drift
