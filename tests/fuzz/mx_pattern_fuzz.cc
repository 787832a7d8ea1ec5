// Fuzzes MX pattern checking and matching: the input is "pattern\nhost".

#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "mtasts/finding.h"
#include "mtasts/mx_pattern.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const std::size_t lf = input.find('\n');
  const std::string_view pattern = input.substr(0, lf);
  const std::string_view host = lf == std::string_view::npos ? "" : input.substr(lf + 1);
  const auto findings = stswatch::mtasts::CheckMxPattern(pattern, 1);
  const bool matches = stswatch::mtasts::MxPatternMatches(pattern, host);
  // A valid exact pattern always covers itself.
  if (!stswatch::mtasts::HasError(findings) && !pattern.starts_with("*.") &&
      !stswatch::mtasts::MxPatternMatches(pattern, pattern)) {
    std::abort();
  }
  // A wildcard never covers the bare parent name.
  if (matches && pattern.starts_with("*.") && host == pattern.substr(2)) {
    std::abort();
  }
  return 0;
}
