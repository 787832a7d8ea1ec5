#include "mtasts/hostname.h"

#include "mtasts/text.h"

namespace stswatch::mtasts {

std::optional<std::string> CheckHostname(std::string_view name) {
  if (name.empty()) {
    return "the name is empty";
  }
  if (name.size() > kMaxHostnameLength) {
    return "the name is longer than 253 characters";
  }
  std::size_t start = 0;
  while (true) {
    const std::size_t dot = name.find('.', start);
    const std::string_view label =
        name.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (label.empty()) {
      return "the name has an empty label (two dots in a row, or a leading or trailing dot)";
    }
    if (label.size() > kMaxLabelLength) {
      return "label " + Quote(label, 20) + " is longer than 63 characters";
    }
    for (const char c : label) {
      if (static_cast<unsigned char>(c) >= 0x80) {
        return "label " + Quote(label) +
               " is not ASCII; write internationalised names as A-labels (xn--...)";
      }
      if (!IsAlnum(c) && c != '-') {
        return "label " + Quote(label) + " contains " + Quote(std::string_view(&c, 1)) +
               "; only letters, digits and hyphens are allowed";
      }
    }
    if (label.front() == '-' || label.back() == '-') {
      return "label " + Quote(label) + " begins or ends with a hyphen";
    }
    if (dot == std::string_view::npos) {
      return std::nullopt;
    }
    start = dot + 1;
  }
}

bool LooksLikeIpv4Address(std::string_view name) {
  int parts = 0;
  std::size_t start = 0;
  while (true) {
    const std::size_t dot = name.find('.', start);
    const std::string_view part =
        name.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (part.empty() || part.size() > 3) {
      return false;
    }
    int value = 0;
    for (const char c : part) {
      if (!IsDigit(c)) {
        return false;
      }
      value = value * 10 + (c - '0');
    }
    if (value > 255) {
      return false;
    }
    ++parts;
    if (dot == std::string_view::npos) {
      return parts == 4;
    }
    start = dot + 1;
  }
}

std::string CanonicalHostname(std::string_view name) {
  if (!name.empty() && name.back() == '.') {
    name.remove_suffix(1);
  }
  return ToLowerAscii(name);
}

}  // namespace stswatch::mtasts
