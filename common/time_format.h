#pragma once

// Times as people and scripts read them: RFC 3339 in UTC.

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace stswatch {

// "2026-11-30T01:02:03Z", or "2026-11-30T01:02:03.456Z" with `millis`.
std::string FormatTime(std::chrono::system_clock::time_point t, bool millis = false);

// Reads what FormatTime writes: "2026-03-01T12:00:00Z" or "2026-03-01T12:00:00.250Z" (1 to 9
// fraction digits), years 1970 to 2200. nullopt for anything else.
std::optional<std::chrono::system_clock::time_point> ParseTime(std::string_view text);

}  // namespace stswatch
