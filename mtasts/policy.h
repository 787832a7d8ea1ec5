#pragma once

// The MTA-STS policy file (RFC 8461 §3.2), as served at
// https://mta-sts.<domain>/.well-known/mta-sts.txt, and the coverage of MX hosts by its patterns.
//
// The parser follows the RFC's grammar to the letter (lines of `key: value`, LF or CRLF line ends
// per erratum 6253, case-sensitive keys and values, unknown keys ignored, the first of a repeated
// non-mx key used) and adds warnings for what senders disagree about or the rollout guide advises
// against. Pure function of its input: no I/O, bounded work, safe on hostile bytes.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "mtasts/finding.h"

namespace stswatch::mtasts {

// RFC 8461 §3.3 suggests 64 kilobytes as the largest policy a sender reads.
inline constexpr std::size_t kMaxPolicyBytes = 64 * 1024;
// RFC 8461 §3.2: max_age is at most 31557600 seconds.
inline constexpr std::uint32_t kMaxMaxAge = 31557600;
inline constexpr std::uint32_t kOneDay = 86400;
inline constexpr std::uint32_t kThirtyDays = 2592000;

enum class PolicyMode {
  kEnforce,
  kTesting,
  kNone,
};

// "enforce", "testing" or "none".
std::string_view PolicyModeName(PolicyMode mode);

struct Policy {
  std::string version;
  PolicyMode mode = PolicyMode::kNone;
  std::uint32_t max_age = 0;
  // The mx patterns in file order, as written.
  std::vector<std::string> mx;
};

struct PolicyResult {
  // Set when the policy is valid (no finding of severity error).
  std::optional<Policy> policy;
  std::vector<Finding> findings;

  bool valid() const { return policy.has_value(); }
};

// Parses and diagnoses a policy file's bytes.
PolicyResult ParsePolicy(std::string_view body);

struct MxCoverage {
  std::string host;
  // The first pattern that covers the host, or nullopt when none does.
  std::optional<std::string> pattern;
};

// Matches each MX host against the policy's patterns (RFC 8461 §4.1). Appends an mx.not_covered
// finding for each host no pattern covers: an error in enforce mode (mail to it is refused), a
// warning in testing mode, info in mode none.
std::vector<MxCoverage> CoverMxHosts(const Policy& policy, std::span<const std::string> hosts,
                                     std::vector<Finding>& findings);

}  // namespace stswatch::mtasts
