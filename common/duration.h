#pragma once

// Durations as people write them on command lines and in domain lists: "90", "90s", "15m", "1h",
// "2d", "1h30m".

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace stswatch {

// Seconds; nullopt for anything else (empty, negative, unknown unit, overflow past 10 years).
std::optional<std::chrono::seconds> ParseDuration(std::string_view text);

// The shortest form: "1h30m", "45s", "2d".
std::string FormatDuration(std::chrono::seconds d);

}  // namespace stswatch
