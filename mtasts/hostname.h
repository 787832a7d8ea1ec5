#pragma once

// Host names as the RFCs of mail define them. RFC 8461 §3.2 takes the `Domain` production of
// RFC 5321 §4.1.2 for mx patterns: dot-separated labels of letters, digits and hyphens, each
// beginning and ending with a letter or digit. Internationalised names must appear as A-labels
// ("xn--..."); DNS limits every label to 63 octets and the name to 253.

#include <optional>
#include <string>
#include <string_view>

namespace stswatch::mtasts {

inline constexpr std::size_t kMaxHostnameLength = 253;
inline constexpr std::size_t kMaxLabelLength = 63;

// Returns nullopt when `name` is a valid RFC 5321 Domain within the DNS limits, otherwise a
// sentence fragment saying why not (e.g. "label \"a_b\" contains \"_\""). A trailing dot is not
// part of the grammar: callers that accept absolute names strip it first.
std::optional<std::string> CheckHostname(std::string_view name);

// True when `name` is four dot-separated decimal numbers, each 0..255: an IPv4 address written
// where a host name belongs.
bool LooksLikeIpv4Address(std::string_view name);

// Lower-cases `name` and strips one trailing dot: the form in which names are compared.
std::string CanonicalHostname(std::string_view name);

}  // namespace stswatch::mtasts
