#pragma once

// For the tests of //api: a real redis-server with a connected client, and a way to run one of
// the stores' coroutines to its end.

#include <chrono>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

#include "store/redis_client.h"
#include "tests/store/redis_test_util.h"

namespace stswatch::api::testing {

// Spawns `task` on `io` and runs `io` until it finished (20 s at most: then a test failure and
// T's default value, e.g. an Unknown status).
template <typename T>
T Await(boost::asio::io_context& io, boost::asio::awaitable<T> task) {
  std::optional<T> result;
  bool thrown = false;
  boost::asio::co_spawn(io, std::move(task), [&](std::exception_ptr e, T value) {
    thrown = e != nullptr;
    result.emplace(std::move(value));
  });
  EXPECT_TRUE(store::testing::RunUntil(io, [&] { return result.has_value(); }))
      << "the coroutine did not finish within 20 s";
  EXPECT_FALSE(thrown) << "the coroutine threw";
  return result.has_value() ? *std::move(result) : T{};
}

// A redis-server of its own and a client connected to it.
class RedisFixture : public ::testing::Test {
 protected:
  void SetUp() override { StartRedis({}); }

  void StartRedis(std::vector<std::string> extra_args) {
    redis_ = std::make_unique<store::testing::TestRedis>(std::move(extra_args));
    ASSERT_TRUE(redis_->Start().ok());
    client_ = std::make_unique<store::RedisClient>(io_.get_executor(), redis_->endpoint(),
                                                   store::testing::FastOptions());
    client_->Start();
    ASSERT_TRUE(store::testing::RunUntil(io_, [&] { return client_->connected(); }));
  }

  // One command, straight to Redis (a failed one fails the test).
  store::RedisReply Redis(const std::vector<std::string>& args) {
    absl::StatusOr<store::RedisReply> reply = store::testing::Call(io_, *client_, args);
    EXPECT_TRUE(reply.ok()) << reply.status();
    return reply.ok() ? *std::move(reply) : store::RedisReply{};
  }

  // Many commands, pipelined (a failed one fails the test).
  void RedisAll(const std::vector<std::vector<std::string>>& commands) {
    std::size_t done = 0;
    for (const std::vector<std::string>& args : commands) {
      client_->Command(args, [&done, args](const absl::StatusOr<store::RedisReply>& reply) {
        EXPECT_TRUE(reply.ok() && reply->type != store::RedisReply::Type::kError)
            << args[0] << ": " << (reply.ok() ? reply->DebugString() : reply.status().ToString());
        ++done;
      });
    }
    EXPECT_TRUE(store::testing::RunUntil(io_, [&] { return done == commands.size(); }));
  }

  boost::asio::io_context io_;
  std::unique_ptr<store::testing::TestRedis> redis_;
  std::unique_ptr<store::RedisClient> client_;
};

}  // namespace stswatch::api::testing
