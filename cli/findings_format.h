#pragma once

// Renders findings for people (aligned text, optional colour) and for programs (JSON values with
// the fields code, severity, rfc, message, plus host and line when set).

#include <ostream>
#include <string>
#include <vector>

#include <boost/json/array.hpp>

#include "mtasts/finding.h"

namespace stswatch::cli {

boost::json::array FindingsToJson(const std::vector<mtasts::Finding>& findings);

// One block per finding, errors first:
//   error    policy.mode_invalid  [RFC 8461 §3.2, line 2]
//            mode is "Enforce"; it must be exactly ...
void PrintFindings(std::ostream& out, const std::vector<mtasts::Finding>& findings, bool color);

// "2 errors, 1 warning" style summary; "no findings" when empty.
std::string SummarizeFindings(const std::vector<mtasts::Finding>& findings);

}  // namespace stswatch::cli
