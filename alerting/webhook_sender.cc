#include "alerting/webhook_sender.h"

#include <algorithm>
#include <array>
#include <memory>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "absl/status/status.h"
#include "mtasts/hostname.h"
#include "mtasts/text.h"
#include "prober/async.h"
#include "prober/http_response.h"
#include "prober/tls.h"

namespace stswatch::alerting {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

// The most allowed addresses of a name connected to in turn.
constexpr std::size_t kMaxAddressesTried = 4;
constexpr std::size_t kMaxHeaderNameBytes = 256;
constexpr std::size_t kMaxHeaderValueBytes = 8192;
constexpr std::size_t kMaxHeaders = 64;
// The response body quoted in an error.
constexpr std::size_t kMaxQuotedBody = 160;

std::string FormatDuration(std::chrono::milliseconds d) {
  if (d.count() % 1000 == 0) {
    return std::to_string(d.count() / 1000) + " s";
  }
  return std::to_string(d.count()) + " ms";
}

bool IsHexDigit(char c) {
  return mtasts::IsDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

// RFC 9110 §5.6.2.
bool IsTokenChar(char c) {
  return mtasts::IsAlnum(c) || std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string::npos;
}

absl::Status Invalid(const std::string& message) { return absl::InvalidArgumentError(message); }

// The port of "host:port" after the colon.
absl::StatusOr<std::uint16_t> ParsePort(std::string_view text) {
  if (text.empty()) {
    return Invalid("the webhook URL has an empty port after the colon");
  }
  std::uint32_t port = 0;
  for (const char c : text) {
    if (!mtasts::IsDigit(c) || port > 65535) {
      return Invalid("the webhook URL's port " + mtasts::Quote(text) +
                     " is not a number from 1 to 65535");
    }
    port = port * 10 + static_cast<std::uint32_t>(c - '0');
  }
  if (port == 0 || port > 65535) {
    return Invalid("the webhook URL's port " + mtasts::Quote(text) +
                   " is not a number from 1 to 65535");
  }
  return static_cast<std::uint16_t>(port);
}

// Why the extra header fields cannot be sent, or "".
std::string CheckHeaders(const WebhookRequest& request, const WebhookOptions& options) {
  const auto bad_value = [](std::string_view value) {
    for (const char c : value) {
      const auto u = static_cast<unsigned char>(c);
      if ((u < 0x20 && c != '\t') || u == 0x7f) {
        return true;
      }
    }
    return false;
  };
  if (bad_value(request.content_type) || bad_value(options.user_agent)) {
    return "the Content-Type or User-Agent contains a control character";
  }
  if (request.headers.size() > kMaxHeaders) {
    return "there are more than 64 extra header fields";
  }
  for (const auto& [name, value] : request.headers) {
    if (name.empty() || name.size() > kMaxHeaderNameBytes) {
      return "a header field name is empty or longer than 256 bytes";
    }
    for (const char c : name) {
      if (!IsTokenChar(c)) {
        return "the header field name " + mtasts::Quote(name) +
               " contains a character not allowed in a field name";
      }
    }
    for (const std::string_view reserved : {"host", "content-length", "content-type",
                                            "transfer-encoding", "connection", "user-agent"}) {
      if (mtasts::EqualsIgnoreCase(name, reserved)) {
        return "the header field " + name + " is set by the webhook client itself";
      }
    }
    if (value.size() > kMaxHeaderValueBytes) {
      return "the value of the header field " + name + " is longer than 8192 bytes";
    }
    if (bad_value(value)) {
      return "the value of the header field " + name +
             " contains a control character (CR, LF, NUL, ...)";
    }
  }
  return "";
}

// The state of the A and AAAA lookups raced against the deadline: the resolver's callbacks may
// run after the coroutine gave up waiting.
struct Lookup {
  explicit Lookup(const asio::any_io_executor& executor) : signal(executor) {}
  asio::steady_timer signal;
  int pending = 2;
  prober::DnsResult a;
  prober::DnsResult aaaa;
};

// The addresses of `host`, A before AAAA, or why there are none.
struct Addresses {
  std::vector<asio::ip::address> addresses;
  std::string error;
};

std::string DescribeLookup(const prober::DnsResult& result) {
  switch (result.outcome) {
    case mtasts::DnsOutcome::kOk:
      return "no usable address";
    case mtasts::DnsOutcome::kNoData:
      return "no record";
    case mtasts::DnsOutcome::kNxDomain:
      return "no such name";
    case mtasts::DnsOutcome::kError:
      return result.error.empty() ? "failed" : result.error;
  }
  return "failed";
}

void AppendAddresses(const prober::DnsResult& result, std::vector<asio::ip::address>& out) {
  if (result.outcome != mtasts::DnsOutcome::kOk) {
    return;
  }
  out.reserve(out.size() + result.records.size());
  for (const prober::DnsRecord& record : result.records) {
    boost::system::error_code ec;
    const asio::ip::address address = asio::ip::make_address(record.value, ec);
    if (!ec) {
      out.push_back(address);
    }
  }
}

asio::awaitable<Addresses> LookUp(prober::DnsResolver& resolver, std::string host,
                                  Clock::time_point deadline_at,
                                  std::chrono::milliseconds timeout) {
  Addresses out;
  auto executor = co_await asio::this_coro::executor;
  auto state = std::make_shared<Lookup>(executor);
  state->signal.expires_at(deadline_at);
  resolver.Resolve(host, prober::RrType::kA, [state](prober::DnsResult result) {
    state->a = std::move(result);
    if (--state->pending == 0) {
      state->signal.cancel();
    }
  });
  resolver.Resolve(host, prober::RrType::kAaaa, [state](prober::DnsResult result) {
    state->aaaa = std::move(result);
    if (--state->pending == 0) {
      state->signal.cancel();
    }
  });
  if (state->pending > 0) {
    boost::system::error_code ec;
    co_await state->signal.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
  if (state->pending > 0) {
    out.error =
        "looking up the webhook host " + host + " took longer than " + FormatDuration(timeout);
    co_return out;
  }
  AppendAddresses(state->a, out.addresses);
  AppendAddresses(state->aaaa, out.addresses);
  if (out.addresses.empty()) {
    out.error = "the webhook host " + host + " has no address (A: " + DescribeLookup(state->a) +
                "; AAAA: " + DescribeLookup(state->aaaa) + ")";
  }
  co_return out;
}

// What was read of the response.
struct Response {
  int status = 0;  // 0 when no head arrived.
  std::string reason;
  std::string location;
  std::string retry_after;
  std::string body;
  std::string error;  // When status is 0: why.
};

template <typename Stream>
asio::awaitable<Response> Exchange(Stream& stream, std::string request, std::size_t max_body) {
  Response response;
  boost::system::error_code ec;
  co_await asio::async_write(stream, asio::buffer(request),
                             asio::redirect_error(asio::use_awaitable, ec));
  if (ec) {
    response.error = "sending the request: " + ec.message();
    co_return response;
  }
  prober::HttpResponseParser parser(prober::HttpResponseParser::Limits{
      .max_head_bytes = std::size_t{16} * 1024, .max_body_bytes = max_body});
  std::array<char, std::size_t{16} * 1024> buffer;
  while (parser.state() == prober::HttpResponseParser::State::kNeedMore) {
    const std::size_t n = co_await stream.async_read_some(
        asio::buffer(buffer), asio::redirect_error(asio::use_awaitable, ec));
    if (n > 0) {
      parser.Feed(std::string_view(buffer.data(), n));
    }
    if (ec) {
      if (ec == asio::error::eof || ec == ssl::error::stream_truncated) {
        parser.FinishOnClose();
      } else if (!parser.head_complete()) {
        response.error = "receiving the response: " + ec.message();
        co_return response;
      }
      break;
    }
  }
  // The status is what counts: a body cut short or too large does not change it.
  if (!parser.head_complete()) {
    response.error = parser.state() == prober::HttpResponseParser::State::kError
                         ? "the response is not valid HTTP: " + parser.error_message()
                         : std::string("the connection closed before a complete response");
    co_return response;
  }
  response.status = parser.status();
  response.reason = std::string(parser.reason());
  response.location = std::string(parser.Header("Location").value_or(""));
  response.retry_after = std::string(parser.Header("Retry-After").value_or(""));
  response.body = parser.body().substr(0, kMaxQuotedBody);
  co_return response;
}

// The seconds form of Retry-After (RFC 9110 §10.2.3); the HTTP-date form is not used.
std::optional<std::chrono::seconds> ParseRetryAfter(std::string_view value) {
  value = mtasts::TrimWsp(value);
  if (value.empty() || value.size() > 9) {
    return std::nullopt;
  }
  std::int64_t seconds = 0;
  for (const char c : value) {
    if (!mtasts::IsDigit(c)) {
      return std::nullopt;
    }
    seconds = seconds * 10 + (c - '0');
  }
  return std::chrono::seconds(seconds);
}

void Judge(const Response& response, WebhookResult& result) {
  result.status = response.status;
  const int status = response.status;
  if (status >= 200 && status < 300) {
    result.ok = true;
    return;
  }
  std::string sentence = "the webhook endpoint answered HTTP " + std::to_string(status);
  if (!response.reason.empty()) {
    sentence += " " + mtasts::Quote(response.reason, 80);
  }
  if (status >= 300 && status < 400) {
    // Redirects are not followed: the target was checked, its redirect would not be.
    result.permanent = true;
    result.error = sentence + ", a redirect" +
                   (response.location.empty() ? std::string()
                                              : " to " + mtasts::Quote(response.location, 200)) +
                   "; redirects are not followed, configure the final URL";
    return;
  }
  if (!response.body.empty()) {
    sentence += " (body: " + mtasts::Quote(response.body, kMaxQuotedBody) + ")";
  }
  result.permanent =
      !(status == 408 || status == 425 || status == 429 || (status >= 500 && status < 600));
  if (status == 429 || status == 503) {
    result.retry_after = ParseRetryAfter(response.retry_after);
  }
  result.error = sentence;
}

std::string HostHeader(const WebhookUrl& url) {
  std::string host = url.host.find(':') != std::string::npos ? "[" + url.host + "]" : url.host;
  const std::uint16_t default_port = url.scheme == "https" ? 443 : 80;
  if (url.port != default_port) {
    host += ":" + std::to_string(url.port);
  }
  return host;
}

}  // namespace

absl::StatusOr<WebhookUrl> ParseWebhookUrl(std::string_view url, bool allow_http) {
  if (url.empty()) {
    return Invalid("the webhook URL is empty");
  }
  if (url.size() > kMaxWebhookUrlLength) {
    return Invalid("the webhook URL is longer than 2048 characters");
  }
  for (std::size_t i = 0; i < url.size(); ++i) {
    const auto u = static_cast<unsigned char>(url[i]);
    if (u <= 0x20 || u >= 0x7f) {
      const std::string what = u == 0x20   ? "a space"
                               : u >= 0x80 ? "a non-ASCII byte"
                                           : "a control character";
      return Invalid("the webhook URL contains " + what + " at position " + std::to_string(i + 1) +
                     "; percent-encode it");
    }
  }
  const std::size_t scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos || scheme_end == 0) {
    return Invalid("the webhook URL does not begin with https://");
  }
  WebhookUrl out;
  out.scheme = mtasts::ToLowerAscii(url.substr(0, scheme_end));
  if (out.scheme == "http") {
    if (!allow_http) {
      return Invalid("the webhook URL uses http; only https is allowed");
    }
  } else if (out.scheme != "https") {
    return Invalid("the webhook URL's scheme is " + mtasts::Quote(out.scheme, 20) + "; only " +
                   (allow_http ? "https and http are" : "https is") + " allowed");
  }
  const std::string_view rest = url.substr(scheme_end + 3);
  if (rest.find('#') != std::string_view::npos) {
    return Invalid("the webhook URL has a fragment (#...); remove it");
  }
  const std::size_t authority_end = rest.find_first_of("/?");
  const std::string_view authority = rest.substr(0, authority_end);
  std::string_view target =
      authority_end == std::string_view::npos ? std::string_view() : rest.substr(authority_end);
  if (authority.find('@') != std::string_view::npos) {
    return Invalid(
        "the webhook URL contains user information (user:password@); send credentials in a "
        "header field instead");
  }
  if (authority.empty()) {
    return Invalid("the webhook URL has no host");
  }

  std::string_view host;
  std::optional<std::string_view> port_text;
  if (authority.front() == '[') {
    const std::size_t close = authority.find(']');
    if (close == std::string_view::npos) {
      return Invalid("the IPv6 address in the webhook URL has no closing \"]\"");
    }
    host = authority.substr(1, close - 1);
    const std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') {
        return Invalid("the webhook URL has " + mtasts::Quote(after, 20) +
                       " after the IPv6 address; only \":port\" may follow it");
      }
      port_text = after.substr(1);
    }
    if (host.find('%') != std::string_view::npos) {
      return Invalid(
          "the IPv6 address in the webhook URL has a zone identifier; it is not allowed");
    }
    boost::system::error_code ec;
    const auto v6 = asio::ip::make_address_v6(std::string(host), ec);
    if (ec) {
      return Invalid("the webhook URL's host [" + std::string(host) +
                     "] is not a valid IPv6 address");
    }
    out.host = v6.to_string();
  } else {
    if (std::count(authority.begin(), authority.end(), ':') > 1) {
      return Invalid(
          "the webhook URL's host looks like an IPv6 address without brackets; write it as "
          "[address]");
    }
    const std::size_t colon = authority.find(':');
    host = authority.substr(0, colon);
    if (colon != std::string_view::npos) {
      port_text = authority.substr(colon + 1);
    }
    if (host.empty()) {
      return Invalid("the webhook URL has no host");
    }
    std::string name = mtasts::ToLowerAscii(host);
    if (name.size() > 1 && name.back() == '.') {
      name.pop_back();
    }
    const std::size_t last_dot = name.rfind('.');
    const std::string_view last_label = last_dot == std::string::npos
                                            ? std::string_view(name)
                                            : std::string_view(name).substr(last_dot + 1);
    bool numeric_label = !last_label.empty();
    for (const char c : last_label) {
      numeric_label = numeric_label && mtasts::IsDigit(c);
    }
    if (mtasts::LooksLikeIpv4Address(name) || numeric_label) {
      boost::system::error_code ec;
      const auto v4 = asio::ip::make_address_v4(name, ec);
      if (ec || !mtasts::LooksLikeIpv4Address(name)) {
        return Invalid("the webhook URL's host " + mtasts::Quote(host) +
                       " is not a valid IPv4 address (four decimal numbers 0 to 255) nor a "
                       "host name");
      }
      out.host = v4.to_string();
    } else {
      if (auto why = mtasts::CheckHostname(name)) {
        return Invalid("the webhook URL's host " + mtasts::Quote(host) +
                       " is not a valid host name: " + *why);
      }
      out.host = std::move(name);
    }
  }

  if (port_text) {
    auto port = ParsePort(*port_text);
    if (!port.ok()) {
      return port.status();
    }
    out.port = *port;
  } else {
    out.port = out.scheme == "https" ? 443 : 80;
  }

  for (std::size_t i = 0; i < target.size(); ++i) {
    if (target[i] != '%') {
      continue;
    }
    if (i + 2 >= target.size() || !IsHexDigit(target[i + 1]) || !IsHexDigit(target[i + 2])) {
      return Invalid("the webhook URL has a malformed percent-escape " +
                     mtasts::Quote(target.substr(i, 3), 3) +
                     " (\"%\" must be followed by two "
                     "hex digits)");
    }
  }
  out.target =
      target.empty() || target.front() == '?' ? "/" + std::string(target) : std::string(target);
  return out;
}

asio::awaitable<WebhookResult> PostWebhook(prober::DnsResolver& resolver, ssl::context& tls,
                                           const prober::AddressFilter& filter,
                                           WebhookRequest request, WebhookOptions options) {
  WebhookResult result;
  const Clock::time_point deadline_at = Clock::now() + options.timeout;
  const auto permanent = [&](std::string error) {
    result.ok = false;
    result.permanent = true;
    result.error = std::move(error);
    return result;
  };

  const absl::StatusOr<WebhookUrl> url = ParseWebhookUrl(request.url, request.allow_http);
  if (!url.ok()) {
    co_return permanent("invalid webhook URL: " + std::string(url.status().message()));
  }
  if (std::string why = CheckHeaders(request, options); !why.empty()) {
    co_return permanent("invalid webhook request: " + why);
  }

  std::vector<asio::ip::address> candidates;
  boost::system::error_code ec;
  const asio::ip::address literal = asio::ip::make_address(url->host, ec);
  const bool is_literal = !ec;
  if (is_literal) {
    candidates.push_back(literal);
  } else {
    Addresses found = co_await LookUp(resolver, url->host, deadline_at, options.timeout);
    if (!found.error.empty()) {
      result.error = std::move(found.error);
      co_return result;
    }
    candidates = std::move(found.addresses);
  }

  // Checked here, on the very addresses connected to below.
  std::vector<asio::ip::address> allowed;
  allowed.reserve(candidates.size());
  std::string refused;
  for (const asio::ip::address& address : candidates) {
    const std::string why = filter.Check(address);
    if (why.empty()) {
      allowed.push_back(address);
    } else {
      refused += (refused.empty() ? "" : ", ") + address.to_string() + " (" + why + ")";
    }
  }
  if (allowed.empty()) {
    co_return permanent(
        "webhook target " + url->host +
        (is_literal ? " is a refused address: " : " resolves only to refused addresses: ") +
        refused + "; special-purpose networks are refused unless the alerter allows them");
  }

  auto executor = co_await asio::this_coro::executor;
  tcp::socket socket(executor);
  prober::Deadline<tcp::socket> deadline(socket, deadline_at);
  const auto retryable = [&](const std::string& error) {
    result.ok = false;
    result.permanent = false;
    result.error = deadline.expired() ? "the delivery took longer than " +
                                            FormatDuration(options.timeout) + " (" + error + ")"
                                      : error;
    return result;
  };

  std::string connect_errors;
  bool connected = false;
  for (std::size_t i = 0; i < allowed.size() && i < kMaxAddressesTried; ++i) {
    if (deadline.expired()) {
      break;
    }
    boost::system::error_code ignored;
    socket.close(ignored);
    result.address = allowed[i].to_string();
    co_await socket.async_connect(tcp::endpoint(allowed[i], url->port),
                                  asio::redirect_error(asio::use_awaitable, ec));
    if (!ec) {
      connected = true;
      break;
    }
    connect_errors += (connect_errors.empty() ? "" : "; ") + result.address + ": " + ec.message();
  }
  if (!connected) {
    co_return retryable(
        "cannot connect to the webhook host " + url->host + " port " + std::to_string(url->port) +
        " (" + (connect_errors.empty() ? std::string("no address was tried") : connect_errors) +
        ")");
  }

  std::string head =
      "POST " + url->target + " HTTP/1.1\r\nHost: " + HostHeader(*url) +
      "\r\nUser-Agent: " + options.user_agent + "\r\nContent-Type: " + request.content_type +
      "\r\nContent-Length: " + std::to_string(request.body.size()) + "\r\nConnection: close\r\n";
  for (const auto& [name, value] : request.headers) {
    head.append(name).append(": ").append(value).append("\r\n");
  }
  head += "\r\n";
  std::string bytes = std::move(head) + request.body;

  Response response;
  if (url->scheme == "https") {
    ssl::stream<tcp::socket&> stream(socket, tls);
    SSL* ssl = stream.native_handle();
    stream.set_verify_mode(ssl::verify_peer);
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
    if (is_literal) {
      X509_VERIFY_PARAM_set1_ip_asc(param, url->host.c_str());
    } else {
      // RFC 6125 §6.4.3: a wildcard only as the complete left-most label. RFC 6066 §3: SNI
      // carries host names only.
      X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
      SSL_set1_host(ssl, url->host.c_str());
      SSL_set_tlsext_host_name(ssl, url->host.c_str());
    }
    co_await stream.async_handshake(ssl::stream_base::client,
                                    asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      const long verify_result = SSL_get_verify_result(ssl);
      std::string error = prober::HandshakeError(ec);
      if (verify_result != X509_V_OK) {
        error += std::string(" (") + X509_verify_cert_error_string(verify_result) + ")";
      }
      co_return retryable("the TLS handshake with " + url->host + " (" + result.address +
                          ") failed: " + error);
    }
    response = co_await Exchange(stream, std::move(bytes), options.max_response_bytes);
  } else {
    response = co_await Exchange(socket, std::move(bytes), options.max_response_bytes);
  }
  if (response.status == 0) {
    co_return retryable(response.error);
  }
  Judge(response, result);
  co_return result;
}

}  // namespace stswatch::alerting
