#pragma once

// Internal to mtasts/: the field grammar shared by the `_mta-sts` (RFC 8461 §3.1) and `_smtp._tls`
// (RFC 8460 §3) TXT records. Both are a version tag followed by
//
//   1*(field-delim field) [field-delim]      field-delim = *WSP ";" *WSP
//   field = name "=" value                   name = (ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" / "-" /
//   ".")
//
// This splitter checks the delimiters and names; each record type checks its own values.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace stswatch::mtasts::internal {

struct TxtField {
  std::string_view name;
  // Everything after "=" up to the next ";", without the WSP that belongs to the delimiter.
  std::string_view value;
};

struct TxtFields {
  std::vector<TxtField> fields;
  // Set when the text does not follow the grammar: a sentence fragment saying where and why.
  // Fields before the error are kept.
  std::optional<std::string> error;
};

// Splits the text that follows the version tag (e.g. "; id=123; ext=v").
TxtFields SplitTxtFields(std::string_view after_version);

// True when `name` matches the extension-name production above.
bool IsValidFieldName(std::string_view name);

// True when `value` matches 1*(%x21-3A / %x3C / %x3E-7E): visible ASCII other than "=" and ";".
bool IsValidExtensionValue(std::string_view value);

// Classifies a record that is not a candidate for `version` ("v=STSv1", "v=TLSRPTv1"): true when
// it looks meant as one (case, whitespace or a suffix differ), false when it is unrelated.
bool IsVersionNearMiss(std::string_view record, std::string_view version);

// True when `record` begins with `version` followed by the end, WSP or ";".
bool HasVersionTag(std::string_view record, std::string_view version);

}  // namespace stswatch::mtasts::internal
