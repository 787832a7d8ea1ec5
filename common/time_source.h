#pragma once

// Time is injected: policies' max_age, certificate expiry, report windows and schedules are all
// about time, and tests must be able to move it.

#include <chrono>
#include <fstream>
#include <string>

namespace stswatch {

// Wall-clock time. Implementations are thread-safe.
class TimeSource {
 public:
  virtual ~TimeSource() = default;
  virtual std::chrono::system_clock::time_point Now() const = 0;
};

// The system clock.
class RealTimeSource final : public TimeSource {
 public:
  std::chrono::system_clock::time_point Now() const override {
    return std::chrono::system_clock::now();
  }
};

// A clock that stands still until a test moves it. Not thread-safe.
class FakeTimeSource final : public TimeSource {
 public:
  explicit FakeTimeSource(std::chrono::system_clock::time_point now) : now_(now) {}
  std::chrono::system_clock::time_point Now() const override { return now_; }
  void Set(std::chrono::system_clock::time_point now) { now_ = now; }
  void Advance(std::chrono::system_clock::duration d) { now_ += d; }

 private:
  std::chrono::system_clock::time_point now_;
};

// The system clock moved by the number of seconds (possibly negative) written in a file, read at
// every call: tests move a running service's time by rewriting the file. A missing or unreadable
// file means no offset.
class OffsetFileTimeSource final : public TimeSource {
 public:
  explicit OffsetFileTimeSource(std::string path) : path_(std::move(path)) {}
  std::chrono::system_clock::time_point Now() const override {
    long long offset = 0;  // NOLINT(google-runtime-int)
    std::ifstream in(path_);
    if (!(in >> offset)) {
      offset = 0;
    }
    return std::chrono::system_clock::now() + std::chrono::seconds(offset);
  }

 private:
  std::string path_;
};

}  // namespace stswatch
