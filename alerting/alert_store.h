#pragma once

// What alerting keeps in Redis (alerting/README.md documents the keys for people):
//
//   <prefix>:alert:settings        hash    tenant -> AlertSettings JSON (set through the API)
//   <prefix>:alert:settings_version string counter, bumped by every change of the settings
//   <prefix>:alert:books           hash    "<tenant>/<partition>" -> AlertBook JSON (the
//                                          alerter's state, one book per tenant and partition)
//   <prefix>:alert:deliveries      hash    delivery id -> Delivery JSON, until done with
//   <prefix>:alert:queue           zset    delivery id -> when to attempt it next (Unix ms)
//   <prefix>:alert:sent:<tenant>   stream  deliveries that succeeded (the last 1000)
//   <prefix>:alert:dead:<tenant>   stream  dead letters: deliveries given up (the last 1000)
//   <prefix>:alert:stats           hash    counters: delivered, retries, dead
//   <prefix>:lease:alerter, <prefix>:epoch:alerter: the one active alerter
//
// and the consumer group "alerter" on every partition's events stream. These keys carry no hash
// tag: the commit script touches several of them, so alerting needs a single Redis node (or the
// keys in one slot) — unlike the per-domain state.
//
// Threading: the client's executor, one thread; the coroutines must run on it.

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "absl/status/statusor.h"
#include "alerting/delivery.h"
#include "alerting/settings.h"
#include "store/redis_client.h"

namespace stswatch::alerting {

class AlertKeys {
 public:
  explicit AlertKeys(std::string prefix = "stswatch") : prefix_(std::move(prefix)) {}
  std::string Settings() const { return prefix_ + ":alert:settings"; }
  // A counter bumped by every SetSettings: the alerter re-reads the settings when it moves.
  std::string SettingsVersion() const { return prefix_ + ":alert:settings_version"; }
  std::string Books() const { return prefix_ + ":alert:books"; }
  std::string Deliveries() const { return prefix_ + ":alert:deliveries"; }
  std::string Queue() const { return prefix_ + ":alert:queue"; }
  std::string Sent(std::string_view tenant) const {
    return prefix_ + ":alert:sent:" + std::string(tenant);
  }
  std::string Dead(std::string_view tenant) const {
    return prefix_ + ":alert:dead:" + std::string(tenant);
  }
  std::string Stats() const { return prefix_ + ":alert:stats"; }
  std::string Lease() const { return prefix_ + ":lease:alerter"; }
  std::string Epoch() const { return prefix_ + ":epoch:alerter"; }

 private:
  std::string prefix_;
};

// A tenant's alert state is kept in one book per partition of the key space, so that a batch of
// events rewrites the state of the domains it concerns, not every domain of a tenant with
// 100 000: "<tenant>/<partition>".
std::string BookKey(std::string_view tenant, int partition);
std::string TenantOfBook(std::string_view key);

// A flat array of field/value pairs (HGETALL, a stream entry's fields) as a map; empty for any
// other reply.
std::map<std::string, std::string> FieldPairs(const store::RedisReply& reply);

// A batch for Commit: alert states to store, deliveries to queue, events to acknowledge.
struct CommitBatch {
  std::map<std::string, std::string> books;  // BookKey -> AlertBook JSON
  std::vector<Delivery> deliveries;
  std::vector<std::pair<std::string, std::string>> acks;  // (stream key, entry id)
};

enum class Outcome { kDelivered, kRetry, kDead };

// A finished delivery as the logs keep it (sent or dead letters).
struct DeliveryRecord {
  std::string entry_id;      // The stream entry's id.
  std::int64_t time_ms = 0;  // When it was delivered or given up.
  std::string reason;        // Dead letters: why it was given up; sent: the server's answer.
  Delivery delivery;
};

class AlertStore {
 public:
  AlertStore(store::RedisClient& client, AlertKeys keys)
      : client_(client), keys_(std::move(keys)) {}

  const AlertKeys& keys() const { return keys_; }

  // A tenant's settings; DefaultSettings(tenant) when none were stored.
  boost::asio::awaitable<absl::StatusOr<AlertSettings>> GetSettings(std::string tenant);
  boost::asio::awaitable<absl::Status> SetSettings(AlertSettings settings);
  // The settings version ("" before the first SetSettings).
  boost::asio::awaitable<absl::StatusOr<std::string>> SettingsVersion();
  // Every tenant's stored settings (a stored value that does not parse is skipped, with its
  // error in `errors`).
  boost::asio::awaitable<absl::StatusOr<std::map<std::string, AlertSettings>>> AllSettings(
      std::vector<std::string>* errors);

  // Every stored book (BookKey -> JSON), and a tenant's books of `partitions` partitions (the
  // JSON of those that exist).
  boost::asio::awaitable<absl::StatusOr<std::map<std::string, std::string>>> AllBooks();
  boost::asio::awaitable<absl::StatusOr<std::vector<std::string>>> TenantBooks(std::string tenant,
                                                                               int partitions);

  // Every delivery not done with (unparsable ones are skipped, with their errors in `errors`).
  boost::asio::awaitable<absl::StatusOr<std::vector<Delivery>>> PendingDeliveries(
      std::vector<std::string>* errors);

  // Stores the batch atomically, if `lease_value` still holds the lease: FailedPrecondition
  // ("LEASE_LOST ...") otherwise. Deliveries already stored (same id) are left as they are.
  boost::asio::awaitable<absl::Status> Commit(std::string lease_value, std::string group,
                                              CommitBatch batch);

  // Records an attempt's outcome (the delivery as updated by the attempt; `reason` for the logs).
  // False when the delivery was already done with.
  boost::asio::awaitable<absl::StatusOr<bool>> RecordOutcome(std::string lease_value,
                                                             Delivery delivery, Outcome outcome,
                                                             std::int64_t now_ms,
                                                             std::string reason);

  // The newest `count` dead letters (or sent deliveries) of a tenant, newest first.
  boost::asio::awaitable<absl::StatusOr<std::vector<DeliveryRecord>>> DeadLetters(
      std::string tenant, int count);
  boost::asio::awaitable<absl::StatusOr<std::vector<DeliveryRecord>>> Sent(std::string tenant,
                                                                           int count);

 private:
  boost::asio::awaitable<absl::StatusOr<std::vector<DeliveryRecord>>> Log(std::string key,
                                                                          int count);

  store::RedisClient& client_;
  AlertKeys keys_;
};

}  // namespace stswatch::alerting
