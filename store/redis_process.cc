#include "store/redis_process.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

#include <hiredis/hiredis.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace stswatch::store {

namespace {

using Clock = std::chrono::steady_clock;

constexpr std::size_t kMaxUnixPath = sizeof(sockaddr_un::sun_path) - 1;
constexpr auto kStopTimeout = std::chrono::seconds(10);
constexpr auto kPollInterval = std::chrono::milliseconds(10);

std::string Errno(int err) { return std::string(strerror(err)); }

std::string DescribeStatus(int status) {
  if (WIFEXITED(status)) {
    return absl::StrCat("exited with status ", WEXITSTATUS(status));
  }
  if (WIFSIGNALED(status)) {
    const char* name = strsignal(WTERMSIG(status));
    return absl::StrCat("killed by signal ", WTERMSIG(status), " (", name == nullptr ? "?" : name,
                        ")");
  }
  return absl::StrCat("ended with wait status ", status);
}

// mkdir -p; the directories created get mode 0700.
absl::Status MakeDirs(const std::string& dir) {
  std::string path;
  for (absl::string_view part : absl::StrSplit(dir, '/', absl::SkipEmpty())) {
    absl::StrAppend(&path, "/", part);
    if (mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) {
      return absl::FailedPreconditionError(
          absl::StrCat("cannot create Redis data directory ", path, ": ", Errno(errno)));
    }
  }
  struct stat st {};
  if (stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return absl::FailedPreconditionError(
        absl::StrCat("Redis data directory ", dir, " is not a directory"));
  }
  return absl::OkStatus();
}

// The binary's path, looked up in PATH when it has no '/': done before fork(), because execvp()
// is not async-signal-safe.
absl::StatusOr<std::string> FindBinary(const std::string& binary) {
  if (binary.empty()) {
    return absl::InvalidArgumentError("RedisProcessOptions.binary is empty");
  }
  if (binary.find('/') != std::string::npos) {
    if (access(binary.c_str(), X_OK) != 0) {
      return absl::NotFoundError(
          absl::StrCat("cannot run Redis server ", binary, ": ", Errno(errno)));
    }
    return binary;
  }
  const char* env = std::getenv("PATH");
  const std::string path = env != nullptr ? env : "/usr/local/bin:/usr/bin:/bin";
  for (absl::string_view dir : absl::StrSplit(path, ':', absl::SkipEmpty())) {
    std::string candidate = absl::StrCat(dir, "/", binary);
    if (access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
  }
  return absl::NotFoundError(absl::StrCat("Redis server binary ", binary, " not found in PATH"));
}

}  // namespace

RedisProcess::RedisProcess(RedisProcessOptions options) : options_(std::move(options)) {
  data_dir_ = options_.data_dir;
  if (!data_dir_.empty() && data_dir_.front() != '/') {
    char cwd[4096];
    if (getcwd(cwd, sizeof(cwd)) != nullptr) {
      data_dir_ = absl::StrCat(cwd, "/", data_dir_);
    }
  }
  while (data_dir_.size() > 1 && data_dir_.back() == '/') {
    data_dir_.pop_back();
  }
  socket_path_ = absl::StrCat(data_dir_, "/redis.sock");
}

RedisProcess::~RedisProcess() { Stop().IgnoreError(); }

RedisEndpoint RedisProcess::endpoint() const {
  RedisEndpoint endpoint;
  endpoint.unix_path = socket_path_;
  return endpoint;
}

absl::Status RedisProcess::Spawn() {
  if (pid_ > 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("redis-server is already running (pid ", pid_, ")"));
  }
  if (options_.data_dir.empty()) {
    return absl::InvalidArgumentError("RedisProcessOptions.data_dir is empty");
  }
  if (socket_path_.size() > kMaxUnixPath) {
    return absl::InvalidArgumentError(absl::StrCat("Redis socket path ", socket_path_, " is ",
                                                   socket_path_.size(),
                                                   " bytes long; unix socket paths are limited to ",
                                                   kMaxUnixPath, ": use a shorter data_dir"));
  }
  absl::StatusOr<std::string> binary = FindBinary(options_.binary);
  if (!binary.ok()) {
    return binary.status();
  }
  if (absl::Status s = MakeDirs(data_dir_); !s.ok()) {
    return s;
  }

  const std::vector<std::pair<std::string, std::string>> settings = {
      {"--port", "0"},  // No TCP listener: the unix socket only.
      {"--unixsocket", socket_path_},
      {"--unixsocketperm", "700"},
      {"--dir", data_dir_},
      {"--appendonly", options_.append_only ? "yes" : "no"},
      {"--appendfsync", "everysec"},
      {"--save", ""},  // No RDB snapshots.
      {"--daemonize", "no"},
      {"--logfile", absl::StrCat(data_dir_, "/redis.log")},
  };
  std::vector<std::string> args = {*binary};
  for (const auto& [name, value] : settings) {
    args.push_back(name);
    args.push_back(value);
  }
  args.insert(args.end(), options_.extra_args.begin(), options_.extra_args.end());
  // Everything the child needs is built before fork(): after it only async-signal-safe calls.
  std::vector<char*> argv;
  argv.reserve(args.size() + 1);
  for (std::string& arg : args) {
    argv.push_back(arg.data());
  }
  argv.push_back(nullptr);

  int exec_pipe[2];
  if (pipe2(exec_pipe, O_CLOEXEC) != 0) {
    return absl::InternalError(absl::StrCat("pipe: ", Errno(errno)));
  }
  const int dev_null = open("/dev/null", O_RDONLY | O_CLOEXEC);
  // Fatal configuration errors go to stderr, before the log file is opened.
  const int output = open(absl::StrCat(data_dir_, "/redis.stderr").c_str(),
                          O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) {
    const int err = errno;
    close(exec_pipe[0]);
    close(exec_pipe[1]);
    for (int fd : {dev_null, output}) {
      if (fd >= 0) {
        close(fd);
      }
    }
    return absl::InternalError(absl::StrCat("fork: ", Errno(err)));
  }
  if (pid == 0) {
    // The child. SIGTERM when the forking thread dies; already orphaned: give up.
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) {
      _exit(127);
    }
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    sigaction(SIGPIPE, &dfl, nullptr);  // Ignored dispositions survive exec.
    if (dev_null >= 0) {
      dup2(dev_null, STDIN_FILENO);
    }
    if (output >= 0) {
      dup2(output, STDOUT_FILENO);
      dup2(output, STDERR_FILENO);
    }
    execv(argv[0], argv.data());
    const int err = errno;
    ssize_t ignored = write(exec_pipe[1], &err, sizeof(err));
    (void)ignored;
    _exit(127);
  }
  close(exec_pipe[1]);
  for (int fd : {dev_null, output}) {
    if (fd >= 0) {
      close(fd);
    }
  }
  // The pipe closes on a successful exec (O_CLOEXEC) or carries exec's errno.
  int exec_errno = 0;
  ssize_t n = 0;
  do {
    n = read(exec_pipe[0], &exec_errno, sizeof(exec_errno));
  } while (n < 0 && errno == EINTR);
  close(exec_pipe[0]);
  pid_ = pid;
  if (n == static_cast<ssize_t>(sizeof(exec_errno))) {
    int status = 0;
    waitpid(pid, &status, 0);
    pid_ = -1;
    last_exit_ = DescribeStatus(status);
    return absl::FailedPreconditionError(
        absl::StrCat("cannot run Redis server ", *binary, ": ", Errno(exec_errno)));
  }
  return absl::OkStatus();
}

absl::Status RedisProcess::Start(std::chrono::milliseconds ready_timeout) {
  if (absl::Status s = Spawn(); !s.ok()) {
    return s;
  }
  const Clock::time_point deadline = Clock::now() + ready_timeout;
  const pid_t pid = pid_;
  absl::Status last = absl::UnavailableError("not tried");
  while (true) {
    if (Reap()) {
      return absl::FailedPreconditionError(absl::StrCat("redis-server (pid ", pid, ") ", last_exit_,
                                                        " during startup; ", LogTail()));
    }
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) {
      break;
    }
    last = Ping(std::min(left, std::chrono::milliseconds(1000)));
    if (last.ok()) {
      return absl::OkStatus();
    }
    std::this_thread::sleep_for(kPollInterval);
  }
  Kill(SIGKILL).IgnoreError();
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
  last_exit_ = DescribeStatus(status);
  return absl::DeadlineExceededError(
      absl::StrCat("redis-server (pid ", pid, ") did not answer PING on ", socket_path_, " within ",
                   ready_timeout.count(), " ms (", last.message(), "); killed it; ", LogTail()));
}

absl::Status RedisProcess::Ping(std::chrono::milliseconds timeout) const {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
  std::unique_ptr<redisContext, decltype(&redisFree)> context(
      redisConnectUnixWithTimeout(socket_path_.c_str(), tv), &redisFree);
  if (context == nullptr) {
    return absl::ResourceExhaustedError("out of memory");
  }
  if (context->err != 0) {
    return absl::UnavailableError(context->errstr);
  }
  redisSetTimeout(context.get(), tv);
  std::unique_ptr<redisReply, decltype(&freeReplyObject)> reply(
      static_cast<redisReply*>(redisCommand(context.get(), "PING")), &freeReplyObject);
  if (reply == nullptr) {
    return absl::UnavailableError(context->errstr);
  }
  const absl::string_view text(reply->str == nullptr ? "" : reply->str,
                               reply->str == nullptr ? 0 : reply->len);
  // NOAUTH: the server is up and serving; it wants a password this check does not have.
  const bool serving = (reply->type == REDIS_REPLY_STATUS && text == "PONG") ||
                       (reply->type == REDIS_REPLY_ERROR && absl::StartsWith(text, "NOAUTH"));
  if (!serving) {
    return absl::UnavailableError(absl::StrCat("PING answered with \"", text, "\""));
  }
  return absl::OkStatus();
}

absl::Status RedisProcess::Stop() {
  if (pid_ <= 0 || Reap()) {
    return absl::OkStatus();
  }
  const pid_t pid = pid_;
  kill(pid, SIGTERM);
  kill(pid, SIGCONT);  // A stopped process gets SIGTERM only once continued.
  const Clock::time_point deadline = Clock::now() + kStopTimeout;
  while (Clock::now() < deadline) {
    if (Reap()) {
      // redis-server exits 0 on SIGTERM; dying of the SIGTERM itself is clean too.
      const bool clean = (WIFEXITED(last_status_) && WEXITSTATUS(last_status_) == 0) ||
                         (WIFSIGNALED(last_status_) && WTERMSIG(last_status_) == SIGTERM);
      if (last_status_known_ && clean) {
        return absl::OkStatus();
      }
      return absl::InternalError(absl::StrCat("redis-server (pid ", pid, ") ", last_exit_,
                                              " when asked to stop; ", LogTail()));
    }
    std::this_thread::sleep_for(kPollInterval);
  }
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  pid_ = -1;
  last_exit_ = DescribeStatus(status);
  return absl::DeadlineExceededError(
      absl::StrCat("redis-server (pid ", pid, ") did not exit within 10 s of SIGTERM; killed it"));
}

absl::Status RedisProcess::Kill(int signal) {
  if (pid_ <= 0) {
    return absl::FailedPreconditionError("redis-server is not running");
  }
  if (kill(pid_, signal) != 0) {
    return absl::InternalError(absl::StrCat("kill(", pid_, ", ", signal, "): ", Errno(errno)));
  }
  return absl::OkStatus();
}

bool RedisProcess::Reap() {
  if (pid_ <= 0) {
    return true;
  }
  int status = 0;
  const pid_t r = waitpid(pid_, &status, WNOHANG);
  if (r == 0 || (r < 0 && errno == EINTR)) {
    return false;
  }
  last_status_known_ = r == pid_;
  last_status_ = status;
  if (r == pid_) {
    last_exit_ = DescribeStatus(status);
  } else {
    // ECHILD: reaped by someone else, or SIGCHLD is ignored.
    last_exit_ = absl::StrCat("exited (status unknown: ", Errno(errno), ")");
  }
  pid_ = -1;
  return true;
}

std::string RedisProcess::LogTail() const {
  constexpr std::size_t kTailLines = 5;
  std::string out;
  for (const char* name : {"redis.stderr", "redis.log"}) {
    const std::string path = absl::StrCat(data_dir_, "/", name);
    std::ifstream in(path);
    std::vector<std::string> lines;
    std::string line;
    while (std::getline(in, line)) {
      if (!line.empty()) {
        lines.push_back(line);
      }
    }
    if (lines.empty()) {
      continue;
    }
    const std::size_t first = lines.size() > kTailLines ? lines.size() - kTailLines : 0;
    absl::StrAppend(&out, out.empty() ? "" : "\n", "end of ", path, ":");
    for (std::size_t i = first; i < lines.size(); ++i) {
      absl::StrAppend(&out, "\n  ", lines[i]);
    }
  }
  return out.empty() ? absl::StrCat("nothing in ", data_dir_, "/redis.log") : out;
}

// ---------------------------------------------------------------------------------------------

RedisSupervisor::RedisSupervisor(const boost::asio::any_io_executor& executor,
                                 RedisProcessOptions process_options,
                                 RedisSupervisorOptions options)
    : process_(std::move(process_options)),
      options_(options),
      timer_(executor),
      backoff_(options.backoff_min) {}

RedisSupervisor::~RedisSupervisor() {
  *alive_ = false;
  logger_ = nullptr;
  try {
    Stop().IgnoreError();
  } catch (...) {  // NOLINT(bugprone-empty-catch): a destructor must not throw; nothing to undo.
  }
}

void RedisSupervisor::SetLogger(std::function<void(std::string_view)> logger) {
  logger_ = std::move(logger);
}

absl::Status RedisSupervisor::Start() {
  if (watching_) {
    return absl::FailedPreconditionError("the Redis supervisor is already running");
  }
  if (absl::Status s = process_.Start(options_.ready_timeout); !s.ok()) {
    return s;
  }
  watching_ = true;
  started_at_ = Clock::now();
  backoff_ = options_.backoff_min;
  Log(absl::StrCat("redis-server (pid ", process_.pid(), ") ready on ", process_.socket_path()));
  ScheduleCheck();
  return absl::OkStatus();
}

absl::Status RedisSupervisor::Stop() {
  watching_ = false;
  timer_.cancel();
  return process_.Stop();
}

void RedisSupervisor::ScheduleCheck() {
  timer_.expires_after(options_.check_interval);
  timer_.async_wait([this, alive = alive_](const boost::system::error_code& ec) {
    if (!*alive || ec || !watching_) {
      return;
    }
    Check();
  });
}

void RedisSupervisor::Check() {
  const pid_t pid = process_.pid();
  if (!process_.Reap()) {
    return ScheduleCheck();
  }
  const auto up = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started_at_);
  if (up >= options_.stable_after) {
    backoff_ = options_.backoff_min;
  }
  ScheduleRestart(absl::StrCat("redis-server (pid ", pid, ") ", process_.last_exit(), " after ",
                               up.count(), " ms up"));
}

void RedisSupervisor::ScheduleRestart(const std::string& why) {
  const std::chrono::milliseconds delay = backoff_;
  backoff_ = std::min(backoff_ * 2, std::max(options_.backoff_max, options_.backoff_min));
  Log(absl::StrCat(why, "; restarting in ", delay.count(), " ms"));
  timer_.expires_after(delay);
  timer_.async_wait([this, alive = alive_](const boost::system::error_code& ec) {
    if (!*alive || ec || !watching_) {
      return;
    }
    Restart();
  });
}

void RedisSupervisor::Restart() {
  if (absl::Status s = process_.Spawn(); !s.ok()) {
    return ScheduleRestart(absl::StrCat("cannot restart redis-server: ", s.message()));
  }
  ++restarts_;
  started_at_ = Clock::now();
  Log(absl::StrCat("restarted redis-server (pid ", process_.pid(), ")"));
  ScheduleCheck();
}

void RedisSupervisor::Log(const std::string& message) const {
  if (logger_) {
    logger_(message);
  }
}

}  // namespace stswatch::store
