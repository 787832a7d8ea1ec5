#include "tlsrpt/promote.h"

#include <algorithm>
#include <ctime>

#include "mtasts/policy.h"
#include "mtasts/sts_record.h"

namespace stswatch::tlsrpt {

std::string NewStsId(std::chrono::system_clock::time_point now, const std::string& current) {
  const std::time_t t = std::chrono::system_clock::to_time_t(now);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%d%H%M%S", &tm);
  std::string id = buf;
  if (id == current) {
    id += "1";  // Promoted twice in one second: still a new id.
  }
  return id;
}

absl::StatusOr<Promotion> MakePromotion(const drift::Snapshot& current,
                                        std::chrono::system_clock::time_point now,
                                        std::uint32_t max_age) {
  if (max_age > mtasts::kMaxMaxAge) {
    return absl::InvalidArgumentError("max_age is at most 31557600 (RFC 8461 section 3.2)");
  }
  if (current.mode.empty() || current.policy_mx.empty()) {
    return absl::FailedPreconditionError(
        current.domain +
        " has no valid MTA-STS policy now: stswatch takes the enforce policy's mx lines from "
        "the published testing policy (publish one first: 'stswatch policy init')");
  }
  Promotion p;
  p.domain = current.domain;
  p.max_age = std::max({max_age, kEnforceMinMaxAge, current.max_age});
  p.policy_file = "version: STSv1\r\nmode: enforce\r\n";
  for (const std::string& mx : current.policy_mx) {
    p.policy_file += "mx: " + mx + "\r\n";
  }
  p.policy_file += "max_age: " + std::to_string(p.max_age) + "\r\n";
  // The same parser `check` and `lint` use: what is printed is a valid policy.
  const mtasts::PolicyResult parsed = mtasts::ParsePolicy(p.policy_file);
  if (!parsed.valid()) {
    return absl::FailedPreconditionError(
        "the current policy's mx lines do not make a valid "
        "enforce policy");
  }
  const std::string host = "mta-sts." + current.domain;
  p.policy_url = "https://" + host + "/.well-known/mta-sts.txt";
  p.id = NewStsId(now, current.sts_id);
  p.sts_record_name = "_mta-sts." + current.domain;
  p.sts_record = "v=STSv1; id=" + p.id + ";";
  p.steps.push_back("Replace the policy file served at " + p.policy_url +
                    " with the enforce policy above (text/plain, the exact bytes).");
  p.steps.push_back("Check that it is served: curl -s " + p.policy_url + " shows mode: enforce.");
  p.steps.push_back("Only then publish the new TXT record " + p.sts_record_name + " \"" +
                    p.sts_record +
                    "\": senders that see the new id fetch the policy again, so the file must "
                    "be in place first (RFC 8461 section 8.1).");
  p.steps.push_back(
      "Keep watching: senders that cached the testing policy switch within its "
      "max_age of " +
      std::to_string(current.max_age) + " seconds.");
  return p;
}

}  // namespace stswatch::tlsrpt
