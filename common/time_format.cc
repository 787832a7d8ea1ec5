#include "common/time_format.h"

#include <cstdio>
#include <ctime>

namespace stswatch {

std::string FormatTime(std::chrono::system_clock::time_point t, bool millis) {
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  // Floor division, so times before 1970 print correctly too.
  const std::int64_t seconds = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
  const auto tt = static_cast<std::time_t>(seconds);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::string out = buf;
  if (millis) {
    std::snprintf(buf, sizeof buf, ".%03d", static_cast<int>(ms - seconds * 1000));
    out += buf;
  }
  return out + "Z";
}

std::optional<std::chrono::system_clock::time_point> ParseTime(std::string_view text) {
  const auto digits = [&](std::size_t pos, std::size_t n, int& out) {
    if (pos + n > text.size()) {
      return false;
    }
    out = 0;
    for (std::size_t i = pos; i < pos + n; ++i) {
      if (text[i] < '0' || text[i] > '9') {
        return false;
      }
      out = out * 10 + (text[i] - '0');
    }
    return true;
  };
  std::tm tm{};
  int year = 0;
  int month = 0;
  if (text.size() < 20 || !digits(0, 4, year) || text[4] != '-' || !digits(5, 2, month) ||
      text[7] != '-' || !digits(8, 2, tm.tm_mday) || text[10] != 'T' ||
      !digits(11, 2, tm.tm_hour) || text[13] != ':' || !digits(14, 2, tm.tm_min) ||
      text[16] != ':' || !digits(17, 2, tm.tm_sec)) {
    return std::nullopt;
  }
  // The clock's nanoseconds reach from 1677 to 2262: keep well inside.
  if (year < 1970 || year > 2200 || month < 1 || month > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 ||
      tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60) {
    return std::nullopt;
  }
  std::size_t pos = 19;
  std::int64_t nanos = 0;
  if (text[pos] == '.') {
    ++pos;
    std::size_t n = 0;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      if (n == 9) {
        return std::nullopt;
      }
      nanos = nanos * 10 + (text[pos] - '0');
      ++pos;
      ++n;
    }
    if (n == 0) {
      return std::nullopt;
    }
    for (; n < 9; ++n) {
      nanos *= 10;
    }
  }
  if (pos + 1 != text.size() || text[pos] != 'Z') {
    return std::nullopt;
  }
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  const std::time_t seconds = timegm(&tm);
  return std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(
          std::chrono::seconds(seconds) + std::chrono::nanoseconds(nanos)));
}

}  // namespace stswatch
