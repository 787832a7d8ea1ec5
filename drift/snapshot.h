#pragma once

// A domain's state as drift detection compares it: what a sending MTA saw and concluded, reduced
// to the values whose change means something to a mail operator (policy, id, mode, MX set,
// certificates, TLS versions, STARTTLS, records, status), in a canonical form.
//
// Two checks of an unchanged world give byte-identical canonical JSON and the same StateHash:
// nothing volatile (timings, addresses' order, error wording with ports) is kept. The JSON is what
// the store keeps per domain and what events quote as before/after values.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "mtasts/observation.h"
#include "mtasts/verdict.h"

namespace stswatch::drift {

// How close a certificate is to its expiry; each window is entered once per certificate.
enum class ExpiryWindow {
  kNone,     // More than 30 days left.
  kDays30,   // 30 days or less.
  kDays14,   // 14 days or less.
  kDays7,    // 7 days or less.
  kDays1,    // 1 day or less.
  kExpired,  // Past not_after.
};

// "", "30d", "14d", "7d", "1d", "expired".
std::string_view ExpiryWindowName(ExpiryWindow window);
ExpiryWindow ExpiryWindowAt(std::chrono::system_clock::time_point not_after,
                            std::chrono::system_clock::time_point now);

struct CertSnapshot {
  std::string sha256;
  std::string subject;
  std::string issuer;
  std::vector<std::string> names;
  std::int64_t not_after = 0;  // Unix seconds.
  bool valid = false;          // Chain validates and a name matches the host.
  ExpiryWindow window = ExpiryWindow::kNone;

  bool operator==(const CertSnapshot&) const = default;
};

// What STARTTLS looked like at one MX host, over all of its addresses.
enum class StartTls {
  kEstablished,  // TLS was negotiated with at least one address.
  kNotOffered,   // The servers answered EHLO but did not offer (or refused) STARTTLS.
  kFailed,       // STARTTLS was offered but no handshake completed.
  kUnreachable,  // No address got as far as EHLO (no address, connection refused, silence).
};

// "established", "not-offered", "failed", "unreachable".
std::string_view StartTlsName(StartTls state);

struct MxSnapshot {
  std::string host;
  bool covered = false;  // By the policy's mx patterns.
  StartTls starttls = StartTls::kUnreachable;
  // The versions negotiated, sorted and joined by ",": "TLSv1.3" (more than one when the
  // addresses of one host disagree).
  std::string tls_version;
  std::optional<CertSnapshot> cert;
  bool deliver = false;     // Would an enforce-mode sender deliver here?
  std::string result_type;  // RFC 8460 result type when it would not.

  bool operator==(const MxSnapshot&) const = default;
};

struct Snapshot {
  std::string domain;
  std::string status;        // mtasts::DomainStatusName.
  bool sts_present = false;  // _mta-sts has a v=STSv1 record (valid or not).
  std::string sts_id;        // The id of the valid record, else "".
  // How the policy fetch ended: "" when not attempted, "ok" (fetched, whether or not it parses),
  // or the failure ("connect-failed", "certificate-invalid", ...).
  std::string fetch;
  std::string policy_sha256;  // SHA-256 of the fetched body; "" when none.
  std::string policy_body;    // The fetched body (at most 64 KiB).
  std::string mode;           // "enforce", "testing", "none"; "" without a valid policy.
  std::uint32_t max_age = 0;
  std::vector<std::string> policy_mx;  // The policy's mx patterns, as written.
  std::optional<CertSnapshot> policy_cert;
  std::string tlsrpt;                 // The v=TLSRPTv1 record(s), joined by "\n"; "" when none.
  std::vector<std::string> mx_hosts;  // Sorted.
  std::vector<MxSnapshot> mx;         // Sorted by host.
  std::vector<std::string> findings;  // Finding codes, sorted, unique.

  bool operator==(const Snapshot&) const = default;
};

// Reduces a check to its snapshot; `now` decides the certificates' expiry windows.
Snapshot TakeSnapshot(const mtasts::DomainObservation& observation, const mtasts::Verdict& verdict,
                      std::chrono::system_clock::time_point now);

// The canonical JSON (fixed member order, no whitespace).
std::string ToJson(const Snapshot& snapshot);
// Reads back what ToJson wrote (and stored snapshots of older versions, missing members taking
// their defaults). Errors name the member.
absl::StatusOr<Snapshot> FromJson(std::string_view json);

// 32 hex digits of SHA-256 over the canonical JSON.
std::string StateHash(const Snapshot& snapshot);

}  // namespace stswatch::drift
