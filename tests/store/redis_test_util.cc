#include "tests/store/redis_test_util.h"

#include <signal.h>
#include <stdlib.h>

#include <filesystem>
#include <optional>
#include <stdexcept>
#include <thread>

namespace stswatch::store::testing {

TempDir::TempDir() {
  std::string pattern = "/tmp/stswatch-redis-XXXXXX";
  if (mkdtemp(pattern.data()) == nullptr) {
    throw std::runtime_error("mkdtemp failed for " + pattern);
  }
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

TestRedis::TestRedis(std::vector<std::string> extra_args)
    : process_([&] {
        RedisProcessOptions options;
        options.data_dir = dir_.path();
        options.extra_args = std::move(extra_args);
        return options;
      }()) {}

TestRedis::~TestRedis() { process_.Stop().IgnoreError(); }

void TestRedis::KillHard() {
  process_.Kill(SIGKILL).IgnoreError();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!process_.Reap() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

bool RunUntil(boost::asio::io_context& io, const std::function<bool()>& done,
              std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) {
      return false;
    }
    io.restart();
    if (io.run_for(std::chrono::milliseconds(5)) == 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));  // Out of work: do not spin.
    }
  }
  return true;
}

void RunFor(boost::asio::io_context& io, std::chrono::milliseconds duration) {
  const auto deadline = std::chrono::steady_clock::now() + duration;
  RunUntil(
      io, [&] { return std::chrono::steady_clock::now() >= deadline; }, duration * 2);
}

absl::StatusOr<RedisReply> Call(boost::asio::io_context& io, RedisClient& client,
                                const std::vector<std::string>& args) {
  std::optional<absl::StatusOr<RedisReply>> result;
  client.Command(args, [&](absl::StatusOr<RedisReply> r) { result = std::move(r); });
  if (!RunUntil(io, [&] { return result.has_value(); })) {
    return absl::InternalError("the command's callback did not run within 20 s");
  }
  return *std::move(result);
}

RedisOptions FastOptions() {
  RedisOptions options;
  options.connect_timeout = std::chrono::milliseconds(1000);
  options.command_timeout = std::chrono::milliseconds(3000);
  options.backoff_min = std::chrono::milliseconds(10);
  options.backoff_max = std::chrono::milliseconds(100);
  return options;
}

std::function<void(std::string_view)> LogSink::Logger() {
  return [this](std::string_view line) { lines_.emplace_back(line); };
}

bool LogSink::Contains(std::string_view needle) const {
  for (const std::string& line : lines_) {
    if (line.find(needle) != std::string::npos) {
      return true;
    }
  }
  return false;
}

std::string LogSink::All() const {
  std::string out;
  for (const std::string& line : lines_) {
    out += line + "\n";
  }
  return out;
}

}  // namespace stswatch::store::testing
