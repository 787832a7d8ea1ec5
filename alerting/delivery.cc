#include "alerting/delivery.h"

#include <algorithm>
#include <cmath>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "common/json_reader.h"

namespace stswatch::alerting {
namespace {

namespace json = boost::json;

std::int64_t UnixMs(Time t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

}  // namespace

std::string DeliveryToJson(const Delivery& d) {
  json::object o;
  o["id"] = d.id;
  o["tenant"] = d.tenant;
  o["channel"] = d.channel;
  o["type"] = ChannelTypeName(d.type);
  o["alert_id"] = d.alert_id;
  o["sequence"] = d.sequence;
  o["kind"] = NotificationKindName(d.kind);
  o["severity"] = SeverityName(d.severity);
  o["domain"] = d.domain;
  o["problem_key"] = d.problem_key;
  o["summary"] = d.summary;
  o["mail_from"] = d.mail_from;
  json::array to;
  for (const std::string& r : d.recipients) {
    to.emplace_back(r);
  }
  o["recipients"] = std::move(to);
  o["payload"] = d.payload;
  o["created_ms"] = d.created_ms;
  o["next_ms"] = d.next_ms;
  o["attempts"] = d.attempts;
  o["last_error"] = d.last_error;
  return json::serialize(o);
}

absl::StatusOr<Delivery> DeliveryFromJson(std::string_view text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) {
    return absl::InvalidArgumentError("delivery is not a JSON object");
  }
  absl::Status status;
  JsonReader r(v.get_object(), "delivery", "delivery", status);
  Delivery d;
  d.id = r.String("id");
  d.tenant = r.String("tenant");
  d.channel = r.String("channel");
  const std::string type = r.String("type");
  d.type = type == "webhook" ? ChannelType::kWebhook : ChannelType::kEmail;
  d.alert_id = r.String("alert_id");
  d.sequence = r.Uint32("sequence");
  d.kind = NotificationKindFromName(r.String("kind")).value_or(NotificationKind::kNotice);
  d.severity = SeverityFromName(r.String("severity")).value_or(Severity::kInfo);
  d.domain = r.String("domain");
  d.problem_key = r.String("problem_key");
  d.summary = r.String("summary");
  d.mail_from = r.String("mail_from");
  d.recipients = r.Strings("recipients");
  d.payload = r.String("payload");
  d.created_ms = r.Int("created_ms");
  d.next_ms = r.Int("next_ms");
  d.attempts = r.Uint32("attempts");
  d.last_error = r.String("last_error");
  if (!status.ok()) {
    return status;
  }
  if (d.id.empty() || (type != "email" && type != "webhook")) {
    return absl::InvalidArgumentError("delivery has no id or an unknown type");
  }
  return d;
}

std::vector<Delivery> PlanDeliveries(const Notification& n, const AlertSettings& settings,
                                     const EmailSettings& email, Time now) {
  std::vector<Delivery> out;
  for (const Channel& c : settings.channels) {
    if (n.problem.severity < c.minimum_severity) {
      continue;
    }
    Delivery d;
    d.id = n.tenant + "/" + c.id + "/" + n.alert_id + "." + std::to_string(n.sequence);
    d.tenant = n.tenant;
    d.channel = c.id;
    d.type = c.type;
    d.alert_id = n.alert_id;
    d.sequence = n.sequence;
    d.kind = n.kind;
    d.severity = n.problem.severity;
    d.domain = n.problem.domain;
    d.problem_key = n.problem.key;
    d.summary = n.problem.summary;
    if (c.type == ChannelType::kEmail) {
      EmailSettings e = email;
      e.to = c.email_to;
      d.mail_from = AddrSpec(email.from);
      d.recipients = c.email_to;
      d.payload = RenderEmail(n, e).data;
    } else {
      d.payload =
          c.webhook_format == WebhookFormat::kSlack ? RenderSlackJson(n) : RenderWebhookJson(n);
    }
    d.created_ms = UnixMs(now);
    d.next_ms = d.created_ms;
    out.push_back(std::move(d));
  }
  return out;
}

std::chrono::milliseconds RetryDelay(std::uint32_t attempts, const RetryOptions& options,
                                     double unit_random) {
  const double initial = static_cast<double>(std::max<std::int64_t>(options.initial.count(), 1));
  const double maximum = static_cast<double>(std::max(options.maximum, options.initial).count());
  const double exponent = std::min<double>(attempts == 0 ? 0 : attempts - 1, 62);
  const double full = std::min(initial * std::pow(2.0, exponent), maximum);
  const double r = std::clamp(unit_random, 0.0, 1.0);
  return std::chrono::milliseconds(static_cast<std::int64_t>(full / 2 + full / 2 * r));
}

bool RateLimiter::TryTake(const std::string& key, std::uint32_t max_per_hour, Time now,
                          Time* retry_at) {
  const double rate = std::max<std::uint32_t>(max_per_hour, 1) / 3600.0;  // Tokens per second.
  const double capacity = std::max(1.0, std::floor(max_per_hour / 10.0));
  auto [it, fresh] = buckets_.try_emplace(key);
  Bucket& b = it->second;
  if (fresh) {
    b.tokens = capacity;
    b.updated = now;
  } else if (now > b.updated) {
    const double elapsed = std::chrono::duration<double>(now - b.updated).count();
    b.tokens = std::min(capacity, b.tokens + elapsed * rate);
    b.updated = now;
  }
  if (b.tokens >= 1.0) {
    b.tokens -= 1.0;
    return true;
  }
  if (retry_at != nullptr) {
    const double wait = (1.0 - b.tokens) / rate;
    *retry_at = now + std::chrono::duration_cast<Time::duration>(
                          std::chrono::duration<double>(wait) + std::chrono::milliseconds(1));
  }
  return false;
}

}  // namespace stswatch::alerting
