#include "api/alert_convert.h"

#include <boost/asio/ip/address.hpp>

#include "alerting/webhook_sender.h"
#include "api/domain_name.h"

namespace stswatch::api {
namespace {

absl::Status CheckUrl(std::string_view url, bool allow_http) {
  return alerting::ParseWebhookUrl(url, allow_http).status();
}

absl::StatusOr<alerting::Severity> SeverityOf(const std::string& name, std::string_view what) {
  if (name.empty()) {
    return alerting::Severity::kInfo;
  }
  if (std::optional<alerting::Severity> s = alerting::SeverityFromName(name)) {
    return *s;
  }
  return absl::InvalidArgumentError(std::string(what) +
                                    " must be \"info\", \"warning\" or \"critical\"");
}

std::int64_t Millis(alerting::Time t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

}  // namespace

absl::StatusOr<alerting::AlertSettings> AlertSettingsFromProto(
    const v1::AlertSettings& in, const std::string& tenant, const alerting::AlertSettings& previous,
    const prober::AddressFilter* webhook_filter) {
  alerting::AlertSettings out = alerting::DefaultSettings(tenant);
  absl::StatusOr<alerting::Severity> minimum =
      SeverityOf(in.minimum_severity(), "minimum_severity");
  if (!minimum.ok()) {
    return minimum.status();
  }
  out.policy.minimum_severity = *minimum;
  if (static_cast<std::size_t>(in.muted_domains_size()) > alerting::kMaxMutedDomains) {
    return absl::InvalidArgumentError("at most " + std::to_string(alerting::kMaxMutedDomains) +
                                      " muted domains");
  }
  for (const std::string& d : in.muted_domains()) {
    absl::StatusOr<std::string> name = NormalizeDomainName(d);
    if (!name.ok()) {
      return absl::InvalidArgumentError("muted_domains: " + std::string(name.status().message()));
    }
    out.policy.muted_domains.push_back(*name);
  }
  if (in.has_quiet_hours()) {
    alerting::QuietHours q;
    q.start_hour = in.quiet_hours().start_hour();
    q.end_hour = in.quiet_hours().end_hour();
    q.utc_offset_minutes = in.quiet_hours().utc_offset_minutes();
    out.policy.quiet_hours = q;
  }
  if (in.reminder_interval_seconds() != 0) {
    out.policy.reminder_interval = std::chrono::seconds(in.reminder_interval_seconds());
  }
  for (const v1::AlertChannel& c : in.channels()) {
    alerting::Channel ch;
    ch.id = c.id();
    absl::StatusOr<alerting::Severity> min =
        SeverityOf(c.minimum_severity(), "channel " + c.id() + ": minimum_severity");
    if (!min.ok()) {
      return min.status();
    }
    ch.minimum_severity = *min;
    ch.max_per_hour = c.max_per_hour() == 0 ? alerting::kDefaultMaxPerHour : c.max_per_hour();
    if (c.has_email()) {
      ch.type = alerting::ChannelType::kEmail;
      ch.email_to.assign(c.email().to().begin(), c.email().to().end());
    } else if (c.has_webhook()) {
      const v1::WebhookChannel& w = c.webhook();
      ch.type = alerting::ChannelType::kWebhook;
      ch.webhook_url = w.url();
      ch.allow_http = w.allow_http();
      if (w.format().empty() || w.format() == "json") {
        ch.webhook_format = alerting::WebhookFormat::kJson;
      } else if (w.format() == "slack") {
        ch.webhook_format = alerting::WebhookFormat::kSlack;
      } else {
        return absl::InvalidArgumentError("channel " + c.id() +
                                          ": format must be \"json\" or \"slack\"");
      }
      ch.webhook_secret = w.secret();
      if (ch.webhook_secret.empty()) {
        const alerting::Channel* old = previous.FindChannel(c.id());
        if (old != nullptr && old->type == alerting::ChannelType::kWebhook) {
          ch.webhook_secret = old->webhook_secret;
        }
      }
    } else {
      return absl::InvalidArgumentError("channel " + c.id() + ": set email or webhook");
    }
    out.channels.push_back(std::move(ch));
  }
  if (absl::Status s = alerting::ValidateSettings(out, &CheckUrl); !s.ok()) {
    return s;
  }
  if (webhook_filter != nullptr) {
    for (const alerting::Channel& ch : out.channels) {
      if (ch.type != alerting::ChannelType::kWebhook) {
        continue;
      }
      absl::StatusOr<alerting::WebhookUrl> url = alerting::ParseWebhookUrl(ch.webhook_url, true);
      boost::system::error_code ec;
      const boost::asio::ip::address literal =
          url.ok() ? boost::asio::ip::make_address(url->host, ec) : boost::asio::ip::address();
      if (!url.ok() || ec) {
        continue;
      }
      if (std::string why = webhook_filter->Check(literal); !why.empty()) {
        return absl::InvalidArgumentError("channel " + ch.id + ": webhook target " + url->host +
                                          " is refused (" + why +
                                          "); the server's operator allows such targets with "
                                          "--webhook-allow-net");
      }
    }
  }
  return out;
}

v1::AlertSettings AlertSettingsToProto(const alerting::AlertSettings& s) {
  v1::AlertSettings out;
  out.set_minimum_severity(std::string(alerting::SeverityName(s.policy.minimum_severity)));
  for (const std::string& d : s.policy.muted_domains) {
    out.add_muted_domains(d);
  }
  if (s.policy.quiet_hours) {
    out.mutable_quiet_hours()->set_start_hour(s.policy.quiet_hours->start_hour);
    out.mutable_quiet_hours()->set_end_hour(s.policy.quiet_hours->end_hour);
    out.mutable_quiet_hours()->set_utc_offset_minutes(s.policy.quiet_hours->utc_offset_minutes);
  }
  out.set_reminder_interval_seconds(static_cast<std::uint32_t>(s.policy.reminder_interval.count()));
  for (const alerting::Channel& c : s.channels) {
    v1::AlertChannel* ch = out.add_channels();
    ch->set_id(c.id);
    ch->set_minimum_severity(std::string(alerting::SeverityName(c.minimum_severity)));
    ch->set_max_per_hour(c.max_per_hour);
    if (c.type == alerting::ChannelType::kEmail) {
      for (const std::string& to : c.email_to) {
        ch->mutable_email()->add_to(to);
      }
    } else {
      v1::WebhookChannel* w = ch->mutable_webhook();
      w->set_url(c.webhook_url);
      w->set_has_secret(!c.webhook_secret.empty());
      w->set_format(std::string(alerting::WebhookFormatName(c.webhook_format)));
      w->set_allow_http(c.allow_http);
    }
  }
  return out;
}

void FillOpenAlert(const alerting::AlertBook::Alert& a, v1::OpenAlert& out) {
  out.set_alert_id(a.id);
  out.set_domain(a.problem.domain);
  out.set_problem_key(a.problem.key);
  out.set_severity(std::string(alerting::SeverityName(a.problem.severity)));
  out.set_summary(a.problem.summary);
  out.set_detail(a.problem.detail);
  out.set_fix(a.problem.fix);
  out.set_rfc(a.problem.rfc);
  out.set_host(a.problem.host);
  out.set_opened_unix_ms(Millis(a.opened_at));
  out.set_notifications_sent(a.sent);
}

void FillDeliveryRecord(const alerting::DeliveryRecord& r, v1::DeliveryRecord& out) {
  const alerting::Delivery& d = r.delivery;
  out.set_delivery_id(d.id);
  out.set_channel(d.channel);
  out.set_channel_type(std::string(alerting::ChannelTypeName(d.type)));
  out.set_alert_id(d.alert_id);
  out.set_sequence(d.sequence);
  out.set_state(std::string(alerting::NotificationKindName(d.kind)));
  out.set_severity(std::string(alerting::SeverityName(d.severity)));
  out.set_domain(d.domain);
  out.set_problem_key(d.problem_key);
  out.set_summary(d.summary);
  out.set_attempts(d.attempts);
  out.set_last_error(d.last_error);
  out.set_created_unix_ms(d.created_ms);
  out.set_finished_unix_ms(r.time_ms);
  out.set_reason(r.reason);
}

}  // namespace stswatch::api
