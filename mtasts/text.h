#pragma once

// Small text helpers shared by the parsers of the RFC core. ASCII only: every protocol element
// handled here (records, keys, host names) is ASCII by its grammar; UTF-8 is only validated.

#include <cstddef>
#include <string>
#include <string_view>

namespace stswatch::mtasts {

// RFC 5234 WSP: space or horizontal tab.
inline bool IsWsp(char c) { return c == ' ' || c == '\t'; }
inline bool IsAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
inline bool IsDigit(char c) { return c >= '0' && c <= '9'; }
inline bool IsAlnum(char c) { return IsAlpha(c) || IsDigit(c); }

char ToLowerAscii(char c);
std::string ToLowerAscii(std::string_view s);
bool EqualsIgnoreCase(std::string_view a, std::string_view b);
bool StartsWithIgnoreCase(std::string_view s, std::string_view prefix);

// Removes leading and trailing WSP.
std::string_view TrimWsp(std::string_view s);

// True when `s` is well-formed UTF-8 (no overlong forms, surrogates or code points past U+10FFFF).
bool IsValidUtf8(std::string_view s);

// Renders untrusted bytes for a message: in double quotes, printable ASCII as is, every other byte
// as \xNN, cut after `max_bytes` input bytes with "..." so a hostile input cannot flood the output.
std::string Quote(std::string_view s, std::size_t max_bytes = 64);

// Damerau-Levenshtein distance (optimal string alignment) of two short ASCII strings.
int EditDistance(std::string_view a, std::string_view b);

}  // namespace stswatch::mtasts
