#include "mtasts/txt_fields.h"

#include "mtasts/text.h"

namespace stswatch::mtasts::internal {

bool IsValidFieldName(std::string_view name) {
  if (name.empty() || name.size() > 32 || !IsAlnum(name.front())) {
    return false;
  }
  for (const char c : name) {
    if (!IsAlnum(c) && c != '_' && c != '-' && c != '.') {
      return false;
    }
  }
  return true;
}

bool IsValidExtensionValue(std::string_view value) {
  if (value.empty()) {
    return false;
  }
  for (const char c : value) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x21 || u > 0x7E || c == '=' || c == ';') {
      return false;
    }
  }
  return true;
}

TxtFields SplitTxtFields(std::string_view s) {
  TxtFields out;
  std::size_t pos = 0;
  const auto skip_wsp = [&] {
    while (pos < s.size() && IsWsp(s[pos])) {
      ++pos;
    }
  };
  while (true) {
    const std::size_t before_wsp = pos;
    skip_wsp();
    if (pos == s.size()) {
      if (pos > before_wsp) {
        out.error =
            "the record ends in whitespace after the last field; end it with the value or "
            "with \";\"";
      }
      return out;
    }
    if (s[pos] != ';') {
      out.error = "expected \";\" before " + Quote(s.substr(pos), 24) +
                  "; fields are separated by semicolons";
      return out;
    }
    ++pos;
    skip_wsp();
    if (pos == s.size()) {
      return out;  // A trailing delimiter is allowed.
    }
    const std::size_t end = s.find(';', pos);
    const std::string_view raw =
        s.substr(pos, end == std::string_view::npos ? s.size() - pos : end - pos);
    const std::size_t eq = raw.find('=');
    if (raw.empty()) {
      out.error = "empty field between two semicolons";
      return out;
    }
    if (eq == std::string_view::npos) {
      out.error = "field " + Quote(TrimWsp(raw), 24) + " has no \"=\"; write name=value";
      return out;
    }
    const std::string_view name = raw.substr(0, eq);
    if (!IsValidFieldName(name)) {
      out.error = "field name " + Quote(name, 40) +
                  " is not valid: 1 to 32 letters, digits, \"_\", \"-\" or \".\", beginning with a "
                  "letter or digit, and no space before \"=\"";
      return out;
    }
    std::string_view value = raw.substr(eq + 1);
    std::size_t trailing = 0;
    while (trailing < value.size() && IsWsp(value[value.size() - 1 - trailing])) {
      ++trailing;
    }
    value.remove_suffix(trailing);
    out.fields.push_back(TxtField{name, value});
    pos += raw.size() - trailing;
  }
}

bool HasVersionTag(std::string_view record, std::string_view version) {
  return record.starts_with(version) &&
         (record.size() == version.size() || record[version.size()] == ';' ||
          IsWsp(record[version.size()]));
}

bool IsVersionNearMiss(std::string_view record, std::string_view version) {
  std::string squeezed;
  for (const char c : record.substr(0, 64)) {
    if (!IsWsp(c)) {
      squeezed += ToLowerAscii(c);
    }
  }
  return squeezed.starts_with(ToLowerAscii(version));
}

}  // namespace stswatch::mtasts::internal
