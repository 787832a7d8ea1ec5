#pragma once

// RedisClient: one pipelined connection to Redis through hiredis' async API, driven from an Asio
// executor (hiredis 0.14 has no Asio adapter: the socket is watched with a
// posix::stream_descriptor that is released, never closed, because hiredis owns the fd). The
// client reconnects by itself with exponential backoff and jitter; every command has a deadline.
//
// Threading: one executor, one thread. Every method (and the destructor) must be called on the
// executor's thread, or before the executor runs. Destroy the client before its io_context.
//
// Lifetime: a command's callback is called exactly once, always posted to the executor (never
// from inside Command() or from inside hiredis), unless the client is destroyed first: a callback
// that has not run when the client is destroyed never runs.
//
// hiredis writes with write(2), so a server that goes away while a command is being written
// raises SIGPIPE: Start() sets SIGPIPE to SIG_IGN when its disposition is still SIG_DFL.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include "absl/status/statusor.h"
#include "store/redis_endpoint.h"

struct redisAsyncContext;

namespace stswatch::store {

// A reply copied out of hiredis' redisReply (which hiredis frees when the callback returns).
struct RedisReply {
  enum class Type { kNil, kString, kStatus, kError, kInteger, kArray };
  Type type = Type::kNil;
  std::string str;        // kString (binary-safe), kStatus ("OK"), kError ("WRONGTYPE ...").
  long long integer = 0;  // kInteger.
  std::vector<RedisReply> elements;  // kArray.

  // For test failures and logs: "status OK", "string \"abc\"", "array [integer 1, nil]".
  std::string DebugString() const;
};

struct RedisOptions {
  // From starting to connect to the answer to the handshake ([AUTH], [SELECT], PING).
  std::chrono::milliseconds connect_timeout{2000};
  // From Command() to its reply. When it passes, the command fails with DeadlineExceeded and the
  // connection is dropped and re-established: later replies could no longer be matched.
  std::chrono::milliseconds command_timeout{5000};
  // Delay before reconnecting: doubles after each failure from backoff_min up to backoff_max,
  // randomised to [delay/2, delay]; back to backoff_min after a successful connect.
  std::chrono::milliseconds backoff_min{100};
  std::chrono::milliseconds backoff_max{5000};
};

class RedisClient {
 public:
  using Callback = std::function<void(absl::StatusOr<RedisReply>)>;

  RedisClient(boost::asio::any_io_executor executor, RedisEndpoint endpoint,
              RedisOptions options = {});
  // Drops the connection; callbacks of pending commands never run.
  ~RedisClient();
  RedisClient(const RedisClient&) = delete;
  RedisClient& operator=(const RedisClient&) = delete;

  // Connects, and from then on keeps reconnecting after any failure or lost connection until
  // Stop(). A connection counts as established when the server has answered the handshake:
  // AUTH (when a password is set), SELECT (when db != 0) and PING, pipelined. A refused AUTH or
  // SELECT, or a PING answered with an error (LOADING), is a failed connection attempt. Calling
  // Start() again is a no-op.
  void Start();

  // Stops for good: drops the connection (pending commands fail with Unavailable), stops
  // reconnecting; later commands fail with Unavailable.
  void Stop();

  // Sends one command, e.g. {"SET", key, value}; arguments are binary-safe. `done` gets the reply
  // (a Redis error reply is a RedisReply of type kError, not a failed status), or
  //   Unavailable         when not connected, or the connection was lost before the reply;
  //   DeadlineExceeded    when command_timeout passed without a reply;
  //   InvalidArgument     for no arguments, a command that would break request/reply
  //                       matching (SUBSCRIBE and the other pub/sub commands, MONITOR, HELLO,
  //                       CLIENT REPLY), or one that would change the endpoint's database
  //                       behind the client's back (SELECT, RESET).
  // When the deadline passes, the other commands in flight fail with Unavailable: the connection
  // is dropped and re-established. Commands issued one after the other without returning to the
  // executor are written together (pipelined); replies arrive, and callbacks run, in the order
  // of the commands. A blocking command (BLPOP ...) must block for less than command_timeout.
  // Call it from the executor's thread; `args` is copied (into hiredis' buffer) before it returns.
  void Command(const std::vector<std::string>& args, Callback done);

  // Command() for coroutines: co_await client.Await(Command("GET", key)) (store/command.h: GCC 12
  // cannot compile a braced list of strings inside a coroutine). Sent when awaited; the
  // coroutine must run on the client's executor. If the client is destroyed first, the
  // coroutine is destroyed without being resumed.
  boost::asio::awaitable<absl::StatusOr<RedisReply>> Await(std::vector<std::string> args);

  // True between the handshake's answer and the loss of the connection (or Stop()).
  bool connected() const;

  // Posted after each successful (re)connect, once the handshake is answered; runs only if the
  // connection is still up then. Callers reload their scripts and flush their queues here.
  void SetConnectedCallback(std::function<void()> callback);

  // Connection-state messages ("connected to ...", "lost connection to ...: reason; retrying in
  // N ms", "cannot connect to ...: reason; retrying in N ms"). Called synchronously on the
  // executor's thread, possibly from inside hiredis: it must not call into the client.
  void SetLogger(std::function<void(std::string_view)> logger);

  const RedisEndpoint& endpoint() const { return endpoint_; }

 private:
  struct Connection;
  struct Pending;
  struct AwaitInitiation;
  enum class State { kIdle, kConnecting, kConnected, kBackoff, kStopped };

  static void OnReply(redisAsyncContext* ac, void* reply, void* privdata);
  static void OnCleanup(void* data);
  void Connect();
  void Send(Connection& conn, const std::vector<std::string>& args,
            std::unique_ptr<Pending> pending);
  void HandshakeReply(Connection& conn, const Pending& pending, const void* reply);
  void ArmDeadline(const std::shared_ptr<Connection>& conn);
  void OnDeadline(const std::shared_ptr<Connection>& conn);
  void Drop(Connection& conn, const std::string& reason);
  void OnClosed(Connection& conn);
  void ScheduleRetry(const std::string& what);
  void Deliver(Callback done, absl::StatusOr<RedisReply> result);
  void Log(const std::string& message) const;

  boost::asio::any_io_executor executor_;
  RedisEndpoint endpoint_;
  RedisOptions options_;
  State state_ = State::kIdle;
  // The current (or last) connection; replaced only by the next attempt, never from inside
  // hiredis, so that hiredis' hooks never see it destroyed.
  std::shared_ptr<Connection> conn_;
  boost::asio::steady_timer retry_timer_;
  std::chrono::milliseconds backoff_;
  std::minstd_rand random_;
  std::function<void()> connected_callback_;
  std::function<void(std::string_view)> logger_;
  // Shared with posted callbacks and timer handlers so they can tell that the client is gone.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace stswatch::store
