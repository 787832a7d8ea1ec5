#pragma once

// RedisProcess runs a real redis-server as a child process, listening only on a unix socket in
// its data directory (no TCP port), with an append-only file there. RedisSupervisor restarts it
// when it dies. For a single-host deployment and for tests.
//
// The child is in our process group and gets SIGTERM when its parent dies
// (PR_SET_PDEATHSIG). Linux sends that signal when the *thread* that forked the child exits, not
// the process: start the server from a thread that lives as long as you want the server to.

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>

#include "absl/status/status.h"
#include "store/redis_client.h"

namespace stswatch::store {

struct RedisProcessOptions {
  // A path, or a name looked up in PATH.
  std::string binary = "redis-server";
  // Holds redis.sock, redis.log, redis.stderr (the server's stdout and stderr) and the
  // append-only files; created (mode 0700) when missing. A relative path is taken from the
  // current directory. <data_dir>/redis.sock must fit in the 107 bytes of a unix socket path.
  std::string data_dir;
  bool append_only = true;  // --appendonly yes, --appendfsync everysec.
  // Appended to the command line; a setting given again here wins, e.g. {"--appendfsync",
  // "always"}.
  std::vector<std::string> extra_args;
};

// Not thread-safe: one thread at a time.
class RedisProcess {
 public:
  explicit RedisProcess(RedisProcessOptions options);
  // Stop().
  ~RedisProcess();
  RedisProcess(const RedisProcess&) = delete;
  RedisProcess& operator=(const RedisProcess&) = delete;

  // Spawn(), then blocks until the server answers PING on its socket (after loading its data).
  // Fails when the binary is missing, the data directory cannot be created, the server exits
  // during startup (the error quotes the end of redis.stderr and redis.log), or it is not ready
  // within `ready_timeout` (it is then killed).
  absl::Status Start(std::chrono::milliseconds ready_timeout = std::chrono::seconds(10));

  // Starts the child without waiting for it to be ready. FailedPrecondition if one is running.
  absl::Status Spawn();

  // One PING over the socket, blocking for at most `timeout`: OK when answered with PONG, or
  // with NOAUTH (a server with a password is serving too). LOADING is not ready.
  absl::Status Ping(std::chrono::milliseconds timeout) const;

  // SIGTERM (and SIGCONT, in case it is stopped), waits up to 10 s for the server to exit, then
  // SIGKILL; reaps it. OK when nothing runs, or the server exited cleanly.
  absl::Status Stop();

  // Sends `signal` to the running child.
  absl::Status Kill(int signal);

  // Non-blocking waitpid(): true when no child is running any more (reaped now or before);
  // last_exit() then says how it ended.
  bool Reap();

  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }  // -1 when not running.
  const std::string& socket_path() const { return socket_path_; }
  const std::string& data_dir() const { return data_dir_; }
  RedisEndpoint endpoint() const;
  // "exited with status 0", "killed by signal 9 (Killed)"; empty before the first exit.
  const std::string& last_exit() const { return last_exit_; }

 private:
  std::string LogTail() const;

  RedisProcessOptions options_;
  std::string data_dir_;  // Absolute.
  std::string socket_path_;
  pid_t pid_ = -1;
  std::string last_exit_;
  int last_status_ = 0;  // waitpid()'s status, when last_status_known_.
  bool last_status_known_ = false;
};

struct RedisSupervisorOptions {
  std::chrono::milliseconds check_interval{500};
  // Delay before a restart: doubles after each restart from backoff_min up to backoff_max; back
  // to backoff_min when the server had been up for stable_after.
  std::chrono::milliseconds backoff_min{500};
  std::chrono::milliseconds backoff_max{30000};
  std::chrono::milliseconds stable_after{30000};
  std::chrono::milliseconds ready_timeout{10000};  // For Start().
};

// Keeps one redis-server running: checks every check_interval (waitpid WNOHANG) whether it died,
// logs how, and restarts it after a backoff. A restart does not wait for the server to be ready:
// clients reconnect by themselves.
//
// Threading: one executor; call every method on its thread (or before it runs). The timer never
// fires after Stop() or destruction.
class RedisSupervisor {
 public:
  RedisSupervisor(const boost::asio::any_io_executor& executor, RedisProcessOptions process_options,
                  RedisSupervisorOptions options = {});
  // Stop().
  ~RedisSupervisor();
  RedisSupervisor(const RedisSupervisor&) = delete;
  RedisSupervisor& operator=(const RedisSupervisor&) = delete;

  // Starts the server and waits for it to be ready (blocking, like RedisProcess::Start), then
  // starts watching it. On failure nothing is watched.
  absl::Status Start();

  // Stops watching, then stops the server (blocking, like RedisProcess::Stop).
  absl::Status Stop();

  // Messages: restarts with the exit status or signal, failed restarts.
  void SetLogger(std::function<void(std::string_view)> logger);

  RedisProcess& process() { return process_; }
  RedisEndpoint endpoint() const { return process_.endpoint(); }
  int restarts() const { return restarts_; }

 private:
  void ScheduleCheck();
  void Check();
  void ScheduleRestart(const std::string& why);
  void Restart();
  void Log(const std::string& message) const;

  RedisProcess process_;
  RedisSupervisorOptions options_;
  boost::asio::steady_timer timer_;
  bool watching_ = false;
  std::chrono::milliseconds backoff_;
  std::chrono::steady_clock::time_point started_at_;
  int restarts_ = 0;
  std::function<void(std::string_view)> logger_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace stswatch::store
