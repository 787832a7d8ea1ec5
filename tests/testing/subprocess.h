#pragma once

// Runs a program the way a user would from a shell: arguments, bytes on standard input, and the
// captured standard output, standard error and exit status. For tests only.

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

namespace stswatch::testing {

struct ProcessResult {
  // Exit status, or 128 + signal number when the process was killed by a signal.
  int exit_code = -1;
  std::string out;
  std::string err;
  bool timed_out = false;
};

// Runs argv[0] (a path) with `argv`, writes `input` to its standard input and closes it, and
// waits at most `timeout`; a process still running then is killed and `timed_out` set.
ProcessResult RunProcess(const std::vector<std::string>& argv, const std::string& input = "",
                         std::chrono::milliseconds timeout = std::chrono::seconds(30));

// A long-running program (a service): standard input from /dev/null, standard output and error
// appended to `log_path`. The destructor kills it (SIGKILL) if it is still running.
class BackgroundProcess {
 public:
  BackgroundProcess(const std::vector<std::string>& argv, std::string log_path);
  ~BackgroundProcess();
  BackgroundProcess(const BackgroundProcess&) = delete;
  BackgroundProcess& operator=(const BackgroundProcess&) = delete;

  pid_t pid() const { return pid_; }
  void Signal(int signal) const;
  // Waits until it exits; returns the exit status (128 + signal when killed), or -1 when it is
  // still running after `timeout`.
  int Wait(std::chrono::milliseconds timeout);
  bool running();
  // What it wrote so far.
  std::string Log() const;

 private:
  pid_t pid_ = -1;
  int status_ = -1;
  std::string log_path_;
};

}  // namespace stswatch::testing
