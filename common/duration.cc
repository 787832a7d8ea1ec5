#include "common/duration.h"

#include <cstdint>

namespace stswatch {

std::optional<std::chrono::seconds> ParseDuration(std::string_view text) {
  constexpr std::int64_t kMax = 10LL * 366 * 86400;
  if (text.empty()) {
    return std::nullopt;
  }
  std::int64_t total = 0;
  std::size_t i = 0;
  while (i < text.size()) {
    std::int64_t n = 0;
    const std::size_t start = i;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
      n = n * 10 + (text[i] - '0');
      if (n > kMax) {
        return std::nullopt;
      }
      ++i;
    }
    if (i == start) {
      return std::nullopt;
    }
    std::int64_t unit = 1;
    if (i < text.size()) {
      switch (text[i]) {
        case 's':
          unit = 1;
          break;
        case 'm':
          unit = 60;
          break;
        case 'h':
          unit = 3600;
          break;
        case 'd':
          unit = 86400;
          break;
        default:
          return std::nullopt;
      }
      ++i;
    } else if (start != 0) {
      return std::nullopt;  // "1h30": a unit is needed after the first part.
    }
    total += n * unit;
    if (total > kMax) {
      return std::nullopt;
    }
  }
  return std::chrono::seconds(total);
}

std::string FormatDuration(std::chrono::seconds d) {
  std::int64_t s = d.count();
  if (s == 0) {
    return "0s";
  }
  std::string out;
  for (const auto& [unit, name] :
       {std::pair<std::int64_t, char>{86400, 'd'}, {3600, 'h'}, {60, 'm'}, {1, 's'}}) {
    if (s >= unit) {
      out += std::to_string(s / unit) + name;
      s %= unit;
    }
  }
  return out;
}

}  // namespace stswatch
