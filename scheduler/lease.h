#pragma once

// SchedulerLease: elects the one active scheduler through a lease in Redis. The lease is a key,
// "stswatch:lease:scheduler" = "<holder>|<epoch>", with a time to live; the epoch comes from a
// counter, "stswatch:epoch:scheduler", that only ever grows (INCR). The holder stamps every
// dispatch with store::FencingToken(epoch, sequence), so whatever an earlier holder still has in
// flight carries older tokens and is refused by the store.
//
// Protocol (each step one Lua script, so atomic in Redis):
//   - Acquire, while not holding, every renew_interval (sooner when the lease seen will expire
//     sooner): if the key is absent, INCR the epoch counter and SET the key PX duration; that
//     epoch is ours. If it is ours (an acquisition whose reply we never got), PEXPIRE it and keep
//     its epoch — unless it carries an epoch we already held and lost, in which case it is taken
//     again with a new epoch, so that the epoch grows across every (re)acquisition. Otherwise
//     the holder and its remaining time are reported (other_holder()).
//   - Renew, while holding, every renew_interval: PEXPIRE the key only if its value is still ours.
//     A renewal that finds another value (another holder, or no key at all) loses the lease.
//   - Release, on Stop(): DEL the key only if ours, so that a standby takes over at its next
//     attempt instead of waiting for the key to expire.
//
// Timing: why a holder stops acting before anyone else can acquire. Let `send` be the time, by
// our own steady clock, at which the last successful acquisition or renewal was sent. Redis
// received it at some `receive` >= send and set the key to expire at receive + duration, by its
// own clock; no one else can acquire before that. We declare the lease lost at
//
//     deadline = send + duration - safety_margin,
//
// by our own clock, whatever happens: the loss timer is independent of replies, so a Redis that
// hangs (SIGSTOP, a partition, a stuck connection) cannot keep us active; holding() reads the
// clock and turns false at the deadline even before the OnLost callback has run. Since
// deadline < send + duration <= receive + duration, we stop acting before the key can expire,
// with safety_margin to spare for the two clocks running at different rates (it covers a rate
// difference of safety_margin / duration: 20% by default), and for the gap between the deadline
// and the moment the owner actually stops dispatching. Assumptions: Redis' clock does not jump
// forward (an NTP step on the Redis host expires keys early), and the lease's thread is not
// stalled past the deadline. Fencing tokens cover what the timing cannot: dispatches made
// before the loss and still in flight.
//
// Connection: the lease shares the scheduler's RedisClient. A renewal stuck on a dead connection
// is retried (retry_delay later) only once the client gives up on it
// (RedisOptions::command_timeout). For that retry to come before the deadline, keep
// command_timeout + retry_delay below duration - safety_margin - renew_interval: about 3.6 s for
// the default 10 s lease, less than the client's default 5 s.
//
// Threading: the client's executor, one thread; every method (and the destructor) on it. The
// client must outlive the lease. Callbacks run on that thread, never from inside a method of the
// lease; they may call Stop() but must not destroy the lease.
//
// Lifetime: no callback runs after Stop() or after the lease is destroyed. Destroying the lease
// does not release the key (it expires by itself, as for a crashed scheduler): call Stop() first
// for a prompt handover.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>

#include "absl/status/statusor.h"
#include "store/keys.h"
#include "store/redis_client.h"

namespace stswatch::scheduler {

struct LeaseOptions {
  // The lease key and the epoch counter: "stswatch:lease:scheduler" and
  // "stswatch:epoch:scheduler" with store::KeySchema's default prefix.
  std::string key = store::KeySchema().prefix() + ":lease:scheduler";
  std::string epoch_key = store::KeySchema().Epoch("scheduler");
  // Who we are: unique per process, e.g. "host:pid:random". Empty: DefaultLeaseHolderId().
  std::string holder;
  // The key's time to live, set at every acquisition and renewal.
  std::chrono::milliseconds duration{10000};
  // Between renewals while holding, and between attempts to acquire while not. 0: duration / 3.
  std::chrono::milliseconds renew_interval{0};
  // We consider the lease lost this long before it would expire (see Timing). 0: duration / 5.
  std::chrono::milliseconds safety_margin{0};
  // After a renewal or acquisition that failed (Redis unreachable, an error reply), the next
  // attempt comes this much later. 0: min(renew_interval, duration / 10).
  std::chrono::milliseconds retry_delay{0};
};

// The value of `holder` in LeaseOptions when none is given: "<hostname>:<pid>:<16 hex digits>".
std::string DefaultLeaseHolderId();

// Another scheduler's lease, as the last failed acquisition saw it.
struct LeaseHolder {
  std::string id;
  std::uint32_t epoch = 0;
  // Its remaining time to live then; negative when the key has no expiry (set by hand).
  std::chrono::milliseconds ttl{0};
};

class SchedulerLease {
 public:
  using AcquiredCallback = std::function<void(std::uint32_t epoch)>;
  using LostCallback = std::function<void(std::string reason)>;

  // The client is shared (one connection per thread); the lease never starts or stops it.
  // Durations are clamped so that 0 < renew_interval < duration - safety_margin.
  SchedulerLease(const boost::asio::any_io_executor& executor, store::RedisClient& client,
                 LeaseOptions options = {});
  ~SchedulerLease();
  SchedulerLease(const SchedulerLease&) = delete;
  SchedulerLease& operator=(const SchedulerLease&) = delete;

  // Called when we become the active scheduler, with the new epoch (greater than any epoch
  // handed out before, to us or to anyone).
  void SetOnAcquired(AcquiredCallback callback) { on_acquired_ = std::move(callback); }
  // Called when we stop being the active scheduler without Stop(): the renewal deadline passed
  // without a successful renewal, or a renewal found the key gone or someone else's. The owner
  // must stop dispatching at once (holding() is already false). We then contend again as a
  // standby; a later acquisition comes with a new, higher epoch.
  void SetOnLost(LostCallback callback) { on_lost_ = std::move(callback); }
  // Optional: state changes ("acquired ... epoch 3", "lost ...: reason", "standby: ... held by
  // X"), and Redis errors. Called on the executor's thread.
  void SetLogger(std::function<void(std::string_view)> logger) { logger_ = std::move(logger); }

  // Starts contending: the first attempt to acquire is sent now. A second call is a no-op, as is
  // a call after Stop().
  void Start();

  // Stops for good: stops renewing and contending, and releases the key if it is ours (also when
  // an acquisition is still in flight: the release is queued behind it on the connection). No
  // callback runs after it returns (OnLost is not called). `done`, if given, runs once the
  // release was answered or failed (posted; not run if the lease is destroyed first): wait for
  // it before destroying the client if the handover should be prompt.
  void Stop(std::function<void()> done = nullptr);

  // True while we are the active scheduler: acquired, and the renewal deadline not yet passed by
  // the steady clock.
  bool holding() const;
  // The epoch of the current (or last) holding; 0 before the first acquisition.
  std::uint32_t epoch() const { return epoch_; }  // NOLINT(readability-identifier-naming)
  // Another holder seen by the last attempt to acquire; nullopt while holding, before any such
  // attempt, or when the last attempt found the key free.
  const std::optional<LeaseHolder>& other_holder() const { return other_; }  // NOLINT
  const LeaseOptions& options() const { return options_; }

 private:
  using Clock = std::chrono::steady_clock;
  enum class State { kIdle, kStandby, kHolding, kStopped };

  void Attempt();
  void SendAcquire();
  void SendRenew();
  void OnAcquireReply(Clock::time_point sent, const absl::StatusOr<store::RedisReply>& reply);
  void OnRenewReply(Clock::time_point sent, const absl::StatusOr<store::RedisReply>& reply);
  void Hold(std::uint32_t epoch, Clock::time_point sent);
  void Lose(const std::string& reason);
  void ScheduleAttempt(Clock::time_point at);
  void ArmDeadline();
  std::string Value() const;  // "<holder>|<epoch>"
  void Log(const std::string& message) const;

  store::RedisClient& client_;
  LeaseOptions options_;
  State state_ = State::kIdle;
  std::uint32_t epoch_ = 0;
  // The highest epoch we held; an acquisition finding our key with it (or lower) takes a new one.
  std::uint32_t last_held_epoch_ = 0;
  Clock::time_point deadline_{};
  // A script is in flight (at most one at a time); replies of an older generation are ignored.
  bool in_flight_ = false;
  std::uint64_t generation_ = 0;
  std::optional<LeaseHolder> other_;
  boost::asio::steady_timer attempt_timer_;
  boost::asio::steady_timer deadline_timer_;
  AcquiredCallback on_acquired_;
  LostCallback on_lost_;
  std::function<void(std::string_view)> logger_;
  // Shared with replies and timer handlers so they can tell that the lease is gone.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace stswatch::scheduler
