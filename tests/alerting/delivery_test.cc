// Deliveries: one per channel that takes the notification, the same bytes every time, retry
// delays that back off with jitter, and per-channel rate limits that delay but never drop.

#include "alerting/delivery.h"

#include <string>

#include <boost/json/parse.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace stswatch::alerting {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;

constexpr Time kT0 = std::chrono::sys_days{std::chrono::year{2026} / 3 / 1} + 12h;

Notification Critical(NotificationKind kind = NotificationKind::kOpened, std::uint32_t seq = 0) {
  Notification n;
  n.kind = kind;
  n.tenant = "t-1";
  n.alert_id = "0123456789abcdef0123456789abcdef";
  n.sequence = seq;
  n.problem.domain = "example.com";
  n.problem.key = "cert_expiring:mx1.example.com";
  n.problem.severity = Severity::kCritical;
  n.problem.summary = "The certificate of mx1.example.com has expired";
  n.problem.host = "mx1.example.com";
  n.opened_at = kT0;
  n.time = kT0;
  return n;
}

AlertSettings TwoChannels() {
  AlertSettings s = DefaultSettings("t-1");
  Channel mail;
  mail.id = "mail";
  mail.email_to = {"ops@example.net", "oncall@example.net"};
  Channel hook;
  hook.id = "hook";
  hook.type = ChannelType::kWebhook;
  hook.webhook_url = "https://hooks.example.net/x";
  hook.minimum_severity = Severity::kCritical;
  s.channels = {mail, hook};
  return s;
}

EmailSettings From() {
  EmailSettings e;
  e.from = "stswatch <alerts@example.org>";
  return e;
}

TEST(PlanDeliveries, OnePerChannelThatTakesTheNotification) {
  const std::vector<Delivery> ds = PlanDeliveries(Critical(), TwoChannels(), From(), kT0);
  ASSERT_EQ(ds.size(), 2u);
  EXPECT_EQ(ds[0].id, "t-1/mail/0123456789abcdef0123456789abcdef.0");
  EXPECT_EQ(ds[0].mail_from, "alerts@example.org");
  EXPECT_EQ(ds[0].recipients, (std::vector<std::string>{"ops@example.net", "oncall@example.net"}));
  EXPECT_THAT(ds[0].payload,
              HasSubstr("Message-ID: <alert-0123456789abcdef0123456789abcdef.0@stswatch>"));
  EXPECT_THAT(ds[0].payload, HasSubstr("To: ops@example.net, oncall@example.net"));
  EXPECT_EQ(ds[1].id, "t-1/hook/0123456789abcdef0123456789abcdef.0");
  const boost::json::value body = boost::json::parse(ds[1].payload);
  EXPECT_EQ(body.at("delivery_id").as_string(), "0123456789abcdef0123456789abcdef.0");
  EXPECT_EQ(ds[1].created_ms, ds[1].next_ms);

  // A warning does not reach the critical-only webhook.
  Notification warning = Critical();
  warning.problem.severity = Severity::kWarning;
  const std::vector<Delivery> only_mail = PlanDeliveries(warning, TwoChannels(), From(), kT0);
  ASSERT_EQ(only_mail.size(), 1u);
  EXPECT_EQ(only_mail[0].channel, "mail");
}

TEST(PlanDeliveries, SameNotificationSameBytesAndSlackWhenAsked) {
  AlertSettings s = TwoChannels();
  EXPECT_EQ(PlanDeliveries(Critical(), s, From(), kT0), PlanDeliveries(Critical(), s, From(), kT0));
  s.channels[1].webhook_format = WebhookFormat::kSlack;
  const std::vector<Delivery> ds = PlanDeliveries(Critical(), s, From(), kT0);
  EXPECT_TRUE(boost::json::parse(ds[1].payload).as_object().contains("blocks"));
}

TEST(Delivery, JsonRoundTrip) {
  Delivery d =
      PlanDeliveries(Critical(NotificationKind::kResolved, 3), TwoChannels(), From(), kT0)[0];
  d.attempts = 4;
  d.last_error = "the relay answered 451";
  const absl::StatusOr<Delivery> back = DeliveryFromJson(DeliveryToJson(d));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, d);
  EXPECT_FALSE(DeliveryFromJson("{}").ok());
  EXPECT_FALSE(DeliveryFromJson("nonsense").ok());
}

TEST(RetryDelay, DoublesUpToTheMaximumWithHalfOfItJittered) {
  RetryOptions o;
  o.initial = 30s;
  o.maximum = 1h;
  EXPECT_EQ(RetryDelay(1, o, 0.0), 15s);
  EXPECT_EQ(RetryDelay(1, o, 0.999999), std::chrono::milliseconds(29999));
  EXPECT_EQ(RetryDelay(2, o, 0.0), 30s);
  EXPECT_EQ(RetryDelay(3, o, 0.0), 60s);
  EXPECT_EQ(RetryDelay(10, o, 0.0), 30min);  // Capped: 30 s × 2^9 > 1 h.
  EXPECT_EQ(RetryDelay(1000, o, 0.0), 30min);
  EXPECT_EQ(RetryDelay(1000, o, 1.0), 1h);
}

TEST(RateLimiter, BurstThenDelaysNeverDrops) {
  RateLimiter limiter;
  Time retry_at;
  // 60 an hour: bursts of 6, then one a minute.
  for (int i = 0; i < 6; ++i) {
    EXPECT_TRUE(limiter.TryTake("t/c", 60, kT0, &retry_at)) << i;
  }
  EXPECT_FALSE(limiter.TryTake("t/c", 60, kT0, &retry_at));
  EXPECT_GT(retry_at, kT0 + 59s);
  EXPECT_LE(retry_at, kT0 + 61s);
  EXPECT_FALSE(limiter.TryTake("t/c", 60, kT0 + 30s, &retry_at));
  EXPECT_TRUE(limiter.TryTake("t/c", 60, kT0 + 61s, &retry_at));
  // Another channel has its own bucket.
  EXPECT_TRUE(limiter.TryTake("t/other", 60, kT0, &retry_at));
  // A channel of 1 an hour still sends one at once.
  EXPECT_TRUE(limiter.TryTake("t/slow", 1, kT0, &retry_at));
  EXPECT_FALSE(limiter.TryTake("t/slow", 1, kT0 + 1min, &retry_at));
}

}  // namespace
}  // namespace stswatch::alerting
