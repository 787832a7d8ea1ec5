#pragma once

// Helpers for the tests of the RFC core: the codes of a finding list, as a user sees them.

#include <string>
#include <vector>

#include "mtasts/finding.h"

namespace stswatch::mtasts::testing {

inline std::vector<std::string> Codes(const std::vector<Finding>& findings) {
  std::vector<std::string> codes;
  for (const Finding& f : findings) {
    codes.push_back(f.code);
  }
  return codes;
}

inline const Finding* FindCode(const std::vector<Finding>& findings, const std::string& code) {
  for (const Finding& f : findings) {
    if (f.code == code) {
      return &f;
    }
  }
  return nullptr;
}

}  // namespace stswatch::mtasts::testing
