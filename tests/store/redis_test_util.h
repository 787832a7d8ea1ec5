#pragma once

// Helpers for the tests that run a real redis-server: a private directory under /tmp (unix socket
// paths are limited to 107 bytes, too few for Bazel's TEST_TMPDIR), a server in it, and ways to
// drive an io_context until something happened, with a deadline instead of fixed sleeps.

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "absl/status/statusor.h"
#include "store/redis_client.h"
#include "store/redis_process.h"

namespace stswatch::store::testing {

// mkdtemp("/tmp/stswatch-redis-XXXXXX"), removed with everything in it on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// A redis-server in a TempDir, stopped before the directory is removed.
class TestRedis {
 public:
  explicit TestRedis(std::vector<std::string> extra_args = {});
  ~TestRedis();
  absl::Status Start() { return process_.Start(std::chrono::seconds(20)); }
  RedisProcess& process() { return process_; }
  RedisEndpoint endpoint() const { return process_.endpoint(); }
  const std::string& dir() const { return dir_.path(); }
  // SIGKILL, then waits until it is reaped.
  void KillHard();

 private:
  TempDir dir_;
  RedisProcess process_;
};

// Runs `io` until `done()` is true or `timeout` passed; returns done().
bool RunUntil(boost::asio::io_context& io, const std::function<bool()>& done,
              std::chrono::milliseconds timeout = std::chrono::seconds(20));

// Runs `io` for `duration` (to see that something does NOT happen).
void RunFor(boost::asio::io_context& io, std::chrono::milliseconds duration);

// Sends one command and runs `io` until its callback ran (or 20 s passed: then Internal).
absl::StatusOr<RedisReply> Call(boost::asio::io_context& io, RedisClient& client,
                                const std::vector<std::string>& args);

// Client options that retry fast, for tests.
RedisOptions FastOptions();

// Collects a logger's messages.
class LogSink {
 public:
  std::function<void(std::string_view)> Logger();
  bool Contains(std::string_view needle) const;
  std::string All() const;

 private:
  std::vector<std::string> lines_;
};

}  // namespace stswatch::store::testing
