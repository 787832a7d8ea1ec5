#include "cli/alerter_setup.h"

#include <unistd.h>

#include <fstream>
#include <sstream>

#include "alerting/settings.h"
#include "alerting/webhook_sender.h"

namespace stswatch::cli {

const char kAlerterFlagsHelp[] =
    R"(Alerting (drift events -> alerts per tenant -> e-mail and webhooks):
  --smtp-relay HOST[:PORT]  where alert e-mail is submitted (port 25 by default); without it,
                       e-mail channels fail and their notifications end as dead letters
  --smtp-tls MODE      required (default: STARTTLS or nothing is sent), opportunistic, none,
                       or implicit (TLS from the first byte, port 465)
  --smtp-user USER     AUTH (PLAIN or LOGIN) as USER, only ever over TLS
  --smtp-password-file FILE  the password for --smtp-user
  --smtp-helo NAME     the name given in EHLO (default: this host's name)
  --smtp-no-verify     do not verify the relay's certificate (a self-signed relay)
  --alert-from MAILBOX the From of alert e-mail (default: stswatch <stswatch@HOSTNAME>,
                       stswatch@localhost.localdomain when the host name has no dot)
  --alert-site-name NAME  shown in subjects, "[NAME] CRITICAL: ..." (default stswatch)
  --alert-ca-file FILE PEM roots trusted for the relay and webhooks (default: the system's)
  --webhook-allow-net CIDR  allow webhook targets in this network although private or
                       loopback (repeatable); public addresses are always allowed
  --webhook-allow-private  allow every private and loopback webhook target
  --alert-retry-initial DURATION  first retry delay of a failed delivery (default 30s); the
                       delay doubles, with jitter, up to --alert-retry-max (default 1h)
  --alert-retry-max DURATION
  --alert-give-up DURATION  a delivery still failing this long after it was made becomes a
                       dead letter (default 24h)
  --alert-tick DURATION  how often reminders and deferred notifications are looked for
                       (default 30s)
  --alert-catch-up DURATION  events older than this when read (a first start on the streams'
                       history, an alerter down for hours) only update the alerts; what is
                       still open then is notified once (default 1h)
  --alert-email-to ADDRESS  the operator's own e-mail channel: alerts of every domain
                       (repeatable)
  --alert-webhook-url URL  the operator's own webhook channel (every domain)
  --alert-webhook-secret-file FILE  its HMAC secret
  --alert-min-severity LEVEL  the operator channels' minimum severity (default warning)
)";

void AddAlerterFlags(Flags& flags, AlerterFlags* t) {
  flags.String("--smtp-relay", &t->smtp_relay);
  flags.String("--smtp-tls", &t->smtp_tls);
  flags.String("--smtp-user", &t->smtp_user);
  flags.String("--smtp-password-file", &t->smtp_password_file);
  flags.String("--smtp-helo", &t->smtp_helo);
  flags.Switch("--smtp-no-verify", &t->smtp_no_verify);
  flags.String("--alert-from", &t->from);
  flags.String("--alert-site-name", &t->site_name);
  flags.String("--alert-ca-file", &t->ca_file);
  flags.Strings("--webhook-allow-net", &t->webhook_allow_nets);
  flags.Switch("--webhook-allow-private", &t->webhook_allow_private);
  flags.Duration("--alert-retry-initial", std::chrono::seconds(1), std::chrono::hours(24),
                 &t->retry_initial);
  flags.Duration("--alert-retry-max", std::chrono::seconds(1), std::chrono::hours(24),
                 &t->retry_max);
  flags.Duration("--alert-give-up", std::chrono::seconds(1), std::chrono::hours(24 * 30),
                 &t->give_up);
  flags.Duration("--alert-tick", std::chrono::seconds(1), std::chrono::hours(1), &t->tick);
  flags.Duration("--alert-catch-up", std::chrono::seconds(60), std::chrono::hours(24 * 30),
                 &t->catch_up);
  flags.Strings("--alert-email-to", &t->email_to);
  flags.String("--alert-webhook-url", &t->webhook_url);
  flags.String("--alert-webhook-secret-file", &t->webhook_secret_file);
  flags.String("--alert-min-severity", &t->minimum_severity);
}

namespace {

absl::StatusOr<std::string> ReadSecret(const std::string& flag, const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    return absl::InvalidArgumentError(flag + " " + path + ": cannot read the file");
  }
  std::stringstream s;
  s << in.rdbuf();
  std::string value = s.str();
  while (!value.empty() && (value.back() == '\n' || value.back() == '\r')) {
    value.pop_back();
  }
  if (value.empty()) {
    return absl::InvalidArgumentError(flag + " " + path + ": the file is empty");
  }
  return value;
}

std::string HostName() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0 || buf[0] == '\0') {
    return "localhost";
  }
  return buf;
}

}  // namespace

absl::StatusOr<AlerterSetup> BuildAlerter(const AlerterFlags& f) {
  AlerterSetup out;
  alerting::AlerterOptions& o = out.options;
  o.email.site_name = f.site_name;
  o.email.from = f.from;
  if (o.email.from.empty()) {
    // This host's name when it is a domain; machines are often named without one.
    o.email.from = "stswatch <stswatch@" + HostName() + ">";
    if (!alerting::IsEmailAddress(alerting::AddrSpec(o.email.from))) {
      o.email.from = "stswatch <stswatch@localhost.localdomain>";
    }
  }
  if (!alerting::IsEmailAddress(alerting::AddrSpec(o.email.from))) {
    return absl::InvalidArgumentError("--alert-from \"" + o.email.from +
                                      "\" is not a mailbox (name <local@domain>)");
  }
  if (!f.smtp_relay.empty()) {
    alerting::SmtpRelayOptions relay;
    std::string host = f.smtp_relay;
    std::string port;
    if (host.starts_with("[")) {  // [IPv6]:PORT
      const std::size_t close = host.find(']');
      if (close == std::string::npos) {
        return absl::InvalidArgumentError("--smtp-relay " + f.smtp_relay + ": no closing ]");
      }
      if (close + 1 < host.size()) {
        if (host[close + 1] != ':') {
          return absl::InvalidArgumentError("--smtp-relay " + f.smtp_relay + ": bad port");
        }
        port = host.substr(close + 2);
      }
      host = host.substr(1, close - 1);
    } else if (const std::size_t colon = host.find(':');
               colon != std::string::npos && host.find(':', colon + 1) == std::string::npos) {
      port = host.substr(colon + 1);
      host = host.substr(0, colon);
    }
    const bool port_given = !port.empty();
    if (port_given) {
      char* end = nullptr;
      const long p = std::strtol(port.c_str(), &end, 10);
      if (*end != '\0' || p < 1 || p > 65535) {
        return absl::InvalidArgumentError("--smtp-relay " + f.smtp_relay + ": bad port");
      }
      relay.port = static_cast<std::uint16_t>(p);
    }
    if (host.empty()) {
      return absl::InvalidArgumentError("--smtp-relay " + f.smtp_relay + ": no host");
    }
    relay.host = host;
    if (f.smtp_tls == "required") {
      relay.tls = alerting::SmtpRelayOptions::Tls::kRequired;
    } else if (f.smtp_tls == "opportunistic") {
      relay.tls = alerting::SmtpRelayOptions::Tls::kOpportunistic;
    } else if (f.smtp_tls == "none") {
      relay.tls = alerting::SmtpRelayOptions::Tls::kNone;
    } else if (f.smtp_tls == "implicit") {
      relay.tls = alerting::SmtpRelayOptions::Tls::kImplicit;
      if (!port_given) {
        relay.port = 465;
      }
    } else {
      return absl::InvalidArgumentError(
          "--smtp-tls takes required, opportunistic, none or implicit");
    }
    relay.verify_certificate = !f.smtp_no_verify;
    relay.helo_name = f.smtp_helo.empty() ? HostName() : f.smtp_helo;
    if (!f.smtp_user.empty()) {
      relay.username = f.smtp_user;
      absl::StatusOr<std::string> password =
          ReadSecret("--smtp-password-file", f.smtp_password_file);
      if (!password.ok()) {
        return password.status();
      }
      relay.password = *password;
    }
    o.relay = relay;
  } else if (!f.smtp_user.empty()) {
    return absl::InvalidArgumentError("--smtp-user needs --smtp-relay");
  }

  out.tls = std::make_unique<boost::asio::ssl::context>(boost::asio::ssl::context::tls_client);
  boost::system::error_code ec;
  if (f.ca_file.empty()) {
    out.tls->set_default_verify_paths(ec);
  } else {
    out.tls->load_verify_file(f.ca_file, ec);
  }
  if (ec) {
    return absl::InvalidArgumentError("--alert-ca-file " + f.ca_file + ": " + ec.message());
  }
  out.tls->set_verify_mode(boost::asio::ssl::verify_peer);

  absl::StatusOr<prober::AddressFilter> filter = prober::AddressFilter::Create(
      f.webhook_allow_private || !f.webhook_allow_nets.empty(), f.webhook_allow_nets);
  if (!filter.ok()) {
    return absl::InvalidArgumentError("--webhook-allow-net: " +
                                      std::string(filter.status().message()));
  }
  out.webhook_filter = std::make_unique<prober::AddressFilter>(std::move(*filter));

  o.retry.initial = f.retry_initial;
  o.retry.maximum = std::max(f.retry_max, f.retry_initial);
  o.retry.give_up_after = f.give_up;
  o.tick = f.tick;
  o.catch_up_after = f.catch_up;

  if (!f.email_to.empty() || !f.webhook_url.empty()) {
    alerting::AlertSettings s = alerting::DefaultSettings(std::string(alerting::kOperatorTenant));
    const std::optional<alerting::Severity> minimum =
        alerting::SeverityFromName(f.minimum_severity);
    if (!minimum) {
      return absl::InvalidArgumentError("--alert-min-severity takes info, warning or critical");
    }
    s.policy.minimum_severity = *minimum;
    if (!f.email_to.empty()) {
      alerting::Channel c;
      c.id = "operator-email";
      c.type = alerting::ChannelType::kEmail;
      c.email_to = f.email_to;
      s.channels.push_back(c);
    }
    if (!f.webhook_url.empty()) {
      alerting::Channel c;
      c.id = "operator-webhook";
      c.type = alerting::ChannelType::kWebhook;
      c.webhook_url = f.webhook_url;
      c.allow_http = f.webhook_url.starts_with("http://");
      if (!f.webhook_secret_file.empty()) {
        absl::StatusOr<std::string> secret =
            ReadSecret("--alert-webhook-secret-file", f.webhook_secret_file);
        if (!secret.ok()) {
          return secret.status();
        }
        c.webhook_secret = *secret;
      }
      s.channels.push_back(c);
    }
    const auto check = [](std::string_view url, bool allow_http) {
      return alerting::ParseWebhookUrl(url, allow_http).status();
    };
    if (absl::Status st = alerting::ValidateSettings(s, +check); !st.ok()) {
      return absl::InvalidArgumentError("--alert-email-to/--alert-webhook-url: " +
                                        std::string(st.message()));
    }
    o.operator_settings = std::move(s);
  }
  return out;
}

}  // namespace stswatch::cli
