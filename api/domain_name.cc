#include "api/domain_name.h"

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <vector>

#include <idn2.h>

#include "absl/strings/ascii.h"
#include "api/text.h"

namespace stswatch::api {
namespace {

// RFC 1035 §2.3.4 (253 for the presentation form without the trailing dot) and RFC 1035 §2.3.1.
constexpr std::size_t kMaxNameLength = 253;
constexpr std::size_t kMaxLabelLength = 63;
// Longer inputs are refused before libidn2 sees them: a U-label takes at most 4 bytes per code
// point and an A-label never fewer characters than its code points, so no valid name is longer.
constexpr std::size_t kMaxInputBytes = 4 * kMaxNameLength;
constexpr int kIdnaFlags = IDN2_NONTRANSITIONAL | IDN2_NFC_INPUT;

struct IdnFree {
  void operator()(char* p) const { idn2_free(p); }
};
using IdnString = std::unique_ptr<char, IdnFree>;

// Abseil's string_view is not std::string_view in Debian's build: messages are built with
// std::string's operator+.
absl::Status NotADomainName(std::string_view input, std::string_view why) {
  return absl::InvalidArgumentError(Quote(input) + " is not a domain name: " + std::string(why));
}

absl::Status NotAnALabel(std::string_view label, std::string_view why) {
  return absl::InvalidArgumentError(Quote(label) + " is not a valid A-label: " + std::string(why));
}

std::string_view TrimAsciiWhitespace(std::string_view s) {
  const auto space = [](char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
  };
  while (!s.empty() && space(s.front())) {
    s.remove_prefix(1);
  }
  while (!s.empty() && space(s.back())) {
    s.remove_suffix(1);
  }
  return s;
}

std::vector<std::string_view> SplitLabels(std::string_view name) {
  std::vector<std::string_view> labels;
  labels.reserve(8);
  std::size_t start = 0;
  while (true) {
    const std::size_t dot = name.find('.', start);
    if (dot == std::string_view::npos) {
      labels.push_back(name.substr(start));
      return labels;
    }
    labels.push_back(name.substr(start, dot - start));
    start = dot + 1;
  }
}

bool IsLdh(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'; }

bool AllDigits(std::string_view s) {
  for (const char c : s) {
    if (c < '0' || c > '9') {
      return false;
    }
  }
  return true;
}

// Labels of [a-z0-9-], 1-63 characters, no '-' at either end.
absl::Status CheckLabel(std::string_view input, std::string_view label) {
  if (label.empty()) {
    return NotADomainName(input, "empty label");
  }
  if (label.size() > kMaxLabelLength) {
    return NotADomainName(input, "label " + Quote(label, 20) + " has " +
                                     std::to_string(label.size()) + " characters, at most " +
                                     std::to_string(kMaxLabelLength));
  }
  for (const char c : label) {
    if (!IsLdh(c)) {
      return NotADomainName(input, "label " + Quote(label) + " contains " +
                                       Quote(std::string_view(&c, 1)) +
                                       " (letters, digits and '-' only)");
    }
  }
  if (label.front() == '-' || label.back() == '-') {
    return NotADomainName(input, "label " + Quote(label) + " starts or ends with '-'");
  }
  return absl::OkStatus();
}

// RFC 5891 §5.4: an A-label must be the encoding of a valid U-label, i.e. decoding it and
// encoding the result again gives the same A-label.
absl::Status CheckALabel(const std::string& label) {
  char* raw = nullptr;
  int rc = idn2_to_unicode_8z8z(label.c_str(), &raw, 0);
  const IdnString unicode(raw);
  if (rc != IDN2_OK) {
    return NotAnALabel(label, idn2_strerror(rc));
  }
  raw = nullptr;
  rc = idn2_to_ascii_8z(unicode.get(), &raw, kIdnaFlags);
  const IdnString ascii(raw);
  if (rc != IDN2_OK) {
    return NotAnALabel(label, "it decodes to " + Quote(unicode.get()) +
                                  ", which is not a valid U-label: " + idn2_strerror(rc));
  }
  if (label != ascii.get()) {
    return NotAnALabel(label, "it decodes to " + Quote(unicode.get()) + ", which encodes as " +
                                  Quote(ascii.get()));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::string> NormalizeDomainName(std::string_view input) {
  const std::string_view trimmed = TrimAsciiWhitespace(input);
  if (trimmed.empty()) {
    return NotADomainName(trimmed, "it is empty");
  }
  if (trimmed.size() > kMaxInputBytes) {
    return NotADomainName(trimmed, "longer than " + std::to_string(kMaxNameLength) + " characters");
  }
  bool ascii = true;
  for (const char c : trimmed) {
    const auto b = static_cast<std::uint8_t>(c);
    if (b <= 0x20 || b == 0x7F) {
      // Also keeps NULs away from libidn2's C strings.
      return NotADomainName(trimmed, "it contains a space or a control character");
    }
    // libidn2 (without STD3 rules) would pass '_' and the like into the A-label.
    if (b < 0x80 && c != '.' && !IsLdh(absl::ascii_tolower(c))) {
      return NotADomainName(trimmed, "it contains " + Quote(std::string_view(&c, 1)) +
                                         " (letters, digits, '-' and '.' only)");
    }
    ascii = ascii && b < 0x80;
  }
  std::string name(trimmed);
  if (name.back() == '.') {
    name.pop_back();
  }
  if (name.empty()) {
    return NotADomainName(trimmed, "the root is not a domain name");
  }
  if (ascii) {
    absl::AsciiStrToLower(&name);
  } else {
    char* raw = nullptr;
    const int rc = idn2_to_ascii_8z(name.c_str(), &raw, kIdnaFlags);
    const IdnString converted(raw);
    if (rc == IDN2_TOO_BIG_DOMAIN) {
      return NotADomainName(trimmed, "longer than " + std::to_string(kMaxNameLength) +
                                         " characters once converted to A-labels");
    }
    if (rc == IDN2_TOO_BIG_LABEL || rc == IDN2_PUNYCODE_BIG_OUTPUT) {
      return NotADomainName(trimmed, "a label is longer than " + std::to_string(kMaxLabelLength) +
                                         " characters once converted to an A-label");
    }
    if (rc != IDN2_OK) {
      return absl::InvalidArgumentError(
          Quote(trimmed) + " cannot be converted to an A-label (IDNA2008): " + idn2_strerror(rc));
    }
    name = converted.get();
    absl::AsciiStrToLower(&name);
  }
  if (name.size() > kMaxNameLength) {
    return NotADomainName(trimmed, std::to_string(name.size()) + " characters, at most " +
                                       std::to_string(kMaxNameLength));
  }
  const std::vector<std::string_view> labels = SplitLabels(name);
  for (const std::string_view label : labels) {
    if (absl::Status s = CheckLabel(trimmed, label); !s.ok()) {
      return s;
    }
  }
  if (labels.size() < 2) {
    return NotADomainName(trimmed,
                          "a single label (a domain name has at least two, as in example.com)");
  }
  if (AllDigits(labels.back())) {
    return NotADomainName(trimmed, "the top-level label " + Quote(labels.back()) +
                                       " is all digits (an IP address is not a domain name)");
  }
  for (const std::string_view label : labels) {
    if (label.starts_with("xn--")) {
      if (absl::Status s = CheckALabel(std::string(label)); !s.ok()) {
        return s;
      }
    }
  }
  return name;
}

}  // namespace stswatch::api
