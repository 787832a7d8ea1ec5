#include "api/redis_ops.h"

#include <cstddef>
#include <memory>
#include <type_traits>
#include <utility>

#include <boost/asio/async_result.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <openssl/sha.h>

#include "store/command.h"

namespace stswatch::api {
namespace {

using Replies = std::vector<absl::StatusOr<store::RedisReply>>;

// "HGET stswatch:tenants", "EVALSHA stswatch:{p3}:watch": the command and its key, for messages.
std::string Describe(const std::vector<std::string>& command) {
  if (command.empty()) {
    return "(no command)";
  }
  // A script's first argument is its hash or its source: the key comes third.
  const std::size_t key = (command[0] == "EVALSHA" || command[0] == "EVAL") ? 3 : 1;
  return key < command.size() ? command[0] + " " + command[key] : command[0];
}

// Issues every command at once; the handler gets every result once the last callback ran.
struct BatchInitiation {
  template <typename Handler>
  void operator()(Handler&& handler, store::RedisClient* client,
                  const std::vector<std::vector<std::string>>* commands) const {
    struct State {
      explicit State(Handler&& h, std::size_t n)
          : handler(std::forward<Handler>(h)),
            results(n, absl::UnknownError("no reply")),
            remaining(n) {}
      std::decay_t<Handler> handler;
      Replies results;
      std::size_t remaining;
    };
    auto state = std::make_shared<State>(std::forward<Handler>(handler), commands->size());
    for (std::size_t i = 0; i < commands->size(); ++i) {
      // NOLINTNEXTLINE(performance-unnecessary-value-param): it is moved.
      client->Command((*commands)[i], [state, i](absl::StatusOr<store::RedisReply> reply) {
        state->results[i] = std::move(reply);
        if (--state->remaining == 0) {
          std::move(state->handler)(std::move(state->results));
        }
      });
    }
  }
};

// Every command gets a reply or a failure. The commands are issued (copied into hiredis' buffer)
// when the result is awaited; `commands` must live until then.
boost::asio::awaitable<Replies> Batch(store::RedisClient& client,
                                      const std::vector<std::vector<std::string>>& commands) {
  return boost::asio::async_initiate<decltype(boost::asio::use_awaitable), void(Replies)>(
      BatchInitiation{}, boost::asio::use_awaitable, &client, &commands);
}

std::vector<std::string> ScriptCommand(const std::string& verb, const std::string& script,
                                       const ScriptCall& call) {
  std::vector<std::string> args;
  args.reserve(4 + call.more_keys.size() + call.args.size());
  args.push_back(verb);
  args.push_back(script);
  args.push_back(std::to_string(1 + call.more_keys.size()));
  args.push_back(call.key);
  args.insert(args.end(), call.more_keys.begin(), call.more_keys.end());
  args.insert(args.end(), call.args.begin(), call.args.end());
  return args;
}

bool IsNoScript(const absl::StatusOr<store::RedisReply>& reply) {
  return reply.ok() && reply->type == store::RedisReply::Type::kError &&
         reply->str.starts_with("NOSCRIPT");
}

}  // namespace

absl::Status CheckReply(const absl::StatusOr<store::RedisReply>& reply,
                        const std::vector<std::string>& command) {
  if (!reply.ok()) {
    return absl::UnavailableError("Redis " + Describe(command) +
                                  " failed: " + std::string(reply.status().message()));
  }
  if (reply->type == store::RedisReply::Type::kError) {
    return absl::UnavailableError("Redis " + Describe(command) + " failed: " + reply->str);
  }
  return absl::OkStatus();
}

boost::asio::awaitable<absl::StatusOr<store::RedisReply>> Run(store::RedisClient& client,
                                                              std::vector<std::string> command) {
  absl::StatusOr<store::RedisReply> reply = co_await client.Await(command);
  if (absl::Status s = CheckReply(reply, command); !s.ok()) {
    co_return s;
  }
  co_return reply;
}

boost::asio::awaitable<absl::StatusOr<std::vector<store::RedisReply>>> Pipeline(
    store::RedisClient& client, std::vector<std::vector<std::string>> commands) {
  std::vector<store::RedisReply> out;
  if (commands.empty()) {
    co_return out;
  }
  Replies replies = co_await Batch(client, commands);
  out.reserve(replies.size());
  for (std::size_t i = 0; i < replies.size(); ++i) {
    if (absl::Status s = CheckReply(replies[i], commands[i]); !s.ok()) {
      co_return s;
    }
    out.push_back(*std::move(replies[i]));
  }
  co_return out;
}

RedisScript::RedisScript(std::string source) : source_(std::move(source)) {
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(source_.data()), source_.size(), digest);
  constexpr char kHex[] = "0123456789abcdef";
  sha1_.reserve(std::size_t{2} * SHA_DIGEST_LENGTH);
  for (const unsigned char b : digest) {
    sha1_ += kHex[b >> 4];
    sha1_ += kHex[b & 0xF];
  }
}

boost::asio::awaitable<absl::StatusOr<std::vector<store::RedisReply>>> RunScript(
    store::RedisClient& client, const RedisScript& script, std::vector<ScriptCall> calls) {
  std::vector<store::RedisReply> out;
  if (calls.empty()) {
    co_return out;
  }
  std::vector<std::vector<std::string>> commands;
  commands.reserve(calls.size());
  for (const ScriptCall& call : calls) {
    commands.push_back(ScriptCommand("EVALSHA", script.sha1(), call));
  }
  Replies replies = co_await Batch(client, commands);
  // A call answered NOSCRIPT did not run: send those again with the script's source.
  std::vector<std::size_t> missing;
  std::vector<std::vector<std::string>> again;
  for (std::size_t i = 0; i < replies.size(); ++i) {
    if (IsNoScript(replies[i])) {
      missing.push_back(i);
      again.push_back(ScriptCommand("EVAL", script.source(), calls[i]));
    }
  }
  if (!again.empty()) {
    Replies retried = co_await Batch(client, again);
    for (std::size_t j = 0; j < missing.size(); ++j) {
      commands[missing[j]] = std::move(again[j]);
      replies[missing[j]] = std::move(retried[j]);
    }
  }
  out.reserve(replies.size());
  for (std::size_t i = 0; i < replies.size(); ++i) {
    if (absl::Status s = CheckReply(replies[i], commands[i]); !s.ok()) {
      co_return s;
    }
    out.push_back(*std::move(replies[i]));
  }
  co_return out;
}

}  // namespace stswatch::api
