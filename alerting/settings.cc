#include "alerting/settings.h"

#include <algorithm>
#include <set>
#include <utility>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "common/json_reader.h"

namespace stswatch::alerting {
namespace {

namespace json = boost::json;

constexpr std::chrono::seconds kMinReminderInterval{60};
constexpr std::chrono::seconds kMaxReminderInterval{std::int64_t{30} * 24 * 3600};

bool IsChannelId(std::string_view id) {
  if (id.empty() || id.size() > 32) {
    return false;
  }
  const auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (!alnum(id[0])) {
    return false;
  }
  return std::all_of(id.begin(), id.end(),
                     [&](char c) { return alnum(c) || c == '-' || c == '_'; });
}

// At most 64 characters of `s`, control characters shown as '?', for messages.
std::string Quote(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, 64)) {
    const auto u = static_cast<unsigned char>(c);
    out += (u < 0x20 || u == 0x7f) ? '?' : c;
  }
  return "\"" + out + (s.size() > 64 ? "...\"" : "\"");
}

json::array StringsJson(const std::vector<std::string>& v) {
  json::array a;
  for (const std::string& s : v) {
    a.emplace_back(s);
  }
  return a;
}

absl::Status ChannelError(const Channel& c, const std::string& what) {
  return absl::InvalidArgumentError("channel " + Quote(c.id) + ": " + what);
}

absl::Status ValidateChannel(const Channel& c, UrlCheck check_url) {
  if (!IsChannelId(c.id)) {
    return absl::InvalidArgumentError(
        "channel id " + Quote(c.id) +
        " is not 1-32 of a-z, 0-9, '-' and '_' starting with a letter or digit");
  }
  if (c.max_per_hour == 0 || c.max_per_hour > kMaxMaxPerHour) {
    return ChannelError(c, "max_per_hour must be 1 to " + std::to_string(kMaxMaxPerHour));
  }
  if (c.type == ChannelType::kEmail) {
    if (c.email_to.empty()) {
      return ChannelError(c, "an e-mail channel needs at least one recipient");
    }
    if (c.email_to.size() > kMaxRecipients) {
      return ChannelError(c, "at most " + std::to_string(kMaxRecipients) + " recipients");
    }
    for (const std::string& to : c.email_to) {
      if (!IsEmailAddress(to)) {
        return ChannelError(c, Quote(to) + " is not an e-mail address (local@domain)");
      }
    }
    if (!c.webhook_url.empty()) {
      return ChannelError(c, "an e-mail channel has no webhook URL");
    }
    return absl::OkStatus();
  }
  if (!c.email_to.empty()) {
    return ChannelError(c, "a webhook channel has no e-mail recipients");
  }
  if (c.webhook_url.empty()) {
    return ChannelError(c, "a webhook channel needs a URL");
  }
  if (c.webhook_secret.size() > 256) {
    return ChannelError(c, "the webhook secret is longer than 256 bytes");
  }
  if (check_url != nullptr) {
    if (absl::Status s = check_url(c.webhook_url, c.allow_http); !s.ok()) {
      return ChannelError(c, std::string(s.message()));
    }
  }
  return absl::OkStatus();
}

Severity ReadSeverity(JsonReader& r, std::string_view key) {
  if (r.Get(key) == nullptr) {
    return Severity::kInfo;
  }
  const std::string name = r.String(key);
  if (std::optional<Severity> s = SeverityFromName(name)) {
    return *s;
  }
  r.Fail(key, "info, warning or critical");
  return Severity::kInfo;
}

}  // namespace

std::string_view ChannelTypeName(ChannelType type) {
  return type == ChannelType::kEmail ? "email" : "webhook";
}

std::string_view WebhookFormatName(WebhookFormat format) {
  return format == WebhookFormat::kJson ? "json" : "slack";
}

const Channel* AlertSettings::FindChannel(std::string_view id) const {
  for (const Channel& c : channels) {
    if (c.id == id) {
      return &c;
    }
  }
  return nullptr;
}

AlertSettings DefaultSettings(std::string tenant) {
  AlertSettings s;
  s.policy.tenant = std::move(tenant);
  return s;
}

bool IsEmailAddress(std::string_view address) {
  if (address.empty() || address.size() > 254) {
    return false;
  }
  const std::size_t at = address.find('@');
  if (at == 0 || at == std::string_view::npos || at + 1 >= address.size() ||
      address.find('@', at + 1) != std::string_view::npos) {
    return false;
  }
  for (char c : address) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f || c == '<' || c == '>' || c == ',' || c == '"' || c == '(' ||
        c == ')' || c == ';' || c == '\\' || c == '[' || c == ']' || c == ':') {
      return false;
    }
  }
  const std::string_view domain = address.substr(at + 1);
  return domain.find('.') != std::string_view::npos && domain.front() != '.' &&
         domain.back() != '.' && address.substr(0, at).size() <= 64;
}

std::string AddrSpec(std::string_view mailbox) {
  const std::size_t open = mailbox.rfind('<');
  const std::size_t close = mailbox.rfind('>');
  if (open != std::string_view::npos && close != std::string_view::npos && close > open) {
    return std::string(mailbox.substr(open + 1, close - open - 1));
  }
  while (!mailbox.empty() && mailbox.front() == ' ') {
    mailbox.remove_prefix(1);
  }
  while (!mailbox.empty() && mailbox.back() == ' ') {
    mailbox.remove_suffix(1);
  }
  return std::string(mailbox);
}

absl::Status ValidateSettings(const AlertSettings& settings, UrlCheck check_url) {
  const TenantPolicy& p = settings.policy;
  if (p.muted_domains.size() > kMaxMutedDomains) {
    return absl::InvalidArgumentError("at most " + std::to_string(kMaxMutedDomains) +
                                      " muted domains");
  }
  if (p.reminder_interval < kMinReminderInterval || p.reminder_interval > kMaxReminderInterval) {
    return absl::InvalidArgumentError("the reminder interval must be 60 s to 30 days");
  }
  if (p.quiet_hours) {
    const QuietHours& q = *p.quiet_hours;
    if (q.start_hour < 0 || q.start_hour > 23 || q.end_hour < 0 || q.end_hour > 23) {
      return absl::InvalidArgumentError("quiet hours: start and end hours must be 0 to 23");
    }
    if (q.utc_offset_minutes < -14 * 60 || q.utc_offset_minutes > 14 * 60) {
      return absl::InvalidArgumentError("quiet hours: the UTC offset must be -840 to 840 minutes");
    }
  }
  if (settings.channels.size() > kMaxChannels) {
    return absl::InvalidArgumentError("at most " + std::to_string(kMaxChannels) + " channels");
  }
  std::set<std::string> ids;
  for (const Channel& c : settings.channels) {
    if (absl::Status s = ValidateChannel(c, check_url); !s.ok()) {
      return s;
    }
    if (!ids.insert(c.id).second) {
      return absl::InvalidArgumentError("channel id " + Quote(c.id) + " is used twice");
    }
  }
  return absl::OkStatus();
}

std::string SettingsToJson(const AlertSettings& settings) {
  json::object o;
  o["policy"] = TenantPolicyJson(settings.policy);
  json::array channels;
  for (const Channel& c : settings.channels) {
    json::object j;
    j["id"] = c.id;
    j["type"] = ChannelTypeName(c.type);
    if (c.type == ChannelType::kEmail) {
      j["email_to"] = StringsJson(c.email_to);
    } else {
      j["webhook_url"] = c.webhook_url;
      j["webhook_secret"] = c.webhook_secret;
      j["webhook_format"] = WebhookFormatName(c.webhook_format);
      j["allow_http"] = c.allow_http;
    }
    j["minimum_severity"] = SeverityName(c.minimum_severity);
    j["max_per_hour"] = c.max_per_hour;
    channels.emplace_back(std::move(j));
  }
  o["channels"] = std::move(channels);
  return json::serialize(o);
}

absl::StatusOr<AlertSettings> SettingsFromJson(std::string_view text, const std::string& tenant) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) {
    return absl::InvalidArgumentError("alert settings are not a JSON object");
  }
  absl::Status status;
  JsonReader r(v.get_object(), "settings", "alert settings", status);
  AlertSettings out = DefaultSettings(tenant);
  if (const json::object* p = r.Object("policy")) {
    JsonReader pr = r.Child(*p, r.Path("policy"));
    out.policy = ReadTenantPolicy(pr);
    if (pr.Get("reminder_interval_s") == nullptr) {
      out.policy.reminder_interval = TenantPolicy{}.reminder_interval;
    }
    if (pr.Get("minimum_reminder_severity") == nullptr) {
      out.policy.minimum_reminder_severity = TenantPolicy{}.minimum_reminder_severity;
    }
    out.policy.tenant = tenant;
  }
  r.Objects("channels", [&](JsonReader& cr) {
    Channel c;
    c.id = cr.String("id");
    const std::string type = cr.String("type");
    if (type == "email") {
      c.type = ChannelType::kEmail;
    } else if (type == "webhook") {
      c.type = ChannelType::kWebhook;
    } else {
      cr.Fail("type", "email or webhook");
    }
    // Only the members of the channel's type: what SettingsToJson writes for it.
    if (c.type == ChannelType::kEmail) {
      c.email_to = cr.Strings("email_to");
    } else {
      c.webhook_url = cr.String("webhook_url");
      c.webhook_secret = cr.String("webhook_secret");
      const std::string format =
          cr.Get("webhook_format") == nullptr ? "json" : cr.String("webhook_format");
      if (format == "slack") {
        c.webhook_format = WebhookFormat::kSlack;
      } else if (format != "json") {
        cr.Fail("webhook_format", "json or slack");
      }
      c.allow_http = cr.Bool("allow_http");
    }
    c.minimum_severity = ReadSeverity(cr, "minimum_severity");
    c.max_per_hour = cr.Get("max_per_hour") == nullptr
                         ? kDefaultMaxPerHour
                         : static_cast<std::uint32_t>(cr.IntIn("max_per_hour", 1, kMaxMaxPerHour));
    out.channels.push_back(std::move(c));
  });
  if (!status.ok()) {
    return status;
  }
  return out;
}

}  // namespace stswatch::alerting
