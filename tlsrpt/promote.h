#pragma once

// The last step of the road to enforce: the policy file and the _mta-sts record a domain in
// testing mode publishes to switch to enforce, from what stswatch last saw of it. Pure.

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "drift/snapshot.h"

namespace stswatch::tlsrpt {

// RFC 8461 section 3.2 asks senders to cache a policy for max_age; for enforce the rollout guide
// (and stswatch's max_age rule) wants at least 30 days.
inline constexpr std::uint32_t kEnforceMinMaxAge = 2592000;

struct Promotion {
  std::string domain;
  std::string policy_file;  // CRLF line ends, as RFC 8461 section 3.2 writes them.
  std::string policy_url;   // https://mta-sts.<domain>/.well-known/mta-sts.txt
  std::string sts_record_name;
  std::string sts_record;  // v=STSv1; id=<id>;
  std::string id;
  std::uint32_t max_age = 0;
  std::vector<std::string> steps;  // What to do, in order.
};

// A policy id from the time (UTC YYYYMMDDHHMMSS), different from `current` (RFC 8461 section
// 3.1: a changed policy needs a changed id).
std::string NewStsId(std::chrono::system_clock::time_point now, const std::string& current = "");

// The enforce policy from the domain's stored snapshot: its policy's mx lines, max_age the larger
// of `max_age` and the current one (at least kEnforceMinMaxAge). FailedPrecondition when the
// snapshot has no valid policy to take the mx lines from; InvalidArgument for a max_age over
// RFC 8461's limit.
absl::StatusOr<Promotion> MakePromotion(const drift::Snapshot& current,
                                        std::chrono::system_clock::time_point now,
                                        std::uint32_t max_age = kEnforceMinMaxAge);

}  // namespace stswatch::tlsrpt
