#pragma once

// Small string helpers the report e-mail and DKIM parsers share, on std::string_view (Abseil's
// take absl::string_view, which is not std::string_view in Debian's build).

#include <string>
#include <string_view>
#include <vector>

namespace stswatch::tlsrpt {

// ASCII lower case.
std::string Lower(std::string_view text);
// Space, tab, CR, LF, form feed, vertical tab.
bool IsSpace(char c);
std::string_view TrimLeft(std::string_view text);
std::string_view TrimRight(std::string_view text);
std::string_view Trim(std::string_view text);
// The parts between separators (an empty text is one empty part). The parts view `text`: keep
// it alive while they are used.
std::vector<std::string_view> Split(std::string_view text, char separator);
// The value of a base64 digit (RFC 4648 §4), or -1.
int Base64Value(char c);

}  // namespace stswatch::tlsrpt
