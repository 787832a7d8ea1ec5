// Fuzzes the policy parser and MX coverage with arbitrary bytes, checking the invariants a user
// relies on: a verdict is always given, and "valid" means exactly "no error finding".

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "mtasts/policy.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  stswatch::mtasts::PolicyResult result = stswatch::mtasts::ParsePolicy(body);
  if (result.valid() == stswatch::mtasts::HasError(result.findings)) {
    std::abort();
  }
  if (!result.valid() && result.findings.empty()) {
    std::abort();  // An invalid verdict always says why.
  }
  if (result.policy) {
    // Every pattern of a valid policy covers the host it names (wildcards: one label below).
    std::vector<std::string> hosts;
    for (const std::string& pattern : result.policy->mx) {
      hosts.push_back(pattern.starts_with("*.") ? "mx" + pattern.substr(1) : pattern);
    }
    std::vector<stswatch::mtasts::Finding> findings;
    const auto coverage = stswatch::mtasts::CoverMxHosts(*result.policy, hosts, findings);
    for (const auto& entry : coverage) {
      if (!entry.pattern) {
        std::abort();
      }
    }
  }
  return 0;
}
