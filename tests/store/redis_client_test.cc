// RedisClient against a real redis-server (started per test on a unix socket in its own /tmp
// directory): replies of every type, binary-safe arguments, pipelining, lost and stuck servers,
// reconnection, AUTH and SELECT, Stop() and destruction with commands in flight.

#include "store/redis_client.h"

#include <signal.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
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
using testing::RunFor;
using testing::RunUntil;
using testing::TestRedis;
using Type = RedisReply::Type;

// Records what each of many commands' callbacks got, and how often each ran.
struct Outcomes {
  explicit Outcomes(std::size_t n) : calls(n, 0), results(n, absl::UnknownError("no callback")) {}
  RedisClient::Callback For(std::size_t i) {
    return [this, i](absl::StatusOr<RedisReply> r) {
      ++calls[i];
      ++total;
      results[i] = std::move(r);
    };
  }
  std::vector<int> calls;
  std::vector<absl::StatusOr<RedisReply>> results;
  std::size_t total = 0;
};

class RedisClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<TestRedis>();
    const absl::Status started = server_->Start();
    ASSERT_TRUE(started.ok()) << started;
  }

  // A started client, connected; counts its connects.
  std::unique_ptr<RedisClient> Connect(RedisOptions options = FastOptions(),
                                       std::optional<RedisEndpoint> endpoint = std::nullopt) {
    auto client = std::make_unique<RedisClient>(
        io_.get_executor(), endpoint ? *endpoint : server_->endpoint(), options);
    client->SetLogger(log_.Logger());
    client->SetConnectedCallback([this] { ++connects_; });
    client->Start();
    const int before = connects_;
    EXPECT_TRUE(RunUntil(io_, [&] { return connects_ > before; })) << log_.All();
    EXPECT_TRUE(client->connected());
    return client;
  }

  boost::asio::io_context io_;
  std::unique_ptr<TestRedis> server_;
  LogSink log_;
  int connects_ = 0;
};

TEST_F(RedisClientTest, RepliesOfEveryType) {
  auto client = Connect();
  EXPECT_TRUE(log_.Contains("connected to unix://" + server_->endpoint().unix_path)) << log_.All();

  absl::StatusOr<RedisReply> r = Call(io_, *client, {"SET", "greeting", "hello"});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->type, Type::kStatus);
  EXPECT_EQ(r->str, "OK");

  r = Call(io_, *client, {"GET", "greeting"});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->type, Type::kString);
  EXPECT_EQ(r->str, "hello");

  r = Call(io_, *client, {"GET", "no-such-key"});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->type, Type::kNil);

  r = Call(io_, *client, {"INCR", "counter"});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->type, Type::kInteger);
  EXPECT_EQ(r->integer, 1);
  r = Call(io_, *client, {"INCRBY", "counter", "-5000000000"});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->integer, -4999999999LL);

  // An error reply is a reply, not a failed status.
  r = Call(io_, *client, {"INCR", "greeting"});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->type, Type::kError);
  EXPECT_EQ(r->str, "ERR value is not an integer or out of range");
  r = Call(io_, *client, {"NOSUCHCOMMAND", "x"});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->type, Type::kError);
  EXPECT_THAT(r->str, HasSubstr("unknown command"));

  r = Call(io_, *client, {"RPUSH", "list", "a", "b", "c"});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->integer, 3);
  r = Call(io_, *client, {"LRANGE", "list", "0", "-1"});
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->type, Type::kArray);
  ASSERT_EQ(r->elements.size(), 3u);
  EXPECT_EQ(r->elements[0].str, "a");
  EXPECT_EQ(r->elements[2].str, "c");

  r = Call(io_, *client, {"LRANGE", "no-such-list", "0", "-1"});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->type, Type::kArray);
  EXPECT_TRUE(r->elements.empty());

  // Nil inside an array, and nested arrays of mixed types.
  r = Call(io_, *client, {"MGET", "greeting", "no-such-key"});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->DebugString(), "array [string \"hello\", nil]");
  r = Call(io_, *client, {"EVAL", "return {1, {'x', {err='oops'}}, {ok='fine'}}", "0"});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->DebugString(), "array [integer 1, array [string \"x\", error oops], status fine]");
}

TEST_F(RedisClientTest, BinarySafeArguments) {
  auto client = Connect();
  const std::string key("k\0ey\r\n", 6);
  constexpr char kRaw[] = "\0\r\n$3\r\n*1\r\n\xff\x00tail";  // Looks like RESP, and NULs.
  std::string value(kRaw, sizeof(kRaw) - 1);
  value += std::string(1 << 20, '\0');  // And 1 MiB of NUL bytes.
  value += "end";
  absl::StatusOr<RedisReply> r = Call(io_, *client, {"SET", key, value});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->str, "OK");
  r = Call(io_, *client, {"GET", key});
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->type, Type::kString);
  EXPECT_EQ(r->str.size(), value.size());
  EXPECT_TRUE(r->str == value);
  r = Call(io_, *client, {"STRLEN", key});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->integer, static_cast<long long>(value.size()));
  r = Call(io_, *client, {"GET", std::string("k\0ey", 4)});  // Not the same key.
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->type, Type::kNil);
  r = Call(io_, *client, {"SET", "empty", ""});
  ASSERT_TRUE(r.ok()) << r.status();
  r = Call(io_, *client, {"GET", "empty"});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->type, Type::kString);
  EXPECT_EQ(r->str, "");
}

TEST_F(RedisClientTest, TenThousandPipelinedCommandsAnsweredInOrder) {
  auto client = Connect();
  constexpr int kCount = 10000;
  std::vector<long long> order;
  order.reserve(kCount);
  int failures = 0;
  for (int i = 0; i < kCount; ++i) {
    client->Command({"INCR", "n"}, [&](absl::StatusOr<RedisReply> r) {
      if (!r.ok() || r->type != Type::kInteger) {
        ++failures;
        return;
      }
      order.push_back(r->integer);
    });
  }
  EXPECT_TRUE(order.empty()) << "a callback ran inside Command()";
  ASSERT_TRUE(RunUntil(
      io_, [&] { return order.size() + failures == kCount; }, std::chrono::seconds(60)));
  EXPECT_EQ(failures, 0);
  for (int i = 0; i < kCount; ++i) {
    ASSERT_EQ(order[i], i + 1) << "reply " << i << " out of order";
  }
  // Every INCR reached the server once.
  absl::StatusOr<RedisReply> r = Call(io_, *client, {"GET", "n"});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->str, std::to_string(kCount));
}

TEST_F(RedisClientTest, Await) {
  auto client = Connect();
  bool done = false;
  boost::asio::co_spawn(
      io_,
      [&]() -> boost::asio::awaitable<void> {
        // GCC 12 cannot compile a braced list of strings inside a co_await expression.
        std::vector<std::string> set_args = {"SET", "k", "v"};
        absl::StatusOr<RedisReply> set = co_await client->Await(std::move(set_args));
        EXPECT_TRUE(set.ok()) << set.status();
        std::vector<std::string> get_args = {"GET", "k"};
        absl::StatusOr<RedisReply> get = co_await client->Await(std::move(get_args));
        EXPECT_TRUE(get.ok()) << get.status();
        EXPECT_EQ(get->str, "v");
        std::vector<std::string> no_args;
        absl::StatusOr<RedisReply> bad = co_await client->Await(std::move(no_args));
        EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
        done = true;
      },
      boost::asio::detached);
  EXPECT_TRUE(RunUntil(io_, [&] { return done; }));
}

TEST_F(RedisClientTest, RefusesCommandsThatBreakReplyMatching) {
  auto client = Connect();
  using Args = std::vector<std::string>;
  const std::vector<Args> refused = {Args{},
                                     Args{"SUBSCRIBE", "ch"},
                                     Args{"psubscribe", "c*"},
                                     Args{"SSUBSCRIBE", "x"},
                                     Args{"MONITOR"},
                                     Args{"UNSUBSCRIBE"},
                                     Args{"HELLO", "3"},
                                     Args{"CLIENT", "reply", "off"},
                                     Args{"SELECT", "1"},
                                     Args{"RESET"}};
  for (const auto& args : refused) {
    absl::StatusOr<RedisReply> r = Call(io_, *client, args);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument)
        << (args.empty() ? "(empty)" : args[0]) << ": " << r.status();
  }
  // The connection is still usable.
  absl::StatusOr<RedisReply> r = Call(io_, *client, {"PING"});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->str, "PONG");
  EXPECT_TRUE(client->connected());
}

TEST_F(RedisClientTest, NotConnectedFailsAsynchronously) {
  RedisClient client(io_.get_executor(), server_->endpoint(), FastOptions());
  bool called = false;
  absl::Status status;
  client.Command({"PING"}, [&](const absl::StatusOr<RedisReply>& r) {
    called = true;
    status = r.status();
  });
  EXPECT_FALSE(called) << "the callback ran inside Command()";
  ASSERT_TRUE(RunUntil(io_, [&] { return called; }));
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable) << status;
  EXPECT_THAT(std::string(status.message()), HasSubstr("not connected"));
}

TEST_F(RedisClientTest, ServerKilledWithCommandsPendingThenRestarted) {
  auto client = Connect();
  auto observer = Connect();  // A second connection, to see the first one's BLPOP block.

  constexpr std::size_t kPending = 101;
  Outcomes outcomes(kPending);
  client->Command({"BLPOP", "never-filled", "0"}, outcomes.For(0));
  ASSERT_TRUE(RunUntil(io_, [&] {
    absl::StatusOr<RedisReply> info = Call(io_, *observer, {"INFO", "clients"});
    return info.ok() && info->str.find("blocked_clients:1") != std::string::npos;
  }));
  // Queued behind the BLPOP: written to the server, never answered.
  for (std::size_t i = 1; i < kPending; ++i) {
    client->Command({"INCR", "pending"}, outcomes.For(i));
  }
  ASSERT_TRUE(Call(io_, *observer, {"PING"}).ok());  // The writes have happened by now.

  server_->KillHard();
  ASSERT_TRUE(RunUntil(io_, [&] { return outcomes.total >= kPending; })) << outcomes.total;
  for (std::size_t i = 0; i < kPending; ++i) {
    EXPECT_EQ(outcomes.results[i].status().code(), absl::StatusCode::kUnavailable)
        << i << ": " << outcomes.results[i].status();
  }
  EXPECT_THAT(std::string(outcomes.results[0].status().message()), HasSubstr("lost before"));
  EXPECT_FALSE(client->connected());
  EXPECT_TRUE(RunUntil(io_, [&] { return log_.Contains("lost connection to unix://"); }))
      << log_.All();
  EXPECT_TRUE(RunUntil(io_, [&] { return log_.Contains("retrying in"); })) << log_.All();
  // While the server is down: refused at once, asynchronously.
  absl::StatusOr<RedisReply> down = Call(io_, *client, {"PING"});
  EXPECT_EQ(down.status().code(), absl::StatusCode::kUnavailable) << down.status();

  const int connects_before = connects_;
  const absl::Status restarted = server_->Start();  // Same directory, same socket path.
  ASSERT_TRUE(restarted.ok()) << restarted;
  // Both clients reconnect by themselves and say so.
  ASSERT_TRUE(RunUntil(io_, [&] { return connects_ >= connects_before + 2; })) << log_.All();
  EXPECT_TRUE(client->connected());
  absl::StatusOr<RedisReply> r = Call(io_, *client, {"PING"});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->str, "PONG");

  RunFor(io_, std::chrono::milliseconds(100));
  for (std::size_t i = 0; i < kPending; ++i) {
    EXPECT_EQ(outcomes.calls[i], 1) << "callback " << i;
  }
}

TEST_F(RedisClientTest, StoppedServerTimesOutThenRecovers) {
  RedisOptions options = FastOptions();
  options.command_timeout = std::chrono::milliseconds(300);
  options.connect_timeout = std::chrono::milliseconds(300);
  auto client = Connect(options);
  ASSERT_TRUE(Call(io_, *client, {"SET", "k", "before"}).ok());

  ASSERT_TRUE(server_->process().Kill(SIGSTOP).ok());
  Outcomes outcomes(2);
  const auto sent = std::chrono::steady_clock::now();
  client->Command({"GET", "k"}, outcomes.For(0));
  client->Command({"GET", "k"}, outcomes.For(1));
  ASSERT_TRUE(RunUntil(io_, [&] { return outcomes.total == 2; }));
  EXPECT_GE(std::chrono::steady_clock::now() - sent, options.command_timeout);
  EXPECT_EQ(outcomes.results[0].status().code(), absl::StatusCode::kDeadlineExceeded)
      << outcomes.results[0].status();
  EXPECT_THAT(std::string(outcomes.results[0].status().message()),
              HasSubstr("no reply to GET within 300 ms"));
  // The connection is dropped: the other command cannot get its reply any more.
  EXPECT_EQ(outcomes.results[1].status().code(), absl::StatusCode::kUnavailable)
      << outcomes.results[1].status();
  EXPECT_FALSE(client->connected());
  // Reconnecting works at the socket level, but the handshake is not answered in time.
  EXPECT_TRUE(RunUntil(io_, [&] { return log_.Contains("within the connect timeout of 300 ms"); }))
      << log_.All();
  EXPECT_FALSE(client->connected());

  const int connects_before = connects_;
  ASSERT_TRUE(server_->process().Kill(SIGCONT).ok());
  ASSERT_TRUE(RunUntil(io_, [&] { return connects_ > connects_before; })) << log_.All();
  absl::StatusOr<RedisReply> r = Call(io_, *client, {"GET", "k"});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->str, "before");
  RunFor(io_, std::chrono::milliseconds(50));
  EXPECT_EQ(outcomes.calls, std::vector<int>({1, 1}));
}

TEST_F(RedisClientTest, StopFailsPendingCommands) {
  auto client = Connect();
  ASSERT_TRUE(server_->process().Kill(SIGSTOP).ok());
  constexpr std::size_t kPending = 50;
  Outcomes outcomes(kPending);
  for (std::size_t i = 0; i < kPending; ++i) {
    client->Command({"INCR", "x"}, outcomes.For(i));
  }
  RunFor(io_, std::chrono::milliseconds(20));  // Written, not answered.
  EXPECT_EQ(outcomes.total, 0u);
  client->Stop();
  EXPECT_FALSE(client->connected());
  EXPECT_EQ(outcomes.total, 0u) << "a callback ran inside Stop()";
  ASSERT_TRUE(RunUntil(io_, [&] { return outcomes.total == kPending; }));
  for (std::size_t i = 0; i < kPending; ++i) {
    EXPECT_EQ(outcomes.results[i].status().code(), absl::StatusCode::kUnavailable);
  }
  absl::StatusOr<RedisReply> after = Call(io_, *client, {"PING"});
  EXPECT_EQ(after.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(after.status().message()), HasSubstr("stopped"));
  client->Stop();   // Again: nothing happens.
  client->Start();  // Stopped for good.
  ASSERT_TRUE(server_->process().Kill(SIGCONT).ok());
  RunFor(io_, std::chrono::milliseconds(100));
  EXPECT_FALSE(client->connected());
  for (std::size_t i = 0; i < kPending; ++i) {
    EXPECT_EQ(outcomes.calls[i], 1);
  }
}

TEST_F(RedisClientTest, DestroyedClientNeverCallsBack) {
  auto client = Connect();
  ASSERT_TRUE(server_->process().Kill(SIGSTOP).ok());
  Outcomes outcomes(10);
  for (std::size_t i = 0; i < 10; ++i) {
    client->Command({"PING"}, outcomes.For(i));
  }
  client->Command({}, outcomes.For(0));  // Already refused, callback posted.
  client.reset();
  RunFor(io_, std::chrono::milliseconds(50));
  EXPECT_EQ(outcomes.total, 0u);
  ASSERT_TRUE(server_->process().Kill(SIGCONT).ok());
}

TEST_F(RedisClientTest, ConnectsOnceTheServerAppears) {
  server_->KillHard();
  RedisClient client(io_.get_executor(), server_->endpoint(), FastOptions());
  client.SetLogger(log_.Logger());
  client.SetConnectedCallback([this] { ++connects_; });
  client.Start();
  ASSERT_TRUE(RunUntil(io_, [&] { return log_.Contains("Connection refused"); })) << log_.All();
  EXPECT_TRUE(log_.Contains("cannot connect to unix://")) << log_.All();
  EXPECT_FALSE(client.connected());
  const absl::Status started = server_->Start();
  ASSERT_TRUE(started.ok()) << started;
  ASSERT_TRUE(RunUntil(io_, [&] { return connects_ == 1; })) << log_.All();
  EXPECT_TRUE(client.connected());
}

TEST_F(RedisClientTest, MissingSocketRetriesWithBoundedBackoff) {
  RedisEndpoint endpoint;
  endpoint.unix_path = server_->dir() + "/no-such.sock";
  RedisClient client(io_.get_executor(), endpoint, FastOptions());
  std::vector<int> delays;
  std::string first;
  client.SetLogger([&](std::string_view line) {
    if (first.empty()) {
      first = std::string(line);
    }
    const std::size_t at = line.find("; retrying in ");
    if (at != std::string_view::npos) {
      delays.push_back(std::stoi(std::string(line.substr(at + 14))));
    }
  });
  client.Start();
  ASSERT_TRUE(RunUntil(io_, [&] { return delays.size() >= 8; }));
  EXPECT_THAT(first, HasSubstr("cannot connect to unix://" + endpoint.unix_path +
                               ": No such file or directory; retrying in "));
  // 10, 20, 40, 80 ms, then capped at 100; each randomised to [delay/2, delay].
  const std::vector<int> bases = {10, 20, 40, 80, 100, 100, 100, 100};
  for (std::size_t i = 0; i < bases.size(); ++i) {
    EXPECT_GE(delays[i], bases[i] / 2) << i;
    EXPECT_LE(delays[i], bases[i]) << i;
  }
  EXPECT_FALSE(client.connected());
}

class RedisAuthTest : public RedisClientTest {
 protected:
  void SetUp() override {
    server_ = std::make_unique<TestRedis>(std::vector<std::string>{"--requirepass", "s3cret"});
    const absl::Status started = server_->Start();
    ASSERT_TRUE(started.ok()) << started;
  }
};

TEST_F(RedisAuthTest, AuthAndSelectOnConnect) {
  RedisEndpoint db3 = server_->endpoint();
  db3.password = "s3cret";
  db3.db = 3;
  auto client3 = Connect(FastOptions(), db3);
  ASSERT_TRUE(Call(io_, *client3, {"SET", "where", "db3"}).ok());

  RedisEndpoint db0 = db3;
  db0.db = 0;
  auto client0 = Connect(FastOptions(), db0);
  absl::StatusOr<RedisReply> r = Call(io_, *client0, {"GET", "where"});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->type, Type::kNil);
  r = Call(io_, *client3, {"GET", "where"});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->str, "db3");

  // ACL user form.
  RedisEndpoint user = db3;
  user.user = "default";
  auto client_user = Connect(FastOptions(), user);
  r = Call(io_, *client_user, {"GET", "where"});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->str, "db3");
}

TEST_F(RedisAuthTest, WrongPasswordIsAFailedConnection) {
  RedisEndpoint endpoint = server_->endpoint();
  endpoint.password = "wr0ng-pw";
  RedisClient client(io_.get_executor(), endpoint, FastOptions());
  client.SetLogger(log_.Logger());
  client.SetConnectedCallback([this] { ++connects_; });
  client.Start();
  ASSERT_TRUE(RunUntil(io_, [&] { return log_.Contains("AUTH refused: WRONGPASS"); }))
      << log_.All();
  EXPECT_TRUE(log_.Contains("cannot connect to unix://")) << log_.All();
  EXPECT_TRUE(log_.Contains("password=***")) << log_.All();
  EXPECT_FALSE(log_.Contains("wr0ng-pw")) << log_.All();  // The password is never logged.
  EXPECT_FALSE(client.connected());
  EXPECT_EQ(connects_, 0);

  RedisEndpoint none = server_->endpoint();  // No password at all: commands are refused.
  RedisClient anonymous(io_.get_executor(), none, FastOptions());
  LogSink anonymous_log;
  anonymous.SetLogger(anonymous_log.Logger());
  anonymous.Start();
  ASSERT_TRUE(RunUntil(io_, [&] { return anonymous_log.Contains("NOAUTH"); }))
      << anonymous_log.All();
  EXPECT_FALSE(anonymous.connected());
}

TEST_F(RedisAuthTest, RefusedSelect) {
  RedisEndpoint endpoint = server_->endpoint();
  endpoint.password = "s3cret";
  endpoint.db = 99;  // Redis has 16 databases by default.
  RedisClient client(io_.get_executor(), endpoint, FastOptions());
  client.SetLogger(log_.Logger());
  client.Start();
  ASSERT_TRUE(RunUntil(io_, [&] { return log_.Contains("SELECT 99 refused"); })) << log_.All();
  EXPECT_FALSE(client.connected());
}

}  // namespace
}  // namespace stswatch::store
