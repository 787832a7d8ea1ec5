#include "alerting/render.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdio>
#include <ctime>
#include <optional>
#include <utility>

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "common/time_format.h"

namespace stswatch::alerting {
namespace {

namespace json = boost::json;

constexpr std::size_t kTextWidth = 76;
constexpr std::size_t kQpLineLength = 76;  // RFC 2045 §6.7 (5), without the CRLF.
constexpr std::size_t kHeaderLineLength = 78;
constexpr int kWebhookVersion = 1;
constexpr std::size_t kSlackHeaderMax = 150;
constexpr std::size_t kSlackTextMax = 3000;
constexpr std::size_t kSlackFieldMax = 2000;
constexpr char kHexDigits[] = "0123456789abcdef";
constexpr char kHexUpper[] = "0123456789ABCDEF";

std::string Hex(const unsigned char* bytes, std::size_t n) {
  std::string out;
  out.reserve(2 * n);
  for (std::size_t i = 0; i < n; ++i) {
    out += kHexDigits[bytes[i] >> 4];
    out += kHexDigits[bytes[i] & 0xF];
  }
  return out;
}

std::string Upper(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return out;
}

bool IsAscii(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return (c & 0x80) == 0; });
}

// Header values never carry line breaks or other controls from data: a hostile name cannot add
// a header.
std::string HeaderSafe(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    out += (u < 0x20 || u == 0x7F) ? ' ' : c;
  }
  return out;
}

// Cuts `s` to at most `max` bytes without splitting a UTF-8 sequence; "…" marks the cut.
std::string Truncate(std::string_view s, std::size_t max) {
  if (s.size() <= max) {
    return std::string(s);
  }
  constexpr std::string_view kEllipsis = "…";
  std::size_t cut = max - kEllipsis.size();
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) {
    --cut;
  }
  return std::string(s.substr(0, cut)) + std::string(kEllipsis);
}

std::string Base64(std::string_view in) {
  std::string out(4 * ((in.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(in.data()),
                                static_cast<int>(in.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

// RFC 2047 "B" encoded-words of at most `first` bytes of text for the first word and `rest` for
// the others, never splitting a UTF-8 sequence.
std::vector<std::string> EncodedWords(std::string_view s, std::size_t first, std::size_t rest) {
  std::vector<std::string> words;
  std::size_t pos = 0;
  while (pos < s.size()) {
    std::size_t n = std::min(words.empty() ? first : rest, s.size() - pos);
    while (pos + n < s.size() && n > 0 && (static_cast<unsigned char>(s[pos + n]) & 0xC0) == 0x80) {
      --n;
    }
    words.push_back("=?UTF-8?B?" + Base64(s.substr(pos, n)) + "?=");
    pos += n;
  }
  return words;
}

// "Name: value" folded at spaces (RFC 5322 §2.2.3) so that lines stay within 78 characters
// where the words allow; non-ASCII values become encoded-words (RFC 2047 §2: at most 75
// characters each, one per line).
std::string Header(std::string_view name, std::string_view raw_value) {
  const std::string value = HeaderSafe(raw_value);
  std::vector<std::string> words;
  if (IsAscii(value)) {
    std::size_t start = 0;
    while (start <= value.size()) {
      const std::size_t space = value.find(' ', start);
      const std::size_t end = space == std::string::npos ? value.size() : space;
      words.push_back(value.substr(start, end - start));
      start = end + 1;
    }
  } else {
    // "Name: =?UTF-8?B?<base64>?=" within 78 characters on the first line; after it, one word
    // per line of at most 75 characters (60 base64 digits: 45 bytes).
    const std::size_t first_digits = name.size() < 52 ? 64 - name.size() : 12;
    words = EncodedWords(value, std::min<std::size_t>(first_digits / 4 * 3, 45), 45);
  }
  std::string out = std::string(name) + ":";
  std::size_t line = out.size();
  bool first = true;
  for (const std::string& w : words) {
    if (!first && line + 1 + w.size() > kHeaderLineLength) {
      out += "\r\n";
      line = 0;
    }
    out += " " + w;
    line += 1 + w.size();
    first = false;
  }
  return out + "\r\n";
}

// A mailbox from the settings, with a non-ASCII display name encoded.
std::string Mailbox(std::string_view raw) {
  std::string m = HeaderSafe(raw);
  const std::size_t lt = m.rfind('<');
  if (IsAscii(m) || lt == std::string::npos || lt == 0) {
    return m;
  }
  std::string name = m.substr(0, lt);
  while (!name.empty() && name.back() == ' ') {
    name.pop_back();
  }
  if (name.size() >= 2 && name.front() == '"' && name.back() == '"') {
    name = name.substr(1, name.size() - 2);
  }
  std::string words;
  for (const std::string& w : EncodedWords(name, 45, 45)) {
    words += (words.empty() ? "" : " ") + w;
  }
  return words + " " + m.substr(lt);
}

// RFC 5322 §3.3 date-time in UTC: "Sun, 01 Mar 2026 12:00:00 +0000".
std::string MailDate(Time t) {
  const auto tt = static_cast<std::time_t>(
      std::chrono::floor<std::chrono::seconds>(t).time_since_epoch().count());
  std::tm tm{};
  gmtime_r(&tt, &tm);
  constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d +0000", kDays[tm.tm_wday],
                tm.tm_mday, kMonths[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                tm.tm_sec);
  return buf;
}

// RFC 2045 §6.7 quoted-printable of UTF-8 text with "\n" line ends: CRLF hard line breaks, soft
// breaks keeping lines within 76 characters. A leading "." or "From " is encoded too, so that
// neither SMTP nor mbox readers touch the line.
std::string QuotedPrintable(std::string_view text) {
  if (!text.empty() && text.back() == '\n') {
    text.remove_suffix(1);
  }
  std::string out;
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string_view::npos) {
      end = text.size();
    }
    std::string_view line = text.substr(start, end - start);
    if (!line.empty() && line.back() == '\r') {
      line.remove_suffix(1);
    }
    std::size_t column = 0;
    for (std::size_t i = 0; i < line.size(); ++i) {
      const auto c = static_cast<unsigned char>(line[i]);
      const bool last = i + 1 == line.size();
      const bool leading_special = i == 0 && (c == '.' || line.substr(0, 5) == "From ");
      std::string piece;
      if (leading_special || c == '=' || (c < 0x20 && c != '\t') || c >= 0x7F ||
          ((c == ' ' || c == '\t') && last)) {
        piece = {'=', kHexUpper[c >> 4], kHexUpper[c & 0xF]};
      } else {
        piece = std::string(1, static_cast<char>(c));
      }
      // Room for the piece and, unless it ends the line, a soft break "=".
      const std::size_t limit = last ? kQpLineLength : kQpLineLength - 1;
      if (column + piece.size() > limit) {
        out += "=\r\n";
        column = 0;
      }
      out += piece;
      column += piece.size();
    }
    out += "\r\n";
    if (end == text.size()) {
      break;
    }
    start = end + 1;
  }
  return out;
}

// The words of a paragraph; a `code span` stays one word, so that a policy line or a TXT record
// is never broken across lines.
std::vector<std::string_view> Words(std::string_view text) {
  std::vector<std::string_view> words;
  const bool balanced = std::count(text.begin(), text.end(), '`') % 2 == 0;
  bool code = false;
  std::size_t word_start = 0;
  for (std::size_t i = 0; i <= text.size(); ++i) {
    if (i < text.size() && text[i] == '`' && balanced) {
      code = !code;
    }
    if (i == text.size() || (text[i] == ' ' && !code)) {
      words.push_back(text.substr(word_start, i - word_start));
      word_start = i + 1;
    }
  }
  return words;
}

// Word-wraps a paragraph at `width` bytes (words longer than that stay whole).
std::string Wrap(std::string_view text, std::size_t width, std::string_view indent = "") {
  std::string out;
  std::string line(indent);
  bool empty = true;
  for (const std::string_view word : Words(text)) {
    if (!word.empty()) {
      if (!empty && line.size() + 1 + word.size() > width) {
        out += line + "\n";
        line = std::string(indent);
        empty = true;
      }
      line += empty ? std::string(word) : " " + std::string(word);
      empty = false;
    }
  }
  if (!empty) {
    out += line + "\n";
  }
  return out;
}

std::string HtmlEscape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (const char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

// Escaped HTML, with `code` spans as <code>.
std::string HtmlInline(std::string_view s) {
  std::string out;
  bool code = false;
  std::size_t start = 0;
  const bool balanced = std::count(s.begin(), s.end(), '`') % 2 == 0;
  while (start <= s.size()) {
    std::size_t tick = balanced ? s.find('`', start) : std::string_view::npos;
    if (tick == std::string_view::npos) {
      tick = s.size();
    }
    const std::string part = HtmlEscape(s.substr(start, tick - start));
    out += code ? "<code>" + part + "</code>" : part;
    if (tick == s.size()) {
      break;
    }
    code = !code;
    start = tick + 1;
  }
  return out;
}

// Slack's mrkdwn control characters (https://api.slack.com/reference/surfaces/formatting).
std::string SlackEscape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (const char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string Span(Time from, Time to) {
  const auto minutes = std::chrono::duration_cast<std::chrono::minutes>(to - from).count();
  if (minutes < 1) {
    return "less than a minute";
  }
  constexpr long long kMinutesPerDay = 24LL * 60;
  const auto days = minutes / kMinutesPerDay;
  const auto hours = minutes / 60 % 24;
  const auto plural = [](long long n, std::string_view unit) {
    return std::to_string(n) + " " + std::string(unit) + (n == 1 ? "" : "s");
  };
  if (days > 0) {
    return plural(days, "day") + (hours > 0 ? " " + plural(hours, "hour") : "");
  }
  if (minutes >= 60) {
    return plural(minutes / 60, "hour");
  }
  return plural(minutes, "minute");
}

std::string SeverityUpper(Severity s) { return Upper(SeverityName(s)); }

// "CRITICAL", "Reminder: CRITICAL", "Now CRITICAL (was WARNING)", "Resolved (was CRITICAL)".
std::string StateLine(const Notification& n) {
  std::string sev = SeverityUpper(n.problem.severity);
  switch (n.kind) {
    case NotificationKind::kOpened:
      return sev + " — new alert";
    case NotificationKind::kReminder:
      return sev + " — still open (reminder)";
    case NotificationKind::kEscalated:
      return "Now " + sev + " (was " + SeverityUpper(n.previous_severity) + ")";
    case NotificationKind::kResolved:
      return "RESOLVED (was " + sev + ")";
    case NotificationKind::kNotice:
      return sev + " — change seen";
  }
  return sev;
}

std::string SubjectPrefix(const Notification& n) {
  const std::string sev = SeverityUpper(n.problem.severity);
  switch (n.kind) {
    case NotificationKind::kOpened:
    case NotificationKind::kNotice:
      return sev + ": ";
    case NotificationKind::kReminder:
      return "Reminder, " + sev + ": ";
    case NotificationKind::kEscalated:
      return "Now " + sev + ": ";
    case NotificationKind::kResolved:
      return "Resolved: ";
  }
  return sev + ": ";
}

std::string Subject(const Notification& n, std::string_view site_name) {
  return "[" + std::string(site_name) + "] " + SubjectPrefix(n) + n.problem.summary;
}

bool HasFix(const Notification& n) {
  return n.kind != NotificationKind::kResolved && !n.problem.fix.empty();
}

std::string SinceLine(const Notification& n) {
  std::string since = FormatTime(n.opened_at);
  if (n.kind == NotificationKind::kResolved && n.resolved_at) {
    return since + ", resolved " + FormatTime(*n.resolved_at) + " (after " +
           Span(n.opened_at, *n.resolved_at) + ")";
  }
  if (n.kind != NotificationKind::kNotice) {
    since += " (open for " + Span(n.opened_at, n.time) + ")";
  }
  return since;
}

std::string EventIds(const Notification& n) {
  std::string out;
  for (const std::string& id : n.event_ids) {
    out += (out.empty() ? "" : ", ") + id;
  }
  return out;
}

std::string TextBody(const Notification& n, const EmailSettings& settings) {
  const Problem& p = n.problem;
  std::string t;
  t += StateLine(n) + "\n\n";
  t += Wrap(p.summary, kTextWidth) + "\n";
  t += n.kind == NotificationKind::kResolved ? "What was wrong\n" : "What is wrong\n";
  t += Wrap(p.detail, kTextWidth) + "\n";
  t += "Domain: " + p.domain + "\n";
  if (!p.host.empty()) {
    t += "Host:   " + p.host + "\n";
  }
  t += (n.kind == NotificationKind::kNotice ? "Seen:   " : "Since:  ") + SinceLine(n) + "\n";
  if (!p.rfc.empty()) {
    t += "Rule:   " + p.rfc + "\n";
  }
  if (HasFix(n)) {
    t += "\nHow to fix it\n" + Wrap(p.fix, kTextWidth);
  }
  t += "\n-- \n";
  t += Wrap("Alert " + n.alert_id + ", notification " + std::to_string(n.sequence) + ", problem " +
                p.key + ".",
            kTextWidth);
  if (!n.event_ids.empty()) {
    t += Wrap("Drift events: " + EventIds(n) + ".", kTextWidth);
  }
  t += Wrap(settings.site_name + " (stswatch MTA-STS monitoring)", kTextWidth);
  return t;
}

std::string HtmlBody(const Notification& n, const EmailSettings& settings,
                     std::string_view subject) {
  const Problem& p = n.problem;
  const std::string color = p.severity == Severity::kCritical  ? "#b00020"
                            : p.severity == Severity::kWarning ? "#9a6700"
                                                               : "#0b5394";
  const std::string state_color = n.kind == NotificationKind::kResolved ? "#1a7f37" : color;
  const auto row = [](std::string_view name, const std::string& value_html) {
    return "<tr><th align=\"left\" valign=\"top\" style=\"padding:2px 12px 2px 0\">" +
           std::string(name) + "</th>\n<td style=\"padding:2px 0\">" + value_html + "</td></tr>\n";
  };
  std::string h;
  h += "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">\n<title>" + HtmlEscape(subject) +
       "</title></head>\n";
  h += "<body style=\"font-family:sans-serif;font-size:14px;line-height:1.4\">\n";
  h += "<p style=\"color:" + state_color + ";font-weight:bold\">" + HtmlEscape(StateLine(n)) +
       "</p>\n";
  h += "<h2 style=\"font-size:18px\">" + HtmlInline(p.summary) + "</h2>\n";
  h += "<p><b>" +
       std::string(n.kind == NotificationKind::kResolved ? "What was wrong" : "What is wrong") +
       "</b><br>\n" + HtmlInline(p.detail) + "</p>\n";
  h += "<table style=\"border-collapse:collapse\">\n";
  h += row("Domain", HtmlEscape(p.domain));
  if (!p.host.empty()) {
    h += row("Host", HtmlEscape(p.host));
  }
  h += row(n.kind == NotificationKind::kNotice ? "Seen" : "Since", HtmlEscape(SinceLine(n)));
  if (!p.rfc.empty()) {
    h += row("Rule", HtmlEscape(p.rfc));
  }
  h += "</table>\n";
  if (HasFix(n)) {
    h += "<p><b>How to fix it</b><br>\n" + HtmlInline(p.fix) + "</p>\n";
  }
  h += "<p style=\"color:#666;font-size:12px\">Alert " + HtmlEscape(n.alert_id) +
       ", notification " + std::to_string(n.sequence) + ", problem " + HtmlEscape(p.key) + ".";
  if (!n.event_ids.empty()) {
    h += "<br>\nDrift events: " + HtmlEscape(EventIds(n)) + ".";
  }
  h += "<br>\n" + HtmlEscape(settings.site_name) + " (stswatch MTA-STS monitoring)</p>\n";
  h += "</body></html>\n";
  return h;
}

json::array StringsJson(const std::vector<std::string>& values) {
  json::array a;
  a.reserve(values.size());
  for (const std::string& v : values) {
    a.emplace_back(v);
  }
  return a;
}

std::string Hmac(std::string_view secret, std::int64_t timestamp, std::string_view body) {
  std::string input = std::to_string(timestamp);
  input += '.';
  input += body;
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  // A zero-length key still needs a valid pointer.
  static constexpr unsigned char kEmpty[1] = {0};
  const void* key =
      secret.empty() ? static_cast<const void*>(kEmpty) : static_cast<const void*>(secret.data());
  HMAC(EVP_sha256(), key, static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &mac_len);
  return Hex(mac, mac_len);
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
    s.remove_suffix(1);
  }
  return s;
}

// The notification with line breaks and other controls in its texts made spaces: every text
// is one paragraph, whatever the data.
Notification Clean(const Notification& n) {
  Notification c = n;
  for (std::string* field :
       {&c.problem.domain, &c.problem.key, &c.problem.summary, &c.problem.detail, &c.problem.fix,
        &c.problem.rfc, &c.problem.host, &c.alert_id}) {
    *field = HeaderSafe(*field);
  }
  for (std::string& id : c.event_ids) {
    id = HeaderSafe(id);
  }
  return c;
}

}  // namespace

std::string MessageId(std::string_view alert_id, std::uint32_t sequence) {
  return "<alert-" + std::string(alert_id) + "." + std::to_string(sequence) + "@stswatch>";
}

EmailMessage RenderEmail(const Notification& notification, const EmailSettings& settings) {
  const Notification n = Clean(notification);
  EmailMessage m;
  m.message_id = MessageId(n.alert_id, n.kind == NotificationKind::kNotice ? 0 : n.sequence);
  if (n.kind != NotificationKind::kNotice && n.sequence > 0) {
    m.in_reply_to = MessageId(n.alert_id, 0);
  }
  m.subject = HeaderSafe(Subject(n, settings.site_name));

  // The boundary starts with "=_", which quoted-printable text never contains.
  const std::string seed = m.message_id;
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(seed.data()), seed.size(), digest);
  const std::string boundary = "=_stswatch_" + Hex(digest, 12);

  std::string to;
  for (const std::string& r : settings.to) {
    to += (to.empty() ? "" : ", ") + Mailbox(r);
  }
  std::string d;
  d += Header("Date", MailDate(n.time));
  d += Header("From", Mailbox(settings.from));
  d += Header("To", to);
  d += Header("Subject", m.subject);
  d += Header("Message-ID", m.message_id);
  if (!m.in_reply_to.empty()) {
    d += Header("In-Reply-To", m.in_reply_to);
    d += Header("References", m.in_reply_to);
  }
  // RFC 3834: automatic mail; vacation responders stay quiet.
  d += Header("Auto-Submitted", "auto-generated");
  d += Header("X-Stswatch-Alert", n.alert_id);
  d += Header("X-Stswatch-State", NotificationKindName(n.kind));
  d += Header("X-Stswatch-Severity", SeverityName(n.problem.severity));
  d += Header("MIME-Version", "1.0");
  d += "Content-Type: multipart/alternative;\r\n boundary=\"" + boundary + "\"\r\n";
  d += "\r\n";
  d += "This is a MIME message with a text and an HTML version.\r\n";
  for (const auto& [type, body] :
       {std::pair<std::string_view, std::string>{"text/plain", TextBody(n, settings)},
        std::pair<std::string_view, std::string>{"text/html", HtmlBody(n, settings, m.subject)}}) {
    d += "\r\n--" + boundary + "\r\n";
    d += "Content-Type: " + std::string(type) + "; charset=utf-8\r\n";
    d += "Content-Transfer-Encoding: quoted-printable\r\n";
    d += "\r\n";
    d += QuotedPrintable(body);
  }
  d += "\r\n--" + boundary + "--\r\n";
  m.data = std::move(d);
  return m;
}

std::string RenderWebhookJson(const Notification& n) {
  const Problem& p = n.problem;
  json::object o;
  o["version"] = kWebhookVersion;
  o["delivery_id"] = n.alert_id + "." + std::to_string(n.sequence);
  o["alert_id"] = n.alert_id;
  o["state"] = NotificationKindName(n.kind);
  o["sequence"] = n.sequence;
  o["severity"] = SeverityName(p.severity);
  o["previous_severity"] = SeverityName(n.previous_severity);
  o["tenant"] = n.tenant;
  o["domain"] = p.domain;
  o["problem_key"] = p.key;
  o["summary"] = p.summary;
  o["detail"] = p.detail;
  o["fix"] = p.fix;
  o["rfc"] = p.rfc;
  o["host"] = p.host;
  o["opened_at"] = FormatTime(n.opened_at);
  if (n.resolved_at) {
    o["resolved_at"] = FormatTime(*n.resolved_at);
  } else {
    o["resolved_at"] = nullptr;
  }
  o["sent_at"] = FormatTime(n.time);
  o["event_ids"] = StringsJson(n.event_ids);
  return json::serialize(o);
}

std::string RenderSlackJson(const Notification& notification) {
  const Notification n = Clean(notification);
  const Problem& p = n.problem;
  const std::string title = SubjectPrefix(n) + p.summary;
  const auto mrkdwn = [](const std::string& text, std::size_t max) {
    json::object t;
    t["type"] = "mrkdwn";
    t["text"] = Truncate(text, max);
    return t;
  };
  const auto section = [&](const std::string& text) {
    json::object s;
    s["type"] = "section";
    s["text"] = mrkdwn(text, kSlackTextMax);
    return s;
  };
  json::array blocks;
  {
    json::object header;
    header["type"] = "header";
    json::object text;
    text["type"] = "plain_text";
    text["text"] = Truncate(title, kSlackHeaderMax);
    header["text"] = std::move(text);
    blocks.emplace_back(std::move(header));
  }
  blocks.emplace_back(
      section(std::string(n.kind == NotificationKind::kResolved ? "*What was wrong*\n"
                                                                : "*What is wrong*\n") +
              SlackEscape(p.detail)));
  {
    json::array fields;
    fields.emplace_back(mrkdwn("*Domain*\n" + SlackEscape(p.domain), kSlackFieldMax));
    if (!p.host.empty()) {
      fields.emplace_back(mrkdwn("*Host*\n" + SlackEscape(p.host), kSlackFieldMax));
    }
    fields.emplace_back(
        mrkdwn(std::string(n.kind == NotificationKind::kNotice ? "*Seen*\n" : "*Since*\n") +
                   SlackEscape(SinceLine(n)),
               kSlackFieldMax));
    if (!p.rfc.empty()) {
      fields.emplace_back(mrkdwn("*Rule*\n" + SlackEscape(p.rfc), kSlackFieldMax));
    }
    json::object s;
    s["type"] = "section";
    s["fields"] = std::move(fields);
    blocks.emplace_back(std::move(s));
  }
  if (HasFix(n)) {
    blocks.emplace_back(section("*How to fix it*\n" + SlackEscape(p.fix)));
  }
  {
    json::object context;
    context["type"] = "context";
    json::array elements;
    elements.emplace_back(
        mrkdwn(SlackEscape(StateLine(n) + " · alert " + n.alert_id + " · notification " +
                           std::to_string(n.sequence) + " · " + p.key),
               kSlackTextMax));
    context["elements"] = std::move(elements);
    blocks.emplace_back(std::move(context));
  }
  json::object o;
  o["text"] = Truncate(SlackEscape(title), kSlackTextMax);
  o["blocks"] = std::move(blocks);
  return json::serialize(o);
}

std::string SignWebhook(std::string_view secret, std::int64_t timestamp, std::string_view body) {
  return "t=" + std::to_string(timestamp) + ",v1=" + Hmac(secret, timestamp, body);
}

bool VerifyWebhookSignature(std::string_view secret, std::string_view header, std::string_view body,
                            std::int64_t now, std::int64_t tolerance_seconds) {
  if (secret.empty()) {
    return false;
  }
  std::optional<std::int64_t> timestamp;
  std::vector<std::string> signatures;
  std::size_t start = 0;
  while (start <= header.size()) {
    std::size_t comma = header.find(',', start);
    if (comma == std::string_view::npos) {
      comma = header.size();
    }
    const std::string_view item = Trim(header.substr(start, comma - start));
    if (item.starts_with("t=")) {
      const std::string_view digits = item.substr(2);
      std::int64_t t = 0;
      const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), t);
      if (ec != std::errc() || end != digits.data() + digits.size() || digits.empty() ||
          timestamp) {
        return false;  // Malformed or repeated: refuse rather than guess.
      }
      timestamp = t;
    } else if (item.starts_with("v1=")) {
      std::string sig(item.substr(3));
      std::transform(sig.begin(), sig.end(), sig.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      signatures.push_back(std::move(sig));
    }
    if (comma == header.size()) {
      break;
    }
    start = comma + 1;
  }
  if (!timestamp || signatures.empty() || tolerance_seconds < 0) {
    return false;
  }
  // |now - t| > tolerance, without overflowing on hostile timestamps.
  const bool stale =
      *timestamp > now ? static_cast<std::uint64_t>(*timestamp) - static_cast<std::uint64_t>(now) >
                             static_cast<std::uint64_t>(tolerance_seconds)
                       : static_cast<std::uint64_t>(now) - static_cast<std::uint64_t>(*timestamp) >
                             static_cast<std::uint64_t>(tolerance_seconds);
  if (stale) {
    return false;
  }
  const std::string expected = Hmac(secret, *timestamp, body);
  bool match = false;
  for (const std::string& sig : signatures) {
    if (sig.size() == expected.size() &&
        CRYPTO_memcmp(sig.data(), expected.data(), expected.size()) == 0) {
      match = true;
    }
  }
  return match;
}

}  // namespace stswatch::alerting
