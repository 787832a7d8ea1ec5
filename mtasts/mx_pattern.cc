#include "mtasts/mx_pattern.h"

#include "mtasts/finding_codes.h"
#include "mtasts/hostname.h"
#include "mtasts/text.h"

namespace stswatch::mtasts {

std::vector<Finding> CheckMxPattern(std::string_view pattern, int line) {
  std::vector<Finding> findings;
  std::string_view name = pattern;
  const bool wildcard = name.starts_with("*.");
  if (wildcard) {
    name.remove_prefix(2);
  }
  const bool trailing_dot = name.size() > 1 && name.back() == '.';
  if (trailing_dot) {
    name.remove_suffix(1);
  }
  if (name.find('*') != std::string_view::npos) {
    findings.push_back(MakeFinding(
        kPolicyMxInvalid,
        "mx pattern " + Quote(pattern) +
            " uses \"*\" other than as the whole left-most label; write \"*.example.com\" to "
            "cover every host one label below example.com.",
        line));
    return findings;
  }
  if (const auto error = CheckHostname(name)) {
    std::string message = "mx pattern " + Quote(pattern) + " is not a valid host name: " + *error;
    if (name.find(':') != std::string_view::npos || name.starts_with("[")) {
      message += " (an IP address never matches: list the MX host names)";
    }
    findings.push_back(MakeFinding(kPolicyMxInvalid, message + ".", line));
    return findings;
  }
  if (trailing_dot) {
    findings.push_back(MakeFinding(
        kPolicyMxTrailingDot,
        "mx pattern " + Quote(pattern) +
            " ends with a dot; the policy grammar has no trailing dot and some senders will not "
            "match it. Write it without the dot.",
        line));
  }
  if (!wildcard && LooksLikeIpv4Address(name)) {
    findings.push_back(MakeFinding(
        kPolicyMxIpAddress,
        "mx pattern " + Quote(pattern) +
            " is an IPv4 address; senders match patterns against the MX host names, so it "
            "covers nothing. List the MX host names instead.",
        line));
  }
  return findings;
}

bool MxPatternMatches(std::string_view pattern, std::string_view host) {
  const std::string p = CanonicalHostname(pattern);
  const std::string h = CanonicalHostname(host);
  if (p.empty() || h.empty()) {
    return false;
  }
  if (p.starts_with("*.")) {
    // RFC 8461 §4.1: the wildcard matches only the left-most label of the host.
    const std::string_view suffix = std::string_view(p).substr(1);  // ".example.com"
    if (h.size() <= suffix.size() || !h.ends_with(suffix)) {
      return false;
    }
    const std::string_view first_label = std::string_view(h).substr(0, h.size() - suffix.size());
    return first_label.find('.') == std::string_view::npos;
  }
  return p == h;
}

std::optional<std::string> FindCoveringPattern(std::span<const std::string> patterns,
                                               std::string_view host) {
  for (const std::string& pattern : patterns) {
    if (MxPatternMatches(pattern, host)) {
      return pattern;
    }
  }
  return std::nullopt;
}

}  // namespace stswatch::mtasts
