#include "alerting/render.h"

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "alerting/rules.h"

namespace stswatch::alerting {
namespace {

namespace json = boost::json;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;
using namespace std::chrono_literals;

// 2026-03-01T12:00:00Z, a Sunday.
constexpr Time kT0 = std::chrono::sys_days{std::chrono::year{2026} / 3 / 1} + 12h;
constexpr std::int64_t kT0Unix = 1772366400;

drift::Event Ev(const std::string& id, drift::EventKind kind, Severity severity,
                const std::string& subject, const std::string& after, Time at,
                const std::string& domain = "example.com") {
  drift::Event e;
  e.id = id;
  e.domain = domain;
  e.kind = kind;
  e.severity = severity;
  e.subject = subject;
  e.time = at;
  e.before = "null";
  e.after = after;
  e.message = "The check saw " + id + ".";
  return e;
}

// The notifications of an uncovered MX in enforce mode, as the rules make them: opened, a
// reminder, resolved.
std::vector<Notification> Mx9Thread() {
  AlertBook book;
  TenantPolicy policy;
  policy.tenant = "acme";
  std::vector<Notification> out =
      book.OnEvent(policy,
                   Ev("e1", drift::EventKind::kMxNotCovered, Severity::kCritical, "mx9.example.net",
                      "\"mx9.example.net\"", kT0),
                   kT0);
  for (Notification& n : book.OnTick(kT0 + 24h)) {
    out.push_back(std::move(n));
  }
  for (Notification& n : book.OnEvent(
           policy,
           Ev("e2", drift::EventKind::kStatusChanged, Severity::kInfo, "", "\"ok\"", kT0 + 26h),
           kT0 + 26h)) {
    out.push_back(std::move(n));
  }
  return out;
}

EmailSettings Settings() {
  EmailSettings s;
  s.from = "stswatch <alerts@stswatch.example>";
  s.to = {"postmaster@example.com", "Ops <ops@example.com>"};
  s.site_name = "stswatch";
  return s;
}

// ---- A small MIME reader, strict enough to catch malformed output ----

struct Part {
  std::map<std::string, std::string> headers;  // Lower-case names, unfolded values.
  std::string body;                            // Raw (still encoded).
};

std::map<std::string, std::string> ParseHeaders(const std::string& block) {
  std::map<std::string, std::string> headers;
  std::string unfolded;
  std::size_t start = 0;
  std::vector<std::string> lines;
  while (start < block.size()) {
    std::size_t end = block.find("\r\n", start);
    if (end == std::string::npos) {
      end = block.size();
    }
    const std::string line = block.substr(start, end - start);
    if (!line.empty() && (line[0] == ' ' || line[0] == '\t')) {
      EXPECT_FALSE(lines.empty());
      lines.back() += line;  // RFC 5322 §2.2.3: unfolding removes the CRLF only.
    } else {
      lines.push_back(line);
    }
    start = end + 2;
  }
  for (const std::string& line : lines) {
    const std::size_t colon = line.find(':');
    EXPECT_NE(colon, std::string::npos) << line;
    if (colon == std::string::npos) {
      continue;
    }
    std::string name = line.substr(0, colon);
    for (char& c : name) {
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    std::string value = line.substr(colon + 1);
    while (!value.empty() && value[0] == ' ') {
      value.erase(0, 1);
    }
    EXPECT_EQ(headers.count(name), 0u) << "repeated header " << name;
    headers[name] = value;
  }
  return headers;
}

struct Mail {
  std::map<std::string, std::string> headers;
  std::vector<Part> parts;
};

Mail ParseMail(const std::string& data) {
  Mail m;
  const std::size_t split = data.find("\r\n\r\n");
  EXPECT_NE(split, std::string::npos);
  m.headers = ParseHeaders(data.substr(0, split));
  const std::string& type = m.headers["content-type"];
  const std::string marker = "boundary=\"";
  const std::size_t b = type.find(marker);
  EXPECT_NE(b, std::string::npos) << type;
  const std::string boundary =
      type.substr(b + marker.size(), type.find('"', b + marker.size()) - b - marker.size());
  const std::string body = data.substr(split + 4);
  const std::string delimiter = "\r\n--" + boundary;
  // The preamble, then parts each after "\r\n--boundary\r\n", then "\r\n--boundary--\r\n".
  std::size_t pos = body.find(delimiter);
  EXPECT_NE(pos, std::string::npos);
  while (pos != std::string::npos) {
    const std::size_t after = pos + delimiter.size();
    if (body.compare(after, 4, "--\r\n") == 0) {
      EXPECT_EQ(after + 4, body.size()) << "text after the closing boundary";
      break;
    }
    EXPECT_EQ(body.compare(after, 2, "\r\n"), 0);
    const std::size_t next = body.find(delimiter, after);
    EXPECT_NE(next, std::string::npos) << "no closing boundary";
    if (next == std::string::npos) {
      break;
    }
    const std::string part = body.substr(after + 2, next - after - 2);
    const std::size_t part_split = part.find("\r\n\r\n");
    Part p;
    p.headers = ParseHeaders(part.substr(0, part_split));
    p.body = part.substr(part_split + 4);
    m.parts.push_back(p);
    pos = next;
  }
  return m;
}

// Decodes quoted-printable text, with its CRLF line ends made "\n".
std::string DecodeQuotedPrintable(const std::string& in) {
  std::string out;
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '=' && in.compare(i + 1, 2, "\r\n") == 0) {
      i += 2;
    } else if (in.compare(i, 2, "\r\n") == 0) {
      out += '\n';
      i += 1;
    } else if (in[i] == '=' && i + 2 < in.size()) {
      out += static_cast<char>(std::stoi(in.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else {
      out += in[i];
    }
  }
  return out;
}

std::string DecodeBase64(const std::string& in) {
  std::string out(in.size(), '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(in.data()),
                                static_cast<int>(in.size()));
  out.resize(static_cast<std::size_t>(n));
  while (!out.empty() && out.back() == '\0' && in.ends_with("=")) {
    out.pop_back();  // EVP_DecodeBlock counts the padding.
  }
  return out;
}

// RFC 2047 "B" encoded-words separated by folding whitespace, as a reader decodes them.
std::string DecodeEncodedWords(const std::string& value) {
  std::string out;
  std::size_t pos = 0;
  while ((pos = value.find("=?UTF-8?B?", pos)) != std::string::npos) {
    const std::size_t end = value.find("?=", pos + 10);
    EXPECT_LE(end - pos + 2, 75u) << "encoded-word longer than 75 characters";
    out += DecodeBase64(value.substr(pos + 10, end - pos - 10));
    pos = end + 2;
  }
  return out;
}

// Line breaks and runs of spaces made single spaces: wrapped text compared as prose.
std::string Flatten(const std::string& s) {
  std::string out;
  for (const char c : s) {
    const char d = (c == '\r' || c == '\n') ? ' ' : c;
    if (d == ' ' && !out.empty() && out.back() == ' ') {
      continue;
    }
    out += d;
  }
  return out;
}

void ExpectWellFormedLines(const std::string& data) {
  std::size_t start = 0;
  while (start < data.size()) {
    const std::size_t end = data.find("\r\n", start);
    ASSERT_NE(end, std::string::npos) << "the message does not end with CRLF";
    const std::string line = data.substr(start, end - start);
    EXPECT_LE(line.size(), 78u) << line;
    EXPECT_EQ(line.find('\n'), std::string::npos) << "bare LF in " << line;
    EXPECT_EQ(line.find('\r'), std::string::npos) << "bare CR in " << line;
    for (const char c : line) {
      EXPECT_EQ(static_cast<unsigned char>(c) & 0x80, 0) << "non-ASCII byte in " << line;
    }
    start = end + 2;
  }
}

// ---- E-mail ----

TEST(RenderEmail, IsAMultipartAlternativeWithATextAndAnHtmlPart) {
  const std::vector<Notification> thread = Mx9Thread();
  ASSERT_EQ(thread.size(), 3u);
  const EmailMessage m = RenderEmail(thread[0], Settings());
  ExpectWellFormedLines(m.data);
  const Mail mail = ParseMail(m.data);

  EXPECT_EQ(mail.headers.at("date"), "Sun, 01 Mar 2026 12:00:00 +0000");
  EXPECT_EQ(mail.headers.at("from"), "stswatch <alerts@stswatch.example>");
  EXPECT_EQ(mail.headers.at("to"), "postmaster@example.com, Ops <ops@example.com>");
  EXPECT_EQ(mail.headers.at("subject"),
            "[stswatch] CRITICAL: MX host mx9.example.net is not covered by the MTA-STS policy of "
            "example.com");
  EXPECT_EQ(mail.headers.at("subject"), m.subject);
  EXPECT_EQ(mail.headers.at("message-id"), "<alert-" + thread[0].alert_id + ".0@stswatch>");
  EXPECT_EQ(mail.headers.at("mime-version"), "1.0");
  EXPECT_EQ(mail.headers.at("auto-submitted"), "auto-generated");
  EXPECT_EQ(mail.headers.count("in-reply-to"), 0u);
  EXPECT_THAT(mail.headers.at("content-type"), StartsWith("multipart/alternative;"));

  ASSERT_EQ(mail.parts.size(), 2u);
  EXPECT_EQ(mail.parts[0].headers.at("content-type"), "text/plain; charset=utf-8");
  EXPECT_EQ(mail.parts[1].headers.at("content-type"), "text/html; charset=utf-8");
  for (const Part& p : mail.parts) {
    EXPECT_EQ(p.headers.at("content-transfer-encoding"), "quoted-printable");
    std::size_t start = 0;
    while (start < p.body.size()) {
      const std::size_t end = p.body.find("\r\n", start);
      EXPECT_LE(end - start, 76u) << "quoted-printable line too long";
      start = end + 2;
    }
  }

  // The text a person acts on: what, which host, since when, the rule, the fix.
  const std::string text = DecodeQuotedPrintable(mail.parts[0].body);
  const std::string flat = Flatten(text);
  EXPECT_THAT(flat, HasSubstr("MX host mx9.example.net is not covered by the MTA-STS policy of "
                              "example.com (mode enforce): compliant senders refuse to deliver "
                              "to it."));
  EXPECT_THAT(flat, HasSubstr("Add the line `mx: mx9.example.net` to "
                              "https://mta-sts.example.com/.well-known/mta-sts.txt and publish a "
                              "new id in the _mta-sts.example.com TXT record (`v=STSv1; "
                              "id=20260301120000;`)."));
  EXPECT_THAT(text, HasSubstr("Host:   mx9.example.net\n"));
  EXPECT_THAT(text, HasSubstr("Since:  2026-03-01T12:00:00Z (open for less than a minute)\n"));
  EXPECT_THAT(text, HasSubstr("Rule:   RFC 8461 §4.1, §3.1\n"));
  EXPECT_THAT(text, HasSubstr("CRITICAL — new alert"));

  const std::string html = DecodeQuotedPrintable(mail.parts[1].body);
  EXPECT_THAT(html, HasSubstr("<meta charset=\"utf-8\">"));
  EXPECT_THAT(Flatten(html), HasSubstr("Add the line <code>mx: mx9.example.net</code> to"));
  EXPECT_THAT(html, HasSubstr("RFC 8461 §4.1, §3.1"));
}

TEST(RenderEmail, LaterMailsOfAnAlertThreadUnderItsFirst) {
  const std::vector<Notification> thread = Mx9Thread();
  ASSERT_EQ(thread.size(), 3u);
  ASSERT_EQ(thread[1].kind, NotificationKind::kReminder);
  ASSERT_EQ(thread[2].kind, NotificationKind::kResolved);
  const std::string first = MessageId(thread[0].alert_id, 0);
  EXPECT_EQ(RenderEmail(thread[0], Settings()).message_id, first);
  for (std::size_t i = 1; i < thread.size(); ++i) {
    const EmailMessage m = RenderEmail(thread[i], Settings());
    const Mail mail = ParseMail(m.data);
    EXPECT_EQ(m.message_id,
              "<alert-" + thread[0].alert_id + "." + std::to_string(i) + "@stswatch>");
    EXPECT_EQ(mail.headers.at("message-id"), m.message_id);
    EXPECT_EQ(mail.headers.at("in-reply-to"), first);
    EXPECT_EQ(mail.headers.at("references"), first);
    EXPECT_EQ(m.in_reply_to, first);
  }
  EXPECT_THAT(RenderEmail(thread[1], Settings()).subject,
              StartsWith("[stswatch] Reminder, CRITICAL: MX host mx9.example.net"));
  const EmailMessage resolved = RenderEmail(thread[2], Settings());
  EXPECT_THAT(resolved.subject, StartsWith("[stswatch] Resolved: MX host mx9.example.net"));
  const std::string text = DecodeQuotedPrintable(ParseMail(resolved.data).parts[0].body);
  EXPECT_THAT(text, HasSubstr("RESOLVED (was CRITICAL)"));
  EXPECT_THAT(text, HasSubstr("resolved 2026-03-02T14:00:00Z (after 1 day 2 hours)"));
  EXPECT_THAT(text, Not(HasSubstr("How to fix it")));
}

TEST(RenderEmail, MessageIdAndBytesAreStableForTheSameNotification) {
  const Notification n = Mx9Thread()[0];
  const EmailMessage a = RenderEmail(n, Settings());
  const EmailMessage b = RenderEmail(Mx9Thread()[0], Settings());
  EXPECT_EQ(a.message_id, b.message_id);
  EXPECT_EQ(a.data, b.data);
}

TEST(RenderEmail, NonAsciiSubjectIsEncodedAsRfc2047Words) {
  Notification n = Mx9Thread()[0];
  n.problem.domain = "bücher.example";
  n.problem.summary =
      "MX host mx.bücher.example is not covered by the MTA-STS policy of "
      "bücher.example — the policy lists only mx1.bücher.example";
  EmailSettings settings = Settings();
  settings.site_name = "Überwachung";
  settings.from = "Überwachung <alerts@stswatch.example>";
  const EmailMessage m = RenderEmail(n, settings);
  ExpectWellFormedLines(m.data);
  const Mail mail = ParseMail(m.data);
  const std::string& subject = mail.headers.at("subject");
  EXPECT_THAT(subject, StartsWith("=?UTF-8?B?"));
  EXPECT_EQ(DecodeEncodedWords(subject), "[Überwachung] CRITICAL: " + n.problem.summary);
  EXPECT_EQ(m.subject, "[Überwachung] CRITICAL: " + n.problem.summary);
  const std::string& from = mail.headers.at("from");
  EXPECT_THAT(from, HasSubstr("<alerts@stswatch.example>"));
  EXPECT_EQ(DecodeEncodedWords(from), "Überwachung");
  // The body keeps the UTF-8 text, quoted-printable.
  EXPECT_THAT(DecodeQuotedPrintable(mail.parts[0].body), HasSubstr("bücher.example"));
}

TEST(RenderEmail, HostileNamesAreEscapedInHtmlAndCannotAddHeaders) {
  Notification n = Mx9Thread()[0];
  n.problem.domain = "evil.example\r\nBcc: victim@example.org";
  n.problem.host = "\"><img src=x onerror=alert(1)>";
  n.problem.summary = "<script>alert('x')</script> & co";
  n.problem.detail = "Detail with <b>markup</b> & \"quotes\".";
  n.problem.fix = "Add `<mx: a&b>` please.";
  const EmailMessage m = RenderEmail(n, Settings());
  ExpectWellFormedLines(m.data);
  const Mail mail = ParseMail(m.data);
  EXPECT_EQ(mail.headers.count("bcc"), 0u);
  EXPECT_THAT(m.data, Not(HasSubstr("\r\nBcc:")));
  EXPECT_EQ(mail.headers.at("subject"), "[stswatch] CRITICAL: <script>alert('x')</script> & co");

  const std::string html = DecodeQuotedPrintable(mail.parts[1].body);
  EXPECT_THAT(html, Not(HasSubstr("<script>")));
  EXPECT_THAT(html, Not(HasSubstr("<img")));
  EXPECT_THAT(html, Not(HasSubstr("<b>markup")));
  EXPECT_THAT(html, HasSubstr("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; co"));
  EXPECT_THAT(html, HasSubstr("&quot;&gt;&lt;img src=x onerror=alert(1)&gt;"));
  EXPECT_THAT(html, HasSubstr("<code>&lt;mx: a&amp;b&gt;</code>"));
  // The text part says it as it is.
  EXPECT_THAT(DecodeQuotedPrintable(mail.parts[0].body), HasSubstr("<script>alert('x')</script>"));
}

TEST(RenderEmail, QuotedPrintableProtectsDotsFromAndTrailingSpace) {
  Notification n = Mx9Thread()[0];
  n.problem.detail = std::string(200, 'x') + " =3D " + std::string(70, 'a') + " .dot " +
                     std::string(70, 'b') + " From here";
  const EmailMessage m = RenderEmail(n, Settings());
  ExpectWellFormedLines(m.data);
  const Mail mail = ParseMail(m.data);
  // 200 x's cannot be word-wrapped: soft line breaks keep the lines short and decode back.
  EXPECT_THAT(DecodeQuotedPrintable(mail.parts[0].body),
              HasSubstr(std::string(200, 'x') + "\n=3D"));
  EXPECT_THAT(mail.parts[0].body, HasSubstr("=3D3D"));
  // Lines of text that start with "." or "From " are encoded so that neither SMTP nor mbox
  // touches them.
  EXPECT_THAT(mail.parts[0].body, HasSubstr("\r\n=2Edot "));
  EXPECT_THAT(mail.parts[0].body, HasSubstr("\r\n=46rom here"));
  EXPECT_THAT(DecodeQuotedPrintable(mail.parts[0].body), HasSubstr("\n.dot "));
  // A signature separator "-- " keeps its trailing space, encoded.
  EXPECT_THAT(mail.parts[0].body, HasSubstr("\r\n--=20\r\n"));
}

// ---- Webhooks ----

TEST(RenderWebhook, BodyHasTheDocumentedMembers) {
  const std::vector<Notification> thread = Mx9Thread();
  const json::value v = json::parse(RenderWebhookJson(thread[2]));
  const json::object& o = v.as_object();
  EXPECT_EQ(o.at("version").as_int64(), 1);
  EXPECT_EQ(o.at("delivery_id").as_string(), thread[0].alert_id + ".2");
  EXPECT_EQ(o.at("alert_id").as_string(), thread[0].alert_id);
  EXPECT_EQ(o.at("state").as_string(), "resolved");
  EXPECT_EQ(o.at("sequence").to_number<int>(), 2);
  EXPECT_EQ(o.at("severity").as_string(), "critical");
  EXPECT_EQ(o.at("previous_severity").as_string(), "critical");
  EXPECT_EQ(o.at("tenant").as_string(), "acme");
  EXPECT_EQ(o.at("domain").as_string(), "example.com");
  EXPECT_EQ(o.at("problem_key").as_string(), "mx_not_covered:mx9.example.net");
  EXPECT_EQ(o.at("summary").as_string(),
            "MX host mx9.example.net is not covered by the MTA-STS policy of example.com");
  EXPECT_THAT(std::string(o.at("detail").as_string()), HasSubstr("(mode enforce)"));
  EXPECT_THAT(std::string(o.at("fix").as_string()), HasSubstr("`mx: mx9.example.net`"));
  EXPECT_EQ(o.at("rfc").as_string(), "RFC 8461 §4.1, §3.1");
  EXPECT_EQ(o.at("host").as_string(), "mx9.example.net");
  EXPECT_EQ(o.at("opened_at").as_string(), "2026-03-01T12:00:00Z");
  EXPECT_EQ(o.at("resolved_at").as_string(), "2026-03-02T14:00:00Z");
  EXPECT_EQ(o.at("sent_at").as_string(), "2026-03-02T14:00:00Z");
  ASSERT_EQ(o.at("event_ids").as_array().size(), 2u);
  EXPECT_EQ(o.at("event_ids").as_array()[0].as_string(), "e1");
  EXPECT_EQ(o.at("event_ids").as_array()[1].as_string(), "e2");
  // An open alert has no resolved_at.
  EXPECT_TRUE(json::parse(RenderWebhookJson(thread[0])).as_object().at("resolved_at").is_null());

  // Every member is documented for receivers.
  const char* srcdir = std::getenv("TEST_SRCDIR");
  const char* workspace = std::getenv("TEST_WORKSPACE");
  ASSERT_NE(srcdir, nullptr);
  std::ifstream in(std::string(srcdir) + "/" + (workspace ? workspace : "stswatch") +
                   "/alerting/README.md");
  std::stringstream readme;
  readme << in.rdbuf();
  ASSERT_FALSE(readme.str().empty());
  for (const auto& member : o) {
    EXPECT_THAT(readme.str(), HasSubstr("| `" + std::string(member.key()) + "` |"))
        << "alerting/README.md does not document the webhook member " << member.key();
  }
}

TEST(RenderWebhook, SlackPayloadHasTextAndBlocksAndEscapesMentions) {
  Notification n = Mx9Thread()[0];
  n.problem.detail = "<!channel> look at <https://evil.example|this> & that";
  const json::value v = json::parse(RenderSlackJson(n));
  const json::object& o = v.as_object();
  ASSERT_TRUE(o.at("text").is_string());
  EXPECT_THAT(std::string(o.at("text").as_string()),
              HasSubstr("CRITICAL: MX host mx9.example.net is not covered"));
  const json::array& blocks = o.at("blocks").as_array();
  ASSERT_GE(blocks.size(), 4u);
  EXPECT_EQ(blocks[0].as_object().at("type").as_string(), "header");
  EXPECT_EQ(blocks[0].as_object().at("text").as_object().at("type").as_string(), "plain_text");
  EXPECT_LE(blocks[0].as_object().at("text").as_object().at("text").as_string().size(), 150u);
  std::string all;
  for (const json::value& b : blocks) {
    const json::object& block = b.as_object();
    const std::string type(block.at("type").as_string());
    EXPECT_THAT(type, ::testing::AnyOf("header", "section", "context"));
    if (type == "section") {
      if (const json::value* text = block.if_contains("text")) {
        EXPECT_EQ(text->as_object().at("type").as_string(), "mrkdwn");
        all += std::string(text->as_object().at("text").as_string()) + "\n";
      } else {
        for (const json::value& f : block.at("fields").as_array()) {
          EXPECT_EQ(f.as_object().at("type").as_string(), "mrkdwn");
          all += std::string(f.as_object().at("text").as_string()) + "\n";
        }
      }
    }
  }
  EXPECT_THAT(all,
              HasSubstr("&lt;!channel&gt; look at &lt;https://evil.example|this&gt; &amp; that"));
  EXPECT_THAT(all, Not(HasSubstr("<!channel>")));
  EXPECT_THAT(all, HasSubstr("*How to fix it*\nAdd the line `mx: mx9.example.net`"));
  EXPECT_THAT(all, HasSubstr("*Host*\nmx9.example.net"));
}

std::string OpensslHmacHex(const std::string& key, const std::string& data) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac, &len);
  std::string hex;
  char buf[3];
  for (unsigned int i = 0; i < len; ++i) {
    std::snprintf(buf, sizeof buf, "%02x", mac[i]);
    hex += buf;
  }
  return hex;
}

TEST(WebhookSignature, IsHmacSha256OverTimestampDotBody) {
  const std::string body = RenderWebhookJson(Mx9Thread()[0]);
  EXPECT_EQ(SignWebhook("s3cret", kT0Unix, body),
            "t=1772366400,v1=" + OpensslHmacHex("s3cret", "1772366400." + body));
  // Pinned: receivers in other languages compute the same (Python:
  // hmac.new(b"whsec_test", b'1772366400.{"alert_id":"x"}', hashlib.sha256).hexdigest()).
  EXPECT_EQ(SignWebhook("whsec_test", kT0Unix, R"({"alert_id":"x"})"),
            "t=1772366400,v1=25fa0be2319efe73b0750bc91ea111288420f15caeef3815daec3208bd9403a3");
}

TEST(WebhookSignature, VerificationRefusesWrongSecretTamperedBodyAndStaleTimestamps) {
  const std::string body = RenderWebhookJson(Mx9Thread()[0]);
  const std::string header = SignWebhook("s3cret", kT0Unix, body);
  EXPECT_TRUE(VerifyWebhookSignature("s3cret", header, body, kT0Unix));
  EXPECT_TRUE(VerifyWebhookSignature("s3cret", header, body, kT0Unix + 300));
  EXPECT_TRUE(VerifyWebhookSignature("s3cret", header, body, kT0Unix - 300));

  EXPECT_FALSE(VerifyWebhookSignature("s3cret!", header, body, kT0Unix));
  std::string tampered = body;
  tampered[tampered.find("critical")] = 'C';
  EXPECT_FALSE(VerifyWebhookSignature("s3cret", header, tampered, kT0Unix));
  EXPECT_FALSE(VerifyWebhookSignature("s3cret", header, body, kT0Unix + 301));
  EXPECT_FALSE(VerifyWebhookSignature("s3cret", header, body, kT0Unix - 301));
  EXPECT_TRUE(VerifyWebhookSignature("s3cret", header, body, kT0Unix + 3600, 3600));
  // The timestamp is signed: moving it breaks the signature.
  const std::string moved = "t=" + std::to_string(kT0Unix + 1000) + header.substr(header.find(','));
  EXPECT_FALSE(VerifyWebhookSignature("s3cret", moved, body, kT0Unix + 1000));

  // Key rotation: any v1 may match; case of the hex digits does not matter.
  const std::string v1 = header.substr(header.find("v1="));
  EXPECT_TRUE(VerifyWebhookSignature(
      "s3cret", "t=" + std::to_string(kT0Unix) + ",v1=" + std::string(64, '0') + ", " + v1, body,
      kT0Unix));
  std::string upper = header;
  for (char& c : upper) {
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  upper[0] = 't';
  upper[upper.find("V1=")] = 'v';
  EXPECT_TRUE(VerifyWebhookSignature("s3cret", upper, body, kT0Unix));

  // Malformed headers and an empty secret verify nothing.
  for (const std::string& bad : std::vector<std::string>{
           "", "v1=" + std::string(64, 'a'), "t=1772366400", "t=abc," + v1,
           "t=1772366400,t=1772366400," + v1, "t=99999999999999999999," + v1}) {
    EXPECT_FALSE(VerifyWebhookSignature("s3cret", bad, body, kT0Unix)) << bad;
  }
  EXPECT_FALSE(VerifyWebhookSignature("", SignWebhook("", kT0Unix, body), body, kT0Unix));
  EXPECT_FALSE(VerifyWebhookSignature("s3cret", "t=-9223372036854775807," + v1, body,
                                      std::int64_t{9223372036854775807}));
}

}  // namespace
}  // namespace stswatch::alerting
