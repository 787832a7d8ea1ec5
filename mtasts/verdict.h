#pragma once

// The verdict rules: given what a sending MTA observed about a domain, would an RFC 8461 sender
// in enforce mode deliver to every MX, and if not, why and with which RFC 8460 result type?
//
// Pure function of the observation and the time: no I/O, so every rule is unit-tested with
// observations built by hand and the same rules judge live probes.

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mtasts/finding.h"
#include "mtasts/observation.h"
#include "mtasts/policy.h"
#include "mtasts/sts_record.h"
#include "mtasts/tlsrpt_record.h"

namespace stswatch::mtasts {

enum class DomainStatus {
  kOk,       // A compliant sender delivers over validated TLS to every MX.
  kWarning,  // Delivers today, but something is off.
  kFailing,  // In enforce mode a compliant sender refuses or defers mail to at least one MX.
  kBroken,   // The policy cannot be discovered, fetched or parsed: the protection is lost.
  kNone,     // No MTA-STS (no record, or mode none).
};

// "ok", "warning", "failing", "broken", "none".
std::string_view DomainStatusName(DomainStatus status);

enum class EnforceOutcome {
  kDeliver,
  kRefuse,
};

struct MxVerdict {
  std::string host;
  int priority = 0;
  // Coverage by the policy's mx patterns; false (and no pattern) when there is no valid policy.
  bool covered = false;
  std::optional<std::string> pattern;
  // Would an enforce-mode sender deliver to this MX (over every address probed)?
  EnforceOutcome outcome = EnforceOutcome::kRefuse;
  // The RFC 8460 result type such a sender reports ("certificate-expired", ...); empty when it
  // delivers or when the failure is not a TLS one (no address, connection refused).
  std::string result_type;
};

struct Verdict {
  DomainStatus status = DomainStatus::kNone;
  std::optional<StsRecord> record;
  std::optional<Policy> policy;
  std::optional<TlsRptRecord> tlsrpt;
  // When the policy cannot be used: sts-policy-fetch-error, sts-webpki-invalid or
  // sts-policy-invalid.
  std::string policy_result_type;
  std::vector<MxVerdict> mx;
  std::vector<Finding> findings;
};

// Certificates closer to expiry than this are a warning.
inline constexpr std::chrono::hours kCertExpiryWarning{24 * 14};

Verdict Judge(const DomainObservation& observation, std::chrono::system_clock::time_point now);

}  // namespace stswatch::mtasts
