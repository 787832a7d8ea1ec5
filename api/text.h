#pragma once

// Small text helpers for the API's validation and its error messages. Pure.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace stswatch::api {

// `s` in double quotes for an error message a person reads: '"' and '\' escaped with a
// backslash, control characters and bytes that are not part of valid UTF-8 as \xNN (so the
// message itself stays valid UTF-8, whatever the input), and at most `max_bytes` of `s`
// (cut on a character boundary, then "...").
std::string Quote(std::string_view s, std::size_t max_bytes = 100);

// The number of code points of `s` if it is valid UTF-8 (no overlong forms, no surrogates,
// nothing above U+10FFFF), otherwise nullopt.
std::optional<std::size_t> Utf8Length(std::string_view s);

// True if `s` holds a C0 control character (U+0000 to U+001F) or DEL.
bool HasControlCharacter(std::string_view s);

// Unpadded base64url (RFC 4648 §5).
std::string Base64UrlEncode(std::string_view data);
// The bytes of unpadded base64url text, or nullopt when `text` is not the canonical encoding of
// anything (padding, other alphabets, a length of 4n+1, non-zero unused bits).
std::optional<std::string> Base64UrlDecode(std::string_view text);

}  // namespace stswatch::api
