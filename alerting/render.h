#pragma once

// Notifications as people and programs receive them: an e-mail (RFC 5322 + MIME), a webhook
// body (JSON, documented in alerting/README.md) with its HMAC-SHA256 signature, and a
// Slack-compatible payload.
//
// Pure: no I/O, no clock (times come from the notification), no randomness. Rendering the same
// notification twice gives the same bytes, so a retried delivery is the same message (same
// Message-ID, same webhook body and delivery id).

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "alerting/rules.h"

namespace stswatch::alerting {

struct EmailSettings {
  // Mailboxes as written in the header, e.g. "stswatch <alerts@example.org>". CR, LF and other
  // control characters are removed; a non-ASCII display name is RFC 2047-encoded.
  std::string from;
  std::vector<std::string> to;
  // Shown in the subject ("[<site_name>] ...") and the signature; may be non-ASCII.
  std::string site_name = "stswatch";
};

struct EmailMessage {
  std::string message_id;   // "<alert-<alert id>.<sequence>@stswatch>"
  std::string in_reply_to;  // The alert's first Message-ID for later mails, else "".
  std::string subject;      // As people read it (UTF-8, not encoded).
  // The whole message: header and MIME body, CRLF line ends, every line at most 78 characters,
  // ASCII only. Ready for SMTP DATA (dot-stuffing is the SMTP client's job).
  std::string data;
};

// "<alert-<alert_id>.<sequence>@stswatch>": stable per (alert, notification sequence).
std::string MessageId(std::string_view alert_id, std::uint32_t sequence);

// multipart/alternative with a text/plain and a text/html part, both UTF-8 and
// quoted-printable. Later mails of an alert (sequence > 0) carry In-Reply-To and References
// pointing at its first mail (sequence 0), so mail clients thread them. Notices are single mails.
EmailMessage RenderEmail(const Notification& notification, const EmailSettings& settings);

// The webhook body: one JSON object, members as documented in alerting/README.md.
std::string RenderWebhookJson(const Notification& notification);

// A Slack-compatible payload ({"text": ..., "blocks": [...]}), for Slack incoming webhooks and
// the chat services that accept their format. Text from events is escaped for Slack (&, <, >),
// so a hostile name cannot mention @channel or forge a link.
std::string RenderSlackJson(const Notification& notification);

// The header carrying SignWebhook's value on each webhook POST.
inline constexpr std::string_view kSignatureHeader = "X-Stswatch-Signature";

// "t=<timestamp>,v1=<64 hex digits of HMAC-SHA256(secret, "<timestamp>.<body>")>", timestamp
// in Unix seconds.
std::string SignWebhook(std::string_view secret, std::int64_t timestamp, std::string_view body);

// What a receiver does with the header: true when one v1 signature matches the body under
// `secret` (compared in constant time) and the timestamp is within `tolerance_seconds` of `now`
// (Unix seconds) either way. An empty secret verifies nothing.
bool VerifyWebhookSignature(std::string_view secret, std::string_view header, std::string_view body,
                            std::int64_t now, std::int64_t tolerance_seconds = 300);

}  // namespace stswatch::alerting
