#pragma once

// RedisStateStore: the SnapshotStore on Redis. Each write runs the update script
// (store/update_state.lua) with EVALSHA: a check that finds the stored state unchanged costs one
// EVALSHA (which runs HMGET and HSET: three commands in INFO commandstats); a changed state costs
// a second EVALSHA that writes the state, the events and the history atomically after the store
// has diffed the stored snapshot against the new one (drift/events.h).
//
// Nothing is lost while Redis is away: results wait in memory (one per domain: a newer result
// for a domain supersedes an older one not yet written, since the diff is against the stored
// state anyway) and are written when the client reconnects.
//
// Threading: the client's executor; every method on its thread. Callbacks run on it too. The
// client must outlive the store; destroying the store drops what is pending without calling back.

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>

#include <boost/asio/steady_timer.hpp>

#include "common/time_source.h"
#include "store/keys.h"
#include "store/redis_client.h"
#include "store/snapshot_store.h"

namespace stswatch::store {

struct StateStoreOptions {
  KeySchema keys;
  // Update scripts in flight at once (pipelined on the one connection).
  int max_in_flight = 256;
  // Per-domain history: at most this many entries, none older than history_retention.
  int history_max = 1000;
  std::chrono::hours history_retention{24 * 90};
  // Per-partition events stream: about this many entries (trimmed with MAXLEN ~).
  int events_max = 100000;
  // Wait before retrying after Redis answered with an error (not a lost connection).
  std::chrono::milliseconds retry_delay{1000};
};

struct StateStoreCounters {
  std::uint64_t unchanged = 0;
  std::uint64_t applied = 0;
  std::uint64_t refused = 0;
  std::uint64_t superseded = 0;
  std::uint64_t events = 0;
  std::uint64_t retries = 0;  // Attempts that failed and were retried.
};

class RedisStateStore final : public SnapshotStore {
 public:
  RedisStateStore(const boost::asio::any_io_executor& executor, RedisClient& client,
                  StateStoreOptions options, const TimeSource& clock);
  ~RedisStateStore() override;

  void Write(CheckResult result, Callback done) override;

  // Sends what waits. Call it when the client (re)connects.
  void Flush();

  // Results taken and not yet written (or refused).
  std::size_t pending() const { return entries_.size(); }
  const StateStoreCounters& counters() const { return counters_; }

  // Optional: told about errors Redis returned (a script failing, OOM, CROSSSLOT...).
  void SetLogger(std::function<void(std::string_view)> logger) { logger_ = std::move(logger); }

  // The update script's source and SHA-1 (for EVALSHA).
  static const std::string& Script();
  static const std::string& ScriptSha();

 private:
  struct Entry;
  void Pump();
  void Attempt(const std::string& domain);
  void Send(const std::string& domain, std::vector<std::string> args, bool apply);
  void OnReply(const std::string& domain, std::vector<std::string> args, bool apply,
               absl::StatusOr<RedisReply> reply);
  void Finish(const std::string& domain, const WriteResult& result);
  void Retry(const std::string& domain, bool later);
  void Retry(bool later);
  std::vector<std::string> Args(const Entry& entry, std::string_view op) const;

  RedisClient& client_;
  StateStoreOptions options_;
  const TimeSource& clock_;
  std::unordered_map<std::string, std::unique_ptr<Entry>> entries_;
  std::deque<std::string> ready_;
  int in_flight_ = 0;
  boost::asio::steady_timer retry_timer_;
  bool retry_armed_ = false;
  StateStoreCounters counters_;
  std::function<void(std::string_view)> logger_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace stswatch::store
