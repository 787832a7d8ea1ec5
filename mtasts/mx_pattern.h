#pragma once

// The mx patterns of an MTA-STS policy and how they match MX host names (RFC 8461 §4.1).
//
// A pattern is a host name or "*." followed by a host name. A wildcard matches exactly one
// left-most label: "*.example.com" covers "mx1.example.com" but neither "example.com" nor
// "a.b.example.com". Matching ignores ASCII case and one trailing dot on either side.

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "mtasts/finding.h"

namespace stswatch::mtasts {

// Diagnoses one mx value of a policy file found on `line` (1-based). Returns no findings for a
// valid pattern; an error (policy.mx_invalid) for anything that is not ["*."] Domain; warnings for
// patterns that are valid but do not do what their author meant (trailing dot, IPv4 address).
std::vector<Finding> CheckMxPattern(std::string_view pattern, int line);

// True when `pattern` covers `host` under the rules above. Never throws; a malformed pattern or
// host simply does not match.
bool MxPatternMatches(std::string_view pattern, std::string_view host);

// The first pattern, in policy order, that covers `host`, or nullopt.
std::optional<std::string> FindCoveringPattern(std::span<const std::string> patterns,
                                               std::string_view host);

}  // namespace stswatch::mtasts
