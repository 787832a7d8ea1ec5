#pragma once

// The e-mail channel's delivery client: submits one message to the operator's SMTP relay
// (RFC 5321), with STARTTLS (RFC 3207) or implicit TLS (RFC 8314), and SMTP AUTH (RFC 4954:
// PLAIN, else LOGIN).
//
// The dialogue: connect, banner, EHLO (HELO when EHLO is refused with 5xx), STARTTLS as the
// policy says and EHLO again, AUTH when a user name is configured, MAIL FROM, RCPT TO for each
// recipient, DATA, QUIT. The message is sent dot-stuffed, with every line end made CRLF (a bare
// CR or LF never reaches the relay: it could end the data early at a relay that accepts "\n.\n",
// RFC 5321 §4.1.1.4), and terminated by CRLF.CRLF.
//
// Bounds: one deadline for the whole session (resolution included: the relay's name is resolved
// with the system resolver, it is operator configuration, not tenant input); replies through
// prober::SmtpReplyParser's line and line-count limits; error texts quote at most a few hundred
// bytes of what the relay sent.
//
// Lifetime and threading: runs on the executor of the coroutine that awaits it; the ssl::context
// must outlive the coroutine. Destroying the coroutine (its owner stops) closes the connection.

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ssl/context.hpp>

namespace stswatch::alerting {

struct SmtpRelayOptions {
  // Name or IP literal of the relay.
  std::string host;
  std::uint16_t port = 25;
  enum class Tls {
    // STARTTLS must be offered and succeed, else nothing is sent.
    kRequired,
    // STARTTLS when the relay offers it; plain text when it does not, or when it refuses the
    // command. A failed handshake is still a failure (the connection is unusable afterwards).
    kOpportunistic,
    // Never STARTTLS.
    kNone,
    // TLS from the first byte (RFC 8314 §3, usually port 465).
    kImplicit,
  };
  Tls tls = Tls::kRequired;
  // Verify the relay's chain against the ssl::context's trust store and its name (DNS name or IP
  // address in the certificate) against `host`. Off only for a relay with a self-signed
  // certificate on a trusted network.
  bool verify_certificate = true;
  // AUTH when `username` is non-empty; credentials are only ever sent over TLS (a session
  // without TLS fails before AUTH).
  std::string username;
  std::string password;
  // The name given in EHLO/HELO.
  std::string helo_name = "localhost";
  // The whole session, from resolving the relay's name to the reply to QUIT.
  std::chrono::milliseconds timeout{60000};
};

// A recipient the relay refused while others were accepted.
struct RefusedRecipient {
  std::string address;
  // The relay answered 5xx: sending to this recipient again will not help.
  bool permanent = false;
  // "RCPT TO:<a@b> refused: 550 5.1.1 no such user"
  std::string error;
};

struct SendResult {
  // The relay accepted the message for at least one recipient.
  bool ok = false;
  // On failure: the relay answered 5xx, or the configuration cannot work (credentials without
  // TLS, an unsupported AUTH mechanism, an invalid address): retrying the same message will
  // fail the same way. False for 4xx replies, network errors, timeouts and TLS failures.
  bool permanent = false;
  // On failure, a sentence: which step failed and why, with the relay's reply code and text,
  // e.g. "RCPT TO:<a@b> refused: 550 5.1.1 no such user".
  std::string error;
  // On success, the text of the relay's reply to the end of the data (usually the queue id).
  std::string reply;
  // The recipients the relay refused at RCPT TO (on success, the others got the message).
  std::vector<RefusedRecipient> refused;
  // Whether the message (or the AUTH exchange) went over TLS.
  bool tls = false;
};

// Submits `data` (a complete RFC 5322 message, CRLF line ends; see the file comment for how it
// is sent) from `mail_from` to `recipients` (bare addresses, "a@example.org", without angle
// brackets). An empty `mail_from` sends the null reverse-path "<>".
//
// `tls` holds the trust store for verify_certificate; its verify mode is not consulted (each
// connection sets its own).
boost::asio::awaitable<SendResult> SendMail(boost::asio::ssl::context& tls, SmtpRelayOptions relay,
                                            std::string mail_from,
                                            std::vector<std::string> recipients, std::string data);

// The bytes sent after DATA's 354 for `data`: line ends made CRLF, lines beginning with "."
// doubled (RFC 5321 §4.5.2), a final CRLF added when missing, and the terminating ".\r\n".
// Exposed for tests.
std::string DotStuff(std::string_view data);

}  // namespace stswatch::alerting
