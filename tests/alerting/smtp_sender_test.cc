// SendMail against a scripted SMTP relay on a loopback port: the dialogue (EHLO, STARTTLS,
// AUTH, MAIL, RCPT, DATA), the message as the relay receives it, how failures are classified,
// and what is never sent (a message without the TLS the policy requires, credentials in plain
// text). The relay's certificate is made by the test with a CA the client trusts.

#include "alerting/smtp_sender.h"

#include <cctype>
#include <exception>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "tests/alerting/test_ca.h"

namespace stswatch::alerting {
namespace {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using asio::ip::tcp;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;
using namespace std::chrono_literals;

using ::stswatch::alerting::testing::TestCa;

std::string DecodeBase64(const std::string& text) {
  std::string out(text.size(), '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(text.data()),
                                static_cast<int>(text.size()));
  if (n < 0) {
    return "<invalid base64>";
  }
  std::size_t size = static_cast<std::size_t>(n);
  for (std::size_t i = text.size(); i > 0 && text[i - 1] == '='; --i) {
    --size;
  }
  out.resize(size);
  return out;
}

// --- The scripted relay ------------------------------------------------------------------------

struct Script {
  // Accept, then say nothing.
  bool silent = false;
  // TLS from the first byte (port 465 style).
  bool implicit_tls = false;
  std::string banner = "220 relay.test ESMTP";
  // Answer EHLO with 502 (HELO works).
  bool ehlo_unknown = false;
  bool offer_starttls = true;
  std::string starttls_reply = "220 2.0.0 ready to start TLS";
  // The mechanisms after "AUTH" in the EHLO reply; empty: no AUTH line.
  std::string auth = "PLAIN LOGIN";
  std::string auth_reply = "235 2.7.0 authentication successful";
  std::string mail_reply = "250 2.1.0 sender ok";
  // Replies to RCPT TO by address; 250 for the others.
  std::map<std::string, std::string> rcpt_replies;
  std::string data_reply = "354 end data with <CR><LF>.<CR><LF>";
  std::string final_reply = "250 2.0.0 Ok: queued as 4AbC1";
};

struct Seen {
  int connections = 0;
  // The command lines received, in order (AUTH continuation lines included).
  std::vector<std::string> commands;
  bool tls = false;
  std::string sni;
  std::string auth_mechanism;
  bool auth_over_tls = false;
  std::string auth_user;
  std::string auth_password;
  // The bytes after DATA's 354, up to and including the terminating ".\r\n".
  std::string data;
};

class ServerConnection {
 public:
  explicit ServerConnection(tcp::socket socket) : socket_(std::move(socket)) {}

  bool IsTls() const { return tls_ != nullptr; }
  SSL* Ssl() { return tls_->native_handle(); }

  asio::awaitable<void> StartTls(ssl::context& context) {
    tls_ = std::make_unique<ssl::stream<tcp::socket&>>(socket_, context);
    co_await tls_->async_handshake(ssl::stream_base::server, asio::use_awaitable);
  }

  // The next line without its CRLF; throws when the client is gone.
  asio::awaitable<std::string> ReadLine() {
    std::size_t n = 0;
    if (tls_) {
      n = co_await asio::async_read_until(*tls_, asio::dynamic_buffer(buffer_), "\r\n",
                                          asio::use_awaitable);
    } else {
      n = co_await asio::async_read_until(socket_, asio::dynamic_buffer(buffer_), "\r\n",
                                          asio::use_awaitable);
    }
    std::string line = buffer_.substr(0, n - 2);
    buffer_.erase(0, n);
    co_return line;
  }

  // Sends `reply` with a CRLF appended.
  asio::awaitable<void> Write(std::string reply) {
    reply += "\r\n";
    if (tls_) {
      co_await asio::async_write(*tls_, asio::buffer(reply), asio::use_awaitable);
    } else {
      co_await asio::async_write(socket_, asio::buffer(reply), asio::use_awaitable);
    }
  }

 private:
  tcp::socket socket_;
  std::unique_ptr<ssl::stream<tcp::socket&>> tls_;
  std::string buffer_;
};

std::string Verb(const std::string& line) {
  std::string verb = line.substr(0, line.find(' '));
  for (char& c : verb) {
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return verb;
}

asio::awaitable<void> StartServerTls(ServerConnection& conn, ssl::context& tls, Seen& seen) {
  co_await conn.StartTls(tls);
  seen.tls = true;
  if (const char* sni = SSL_get_servername(conn.Ssl(), TLSEXT_NAMETYPE_host_name)) {
    seen.sni = sni;
  }
}

asio::awaitable<void> ServeAuth(ServerConnection& conn, const std::string& line,
                                const Script& script, Seen& seen) {
  seen.auth_over_tls = conn.IsTls();
  const std::string rest = line.substr(5);
  seen.auth_mechanism = rest.substr(0, rest.find(' '));
  if (seen.auth_mechanism == "PLAIN") {
    const std::string decoded = DecodeBase64(rest.substr(6));
    const std::size_t first = decoded.find('\0');
    const std::size_t second = decoded.find('\0', first + 1);
    if (first != std::string::npos && second != std::string::npos) {
      seen.auth_user = decoded.substr(first + 1, second - first - 1);
      seen.auth_password = decoded.substr(second + 1);
    }
  } else if (seen.auth_mechanism == "LOGIN") {
    co_await conn.Write("334 VXNlcm5hbWU6");
    std::string user = co_await conn.ReadLine();
    seen.commands.push_back(user);
    seen.auth_user = DecodeBase64(user);
    co_await conn.Write("334 UGFzc3dvcmQ6");
    std::string password = co_await conn.ReadLine();
    seen.commands.push_back(password);
    seen.auth_password = DecodeBase64(password);
  }
  co_await conn.Write(script.auth_reply);
}

// Serves one connection from `acceptor` as `script` says, recording what arrives in `seen`.
asio::awaitable<void> ServeSmtp(tcp::acceptor& acceptor, ssl::context& tls, const Script& script,
                                Seen& seen) {
  ServerConnection conn(co_await acceptor.async_accept(asio::use_awaitable));
  ++seen.connections;
  if (script.silent) {
    co_await conn.ReadLine();  // Returns when the client gives up and closes.
    co_return;
  }
  if (script.implicit_tls) {
    co_await StartServerTls(conn, tls, seen);
  }
  co_await conn.Write(script.banner);
  while (true) {
    const std::string line = co_await conn.ReadLine();
    seen.commands.push_back(line);
    const std::string verb = Verb(line);
    if (verb == "EHLO") {
      if (script.ehlo_unknown) {
        co_await conn.Write("502 5.5.2 command not recognized");
        continue;
      }
      std::string reply = "250-relay.test greets you\r\n250-PIPELINING\r\n";
      if (script.offer_starttls && !conn.IsTls()) {
        reply += "250-STARTTLS\r\n";
      }
      if (!script.auth.empty()) {
        reply += "250-AUTH " + script.auth + "\r\n";
      }
      reply += "250 8BITMIME";
      co_await conn.Write(reply);
    } else if (verb == "HELO") {
      co_await conn.Write("250 relay.test");
    } else if (verb == "STARTTLS") {
      co_await conn.Write(script.starttls_reply);
      if (script.starttls_reply.rfind("220", 0) == 0) {
        co_await StartServerTls(conn, tls, seen);
      }
    } else if (verb == "AUTH") {
      co_await ServeAuth(conn, line, script, seen);
    } else if (verb == "MAIL") {
      co_await conn.Write(script.mail_reply);
    } else if (verb == "RCPT") {
      const std::size_t open = line.find('<');
      const std::size_t close = line.find('>');
      const std::string address = line.substr(open + 1, close - open - 1);
      // Not a conditional expression in the co_await: GCC 12 destroys its temporary twice.
      std::string reply = "250 2.1.5 recipient ok";
      if (const auto it = script.rcpt_replies.find(address); it != script.rcpt_replies.end()) {
        reply = it->second;
      }
      co_await conn.Write(reply);
    } else if (verb == "DATA") {
      co_await conn.Write(script.data_reply);
      if (script.data_reply.rfind("354", 0) != 0) {
        continue;
      }
      while (true) {
        const std::string data_line = co_await conn.ReadLine();
        seen.data += data_line + "\r\n";
        if (data_line == ".") {
          break;
        }
      }
      co_await conn.Write(script.final_reply);
    } else if (verb == "QUIT") {
      co_await conn.Write("221 2.0.0 bye");
      co_return;
    } else {
      co_await conn.Write("500 5.5.1 unknown command");
    }
  }
}

// --- Fixture -----------------------------------------------------------------------------------

constexpr char kMessage[] =
    "From: stswatch <alerts@stswatch.test>\r\n"
    "To: ops@example.org\r\n"
    "Subject: test\r\n"
    "\r\n"
    ".a line that begins with a dot\r\n"
    "..two dots\r\n"
    ".\r\n"
    "a bare LF\n"
    ".after a bare LF\r\n"
    "no final line end";

constexpr char kStuffed[] =
    "From: stswatch <alerts@stswatch.test>\r\n"
    "To: ops@example.org\r\n"
    "Subject: test\r\n"
    "\r\n"
    "..a line that begins with a dot\r\n"
    "...two dots\r\n"
    "..\r\n"
    "a bare LF\r\n"
    "..after a bare LF\r\n"
    "no final line end\r\n"
    ".\r\n";

class SmtpSenderTest : public ::testing::Test {
 protected:
  SmtpSenderTest()
      : acceptor_(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)),
        server_tls_(ssl::context::tls_server),
        client_tls_(ssl::context::tls_client) {
    ca_.Trust(client_tls_);
    ca_.Issue(server_tls_, "DNS:localhost,IP:127.0.0.1");
  }

  SmtpRelayOptions Relay() const {
    SmtpRelayOptions relay;
    relay.host = "127.0.0.1";
    relay.port = acceptor_.local_endpoint().port();
    relay.helo_name = "alerter.test";
    relay.timeout = 30s;
    return relay;
  }

  // Runs the scripted relay and SendMail until both are done.
  SendResult Send(const SmtpRelayOptions& relay,
                  const std::vector<std::string>& recipients = {"ops@example.org"},
                  const std::string& data = kMessage) {
    asio::co_spawn(io_, ServeSmtp(acceptor_, server_tls_, script_, seen_),
                   [](const std::exception_ptr&) {});
    std::optional<SendResult> result;
    std::exception_ptr failure;
    asio::co_spawn(io_, SendMail(*client_, relay, "alerts@stswatch.test", recipients, data),
                   [&](const std::exception_ptr& e, SendResult r) {
                     failure = e;
                     result = std::move(r);
                     // The relay may still wait for a connection that will not come.
                     boost::system::error_code ignored;
                     acceptor_.close(ignored);
                   });
    // Only a guard against a hang in the test's own relay; SendMail has its deadline.
    io_.run_for(60s);
    EXPECT_TRUE(io_.stopped()) << "the test relay or the client is still running";
    if (failure) {
      std::rethrow_exception(failure);
    }
    EXPECT_TRUE(result.has_value());
    return result.value_or(SendResult{});
  }

  bool Received(const std::string& prefix) const {
    for (const std::string& command : seen_.commands) {
      if (command.rfind(prefix, 0) == 0) {
        return true;
      }
    }
    return false;
  }

  asio::io_context io_;
  tcp::acceptor acceptor_;
  TestCa ca_;
  ssl::context server_tls_;
  ssl::context client_tls_;
  // The client's context: client_tls_ unless a test says otherwise.
  ssl::context* client_ = &client_tls_;
  Script script_;
  Seen seen_;
};

// --- Tests -------------------------------------------------------------------------------------

TEST(DotStuffTest, StuffsLeadingDotsAndTerminates) {
  EXPECT_EQ(DotStuff(kMessage), kStuffed);
  EXPECT_EQ(DotStuff("a\r\n"), "a\r\n.\r\n");
  EXPECT_EQ(DotStuff("a"), "a\r\n.\r\n");
  EXPECT_EQ(DotStuff(""), ".\r\n");
  EXPECT_EQ(DotStuff("."), "..\r\n.\r\n");
  EXPECT_EQ(DotStuff("a\rb"), "a\r\nb\r\n.\r\n");
  // A bare LF before a dot line never reaches the relay as one ("\n.\n" ends data at some).
  EXPECT_EQ(DotStuff("x\n.\ny"), "x\r\n..\r\ny\r\n.\r\n");
}

TEST_F(SmtpSenderTest, DeliversOverStartTlsWithAuthPlain) {
  SmtpRelayOptions relay = Relay();
  relay.username = "alerter";
  relay.password = "s3cret pass";
  const SendResult result = Send(relay);
  ASSERT_TRUE(result.ok) << result.error;
  EXPECT_EQ(result.reply, "2.0.0 Ok: queued as 4AbC1");
  EXPECT_TRUE(result.tls);
  EXPECT_TRUE(result.refused.empty());
  EXPECT_TRUE(seen_.tls);
  EXPECT_EQ(seen_.sni, "");  // No SNI for an address literal.
  ASSERT_EQ(seen_.commands.size(), 8u);
  EXPECT_EQ(seen_.commands[0], "EHLO alerter.test");
  EXPECT_EQ(seen_.commands[1], "STARTTLS");
  EXPECT_EQ(seen_.commands[2], "EHLO alerter.test");
  EXPECT_THAT(seen_.commands[3], StartsWith("AUTH PLAIN "));
  EXPECT_EQ(seen_.commands[4], "MAIL FROM:<alerts@stswatch.test>");
  EXPECT_EQ(seen_.commands[5], "RCPT TO:<ops@example.org>");
  EXPECT_EQ(seen_.commands[6], "DATA");
  EXPECT_EQ(seen_.commands[7], "QUIT");
  EXPECT_EQ(seen_.auth_mechanism, "PLAIN");
  EXPECT_TRUE(seen_.auth_over_tls);
  EXPECT_EQ(seen_.auth_user, "alerter");
  EXPECT_EQ(seen_.auth_password, "s3cret pass");
  EXPECT_EQ(seen_.data, kStuffed);
}

TEST_F(SmtpSenderTest, ResolvesTheRelayNameAndVerifiesItWithSni) {
  SmtpRelayOptions relay = Relay();
  relay.host = "localhost";
  const SendResult result = Send(relay);
  ASSERT_TRUE(result.ok) << result.error;
  EXPECT_EQ(seen_.sni, "localhost");
  EXPECT_FALSE(Received("AUTH"));
}

TEST_F(SmtpSenderTest, UsesAuthLoginWhenPlainIsNotOffered) {
  script_.auth = "LOGIN";
  SmtpRelayOptions relay = Relay();
  relay.username = "alerter";
  relay.password = "pw";
  const SendResult result = Send(relay);
  ASSERT_TRUE(result.ok) << result.error;
  EXPECT_EQ(seen_.auth_mechanism, "LOGIN");
  EXPECT_EQ(seen_.auth_user, "alerter");
  EXPECT_EQ(seen_.auth_password, "pw");
}

TEST_F(SmtpSenderTest, ImplicitTls) {
  script_.implicit_tls = true;
  script_.offer_starttls = false;
  SmtpRelayOptions relay = Relay();
  relay.tls = SmtpRelayOptions::Tls::kImplicit;
  relay.username = "alerter";
  relay.password = "pw";
  const SendResult result = Send(relay);
  ASSERT_TRUE(result.ok) << result.error;
  EXPECT_TRUE(result.tls);
  EXPECT_FALSE(Received("STARTTLS"));
  EXPECT_EQ(seen_.auth_password, "pw");
  EXPECT_EQ(seen_.data, kStuffed);
}

TEST_F(SmtpSenderTest, RefusesToSendWithoutRequiredStartTls) {
  script_.offer_starttls = false;
  const SendResult result = Send(Relay());
  EXPECT_FALSE(result.ok);
  EXPECT_THAT(result.error, HasSubstr("does not offer STARTTLS"));
  EXPECT_FALSE(Received("MAIL"));
  EXPECT_EQ(seen_.data, "");
}

TEST_F(SmtpSenderTest, RequiredStartTlsRefusedByTheRelay) {
  script_.starttls_reply = "454 4.7.0 TLS not available";
  const SendResult result = Send(Relay());
  EXPECT_FALSE(result.ok);
  EXPECT_FALSE(result.permanent);
  EXPECT_EQ(result.error, "STARTTLS refused: 454 4.7.0 TLS not available");
  EXPECT_FALSE(Received("MAIL"));
}

TEST_F(SmtpSenderTest, OpportunisticTlsFallsBackToPlainText) {
  script_.offer_starttls = false;
  SmtpRelayOptions relay = Relay();
  relay.tls = SmtpRelayOptions::Tls::kOpportunistic;
  const SendResult result = Send(relay);
  ASSERT_TRUE(result.ok) << result.error;
  EXPECT_FALSE(result.tls);
  EXPECT_EQ(seen_.data, kStuffed);
}

TEST_F(SmtpSenderTest, NeverSendsCredentialsInPlainText) {
  script_.offer_starttls = false;
  SmtpRelayOptions relay = Relay();
  relay.tls = SmtpRelayOptions::Tls::kOpportunistic;
  relay.username = "alerter";
  relay.password = "s3cret";
  const SendResult result = Send(relay);
  EXPECT_FALSE(result.ok);
  EXPECT_TRUE(result.permanent);
  EXPECT_THAT(result.error, HasSubstr("credentials were not sent"));
  EXPECT_FALSE(Received("AUTH"));
  EXPECT_FALSE(Received("MAIL"));
  for (const std::string& command : seen_.commands) {
    EXPECT_THAT(command, ::testing::Not(HasSubstr("czNjcmV0")));  // base64 of the password
  }
}

TEST_F(SmtpSenderTest, NoTlsPolicyNeverStartsTls) {
  SmtpRelayOptions relay = Relay();
  relay.tls = SmtpRelayOptions::Tls::kNone;
  const SendResult result = Send(relay);
  ASSERT_TRUE(result.ok) << result.error;
  EXPECT_FALSE(Received("STARTTLS"));
  EXPECT_FALSE(seen_.tls);
}

TEST_F(SmtpSenderTest, CertificateForAnotherNameFailsBeforeAnythingIsSent) {
  ca_.Issue(server_tls_, "DNS:other.test");
  SmtpRelayOptions relay = Relay();
  relay.username = "alerter";
  relay.password = "pw";
  const SendResult result = Send(relay);
  EXPECT_FALSE(result.ok);
  EXPECT_FALSE(result.permanent);
  EXPECT_THAT(result.error, HasSubstr("TLS handshake with the relay failed"));
  EXPECT_THAT(result.error, HasSubstr("mismatch"));
  EXPECT_FALSE(Received("AUTH"));
  EXPECT_FALSE(Received("MAIL"));
}

TEST_F(SmtpSenderTest, UntrustedCertificateFails) {
  ssl::context untrusting(ssl::context::tls_client);
  client_ = &untrusting;
  const SendResult result = Send(Relay());
  EXPECT_FALSE(result.ok);
  EXPECT_FALSE(result.permanent);
  EXPECT_THAT(result.error, HasSubstr("certificate verify failed"));
  EXPECT_FALSE(Received("MAIL"));
}

TEST_F(SmtpSenderTest, UnverifiedWhenVerificationIsOff) {
  ca_.Issue(server_tls_, "DNS:other.test");
  SmtpRelayOptions relay = Relay();
  relay.verify_certificate = false;
  const SendResult result = Send(relay);
  ASSERT_TRUE(result.ok) << result.error;
  EXPECT_TRUE(result.tls);
}

TEST_F(SmtpSenderTest, FallsBackToHeloWhenEhloIsUnknown) {
  script_.ehlo_unknown = true;
  SmtpRelayOptions relay = Relay();
  relay.tls = SmtpRelayOptions::Tls::kOpportunistic;
  const SendResult result = Send(relay);
  ASSERT_TRUE(result.ok) << result.error;
  EXPECT_THAT(seen_.commands, ElementsAre("EHLO alerter.test", "HELO alerter.test",
                                          "MAIL FROM:<alerts@stswatch.test>",
                                          "RCPT TO:<ops@example.org>", "DATA", "QUIT"));
}

TEST_F(SmtpSenderTest, TemporaryRecipientRefusalIsRetryable) {
  script_.rcpt_replies["ops@example.org"] = "450 4.2.1 mailbox busy";
  const SendResult result = Send(Relay());
  EXPECT_FALSE(result.ok);
  EXPECT_FALSE(result.permanent);
  EXPECT_THAT(result.error, HasSubstr("RCPT TO:<ops@example.org> refused: 450 4.2.1 mailbox busy"));
  EXPECT_FALSE(Received("DATA"));
}

TEST_F(SmtpSenderTest, PermanentRecipientRefusalIsPermanent) {
  script_.rcpt_replies["ops@example.org"] = "550 5.1.1 no such user";
  const SendResult result = Send(Relay());
  EXPECT_FALSE(result.ok);
  EXPECT_TRUE(result.permanent);
  EXPECT_EQ(result.error,
            "every recipient was refused: RCPT TO:<ops@example.org> refused: 550 5.1.1 no such "
            "user");
}

TEST_F(SmtpSenderTest, DeliversToTheAcceptedRecipientsAndListsTheRefused) {
  script_.rcpt_replies["gone@example.org"] = "550 5.1.1 no such user";
  const SendResult result =
      Send(Relay(), std::vector<std::string>{"gone@example.org", "ops@example.org"});
  ASSERT_TRUE(result.ok) << result.error;
  ASSERT_EQ(result.refused.size(), 1u);
  EXPECT_EQ(result.refused[0].address, "gone@example.org");
  EXPECT_TRUE(result.refused[0].permanent);
  EXPECT_EQ(result.refused[0].error, "RCPT TO:<gone@example.org> refused: 550 5.1.1 no such user");
  EXPECT_EQ(seen_.data, kStuffed);
}

TEST_F(SmtpSenderTest, MultiLineRefusalIsQuotedWhole) {
  script_.mail_reply = "421-4.7.0 try again later\r\n421 4.7.0 too many connections";
  const SendResult result = Send(Relay());
  EXPECT_FALSE(result.ok);
  EXPECT_FALSE(result.permanent);
  EXPECT_EQ(result.error,
            "MAIL FROM:<alerts@stswatch.test> refused: 421 4.7.0 try again later 4.7.0 too many "
            "connections");
}

TEST_F(SmtpSenderTest, MessageRefusedAfterData) {
  script_.final_reply = "554 5.7.1 message rejected as spam";
  const SendResult result = Send(Relay());
  EXPECT_FALSE(result.ok);
  EXPECT_TRUE(result.permanent);
  EXPECT_EQ(result.error, "the message was refused: 554 5.7.1 message rejected as spam");
}

TEST_F(SmtpSenderTest, AuthFailureIsPermanent) {
  script_.auth_reply = "535 5.7.8 authentication credentials invalid";
  SmtpRelayOptions relay = Relay();
  relay.username = "alerter";
  relay.password = "wrong";
  const SendResult result = Send(relay);
  EXPECT_FALSE(result.ok);
  EXPECT_TRUE(result.permanent);
  EXPECT_EQ(result.error, "AUTH PLAIN refused: 535 5.7.8 authentication credentials invalid");
  EXPECT_FALSE(Received("MAIL"));
}

TEST_F(SmtpSenderTest, GreetingRefusal) {
  script_.banner = "554 5.3.2 not accepting mail";
  const SendResult result = Send(Relay());
  EXPECT_FALSE(result.ok);
  EXPECT_TRUE(result.permanent);
  EXPECT_THAT(result.error, HasSubstr("554 5.3.2 not accepting mail"));
}

TEST_F(SmtpSenderTest, SilentRelayHitsTheDeadline) {
  script_.silent = true;
  SmtpRelayOptions relay = Relay();
  relay.timeout = 300ms;
  const SendResult result = Send(relay);
  EXPECT_FALSE(result.ok);
  EXPECT_FALSE(result.permanent);
  EXPECT_THAT(result.error, HasSubstr("took longer than 300 ms"));
  EXPECT_EQ(seen_.connections, 1);
}

TEST_F(SmtpSenderTest, ConnectionRefusedIsRetryable) {
  // A bound socket that does not listen: connections to its port are refused.
  tcp::acceptor closed(io_);
  closed.open(tcp::v4());
  closed.bind(tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  SmtpRelayOptions relay = Relay();
  relay.port = closed.local_endpoint().port();
  const SendResult result = Send(relay);
  EXPECT_FALSE(result.ok);
  EXPECT_FALSE(result.permanent);
  EXPECT_THAT(result.error, HasSubstr("cannot connect to the relay 127.0.0.1 port"));
  EXPECT_EQ(seen_.connections, 0);
}

TEST_F(SmtpSenderTest, InvalidAddressesAreRefusedBeforeConnecting) {
  SendResult result = Send(Relay(), std::vector<std::string>{"ops@example.org>\r\nDATA"});
  EXPECT_FALSE(result.ok);
  EXPECT_TRUE(result.permanent);
  EXPECT_THAT(result.error, HasSubstr("the recipient address"));
  EXPECT_EQ(seen_.connections, 0);
}

TEST_F(SmtpSenderTest, NoRecipientIsRefused) {
  const SendResult result = Send(Relay(), std::vector<std::string>{});
  EXPECT_FALSE(result.ok);
  EXPECT_TRUE(result.permanent);
  EXPECT_THAT(result.error, HasSubstr("no recipient"));
}

}  // namespace
}  // namespace stswatch::alerting
