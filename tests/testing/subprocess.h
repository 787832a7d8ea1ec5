#pragma once

// Runs a program the way a user would from a shell: arguments, bytes on standard input, and the
// captured standard output, standard error and exit status. For tests only.

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

}  // namespace stswatch::testing
