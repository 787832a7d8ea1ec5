// PostWebhook against an HTTPS server on a loopback port, reached through a fake DnsResolver and
// the prober's AddressFilter: the request as the server receives it, how statuses and failures
// are classified, certificate checking, and the refused addresses. ParseWebhookUrl's cases.
// The server's certificate is made by the test with a CA the client trusts.

#include "alerting/webhook_sender.h"

#include <array>
#include <cctype>
#include <exception>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
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
using ::testing::HasSubstr;
using ::testing::StartsWith;
using namespace std::chrono_literals;

using ::stswatch::alerting::testing::TestCa;

// --- Fakes and the test server -----------------------------------------------------------------

class FakeResolver final : public prober::DnsResolver {
 public:
  explicit FakeResolver(asio::io_context& io) : io_(io) {}

  void Add(const std::string& name, prober::RrType type, const std::string& value) {
    prober::DnsResult& r = answers_[{name, type}];
    r.outcome = mtasts::DnsOutcome::kOk;
    prober::DnsRecord record;
    record.name = name;
    record.type = static_cast<std::uint16_t>(type);
    record.value = value;
    r.records.push_back(record);
  }

  void Resolve(const std::string& name, prober::RrType type, Callback callback) override {
    queries.push_back(name + (type == prober::RrType::kA ? " A" : " AAAA"));
    prober::DnsResult result;
    result.outcome = mtasts::DnsOutcome::kNxDomain;
    if (const auto it = answers_.find({name, type}); it != answers_.end()) {
      result = it->second;
    }
    // Like the real resolver: never call back inside Resolve.
    asio::post(io_, [callback = std::move(callback), result]() { callback(result); });
  }

  std::vector<std::string> queries;

 private:
  asio::io_context& io_;
  std::map<std::pair<std::string, prober::RrType>, prober::DnsResult> answers_;
};

struct Script {
  bool tls = true;
  // Read the request, then say nothing.
  bool silent = false;
  std::string response = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
};

struct Seen {
  int connections = 0;
  std::string head;  // The request head, its final CRLF CRLF included.
  std::string body;
  std::string sni;
};

std::size_t ContentLength(const std::string& head) {
  std::string lower = head;
  for (char& c : lower) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  const std::size_t at = lower.find("\r\ncontent-length: ");
  if (at == std::string::npos) {
    return 0;
  }
  return std::stoul(lower.substr(at + 18));
}

template <typename Stream>
asio::awaitable<void> ServeRequest(Stream& stream, const Script& script, Seen& seen) {
  std::string buffer;
  const std::size_t head_size = co_await asio::async_read_until(
      stream, asio::dynamic_buffer(buffer), "\r\n\r\n", asio::use_awaitable);
  seen.head = buffer.substr(0, head_size);
  const std::size_t length = ContentLength(seen.head);
  if (buffer.size() < head_size + length) {
    co_await asio::async_read(stream, asio::dynamic_buffer(buffer),
                              asio::transfer_exactly(head_size + length - buffer.size()),
                              asio::use_awaitable);
  }
  seen.body = buffer.substr(head_size);
  if (script.silent) {
    std::array<char, 16> ignored;
    co_await stream.async_read_some(asio::buffer(ignored), asio::use_awaitable);
    co_return;
  }
  co_await asio::async_write(stream, asio::buffer(script.response), asio::use_awaitable);
}

// Serves one connection from `acceptor` as `script` says, recording what arrives in `seen`.
asio::awaitable<void> ServeHttp(tcp::acceptor& acceptor, ssl::context& tls, const Script& script,
                                Seen& seen) {
  tcp::socket socket = co_await acceptor.async_accept(asio::use_awaitable);
  ++seen.connections;
  if (!script.tls) {
    co_await ServeRequest(socket, script, seen);
    co_return;
  }
  ssl::stream<tcp::socket&> stream(socket, tls);
  co_await stream.async_handshake(ssl::stream_base::server, asio::use_awaitable);
  if (const char* sni = SSL_get_servername(stream.native_handle(), TLSEXT_NAMETYPE_host_name)) {
    seen.sni = sni;
  }
  co_await ServeRequest(stream, script, seen);
}

// --- Fixture -----------------------------------------------------------------------------------

constexpr char kBody[] = R"({"version":1,"state":"opened"})";

prober::AddressFilter Filter(bool allow_private, const std::vector<std::string>& nets) {
  auto filter = prober::AddressFilter::Create(allow_private, nets);
  EXPECT_TRUE(filter.ok()) << filter.status();
  return *filter;
}

class WebhookSenderTest : public ::testing::Test {
 protected:
  WebhookSenderTest()
      : acceptor_(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)),
        server_tls_(ssl::context::tls_server),
        client_tls_(ssl::context::tls_client),
        resolver_(io_),
        filter_(Filter(true, {"127.0.0.0/8"})) {
    ca_.Trust(client_tls_);
    ca_.Issue(server_tls_, "DNS:hooks.test,IP:127.0.0.1");
    resolver_.Add("hooks.test", prober::RrType::kA, "127.0.0.1");
    port_ = std::to_string(acceptor_.local_endpoint().port());
  }

  // The server's port, as a string (kept: the acceptor closes when a delivery ends).
  std::string Port() const { return port_; }

  void Listen() {
    acceptor_ = tcp::acceptor(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    port_ = std::to_string(acceptor_.local_endpoint().port());
  }

  WebhookRequest Request(const std::string& url) const {
    WebhookRequest request;
    request.url = url;
    request.body = kBody;
    return request;
  }

  // Runs the test server and PostWebhook until both are done.
  WebhookResult Post(const WebhookRequest& request, WebhookOptions options = {}) {
    asio::co_spawn(io_, ServeHttp(acceptor_, server_tls_, script_, seen_),
                   [](const std::exception_ptr&) {});
    std::optional<WebhookResult> result;
    std::exception_ptr failure;
    asio::co_spawn(io_, PostWebhook(resolver_, *client_, filter_, request, std::move(options)),
                   [&](const std::exception_ptr& e, WebhookResult r) {
                     failure = e;
                     result = std::move(r);
                     // The server may still wait for a connection that will not come.
                     boost::system::error_code ignored;
                     acceptor_.close(ignored);
                   });
    // Only a guard against a hang in the test's own server; PostWebhook has its deadline.
    io_.run_for(60s);
    EXPECT_TRUE(io_.stopped()) << "the test server or the client is still running";
    if (failure) {
      std::rethrow_exception(failure);
    }
    EXPECT_TRUE(result.has_value());
    return result.value_or(WebhookResult{});
  }

  WebhookResult Answer(const std::string& response) {
    script_.response = response;
    return Post(Request("https://hooks.test:" + Port() + "/hook"));
  }

  asio::io_context io_;
  tcp::acceptor acceptor_;
  TestCa ca_;
  ssl::context server_tls_;
  ssl::context client_tls_;
  // The client's context: client_tls_ unless a test says otherwise.
  ssl::context* client_ = &client_tls_;
  FakeResolver resolver_;
  prober::AddressFilter filter_;
  Script script_;
  Seen seen_;
  std::string port_;
};

// --- PostWebhook -------------------------------------------------------------------------------

TEST_F(WebhookSenderTest, PostsOverHttpsToThePinnedAddress) {
  WebhookRequest request = Request("https://Hooks.Test:" + Port() + "/hooks/abc?team=ops");
  request.headers.emplace_back("X-Stswatch-Signature", "t=1772366400,v1=00ff");
  const WebhookResult result = Post(request);
  ASSERT_TRUE(result.ok) << result.error;
  EXPECT_FALSE(result.permanent);
  EXPECT_EQ(result.status, 200);
  EXPECT_EQ(result.address, "127.0.0.1");
  EXPECT_EQ(result.error, "");
  EXPECT_EQ(resolver_.queries, (std::vector<std::string>{"hooks.test A", "hooks.test AAAA"}));
  EXPECT_EQ(seen_.sni, "hooks.test");
  EXPECT_EQ(seen_.head,
            "POST /hooks/abc?team=ops HTTP/1.1\r\n"
            "Host: hooks.test:" +
                Port() +
                "\r\n"
                "User-Agent: stswatch-alerter\r\n"
                "Content-Type: application/json\r\n"
                "Content-Length: " +
                std::to_string(std::string(kBody).size()) +
                "\r\n"
                "Connection: close\r\n"
                "X-Stswatch-Signature: t=1772366400,v1=00ff\r\n"
                "\r\n");
  EXPECT_EQ(seen_.body, kBody);
}

TEST_F(WebhookSenderTest, AnyTwoHundredIsOk) {
  const WebhookResult result = Answer("HTTP/1.1 204 No Content\r\n\r\n");
  EXPECT_TRUE(result.ok) << result.error;
  EXPECT_EQ(result.status, 204);
}

TEST_F(WebhookSenderTest, ServerErrorIsRetryable) {
  const WebhookResult result =
      Answer("HTTP/1.1 500 Internal Server Error\r\nContent-Length: 4\r\n\r\noops");
  EXPECT_FALSE(result.ok);
  EXPECT_FALSE(result.permanent);
  EXPECT_EQ(result.status, 500);
  EXPECT_EQ(result.error,
            "the webhook endpoint answered HTTP 500 \"Internal Server Error\" (body: \"oops\")");
  EXPECT_FALSE(result.retry_after.has_value());
}

TEST_F(WebhookSenderTest, NotFoundIsPermanent) {
  const WebhookResult result = Answer("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
  EXPECT_FALSE(result.ok);
  EXPECT_TRUE(result.permanent);
  EXPECT_EQ(result.status, 404);
  EXPECT_THAT(result.error, HasSubstr("HTTP 404"));
}

TEST_F(WebhookSenderTest, TooManyRequestsCarriesRetryAfter) {
  const WebhookResult result =
      Answer("HTTP/1.1 429 Too Many Requests\r\nRetry-After: 120\r\nContent-Length: 0\r\n\r\n");
  EXPECT_FALSE(result.ok);
  EXPECT_FALSE(result.permanent);
  EXPECT_EQ(result.status, 429);
  EXPECT_EQ(result.retry_after, std::chrono::seconds(120));
}

TEST_F(WebhookSenderTest, RetryAfterAsDateIsIgnored) {
  const WebhookResult result = Answer(
      "HTTP/1.1 503 Service Unavailable\r\nRetry-After: Fri, 31 Dec 1999 23:59:59 GMT\r\n"
      "Content-Length: 0\r\n\r\n");
  EXPECT_FALSE(result.permanent);
  EXPECT_FALSE(result.retry_after.has_value());
}

TEST_F(WebhookSenderTest, RequestTimeoutIsRetryable) {
  const WebhookResult result = Answer("HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\n\r\n");
  EXPECT_FALSE(result.ok);
  EXPECT_FALSE(result.permanent);
}

TEST_F(WebhookSenderTest, RedirectsAreNotFollowed) {
  const WebhookResult result = Answer(
      "HTTP/1.1 301 Moved Permanently\r\nLocation: https://elsewhere.test/\r\n"
      "Content-Length: 0\r\n\r\n");
  EXPECT_FALSE(result.ok);
  EXPECT_TRUE(result.permanent);
  EXPECT_EQ(result.status, 301);
  EXPECT_THAT(result.error, HasSubstr("redirect to \"https://elsewhere.test/\""));
  EXPECT_THAT(result.error, HasSubstr("not followed"));
}

TEST_F(WebhookSenderTest, GarbageResponseIsRetryable) {
  const WebhookResult result = Answer("SSH-2.0-OpenSSH_9.2\r\n");
  EXPECT_FALSE(result.ok);
  EXPECT_FALSE(result.permanent);
  EXPECT_EQ(result.status, 0);
  EXPECT_THAT(result.error, HasSubstr("not valid HTTP"));
}

TEST_F(WebhookSenderTest, CertificateForAnotherNameFails) {
  ca_.Issue(server_tls_, "DNS:other.test");
  const WebhookResult result = Post(Request("https://hooks.test:" + Port() + "/hook"));
  EXPECT_FALSE(result.ok);
  EXPECT_FALSE(result.permanent);
  EXPECT_EQ(result.status, 0);
  EXPECT_THAT(result.error, StartsWith("the TLS handshake with hooks.test (127.0.0.1) failed"));
  EXPECT_THAT(result.error, HasSubstr("hostname mismatch"));
  EXPECT_EQ(seen_.body, "");
}

TEST_F(WebhookSenderTest, UntrustedCertificateFails) {
  ssl::context untrusting(ssl::context::tls_client);
  client_ = &untrusting;
  const WebhookResult result = Post(Request("https://hooks.test:" + Port() + "/hook"));
  EXPECT_FALSE(result.ok);
  EXPECT_THAT(result.error, HasSubstr("certificate verify failed"));
  EXPECT_EQ(seen_.body, "");
}

TEST_F(WebhookSenderTest, LoopbackIsRefusedWithoutAllowedNets) {
  filter_ = Filter(false, {});
  const WebhookResult result = Post(Request("https://hooks.test:" + Port() + "/hook"));
  EXPECT_FALSE(result.ok);
  EXPECT_TRUE(result.permanent);
  EXPECT_THAT(result.error,
              StartsWith("webhook target hooks.test resolves only to refused addresses: "
                         "127.0.0.1 (loopback address);"));
  EXPECT_EQ(seen_.connections, 0);
}

TEST_F(WebhookSenderTest, AllowedNetsNarrowThePermission) {
  filter_ = Filter(true, {"10.0.0.0/8"});
  const WebhookResult result = Post(Request("https://hooks.test:" + Port() + "/hook"));
  EXPECT_TRUE(result.permanent);
  EXPECT_THAT(result.error, HasSubstr("127.0.0.1 (loopback address outside the allowed networks)"));
  EXPECT_EQ(seen_.connections, 0);
}

TEST_F(WebhookSenderTest, ConnectsOnlyToAllowedAddresses) {
  resolver_.Add("mixed.test", prober::RrType::kA, "10.1.2.3");
  resolver_.Add("mixed.test", prober::RrType::kA, "127.0.0.1");
  ca_.Issue(server_tls_, "DNS:mixed.test");
  const WebhookResult result = Post(Request("https://mixed.test:" + Port() + "/hook"));
  ASSERT_TRUE(result.ok) << result.error;
  EXPECT_EQ(result.address, "127.0.0.1");
}

TEST_F(WebhookSenderTest, TriesTheNextAddressWhenOneRefusesConnections) {
  // Nothing listens on 127.0.0.2 at this port: the connection is refused there.
  resolver_.Add("two.test", prober::RrType::kA, "127.0.0.2");
  resolver_.Add("two.test", prober::RrType::kA, "127.0.0.1");
  ca_.Issue(server_tls_, "DNS:two.test");
  const WebhookResult result = Post(Request("https://two.test:" + Port() + "/hook"));
  ASSERT_TRUE(result.ok) << result.error;
  EXPECT_EQ(result.address, "127.0.0.1");
}

TEST_F(WebhookSenderTest, IpLiteralIsNotResolvedAndIsVerifiedAsAnAddress) {
  const WebhookResult result = Post(Request("https://127.0.0.1:" + Port() + "/hook"));
  ASSERT_TRUE(result.ok) << result.error;
  EXPECT_TRUE(resolver_.queries.empty());
  EXPECT_EQ(seen_.sni, "");  // No SNI for an address literal.
  EXPECT_THAT(seen_.head, HasSubstr("\r\nHost: 127.0.0.1:" + Port() + "\r\n"));
}

TEST_F(WebhookSenderTest, IpLiteralRefusedByTheFilter) {
  filter_ = Filter(false, {});
  const WebhookResult result = Post(Request("https://127.0.0.1:" + Port() + "/hook"));
  EXPECT_TRUE(result.permanent);
  EXPECT_THAT(result.error, StartsWith("webhook target 127.0.0.1 is a refused address: "
                                       "127.0.0.1 (loopback address)"));
  EXPECT_EQ(seen_.connections, 0);
}

TEST_F(WebhookSenderTest, NameWithoutAddressIsRetryable) {
  const WebhookResult result = Post(Request("https://missing.test:" + Port() + "/hook"));
  EXPECT_FALSE(result.ok);
  EXPECT_FALSE(result.permanent);
  EXPECT_EQ(result.error,
            "the webhook host missing.test has no address (A: no such name; AAAA: no such name)");
  EXPECT_EQ(seen_.connections, 0);
}

TEST_F(WebhookSenderTest, SilentServerHitsTheDeadline) {
  script_.silent = true;
  WebhookOptions options;
  options.timeout = 300ms;
  const WebhookResult result = Post(Request("https://hooks.test:" + Port() + "/hook"), options);
  EXPECT_FALSE(result.ok);
  EXPECT_FALSE(result.permanent);
  EXPECT_THAT(result.error, HasSubstr("took longer than 300 ms"));
  EXPECT_EQ(seen_.body, kBody);
}

TEST_F(WebhookSenderTest, PlainHttpOnlyWhenAllowed) {
  script_.tls = false;
  WebhookRequest request = Request("http://hooks.test:" + Port() + "/plain");
  WebhookResult refused = Post(request);
  EXPECT_TRUE(refused.permanent);
  EXPECT_THAT(refused.error, HasSubstr("only https is allowed"));
  EXPECT_EQ(seen_.connections, 0);

  io_.restart();
  Listen();
  request = Request("http://hooks.test:" + Port() + "/plain");
  request.allow_http = true;
  const WebhookResult result = Post(request);
  ASSERT_TRUE(result.ok) << result.error;
  EXPECT_THAT(seen_.head, StartsWith("POST /plain HTTP/1.1\r\n"));
  EXPECT_EQ(seen_.body, kBody);
}

TEST_F(WebhookSenderTest, HeaderInjectionIsRefusedBeforeConnecting) {
  WebhookRequest request = Request("https://hooks.test:" + Port() + "/hook");
  request.headers.emplace_back("X-Test", "a\r\nX-Injected: 1");
  const WebhookResult result = Post(request);
  EXPECT_FALSE(result.ok);
  EXPECT_TRUE(result.permanent);
  EXPECT_THAT(result.error, HasSubstr("X-Test contains a control character"));
  EXPECT_EQ(seen_.connections, 0);
}

TEST_F(WebhookSenderTest, ReservedAndMalformedHeaderNamesAreRefused) {
  WebhookRequest request = Request("https://hooks.test:" + Port() + "/hook");
  request.headers.emplace_back("Content-Length", "0");
  WebhookResult result = Post(request);
  EXPECT_TRUE(result.permanent);
  EXPECT_THAT(result.error, HasSubstr("Content-Length is set by the webhook client"));

  request.headers.clear();
  request.headers.emplace_back("X Bad", "1");
  io_.restart();
  result = Post(request);
  EXPECT_TRUE(result.permanent);
  EXPECT_THAT(result.error, HasSubstr("not allowed in a field name"));
}

TEST_F(WebhookSenderTest, InvalidUrlIsPermanent) {
  const WebhookResult result = Post(Request("https://user:pw@hooks.test/hook"));
  EXPECT_FALSE(result.ok);
  EXPECT_TRUE(result.permanent);
  EXPECT_THAT(result.error, StartsWith("invalid webhook URL: "));
  EXPECT_EQ(seen_.connections, 0);
}

// --- ParseWebhookUrl ---------------------------------------------------------------------------

WebhookUrl Url(const std::string& scheme, const std::string& host, std::uint16_t port,
               const std::string& target) {
  WebhookUrl url;
  url.scheme = scheme;
  url.host = host;
  url.port = port;
  url.target = target;
  return url;
}

std::string Error(std::string_view url, bool allow_http = false) {
  const auto parsed = ParseWebhookUrl(url, allow_http);
  if (parsed.ok()) {
    return "<ok>";
  }
  EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(parsed.status().message());
}

TEST(ParseWebhookUrlTest, Accepts) {
  EXPECT_EQ(*ParseWebhookUrl("https://hooks.example.net/a/b?c=d&e=%2F", false),
            Url("https", "hooks.example.net", 443, "/a/b?c=d&e=%2F"));
  EXPECT_EQ(*ParseWebhookUrl("HTTPS://Hooks.Example.NET.:8443", false),
            Url("https", "hooks.example.net", 8443, "/"));
  EXPECT_EQ(*ParseWebhookUrl("https://hooks.example.net?x=1", false),
            Url("https", "hooks.example.net", 443, "/?x=1"));
  EXPECT_EQ(*ParseWebhookUrl("https://192.0.2.7:65535/h", false),
            Url("https", "192.0.2.7", 65535, "/h"));
  EXPECT_EQ(*ParseWebhookUrl("https://[2001:DB8::1]/h", false),
            Url("https", "2001:db8::1", 443, "/h"));
  EXPECT_EQ(*ParseWebhookUrl("https://[2001:db8::1]:1/h", false),
            Url("https", "2001:db8::1", 1, "/h"));
  EXPECT_EQ(*ParseWebhookUrl("http://hooks.example.net/h", true),
            Url("http", "hooks.example.net", 80, "/h"));
  EXPECT_TRUE(ParseWebhookUrl("https://a.b/" + std::string(2048 - 12, 'x'), false).ok());
}

TEST(ParseWebhookUrlTest, Refuses) {
  EXPECT_EQ(Error(""), "the webhook URL is empty");
  EXPECT_EQ(Error("https://a.b/" + std::string(2048 - 11, 'x')),
            "the webhook URL is longer than 2048 characters");
  EXPECT_EQ(Error("http://hooks.example.net/h"),
            "the webhook URL uses http; only https is allowed");
  EXPECT_EQ(Error("ftp://hooks.example.net/h"),
            "the webhook URL's scheme is \"ftp\"; only https is allowed");
  EXPECT_EQ(Error("ftp://hooks.example.net/h", true),
            "the webhook URL's scheme is \"ftp\"; only https and http are allowed");
  EXPECT_EQ(Error("hooks.example.net/h"), "the webhook URL does not begin with https://");
  EXPECT_EQ(Error("https://user:pw@hooks.example.net/h"),
            "the webhook URL contains user information (user:password@); send credentials in "
            "a header field instead");
  EXPECT_EQ(Error("https://hooks.example.net/h#frag"),
            "the webhook URL has a fragment (#...); remove it");
  EXPECT_EQ(Error("https:///h"), "the webhook URL has no host");
  EXPECT_EQ(Error("https://:443/h"), "the webhook URL has no host");
  EXPECT_EQ(Error("https://hooks.example.net:0/h"),
            "the webhook URL's port \"0\" is not a number from 1 to 65535");
  EXPECT_EQ(Error("https://hooks.example.net:65536/h"),
            "the webhook URL's port \"65536\" is not a number from 1 to 65535");
  EXPECT_EQ(Error("https://hooks.example.net:99999999999/h"),
            "the webhook URL's port \"99999999999\" is not a number from 1 to 65535");
  EXPECT_EQ(Error("https://hooks.example.net:https/h"),
            "the webhook URL's port \"https\" is not a number from 1 to 65535");
  EXPECT_EQ(Error("https://hooks.example.net:/h"),
            "the webhook URL has an empty port after the colon");
  EXPECT_EQ(Error("https://hooks example.net/h"),
            "the webhook URL contains a space at position 14; percent-encode it");
  EXPECT_EQ(Error("https://hooks.example.net/h\r\nX: y"),
            "the webhook URL contains a control character at position 28; percent-encode it");
  EXPECT_EQ(Error("https://h\xc3\xa9.example.net/"),
            "the webhook URL contains a non-ASCII byte at position 10; percent-encode it");
  EXPECT_THAT(Error("https://hooks_1.example.net/h"),
              StartsWith("the webhook URL's host \"hooks_1.example.net\" is not a valid host "
                         "name: label \"hooks_1\" contains \"_\""));
  EXPECT_EQ(Error("https://256.1.1.1/h"),
            "the webhook URL's host \"256.1.1.1\" is not a valid IPv4 address (four decimal "
            "numbers 0 to 255) nor a host name");
  EXPECT_EQ(Error("https://127.1/h"),
            "the webhook URL's host \"127.1\" is not a valid IPv4 address (four decimal "
            "numbers 0 to 255) nor a host name");
  EXPECT_EQ(Error("https://[2001:db8::1/h"),
            "the IPv6 address in the webhook URL has no closing \"]\"");
  EXPECT_EQ(Error("https://[2001:db8::g]/h"),
            "the webhook URL's host [2001:db8::g] is not a valid IPv6 address");
  EXPECT_EQ(Error("https://[fe80::1%25eth0]/h"),
            "the IPv6 address in the webhook URL has a zone identifier; it is not allowed");
  EXPECT_EQ(Error("https://[2001:db8::1]x/h"),
            "the webhook URL has \"x\" after the IPv6 address; only \":port\" may follow it");
  EXPECT_EQ(Error("https://2001:db8::1/h"),
            "the webhook URL's host looks like an IPv6 address without brackets; write it as "
            "[address]");
  EXPECT_EQ(Error("https://hooks.example.net/a%2"),
            "the webhook URL has a malformed percent-escape \"%2\" (\"%\" must be followed by "
            "two hex digits)");
  EXPECT_EQ(Error("https://hooks.example.net/a%zz"),
            "the webhook URL has a malformed percent-escape \"%zz\" (\"%\" must be followed by "
            "two hex digits)");
}

}  // namespace
}  // namespace stswatch::alerting
