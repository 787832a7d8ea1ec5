// RedisProcess and RedisSupervisor with the real redis-server: start, readiness, clear errors,
// stop, and a supervised server that is killed and comes back with its data.

#include "store/redis_process.h"

#include <signal.h>
#include <sys/stat.h>

#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/store/redis_test_util.h"

namespace stswatch::store {
namespace {

using testing::Call;
using testing::FastOptions;
using ::testing::HasSubstr;
using testing::LogSink;
using testing::RunUntil;
using testing::TempDir;

TEST(RedisProcessTest, StartsOnAPrivateSocketAndStops) {
  TempDir dir;
  RedisProcessOptions options;
  options.data_dir = dir.path() + "/data/redis";  // Created, with its parent.
  RedisProcess process(options);
  const absl::Status started = process.Start(std::chrono::seconds(20));
  ASSERT_TRUE(started.ok()) << started;
  EXPECT_TRUE(process.running());
  EXPECT_GT(process.pid(), 0);
  EXPECT_EQ(process.socket_path(), dir.path() + "/data/redis/redis.sock");
  EXPECT_EQ(process.endpoint().unix_path, process.socket_path());
  EXPECT_TRUE(process.Ping(std::chrono::seconds(1)).ok());
  EXPECT_FALSE(process.Reap());

  struct stat st {};
  ASSERT_EQ(stat(options.data_dir.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  ASSERT_EQ(stat(process.socket_path().c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0700u);  // --unixsocketperm 700

  // Only the unix socket: no TCP port.
  boost::asio::io_context io;
  RedisClient client(io.get_executor(), process.endpoint(), FastOptions());
  client.Start();
  ASSERT_TRUE(RunUntil(io, [&] { return client.connected(); }));
  absl::StatusOr<RedisReply> port = Call(io, client, {"CONFIG", "GET", "port"});
  ASSERT_TRUE(port.ok()) << port.status();
  EXPECT_EQ(port->DebugString(), "array [string \"port\", string \"0\"]");
  absl::StatusOr<RedisReply> aof = Call(io, client, {"CONFIG", "GET", "appendonly"});
  ASSERT_TRUE(aof.ok()) << aof.status();
  EXPECT_EQ(aof->DebugString(), "array [string \"appendonly\", string \"yes\"]");

  const absl::Status again = process.Spawn();
  EXPECT_EQ(again.code(), absl::StatusCode::kFailedPrecondition) << again;

  const absl::Status stopped = process.Stop();
  EXPECT_TRUE(stopped.ok()) << stopped;
  EXPECT_FALSE(process.running());
  EXPECT_TRUE(process.Reap());
  EXPECT_EQ(process.last_exit(), "exited with status 0");
  EXPECT_FALSE(process.Ping(std::chrono::milliseconds(200)).ok());
  EXPECT_TRUE(process.Stop().ok());  // Nothing left to stop.
  EXPECT_EQ(process.Kill(SIGTERM).code(), absl::StatusCode::kFailedPrecondition);
}

TEST(RedisProcessTest, StopsAStoppedServer) {
  TempDir dir;
  RedisProcessOptions options;
  options.data_dir = dir.path();
  RedisProcess process(options);
  ASSERT_TRUE(process.Start(std::chrono::seconds(20)).ok());
  ASSERT_TRUE(process.Kill(SIGSTOP).ok());
  const auto before = std::chrono::steady_clock::now();
  const absl::Status stopped = process.Stop();
  EXPECT_TRUE(stopped.ok()) << stopped;
  EXPECT_LT(std::chrono::steady_clock::now() - before, std::chrono::seconds(9));
}

TEST(RedisProcessTest, ReapsAKilledServer) {
  TempDir dir;
  RedisProcessOptions options;
  options.data_dir = dir.path();
  RedisProcess process(options);
  ASSERT_TRUE(process.Start(std::chrono::seconds(20)).ok());
  ASSERT_TRUE(process.Kill(SIGKILL).ok());
  ASSERT_TRUE(
      RunUntil(*std::make_unique<boost::asio::io_context>(), [&] { return process.Reap(); }));
  EXPECT_EQ(process.last_exit(), "killed by signal 9 (Killed)");
  EXPECT_EQ(process.pid(), -1);
  // It starts again in the same directory (the stale socket file is replaced).
  const absl::Status restarted = process.Start(std::chrono::seconds(20));
  EXPECT_TRUE(restarted.ok()) << restarted;
}

TEST(RedisProcessTest, MissingBinary) {
  TempDir dir;
  RedisProcessOptions options;
  options.data_dir = dir.path();
  options.binary = "stswatch-no-such-redis-server";
  absl::Status s = RedisProcess(options).Start(std::chrono::seconds(5));
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("stswatch-no-such-redis-server not found"));

  options.binary = dir.path() + "/bin/redis-server";
  s = RedisProcess(options).Start(std::chrono::seconds(5));
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("No such file or directory"));
}

TEST(RedisProcessTest, DataDirectoryErrors) {
  TempDir dir;
  RedisProcessOptions options;
  absl::Status s = RedisProcess(options).Start(std::chrono::seconds(5));
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("data_dir is empty"));

  // A file where a directory should be.
  const std::string file = dir.path() + "/file";
  FILE* f = fopen(file.c_str(), "w");
  ASSERT_NE(f, nullptr);
  fclose(f);
  options.data_dir = file + "/redis";
  s = RedisProcess(options).Start(std::chrono::seconds(5));
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_THAT(std::string(s.message()),
              HasSubstr("cannot create Redis data directory " + file + "/redis: Not a directory"));

  options.data_dir = dir.path() + "/" + std::string(100, 'd');
  s = RedisProcess(options).Start(std::chrono::seconds(5));
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("use a shorter data_dir"));
}

TEST(RedisProcessTest, ExitDuringStartup) {
  TempDir dir;
  RedisProcessOptions options;
  options.data_dir = dir.path();
  options.extra_args = {"--maxmemory-policy", "no-such-policy"};
  const absl::Status s = RedisProcess(options).Start(std::chrono::seconds(20));
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("exited with status 1 during startup"));
  // Redis' own explanation, from its stderr.
  EXPECT_THAT(std::string(s.message()), HasSubstr("FATAL CONFIG FILE ERROR"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("no-such-policy"));
}

TEST(RedisSupervisorTest, RestartsAKilledServerWithItsData) {
  TempDir dir;
  boost::asio::io_context io;
  RedisProcessOptions process_options;
  process_options.data_dir = dir.path();
  process_options.extra_args = {"--appendfsync", "always"};
  RedisSupervisorOptions options;
  options.backoff_min = std::chrono::milliseconds(100);
  RedisSupervisor supervisor(io.get_executor(), process_options, options);
  LogSink supervisor_log;
  supervisor.SetLogger(supervisor_log.Logger());
  const absl::Status started = supervisor.Start();
  ASSERT_TRUE(started.ok()) << started;
  EXPECT_TRUE(supervisor_log.Contains("ready on " + dir.path() + "/redis.sock"))
      << supervisor_log.All();

  RedisClient client(io.get_executor(), supervisor.endpoint(), FastOptions());
  int connects = 0;
  client.SetConnectedCallback([&] { ++connects; });
  client.Start();
  ASSERT_TRUE(RunUntil(io, [&] { return connects == 1; }));
  absl::StatusOr<RedisReply> r = Call(io, client, {"SET", "durable", "still here"});
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_TRUE(Call(io, client, {"RPUSH", "list", "1", "2"}).ok());

  const pid_t first = supervisor.process().pid();
  ASSERT_TRUE(supervisor.process().Kill(SIGKILL).ok());
  ASSERT_TRUE(RunUntil(io, [&] { return supervisor.restarts() == 1 && connects == 2; }))
      << supervisor_log.All();
  EXPECT_NE(supervisor.process().pid(), first);
  EXPECT_TRUE(supervisor_log.Contains("redis-server (pid " + std::to_string(first) +
                                      ") killed by signal 9 (Killed)"))
      << supervisor_log.All();
  EXPECT_TRUE(supervisor_log.Contains("restarted redis-server (pid ")) << supervisor_log.All();

  r = Call(io, client, {"GET", "durable"});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->str, "still here");
  r = Call(io, client, {"LRANGE", "list", "0", "-1"});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->DebugString(), "array [string \"1\", string \"2\"]");

  client.Stop();
  const absl::Status stopped = supervisor.Stop();
  EXPECT_TRUE(stopped.ok()) << stopped;
  EXPECT_FALSE(supervisor.process().running());
}

}  // namespace
}  // namespace stswatch::store
