#pragma once

// Structured logs: one line per event, in logfmt (`ts=... level=info event=check.done
// domain=example.com status=ok`) for people and grep, or JSON lines for log shippers. Event names
// are stable identifiers (listed in the README of the component that logs them).
//
// Thread-safe: a line is written with one call under a mutex.

#include <initializer_list>
#include <mutex>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>

#include "common/time_source.h"

namespace stswatch {

enum class LogLevel { kDebug, kInfo, kWarning, kError };

enum class LogFormat { kText, kJson };

// "text" or "json"; "debug", "info", "warning" or "error". nullopt for anything else.
std::optional<LogFormat> ParseLogFormat(std::string_view name);
std::optional<LogLevel> ParseLogLevel(std::string_view name);

class Logger {
 public:
  using Field = std::pair<std::string_view, std::string>;

  Logger(std::ostream& out, LogFormat format, const TimeSource& clock,
         LogLevel threshold = LogLevel::kInfo)
      : out_(out), format_(format), clock_(clock), threshold_(threshold) {}

  void Log(LogLevel level, std::string_view event, std::initializer_list<Field> fields = {});
  void Info(std::string_view event, std::initializer_list<Field> fields = {}) {
    Log(LogLevel::kInfo, event, fields);
  }
  void Warn(std::string_view event, std::initializer_list<Field> fields = {}) {
    Log(LogLevel::kWarning, event, fields);
  }
  void Error(std::string_view event, std::initializer_list<Field> fields = {}) {
    Log(LogLevel::kError, event, fields);
  }

  // The line Log writes, without the newline (for tests).
  std::string Format(LogLevel level, std::string_view event,
                     std::initializer_list<Field> fields) const;

 private:
  std::ostream& out_;
  LogFormat format_;
  const TimeSource& clock_;
  LogLevel threshold_;
  std::mutex mutex_;
};

}  // namespace stswatch
