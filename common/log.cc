#include "common/log.h"

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include "common/time_format.h"

namespace stswatch {
namespace {

std::string_view LevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarning:
      return "warning";
    case LogLevel::kError:
      return "error";
  }
  return "info";
}

// logfmt: bare when the value is a plain token, else a quoted string with \" \\ \n escapes.
void AppendValue(std::string& out, std::string_view value) {
  bool plain = !value.empty();
  for (const char c : value) {
    if (c <= ' ' || c == '"' || c == '=' || c == '\\' || static_cast<unsigned char>(c) >= 0x7f) {
      plain = false;
      break;
    }
  }
  if (plain) {
    out += value;
    return;
  }
  out += '"';
  for (const char c : value) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (static_cast<unsigned char>(c) < ' ') {
      out += ' ';
    } else {
      out += c;
    }
  }
  out += '"';
}

}  // namespace

std::optional<LogFormat> ParseLogFormat(std::string_view name) {
  if (name == "text") {
    return LogFormat::kText;
  }
  if (name == "json") {
    return LogFormat::kJson;
  }
  return std::nullopt;
}

std::optional<LogLevel> ParseLogLevel(std::string_view name) {
  for (const LogLevel level :
       {LogLevel::kDebug, LogLevel::kInfo, LogLevel::kWarning, LogLevel::kError}) {
    if (LevelName(level) == name) {
      return level;
    }
  }
  return std::nullopt;
}

std::string Logger::Format(LogLevel level, std::string_view event,
                           std::initializer_list<Field> fields) const {
  const std::string ts = FormatTime(clock_.Now(), /*millis=*/true);
  if (format_ == LogFormat::kJson) {
    boost::json::object o;
    o["ts"] = ts;
    o["level"] = LevelName(level);
    o["event"] = event;
    for (const Field& f : fields) {
      o[f.first] = f.second;
    }
    return boost::json::serialize(o);
  }
  std::string line = "ts=" + ts + " level=" + std::string(LevelName(level)) + " event=";
  AppendValue(line, event);
  for (const Field& f : fields) {
    line += ' ';
    line += f.first;
    line += '=';
    AppendValue(line, f.second);
  }
  return line;
}

void Logger::Log(LogLevel level, std::string_view event, std::initializer_list<Field> fields) {
  if (level < threshold_) {
    return;
  }
  const std::string line = Format(level, event, fields) + "\n";
  const std::lock_guard<std::mutex> lock(mutex_);
  out_ << line << std::flush;
}

}  // namespace stswatch
