#include "alerting/smtp_sender.h"

#include <array>
#include <memory>
#include <optional>
#include <utility>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "mtasts/text.h"
#include "prober/async.h"
#include "prober/smtp_reply.h"
#include "prober/tls.h"

namespace stswatch::alerting {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using asio::ip::tcp;
using prober::SmtpReply;
using prober::SmtpReplyParser;
using Clock = std::chrono::steady_clock;

namespace {

// The most addresses of the relay's name tried in turn.
constexpr std::size_t kMaxEndpoints = 8;
// The most bytes of a relay's reply quoted in an error.
constexpr std::size_t kMaxQuotedReply = 300;
// RFC 5321 §4.5.3.1.3: a path is at most 256 octets.
constexpr std::size_t kMaxPathBytes = 256;
constexpr std::size_t kMaxRecipients = 1000;

std::string FormatDuration(std::chrono::milliseconds d) {
  if (d.count() % 1000 == 0) {
    return std::to_string(d.count() / 1000) + " s";
  }
  return std::to_string(d.count()) + " ms";
}

// "550 5.1.1 no such user": the code and the reply's lines, control and non-ASCII bytes as "?",
// cut after kMaxQuotedReply bytes.
std::string Describe(const SmtpReply& reply) {
  std::string text = std::to_string(reply.code);
  std::size_t quoted = 0;
  for (const std::string& line : reply.lines) {
    text += ' ';
    for (const char c : line) {
      if (quoted++ == kMaxQuotedReply) {
        return text + "...";
      }
      const auto u = static_cast<unsigned char>(c);
      text += u < 0x20 || u >= 0x7f ? '?' : c;
    }
  }
  while (!text.empty() && text.back() == ' ') {
    text.pop_back();
  }
  return text;
}

// The text of a reply's first line (the queue id of the final 250), printable.
std::string ReplyText(const SmtpReply& reply) {
  const std::string described = Describe(reply);
  const std::size_t space = described.find(' ');
  return space == std::string::npos ? "" : described.substr(space + 1);
}

// The EHLO keyword lines (after the greeting line) as upper-case words.
std::vector<std::vector<std::string>> Extensions(const SmtpReply& ehlo) {
  std::vector<std::vector<std::string>> out;
  out.reserve(ehlo.lines.size());
  for (std::size_t i = 1; i < ehlo.lines.size(); ++i) {
    std::vector<std::string> words;
    std::string word;
    for (const char c : ehlo.lines[i]) {
      // RFC 4954 §3 notes old servers announcing "AUTH=PLAIN LOGIN".
      if (c == ' ' || (c == '=' && words.empty())) {
        if (!word.empty()) {
          words.push_back(mtasts::ToLowerAscii(word));
          word.clear();
        }
      } else {
        word += c;
      }
    }
    if (!word.empty()) {
      words.push_back(mtasts::ToLowerAscii(word));
    }
    if (!words.empty()) {
      out.push_back(std::move(words));
    }
  }
  return out;
}

bool Offers(const SmtpReply& ehlo, std::string_view keyword) {
  for (const auto& words : Extensions(ehlo)) {
    if (words.front() == keyword) {
      return true;
    }
  }
  return false;
}

bool OffersAuth(const SmtpReply& ehlo, std::string_view mechanism) {
  for (const auto& words : Extensions(ehlo)) {
    if (words.front() != "auth") {
      continue;
    }
    for (std::size_t i = 1; i < words.size(); ++i) {
      if (words[i] == mechanism) {
        return true;
      }
    }
  }
  return false;
}

std::string Base64(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3), '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()),
                                static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

// Why `path` cannot go into MAIL FROM / RCPT TO, or "".
std::string CheckPath(std::string_view path) {
  if (path.size() > kMaxPathBytes) {
    return "is longer than 256 characters";
  }
  for (const char c : path) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f) {
      return "contains a space, a control character or a non-ASCII byte";
    }
    if (c == '<' || c == '>') {
      return "contains an angle bracket (give the bare address)";
    }
  }
  if (path.find('@') == std::string_view::npos) {
    return "has no @";
  }
  return "";
}

// Why the session cannot start with these settings, or "".
std::string CheckSettings(const SmtpRelayOptions& relay, const std::string& mail_from,
                          const std::vector<std::string>& recipients) {
  if (relay.host.empty()) {
    return "no SMTP relay host is configured";
  }
  if (relay.port == 0) {
    return "the SMTP relay port is 0";
  }
  for (const char c : relay.host + relay.helo_name) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f) {
      return "the relay host or HELO name contains a space, a control character or a non-ASCII "
             "byte";
    }
  }
  if (relay.helo_name.empty()) {
    return "the HELO name is empty";
  }
  if (relay.username.find('\0') != std::string::npos ||
      relay.password.find('\0') != std::string::npos) {
    return "the relay user name or password contains a NUL byte";
  }
  if (!mail_from.empty()) {
    if (std::string why = CheckPath(mail_from); !why.empty()) {
      return "the sender address " + mtasts::Quote(mail_from) + " " + why;
    }
  }
  if (recipients.empty()) {
    return "there is no recipient";
  }
  if (recipients.size() > kMaxRecipients) {
    return "there are more than 1000 recipients";
  }
  for (const std::string& to : recipients) {
    if (std::string why = CheckPath(to); !why.empty()) {
      return "the recipient address " + mtasts::Quote(to) + " " + why;
    }
  }
  return "";
}

// A reply read from the relay, or why none could be.
struct Read {
  std::optional<SmtpReply> reply;
  std::string error;
};

// The connection to the relay: a TCP socket, TLS over it once started.
class Connection {
 public:
  explicit Connection(const asio::any_io_executor& executor) : socket_(executor) {}

  tcp::socket& Socket() { return socket_; }
  bool IsTls() const { return tls_ != nullptr; }

  // Starts TLS on the connected socket, judging the certificate for `host` when `verify`.
  // Returns "" or why the handshake failed.
  asio::awaitable<std::string> StartTls(ssl::context& context, std::string host, bool verify) {
    // RFC 3207 §4.2: what the server sent before the handshake was not protected by it.
    parser_ = SmtpReplyParser();
    tls_ = std::make_unique<ssl::stream<tcp::socket&>>(socket_, context);
    SSL* ssl = tls_->native_handle();
    if (!host.empty() && host.back() == '.') {
      host.pop_back();
    }
    boost::system::error_code ec;
    asio::ip::make_address(host, ec);
    const bool is_address = !ec;
    if (verify) {
      tls_->set_verify_mode(ssl::verify_peer);
      X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
      if (is_address) {
        X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str());
      } else {
        // RFC 6125 §6.4.3: a wildcard only as the complete left-most label.
        X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
        SSL_set1_host(ssl, host.c_str());
      }
    } else {
      tls_->set_verify_mode(ssl::verify_none);
    }
    // RFC 6066 §3: SNI carries host names only, never address literals.
    if (!is_address) {
      SSL_set_tlsext_host_name(ssl, host.c_str());
    }
    co_await tls_->async_handshake(ssl::stream_base::client,
                                   asio::redirect_error(asio::use_awaitable, ec));
    if (!ec) {
      co_return "";
    }
    const long verify_result = SSL_get_verify_result(ssl);
    std::string error = prober::HandshakeError(ec);
    if (verify && verify_result != X509_V_OK) {
      error += std::string(" (") + X509_verify_cert_error_string(verify_result) + ")";
    }
    co_return error;
  }

  asio::awaitable<Read> ReadReply() {
    Read read;
    std::array<char, 4096> buffer;
    while (true) {
      if (auto reply = parser_.Next()) {
        read.reply = std::move(reply);
        co_return read;
      }
      if (parser_.failed()) {
        read.error =
            "the relay sent something that is not an SMTP reply: " + parser_.error_message();
        co_return read;
      }
      boost::system::error_code ec;
      std::size_t n = 0;
      if (tls_) {
        n = co_await tls_->async_read_some(asio::buffer(buffer),
                                           asio::redirect_error(asio::use_awaitable, ec));
      } else {
        n = co_await socket_.async_read_some(asio::buffer(buffer),
                                             asio::redirect_error(asio::use_awaitable, ec));
      }
      if (n > 0) {
        parser_.Feed(std::string_view(buffer.data(), n));
        continue;
      }
      if (ec) {
        read.error = ec == asio::error::eof || ec == ssl::error::stream_truncated
                         ? "the relay closed the connection"
                         : ec.message();
        co_return read;
      }
    }
  }

  // Returns "" or why the bytes could not be sent.
  asio::awaitable<std::string> Send(std::string bytes) {
    boost::system::error_code ec;
    if (tls_) {
      co_await asio::async_write(*tls_, asio::buffer(bytes),
                                 asio::redirect_error(asio::use_awaitable, ec));
    } else {
      co_await asio::async_write(socket_, asio::buffer(bytes),
                                 asio::redirect_error(asio::use_awaitable, ec));
    }
    co_return ec ? ec.message() : std::string();
  }

  // Sends `line` (CRLF appended) and reads the reply.
  asio::awaitable<Read> Command(std::string line) {
    line += "\r\n";
    Read read;
    read.error = co_await Send(std::move(line));
    if (!read.error.empty()) {
      co_return read;
    }
    read = co_await ReadReply();
    co_return read;
  }

 private:
  tcp::socket socket_;
  std::unique_ptr<ssl::stream<tcp::socket&>> tls_;
  SmtpReplyParser parser_;
};

// The addresses of the relay's name, or why there are none.
struct Resolved {
  std::vector<tcp::endpoint> endpoints;
  std::string error;
};

// The shared state of a name resolution raced against the deadline: the resolver's handler may
// run after the coroutine gave up waiting.
struct Resolution {
  explicit Resolution(const asio::any_io_executor& executor) : signal(executor) {}
  asio::steady_timer signal;
  bool done = false;
  boost::system::error_code ec;
  std::vector<tcp::endpoint> endpoints;
};

asio::awaitable<Resolved> ResolveRelay(std::string host, std::uint16_t port,
                                       Clock::time_point deadline_at,
                                       std::chrono::milliseconds timeout) {
  Resolved resolved;
  boost::system::error_code ec;
  const asio::ip::address literal = asio::ip::make_address(host, ec);
  if (!ec) {
    resolved.endpoints.emplace_back(literal, port);
    co_return resolved;
  }
  auto executor = co_await asio::this_coro::executor;
  auto state = std::make_shared<Resolution>(executor);
  state->signal.expires_at(deadline_at);
  tcp::resolver resolver(executor);
  // getaddrinfo cannot be interrupted: the wait ends at the deadline whatever it does.
  resolver.async_resolve(
      host, std::to_string(port), tcp::resolver::numeric_service,
      [state](const boost::system::error_code& error, const tcp::resolver::results_type& results) {
        state->done = true;
        state->ec = error;
        for (const auto& entry : results) {
          if (state->endpoints.size() < kMaxEndpoints) {
            state->endpoints.push_back(entry.endpoint());
          }
        }
        state->signal.cancel();
      });
  boost::system::error_code wait_ec;
  co_await state->signal.async_wait(asio::redirect_error(asio::use_awaitable, wait_ec));
  if (!state->done) {
    resolver.cancel();
    resolved.error =
        "resolving the relay host " + host + " took longer than " + FormatDuration(timeout);
    co_return resolved;
  }
  if (state->ec) {
    resolved.error = "cannot resolve the relay host " + host + ": " + state->ec.message();
    co_return resolved;
  }
  resolved.endpoints = state->endpoints;
  if (resolved.endpoints.empty()) {
    resolved.error = "the relay host " + host + " has no address";
  }
  co_return resolved;
}

}  // namespace

std::string DotStuff(std::string_view data) {
  std::string out;
  out.reserve(data.size() + data.size() / 32 + 8);
  bool line_start = true;
  for (std::size_t i = 0; i < data.size(); ++i) {
    const char c = data[i];
    if (c == '\r' || c == '\n') {
      if (c == '\r' && i + 1 < data.size() && data[i + 1] == '\n') {
        ++i;
      }
      out += "\r\n";
      line_start = true;
      continue;
    }
    // RFC 5321 §4.5.2: a line beginning with "." gets one more.
    if (line_start && c == '.') {
      out += '.';
    }
    out += c;
    line_start = false;
  }
  if (!line_start) {
    out += "\r\n";
  }
  out += ".\r\n";
  return out;
}

asio::awaitable<SendResult> SendMail(ssl::context& tls, SmtpRelayOptions relay,
                                     std::string mail_from, std::vector<std::string> recipients,
                                     std::string data) {
  SendResult result;
  const Clock::time_point deadline_at = Clock::now() + relay.timeout;
  if (std::string why = CheckSettings(relay, mail_from, recipients); !why.empty()) {
    result.permanent = true;
    result.error = "the message was not sent: " + why;
    co_return result;
  }

  const Resolved resolved =
      co_await ResolveRelay(relay.host, relay.port, deadline_at, relay.timeout);
  if (!resolved.error.empty()) {
    result.error = resolved.error;
    co_return result;
  }

  auto executor = co_await asio::this_coro::executor;
  Connection conn(executor);
  prober::Deadline<tcp::socket> deadline(conn.Socket(), deadline_at);
  const auto fail = [&](std::string error, bool permanent) {
    result.ok = false;
    if (deadline.expired()) {
      result.permanent = false;
      result.error = "the session with the relay took longer than " +
                     FormatDuration(relay.timeout) + " (" + error + ")";
    } else {
      result.permanent = permanent;
      result.error = std::move(error);
    }
    return result;
  };
  // `what` was answered `reply`, which is not what the dialogue needs.
  const auto refused = [&](const std::string& what, const SmtpReply& reply) {
    return fail(what + " refused: " + Describe(reply), reply.code >= 500);
  };

  boost::system::error_code ec;
  std::string connect_errors;
  bool connected = false;
  for (const tcp::endpoint& endpoint : resolved.endpoints) {
    if (deadline.expired()) {
      break;
    }
    boost::system::error_code ignored;
    conn.Socket().close(ignored);
    co_await conn.Socket().async_connect(endpoint, asio::redirect_error(asio::use_awaitable, ec));
    if (!ec) {
      connected = true;
      break;
    }
    connect_errors +=
        (connect_errors.empty() ? "" : "; ") + endpoint.address().to_string() + ": " + ec.message();
  }
  if (!connected) {
    if (connect_errors.empty()) {
      connect_errors = "no address was tried";
    }
    co_return fail("cannot connect to the relay " + relay.host + " port " +
                       std::to_string(relay.port) + " (" + connect_errors + ")",
                   false);
  }

  if (relay.tls == SmtpRelayOptions::Tls::kImplicit) {
    const std::string error = co_await conn.StartTls(tls, relay.host, relay.verify_certificate);
    if (!error.empty()) {
      co_return fail("the TLS handshake with the relay failed: " + error, false);
    }
  }
  const Read banner = co_await conn.ReadReply();
  if (!banner.reply) {
    co_return fail("reading the relay's greeting: " + banner.error, false);
  }
  if (banner.reply->code != 220) {
    co_return fail("the relay's greeting is " + Describe(*banner.reply) + ", not 220",
                   banner.reply->code >= 500);
  }

  // The EHLO reply in force: its extensions decide STARTTLS and AUTH.
  SmtpReply ehlo;
  Read hello = co_await conn.Command("EHLO " + relay.helo_name);
  if (!hello.reply) {
    co_return fail("reading the reply to EHLO: " + hello.error, false);
  }
  if (hello.reply->code >= 500) {
    // RFC 5321 §3.2: a server that does not know EHLO answers 5xx; HELO has no extensions.
    hello = co_await conn.Command("HELO " + relay.helo_name);
    if (!hello.reply) {
      co_return fail("reading the reply to HELO: " + hello.error, false);
    }
    if (hello.reply->code != 250) {
      co_return refused("HELO", *hello.reply);
    }
  } else if (hello.reply->code != 250) {
    co_return refused("EHLO", *hello.reply);
  }
  ehlo = *hello.reply;

  const bool wants_starttls = relay.tls == SmtpRelayOptions::Tls::kRequired ||
                              relay.tls == SmtpRelayOptions::Tls::kOpportunistic;
  const bool requires_tls = relay.tls == SmtpRelayOptions::Tls::kRequired;
  if (wants_starttls && !conn.IsTls()) {
    bool start = Offers(ehlo, "starttls");
    if (!start && requires_tls) {
      co_await conn.Send("QUIT\r\n");
      co_return fail("the relay does not offer STARTTLS and TLS is required; nothing was sent",
                     false);
    }
    if (start) {
      const Read ready = co_await conn.Command("STARTTLS");
      if (!ready.reply) {
        co_return fail("reading the reply to STARTTLS: " + ready.error, false);
      }
      if (ready.reply->code != 220) {
        if (requires_tls) {
          co_await conn.Send("QUIT\r\n");
          co_return refused("STARTTLS", *ready.reply);
        }
        start = false;
      }
    }
    if (start) {
      const std::string error = co_await conn.StartTls(tls, relay.host, relay.verify_certificate);
      if (!error.empty()) {
        co_return fail("the TLS handshake with the relay failed: " + error, false);
      }
      // RFC 3207 §4.2: forget what was learnt before TLS, ask again.
      hello = co_await conn.Command("EHLO " + relay.helo_name);
      if (!hello.reply) {
        co_return fail("reading the reply to EHLO after STARTTLS: " + hello.error, false);
      }
      if (hello.reply->code != 250) {
        co_return refused("EHLO after STARTTLS", *hello.reply);
      }
      ehlo = *hello.reply;
    }
  }
  result.tls = conn.IsTls();

  if (!relay.username.empty()) {
    if (!conn.IsTls()) {
      co_await conn.Send("QUIT\r\n");
      co_return fail(
          "the connection to the relay is not encrypted, so the credentials were not sent", true);
    }
    if (OffersAuth(ehlo, "plain")) {
      // RFC 4616: authorization identity (empty), NUL, user name, NUL, password.
      std::string credentials;
      credentials.reserve(relay.username.size() + relay.password.size() + 2);
      credentials += '\0';
      credentials += relay.username;
      credentials += '\0';
      credentials += relay.password;
      const Read auth = co_await conn.Command("AUTH PLAIN " + Base64(credentials));
      if (!auth.reply) {
        co_return fail("reading the reply to AUTH PLAIN: " + auth.error, false);
      }
      if (auth.reply->code != 235) {
        co_await conn.Send("QUIT\r\n");
        co_return refused("AUTH PLAIN", *auth.reply);
      }
    } else if (OffersAuth(ehlo, "login")) {
      Read auth = co_await conn.Command("AUTH LOGIN");
      if (auth.reply && auth.reply->code == 334) {
        auth = co_await conn.Command(Base64(relay.username));
      }
      if (auth.reply && auth.reply->code == 334) {
        auth = co_await conn.Command(Base64(relay.password));
      }
      if (!auth.reply) {
        co_return fail("reading the reply to AUTH LOGIN: " + auth.error, false);
      }
      if (auth.reply->code != 235) {
        co_await conn.Send("QUIT\r\n");
        co_return refused("AUTH LOGIN", *auth.reply);
      }
    } else {
      co_await conn.Send("QUIT\r\n");
      co_return fail(Offers(ehlo, "auth")
                         ? "the relay offers no AUTH mechanism this client speaks (PLAIN, LOGIN)"
                         : "the relay does not offer AUTH, and a user name is configured",
                     true);
    }
  }

  const std::string mail = "MAIL FROM:<" + mail_from + ">";
  const Read mail_reply = co_await conn.Command(mail);
  if (!mail_reply.reply) {
    co_return fail("reading the reply to " + mail + ": " + mail_reply.error, false);
  }
  if (mail_reply.reply->code != 250) {
    co_await conn.Send("QUIT\r\n");
    co_return refused(mail, *mail_reply.reply);
  }

  std::size_t accepted = 0;
  bool all_permanent = true;
  std::string refusals;
  for (const std::string& to : recipients) {
    const std::string rcpt = "RCPT TO:<" + to + ">";
    const Read rcpt_reply = co_await conn.Command(rcpt);
    if (!rcpt_reply.reply) {
      co_return fail("reading the reply to " + rcpt + ": " + rcpt_reply.error, false);
    }
    const int code = rcpt_reply.reply->code;
    if (code == 250 || code == 251) {
      ++accepted;
      continue;
    }
    RefusedRecipient r;
    r.address = to;
    r.permanent = code >= 500;
    r.error = rcpt + " refused: " + Describe(*rcpt_reply.reply);
    all_permanent = all_permanent && r.permanent;
    refusals += (refusals.empty() ? "" : "; ") + r.error;
    result.refused.push_back(std::move(r));
  }
  if (accepted == 0) {
    co_await conn.Send("QUIT\r\n");
    co_return fail("every recipient was refused: " + refusals, all_permanent);
  }

  const Read go_ahead = co_await conn.Command("DATA");
  if (!go_ahead.reply) {
    co_return fail("reading the reply to DATA: " + go_ahead.error, false);
  }
  if (go_ahead.reply->code != 354) {
    co_await conn.Send("QUIT\r\n");
    co_return refused("DATA", *go_ahead.reply);
  }
  const std::string send_error = co_await conn.Send(DotStuff(data));
  if (!send_error.empty()) {
    co_return fail("sending the message: " + send_error, false);
  }
  const Read queued = co_await conn.ReadReply();
  if (!queued.reply) {
    co_return fail("reading the reply to the end of the message: " + queued.error, false);
  }
  if (queued.reply->code != 250) {
    co_await conn.Send("QUIT\r\n");
    co_return fail("the message was refused: " + Describe(*queued.reply),
                   queued.reply->code >= 500);
  }
  result.reply = ReplyText(*queued.reply);

  // The message is accepted: what QUIT gets does not change that.
  const Read bye = co_await conn.Command("QUIT");
  static_cast<void>(bye);
  result.ok = true;
  result.permanent = false;
  result.error.clear();
  co_return result;
}

}  // namespace stswatch::alerting
