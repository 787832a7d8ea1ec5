#include "scheduler/lease.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <limits>
#include <random>
#include <utility>
#include <vector>

#include <boost/asio/post.hpp>

namespace stswatch::scheduler {
namespace {

using store::RedisReply;

// The scripts are sent with EVAL, not EVALSHA: one small script every renew_interval costs
// nothing, and EVAL cannot fail with NOSCRIPT after a SCRIPT FLUSH or a restarted Redis.
// Values are "<holder>|<epoch>"; the holder is everything before the last '|'.

// KEYS: lease, epoch counter. ARGV: holder, duration (ms), the highest epoch this contender held
// (0: none). Returns {1, epoch} when the lease is ours, {0, holder, epoch, pttl} when it is not.
constexpr char kAcquireScript[] = R"lua(
local value = redis.call('GET', KEYS[1])
if value then
  local holder, epoch = string.match(value, '^(.*)|(%d+)$')
  if holder ~= ARGV[1] then
    return {0, holder or value, tonumber(epoch or '0'), redis.call('PTTL', KEYS[1])}
  end
  -- Ours, from an acquisition whose reply was lost: keep it. Ours with an epoch we held and lost:
  -- take a new epoch below, so that the epoch grows with every acquisition.
  if tonumber(epoch) > tonumber(ARGV[3]) then
    redis.call('PEXPIRE', KEYS[1], ARGV[2])
    return {1, tonumber(epoch)}
  end
end
local epoch = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], ARGV[1] .. '|' .. epoch, 'PX', ARGV[2])
return {1, epoch}
)lua";

// KEYS: lease. ARGV: our value, duration (ms). Returns {1}, or {0, value ('' if none), pttl}.
constexpr char kRenewScript[] = R"lua(
local value = redis.call('GET', KEYS[1])
if value == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return {1}
end
return {0, value or '', redis.call('PTTL', KEYS[1])}
)lua";

// KEYS: lease. ARGV: holder. Deletes the key when its holder is ARGV[1], whatever the epoch.
constexpr char kReleaseScript[] = R"lua(
local value = redis.call('GET', KEYS[1])
if value and string.match(value, '^(.*)|%d+$') == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
)lua";

long long Millis(std::chrono::milliseconds d) { return d.count(); }  // NOLINT(google-runtime-int)

const RedisReply* Element(const RedisReply& reply, std::size_t i) {
  if (reply.type != RedisReply::Type::kArray || i >= reply.elements.size()) {
    return nullptr;
  }
  return &reply.elements[i];
}

std::optional<long long> Integer(const RedisReply* r) {  // NOLINT(google-runtime-int)
  if (r == nullptr || r->type != RedisReply::Type::kInteger) {
    return std::nullopt;
  }
  return r->integer;
}

// What went wrong with a reply, for the log; empty when it is a well-formed array.
std::string ReplyProblem(const absl::StatusOr<RedisReply>& reply) {
  if (!reply.ok()) {
    return reply.status().ToString();
  }
  if (reply->type == RedisReply::Type::kError) {
    return "Redis error: " + reply->str;
  }
  if (reply->type != RedisReply::Type::kArray || reply->elements.empty()) {
    return "unexpected reply: " + reply->DebugString();
  }
  return "";
}

// "b:7:1f2e..." from "b:7:1f2e...|12".
std::string HolderOf(const std::string& value) {
  const std::size_t bar = value.rfind('|');
  return bar == std::string::npos ? value : value.substr(0, bar);
}

}  // namespace

std::string DefaultLeaseHolderId() {
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) != 0 || host[0] == '\0') {
    std::snprintf(host, sizeof host, "unknown");
  }
  std::random_device device;
  const std::uint64_t random = (static_cast<std::uint64_t>(device()) << 32) ^ device();
  char suffix[64];
  std::snprintf(suffix, sizeof suffix, ":%ld:%016llx", static_cast<long>(getpid()),  // NOLINT
                static_cast<unsigned long long>(random));                            // NOLINT
  return std::string(host) + suffix;
}

SchedulerLease::SchedulerLease(const boost::asio::any_io_executor& executor,
                               store::RedisClient& client, LeaseOptions options)
    : client_(client),
      options_(std::move(options)),
      attempt_timer_(executor),
      deadline_timer_(executor) {
  using std::chrono::milliseconds;
  LeaseOptions& o = options_;
  if (o.holder.empty()) {
    o.holder = DefaultLeaseHolderId();
  }
  o.duration = std::max(o.duration, milliseconds(10));
  if (o.safety_margin <= milliseconds(0)) {
    o.safety_margin = o.duration / 5;
  }
  o.safety_margin = std::clamp(o.safety_margin, milliseconds(1), o.duration / 2);
  if (o.renew_interval <= milliseconds(0)) {
    o.renew_interval = o.duration / 3;
  }
  // At least one renewal must fit before the deadline.
  o.renew_interval =
      std::clamp(o.renew_interval, milliseconds(1), o.duration - o.safety_margin - milliseconds(1));
  if (o.retry_delay <= milliseconds(0)) {
    o.retry_delay = std::min(o.renew_interval, o.duration / 10);
  }
  o.retry_delay = std::max(o.retry_delay, milliseconds(1));
}

SchedulerLease::~SchedulerLease() { *alive_ = false; }

void SchedulerLease::Start() {
  if (state_ != State::kIdle) {
    return;
  }
  state_ = State::kStandby;
  Attempt();
}

void SchedulerLease::Stop(std::function<void()> done) {
  const bool started = state_ != State::kIdle && state_ != State::kStopped;
  const bool was_holding = state_ == State::kHolding;
  state_ = State::kStopped;
  ++generation_;
  in_flight_ = false;
  attempt_timer_.cancel();
  deadline_timer_.cancel();
  if (!started) {
    if (done) {
      boost::asio::post(attempt_timer_.get_executor(), [alive = alive_, done = std::move(done)] {
        if (*alive) {
          done();
        }
      });
    }
    return;
  }
  // Also when not holding: an acquisition may be in flight, or a lost lease may still be ours.
  if (was_holding) {
    Log("releasing the lease " + options_.key + " (epoch " + std::to_string(epoch_) + ")");
  }
  client_.Command(
      {"EVAL", kReleaseScript, "1", options_.key, options_.holder},
      [this, alive = alive_, done = std::move(done)](const absl::StatusOr<RedisReply>& reply) {
        if (!*alive) {
          return;
        }
        if (!reply.ok() || reply->type == RedisReply::Type::kError) {
          Log("cannot release the lease " + options_.key +
              " (it will expire): " + (reply.ok() ? reply->str : reply.status().ToString()));
        }
        if (done) {
          done();
        }
      });
}

bool SchedulerLease::holding() const {
  return state_ == State::kHolding && Clock::now() < deadline_;
}

void SchedulerLease::Attempt() {
  if (in_flight_) {
    return;  // Its reply (or its failure) schedules the next attempt.
  }
  if (state_ == State::kStandby) {
    SendAcquire();
  } else if (state_ == State::kHolding) {
    if (Clock::now() >= deadline_) {
      Lose("no renewal was answered before the renewal deadline");
      return;
    }
    SendRenew();
  }
}

void SchedulerLease::SendAcquire() {
  in_flight_ = true;
  const Clock::time_point sent = Clock::now();
  client_.Command({"EVAL", kAcquireScript, "2", options_.key, options_.epoch_key, options_.holder,
                   std::to_string(Millis(options_.duration)), std::to_string(last_held_epoch_)},
                  [this, alive = alive_, generation = generation_,
                   sent](const absl::StatusOr<RedisReply>& reply) {
                    if (!*alive || generation != generation_) {
                      return;
                    }
                    in_flight_ = false;
                    OnAcquireReply(sent, reply);
                  });
}

void SchedulerLease::SendRenew() {
  in_flight_ = true;
  const Clock::time_point sent = Clock::now();
  client_.Command(
      {"EVAL", kRenewScript, "1", options_.key, Value(), std::to_string(Millis(options_.duration))},
      [this, alive = alive_, generation = generation_,
       sent](const absl::StatusOr<RedisReply>& reply) {
        if (!*alive || generation != generation_) {
          return;
        }
        in_flight_ = false;
        OnRenewReply(sent, reply);
      });
}

void SchedulerLease::OnAcquireReply(Clock::time_point sent,
                                    const absl::StatusOr<RedisReply>& reply) {
  if (const std::string problem = ReplyProblem(reply); !problem.empty()) {
    Log("cannot acquire the lease " + options_.key + ": " + problem);
    ScheduleAttempt(Clock::now() + options_.retry_delay);
    return;
  }
  const auto ours = Integer(Element(*reply, 0));
  if (ours == 1) {
    const auto epoch = Integer(Element(*reply, 1));
    if (!epoch || *epoch <= 0 || *epoch > std::numeric_limits<std::uint32_t>::max()) {
      Log("cannot acquire the lease " + options_.key + ": epoch out of range in " +
          reply->DebugString());
      ScheduleAttempt(Clock::now() + options_.renew_interval);
      return;
    }
    Hold(static_cast<std::uint32_t>(*epoch), sent);
    return;
  }
  const RedisReply* id = Element(*reply, 1);
  const auto epoch = Integer(Element(*reply, 2));
  const auto ttl = Integer(Element(*reply, 3));
  if (ours != 0 || id == nullptr || !epoch || !ttl) {
    Log("cannot acquire the lease " + options_.key + ": unexpected reply " + reply->DebugString());
    ScheduleAttempt(Clock::now() + options_.retry_delay);
    return;
  }
  LeaseHolder seen{id->str,
                   static_cast<std::uint32_t>(std::clamp<long long>(  // NOLINT
                       *epoch, 0, std::numeric_limits<std::uint32_t>::max())),
                   std::chrono::milliseconds(*ttl)};
  if (!other_ || other_->id != seen.id || other_->epoch != seen.epoch) {
    Log("standby: the lease " + options_.key + " is held by " + seen.id + " (epoch " +
        std::to_string(seen.epoch) + ") for another " + std::to_string(*ttl) + " ms");
  }
  // Try again when it would expire, if that is sooner than the next regular attempt.
  auto wait = options_.renew_interval;
  if (seen.ttl >= std::chrono::milliseconds(0)) {
    wait = std::clamp(seen.ttl, std::chrono::milliseconds(1), wait);
  }
  other_ = std::move(seen);
  ScheduleAttempt(Clock::now() + wait);
}

void SchedulerLease::Hold(std::uint32_t epoch, Clock::time_point sent) {
  other_.reset();
  last_held_epoch_ = std::max(last_held_epoch_, epoch);
  const Clock::time_point deadline = sent + options_.duration - options_.safety_margin;
  if (Clock::now() >= deadline) {
    // Too late to act on: the next attempt takes it again with a new epoch.
    Log("acquired the lease " + options_.key + " (epoch " + std::to_string(epoch) +
        ") too late to use it; trying again");
    ScheduleAttempt(Clock::now());
    return;
  }
  state_ = State::kHolding;
  ++generation_;
  epoch_ = epoch;
  deadline_ = deadline;
  ArmDeadline();
  ScheduleAttempt(sent + options_.renew_interval);
  Log("acquired the lease " + options_.key + " as " + options_.holder + " (epoch " +
      std::to_string(epoch) + ")");
  if (on_acquired_) {
    on_acquired_(epoch);
  }
}

void SchedulerLease::OnRenewReply(Clock::time_point sent, const absl::StatusOr<RedisReply>& reply) {
  if (Clock::now() >= deadline_) {
    Lose("no renewal was answered before the renewal deadline");
    return;
  }
  if (const std::string problem = ReplyProblem(reply); !problem.empty()) {
    Log("cannot renew the lease " + options_.key + ": " + problem);
    ScheduleAttempt(Clock::now() + options_.retry_delay);
    return;
  }
  if (Integer(Element(*reply, 0)) == 1) {
    // Redis moved the expiry to (its receipt >= sent) + duration.
    deadline_ = sent + options_.duration - options_.safety_margin;
    ArmDeadline();
    ScheduleAttempt(std::max(sent + options_.renew_interval, Clock::now()));
    return;
  }
  const RedisReply* value = Element(*reply, 1);
  if (value == nullptr || value->str.empty()) {
    Lose("the lease expired in Redis");
  } else {
    Lose("the lease is held by " + HolderOf(value->str));
  }
}

void SchedulerLease::Lose(const std::string& reason) {
  state_ = State::kStandby;
  ++generation_;
  in_flight_ = false;
  deadline_timer_.cancel();
  Log("lost the lease " + options_.key + " (epoch " + std::to_string(epoch_) + "): " + reason);
  ScheduleAttempt(Clock::now() + options_.renew_interval);
  if (on_lost_) {
    on_lost_(reason);
  }
}

void SchedulerLease::ScheduleAttempt(Clock::time_point at) {
  attempt_timer_.expires_at(at);
  attempt_timer_.async_wait([this, alive = alive_](const boost::system::error_code& ec) {
    if (!*alive || ec) {
      return;
    }
    Attempt();
  });
}

void SchedulerLease::ArmDeadline() {
  deadline_timer_.expires_at(deadline_);
  deadline_timer_.async_wait(
      [this, alive = alive_, generation = generation_](const boost::system::error_code& ec) {
        if (!*alive || ec || generation != generation_ || state_ != State::kHolding) {
          return;
        }
        if (Clock::now() >= deadline_) {
          Lose("no renewal was answered within " +
               std::to_string(Millis(options_.duration - options_.safety_margin)) + " ms");
        } else {
          ArmDeadline();  // A renewal moved the deadline after this wait had completed.
        }
      });
}

std::string SchedulerLease::Value() const { return options_.holder + "|" + std::to_string(epoch_); }

void SchedulerLease::Log(const std::string& message) const {
  if (logger_) {
    logger_(message);
  }
}

}  // namespace stswatch::scheduler
