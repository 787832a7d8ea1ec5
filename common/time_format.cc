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

}  // namespace stswatch
