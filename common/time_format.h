#pragma once

// Times as people and scripts read them: RFC 3339 in UTC.

#include <chrono>
#include <string>

namespace stswatch {

// "2026-11-30T01:02:03Z", or "2026-11-30T01:02:03.456Z" with `millis`.
std::string FormatTime(std::chrono::system_clock::time_point t, bool millis = false);

}  // namespace stswatch
