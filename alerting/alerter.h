#pragma once

// The alerter: reads every partition's drift events through a Redis consumer group, turns them
// into alerts per tenant (AlertBook), and delivers the notifications by e-mail (an SMTP relay)
// and webhooks, with retries, dead letters and per-channel rate limits. Runs inside `stswatch
// serve` and as `stswatch alerter`.
//
// Guarantees:
//   - At least once, deduplicated: an event is acknowledged in the same Redis script that stores
//     the alert state it produced and the deliveries it planned (alerting/commit.lua). After a
//     crash the events not acknowledged are still pending in the group; the next active alerter
//     claims them (XAUTOCLAIM) and processes them again from the stored state, which drops the
//     ones already applied (AlertBook deduplicates by event id).
//   - A delivery stays stored until it succeeded or was given up (a dead letter); an alerter
//     killed mid-delivery attempts it again after restarting. The receiver may then see a
//     notification twice (the attempt in flight may have arrived): the Message-ID and the
//     webhook's delivery_id are the same, for it to drop the second.
//   - One active alerter: a lease in Redis (scheduler::SchedulerLease under its own key); every
//     write checks it, so an alerter that lost it writes nothing.
//   - An alert's notifications reach each channel in order: a later one (resolved) waits while
//     an earlier one (opened) of the same alert is still being retried.
//
// Threading: the io_context's thread; every method on it.

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "alerting/alert_store.h"
#include "alerting/delivery.h"
#include "alerting/render.h"
#include "alerting/rules.h"
#include "alerting/settings.h"
#include "alerting/smtp_sender.h"
#include "alerting/webhook_sender.h"
#include "common/log.h"
#include "common/time_source.h"
#include "prober/address_filter.h"
#include "prober/dns_resolver.h"
#include "scheduler/lease.h"
#include "store/keys.h"
#include "store/redis_client.h"
#include "store/redis_endpoint.h"

namespace stswatch::metrics {
class Metrics;
}  // namespace stswatch::metrics

namespace stswatch::alerting {

// The pseudo-tenant of the operator's own channels (--alert-email-to, --alert-webhook-url): it
// hears about every domain, those of the domains file included.
inline constexpr std::string_view kOperatorTenant = "operator";

struct AlerterOptions {
  store::KeySchema keys;
  std::string group = "alerter";
  // Our consumer name in the group and lease holder id; empty: DefaultLeaseHolderId().
  std::string consumer;
  EmailSettings email;  // From and the site name; `to` comes from each channel.
  // Where e-mail goes; without it, e-mail deliveries fail (and end as dead letters).
  std::optional<SmtpRelayOptions> relay;
  WebhookOptions webhook;
  RetryOptions retry;
  // Events older than this when read are history (AlertBook::OnEvent's `notify` false): the
  // alerts' state follows them, and what is still open is notified once, at the next tick.
  std::chrono::milliseconds catch_up_after{std::chrono::hours(1)};
  // Reminders and deferred notifications are looked for this often.
  std::chrono::milliseconds tick{30000};
  // Tenants' settings are re-read when the API changed them (within a second), and this often.
  std::chrono::milliseconds settings_refresh{60000};
  std::size_t max_in_flight = 16;
  // Entries read per stream at a time (up to partitions × this per batch).
  std::size_t read_count = 256;
  // Channels of the operator (tenant kOperatorTenant), for every domain.
  std::optional<AlertSettings> operator_settings;
  std::chrono::milliseconds lease_duration{10000};
};

class Alerter {
 public:
  // `client` serves the non-blocking commands; the blocking reads of the events streams use a
  // connection of their own to `endpoint`. `resolver`, `tls` (verifying: webhooks and the relay
  // are checked against it) and `filter` (webhook targets) serve the deliveries.
  Alerter(boost::asio::io_context& io, store::RedisClient& client, store::RedisEndpoint endpoint,
          prober::DnsResolver& resolver, boost::asio::ssl::context& tls,
          prober::AddressFilter filter, const TimeSource& clock, Logger& log,
          AlerterOptions options);
  ~Alerter();
  Alerter(const Alerter&) = delete;
  Alerter& operator=(const Alerter&) = delete;

  // Contends for the lease; once held, consumes and delivers until Stop() or the lease is lost.
  void Start();
  // Stops consuming and delivering (attempts in flight finish or are abandoned; either way they
  // are still stored) and releases the lease; `done` runs once released.
  void Stop(std::function<void()> done = nullptr);

  bool active() const { return active_; }  // NOLINT(readability-identifier-naming)

  // Counts notifications and delivery outcomes, and the deliveries pending; nullptr (the
  // default): no metrics. Not owned; set before Start.
  void SetMetrics(metrics::Metrics* metrics) { metrics_ = metrics; }

 private:
  struct Entry {
    std::string stream;
    int partition = 0;
    std::string id;
    std::map<std::string, std::string> fields;  // Empty for an entry deleted since.
  };

  bool Current(std::uint64_t generation) const;
  boost::asio::awaitable<void> Run(std::uint64_t generation);
  boost::asio::awaitable<absl::Status> RunOnce(std::uint64_t generation);
  boost::asio::awaitable<absl::Status> EnsureGroups();
  boost::asio::awaitable<absl::Status> LoadState();
  boost::asio::awaitable<absl::Status> RefreshSettings();
  boost::asio::awaitable<absl::Status> Reclaim(std::uint64_t generation);
  boost::asio::awaitable<absl::Status> Process(std::vector<Entry> entries);
  boost::asio::awaitable<absl::Status> Tick();
  boost::asio::awaitable<absl::Status> Commit(CommitBatch batch);
  boost::asio::awaitable<void> DeliveryLoop(std::uint64_t generation);
  boost::asio::awaitable<void> Attempt(std::uint64_t generation, Delivery delivery);
  boost::asio::awaitable<std::pair<bool, std::string>> Send(const Delivery& delivery,
                                                            bool* permanent);
  boost::asio::awaitable<void> Sleep(std::chrono::milliseconds d);

  // Launches the due deliveries it may; returns when the next one is due (or a second hence).
  std::chrono::milliseconds LaunchDue(std::uint64_t generation);
  const AlertSettings& SettingsOf(const std::string& tenant);
  // The book of a (tenant, partition): BookKey.
  AlertBook& BookOf(const std::string& key);
  void Queue(const Delivery& d);
  void Wake();
  std::vector<Entry> ParseEntries(const store::RedisReply& reply, const std::string& stream,
                                  int partition) const;

  // Logging (not from coroutine bodies: GCC 12 and initializer lists).
  void LogActive(std::uint32_t epoch);
  void LogLost(const std::string& reason);
  void LogProblem(std::string_view event, const std::string& error);
  void LogNotification(const Notification& n, std::size_t deliveries);
  void LogOutcome(const Delivery& d, Outcome outcome, const std::string& detail,
                  std::chrono::milliseconds delay);
  void LogBadEntry(const Entry& e, const std::string& error);

  boost::asio::io_context& io_;
  store::RedisClient& client_;
  store::RedisClient reader_;
  prober::DnsResolver& resolver_;
  boost::asio::ssl::context& tls_;
  prober::AddressFilter filter_;
  const TimeSource& clock_;
  Logger& log_;
  AlerterOptions options_;
  AlertStore store_;
  scheduler::SchedulerLease lease_;
  boost::asio::steady_timer wake_;

  std::uint64_t generation_ = 0;
  bool active_ = false;
  bool stopped_ = false;
  std::string lease_value_;
  bool loaded_ = false;

  std::map<std::string, AlertSettings> settings_;
  std::map<std::string, AlertBook> books_;  // BookKey(tenant, partition) -> book.
  std::map<std::string, Delivery> queue_;   // Delivery id -> delivery not done with.
  std::set<std::string> in_flight_;
  RateLimiter limiter_;
  std::set<std::string> limited_logged_;
  std::chrono::steady_clock::time_point next_tick_;
  std::chrono::steady_clock::time_point next_settings_;
  std::string settings_version_;
  std::uint64_t random_state_;
  metrics::Metrics* metrics_ = nullptr;
};

}  // namespace stswatch::alerting
