#pragma once

// Redis plumbing shared by the API's stores: a batch of commands sent at once (pipelined) and
// awaited together, Lua scripts run with EVALSHA (EVAL when the server answers NOSCRIPT), and
// Redis failures as the statuses the API returns.
//
// Threading: the client's executor, one thread; the coroutines must run on it.
// Lifetime: like RedisClient::Await, if the client is destroyed while a batch is in flight the
// awaiting coroutine is destroyed without being resumed.

#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "absl/status/statusor.h"
#include "store/redis_client.h"

namespace stswatch::api {

// OK for a reply that is not an error reply; otherwise Unavailable naming the command (its name
// and key: "Redis HGET stswatch:tenants failed: ..."). A failed command (not connected, connection
// lost, deadline passed) and an error reply (OOM, READONLY, WRONGTYPE) are both the store's
// failure, not the caller's.
absl::Status CheckReply(const absl::StatusOr<store::RedisReply>& reply,
                        const std::vector<std::string>& command);

// One command; its reply, or CheckReply's status.
boost::asio::awaitable<absl::StatusOr<store::RedisReply>> Run(store::RedisClient& client,
                                                              std::vector<std::string> command);

// Sends every command without waiting in between (one write for the lot) and completes when all
// have their replies: the replies in command order, or the first failure (CheckReply) when any
// command failed. Redis runs them in order, but not atomically.
boost::asio::awaitable<absl::StatusOr<std::vector<store::RedisReply>>> Pipeline(
    store::RedisClient& client, std::vector<std::vector<std::string>> commands);

// A Lua script and its SHA-1. The API's scripts take exactly one key, so that each call touches
// one Redis Cluster slot.
class RedisScript {
 public:
  explicit RedisScript(std::string source);
  const std::string& source() const { return source_; }
  const std::string& sha1() const { return sha1_; }

 private:
  std::string source_;
  std::string sha1_;
};

struct ScriptCall {
  std::string key;
  // Further keys (KEYS[2], ...): only for scripts whose keys share a slot or that run on a
  // single Redis node.
  std::vector<std::string> more_keys;
  std::vector<std::string> args;
};

// Runs every call pipelined with EVALSHA; the calls answered NOSCRIPT (a restarted or flushed
// server: such a call did not run) are sent again with EVAL. The replies in call order, or the
// first failure.
boost::asio::awaitable<absl::StatusOr<std::vector<store::RedisReply>>> RunScript(
    store::RedisClient& client, const RedisScript& script, std::vector<ScriptCall> calls);

}  // namespace stswatch::api
