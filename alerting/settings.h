#pragma once

// A tenant's alerting settings: the rules' policy (minimum severity, muted domains, quiet hours,
// reminders) and the channels notifications go to. Set through the API, read by the alerter;
// stored as JSON (SettingsToJson) in Redis.
//
// Pure: no I/O.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "alerting/rules.h"

namespace stswatch::alerting {

enum class ChannelType { kEmail, kWebhook };
enum class WebhookFormat { kJson, kSlack };

// "email", "webhook"; "json", "slack".
std::string_view ChannelTypeName(ChannelType type);
std::string_view WebhookFormatName(WebhookFormat format);

inline constexpr std::size_t kMaxChannels = 16;
inline constexpr std::size_t kMaxRecipients = 16;
inline constexpr std::size_t kMaxMutedDomains = 10000;
inline constexpr std::uint32_t kDefaultMaxPerHour = 120;
inline constexpr std::uint32_t kMaxMaxPerHour = 36000;

struct Channel {
  // Names the channel within its tenant: 1–32 of [a-z0-9_-], starting with a letter or digit.
  std::string id;
  ChannelType type = ChannelType::kEmail;
  // kEmail: the recipients (addr-specs, "ops@example.net").
  std::vector<std::string> email_to;
  // kWebhook: where to POST (https://, or http:// with allow_http), the HMAC secret of the
  // signature header (empty: no signature), and the body format.
  std::string webhook_url;
  std::string webhook_secret;
  WebhookFormat webhook_format = WebhookFormat::kJson;
  bool allow_http = false;
  // Only notifications at least this severe go to this channel (besides the tenant's minimum).
  Severity minimum_severity = Severity::kInfo;
  // Rate limit: at most this many notifications per hour, in bursts of up to a tenth of it (at
  // least 1); the rest wait their turn (they are delayed, never dropped).
  std::uint32_t max_per_hour = kDefaultMaxPerHour;

  bool operator==(const Channel&) const = default;
};

struct AlertSettings {
  TenantPolicy policy;  // policy.tenant is the tenant id.
  std::vector<Channel> channels;

  const Channel* FindChannel(std::string_view id) const;
  bool operator==(const AlertSettings&) const = default;
};

// The defaults of a tenant that has set nothing: every severity, no channel.
AlertSettings DefaultSettings(std::string tenant);

// InvalidArgument naming the first thing wrong ("channel ops: ..."). `check_url` (may be
// empty) judges a webhook URL further (scheme, syntax, address); its error is quoted.
using UrlCheck = absl::Status (*)(std::string_view url, bool allow_http);
absl::Status ValidateSettings(const AlertSettings& settings, UrlCheck check_url);

// A plain addr-spec ("local@domain"): printable ASCII without spaces, <, >, ",", quotes or
// control characters, a non-empty local part and a domain with a dot, at most 254 characters.
bool IsEmailAddress(std::string_view address);

// The addr-spec of a mailbox as written in a From header: "stswatch <a@b>" → "a@b", "a@b" → "a@b".
std::string AddrSpec(std::string_view mailbox);

std::string SettingsToJson(const AlertSettings& settings);
// Reads what SettingsToJson wrote; absent members take their defaults. The tenant comes from the
// caller (the key the JSON was stored under).
absl::StatusOr<AlertSettings> SettingsFromJson(std::string_view json, const std::string& tenant);

}  // namespace stswatch::alerting
