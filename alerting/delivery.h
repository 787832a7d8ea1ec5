#pragma once

// Deliveries: one notification on its way to one channel. The alerter renders a notification
// once per channel (the same bytes on every attempt: same Message-ID, same webhook body and
// delivery_id), stores the delivery in Redis together with the acknowledgement of the event that
// caused it, and attempts it until it succeeds or its retry time is used up (then it becomes a
// dead letter).
//
// Pure: no I/O, no clock, no randomness (the caller passes the time and a random number).

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "alerting/render.h"
#include "alerting/rules.h"
#include "alerting/settings.h"

namespace stswatch::alerting {

struct Delivery {
  // "<tenant>/<channel>/<alert id>.<sequence>": unique, and the same if the notification is
  // computed again after a restart.
  std::string id;
  std::string tenant;
  std::string channel;
  ChannelType type = ChannelType::kEmail;
  std::string alert_id;
  std::uint32_t sequence = 0;
  NotificationKind kind = NotificationKind::kNotice;
  Severity severity = Severity::kInfo;
  std::string domain;
  std::string problem_key;
  std::string summary;
  // kEmail: the envelope sender and the whole message (EmailMessage::data); kWebhook: the body.
  std::string mail_from;
  std::vector<std::string> recipients;
  std::string payload;
  std::int64_t created_ms = 0;  // When the notification was made (Unix ms).
  std::int64_t next_ms = 0;     // When to attempt it next.
  std::uint32_t attempts = 0;   // Attempts made so far.
  std::string last_error;       // Why the last attempt failed.

  bool operator==(const Delivery&) const = default;
};

std::string DeliveryToJson(const Delivery& delivery);
absl::StatusOr<Delivery> DeliveryFromJson(std::string_view json);

// The deliveries of one notification: one per channel of `settings` that takes it (its
// severity at least the channel's minimum). `email` gives From and the site name.
std::vector<Delivery> PlanDeliveries(const Notification& notification,
                                     const AlertSettings& settings, const EmailSettings& email,
                                     Time now);

struct RetryOptions {
  std::chrono::milliseconds initial{30000};    // Before the second attempt.
  std::chrono::milliseconds maximum{3600000};  // The delay doubles up to this.
  // A delivery still failing this long after it was made becomes a dead letter.
  std::chrono::milliseconds give_up_after{std::chrono::hours(24)};
};

// The delay before the next attempt after `attempts` failed ones (1, 2, ...): initial × 2^(n-1),
// capped at maximum, then "equal jitter": half of it fixed and half scaled by `unit_random` in
// [0, 1), so that many deliveries failing together do not retry together.
std::chrono::milliseconds RetryDelay(std::uint32_t attempts, const RetryOptions& options,
                                     double unit_random);

// Per-channel rate limits: a token bucket per key ("<tenant>/<channel>") holding up to
// max(1, max_per_hour / 10) tokens, refilled at max_per_hour per hour.
class RateLimiter {
 public:
  // Takes a token if there is one. Otherwise false, and `retry_at` is when there will be one.
  bool TryTake(const std::string& key, std::uint32_t max_per_hour, Time now, Time* retry_at);

 private:
  struct Bucket {
    double tokens = 0;
    Time updated;
  };
  std::map<std::string, Bucket> buckets_;
};

}  // namespace stswatch::alerting
