#pragma once

// The one spelling of a domain name the API stores and compares: lower-case A-labels, no
// trailing dot. Pure (libidn2 for the IDNA conversions; no I/O, no global state).

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace stswatch::api {

// Normalizes what a person typed as a domain name, or says why it is not one.
//
//   1. Trims ASCII whitespace, lower-cases ASCII letters, strips one trailing dot.
//   2. A name with non-ASCII characters is converted with libidn2 (IDNA2008 with UTS #46
//      non-transitional mapping, NFC input): "Bücher.Example" -> "xn--bcher-kva.example".
//   3. Validates the result: at most 253 characters; labels of 1-63 characters of [a-z0-9-]
//      that neither start nor end with '-'; at least two labels; a top-level label that is not
//      all digits (an IP address is not a domain name).
//   4. Every A-label ("xn--...") must round-trip: decoded to Unicode and encoded again, it must
//      give itself back. "xn--zz" and A-labels of mixed case or disallowed code points do not.
//
// Errors are InvalidArgument, quoting the input (escaped, shortened) and saying what is wrong:
//   "bad..name" is not a domain name: empty label
//   "xn--zz" is not a valid A-label: ...
// Any bytes are safe to pass, including NULs and invalid UTF-8.
absl::StatusOr<std::string> NormalizeDomainName(std::string_view input);

}  // namespace stswatch::api
