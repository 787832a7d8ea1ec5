#include "prober/policy_fetch.h"

#include <array>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/write.hpp>

#include "prober/async.h"
#include "prober/http_response.h"

namespace stswatch::prober {

namespace asio = boost::asio;
using asio::ip::tcp;
using mtasts::FetchOutcome;
using mtasts::PolicyFetch;

namespace {

PolicyFetch Fail(PolicyFetch fetch, FetchOutcome outcome, std::string detail) {
  fetch.outcome = outcome;
  fetch.detail = std::move(detail);
  return fetch;
}

}  // namespace

asio::awaitable<PolicyFetch> FetchPolicy(DnsResolver& resolver, TlsContext& tls,
                                         const AddressFilter& filter, std::string domain,
                                         FetchOptions options) {
  const std::string host = "mta-sts." + domain;
  PolicyFetch fetch;
  const auto started = std::chrono::steady_clock::now();

  DnsResult a = co_await AsyncResolve(resolver, host, RrType::kA);
  if (a.outcome == mtasts::DnsOutcome::kError) {
    co_return Fail(fetch, FetchOutcome::kNoPolicyHost, "lookup failed: " + a.error);
  }
  if (a.records.empty()) {
    const DnsResult aaaa = co_await AsyncResolve(resolver, host, RrType::kAaaa);
    a.records = aaaa.records;
  }
  if (a.records.empty()) {
    co_return Fail(fetch, FetchOutcome::kNoPolicyHost,
                   a.outcome == mtasts::DnsOutcome::kNxDomain ? "no such name" : "no address");
  }
  boost::system::error_code ec;
  const asio::ip::address address = asio::ip::make_address(a.records.front().value, ec);
  fetch.address = a.records.front().value;
  if (const std::string why = filter.Check(address); !why.empty()) {
    co_return Fail(fetch, FetchOutcome::kAddressRefused,
                   host + " resolves to " + fetch.address + ", a " + why +
                       "; it was not fetched (see --allow-private).");
  }

  auto executor = co_await asio::this_coro::executor;
  asio::ssl::stream<tcp::socket> stream(executor, tls.modern());
  const auto remaining = options.timeout - (std::chrono::steady_clock::now() - started);
  Deadline<tcp::socket> deadline(stream.next_layer(), remaining);
  const auto timed_out = [&](const std::string& what) {
    return Fail(
        fetch, FetchOutcome::kTimeout,
        what + " took longer than " + std::to_string(options.timeout.count() / 1000) + " s");
  };

  co_await stream.next_layer().async_connect(tcp::endpoint(address, 443),
                                             asio::redirect_error(asio::use_awaitable, ec));
  if (ec) {
    if (deadline.expired()) {
      co_return timed_out("connecting");
    }
    co_return Fail(fetch, FetchOutcome::kConnectFailed, ec.message());
  }
  SSL_set_tlsext_host_name(stream.native_handle(), host.c_str());
  co_await stream.async_handshake(asio::ssl::stream_base::client,
                                  asio::redirect_error(asio::use_awaitable, ec));
  if (ec) {
    if (deadline.expired()) {
      co_return timed_out("the TLS handshake");
    }
    co_return Fail(fetch, FetchOutcome::kTlsFailed, HandshakeError(ec));
  }
  fetch.cert = InspectPeer(stream.native_handle(), host);
  if (!fetch.cert) {
    co_return Fail(fetch, FetchOutcome::kCertificateInvalid, "no certificate was presented");
  }
  if (!fetch.cert->chain_valid) {
    co_return Fail(fetch, FetchOutcome::kCertificateInvalid, fetch.cert->chain_error);
  }
  if (!fetch.cert->name_match) {
    std::string names;
    for (const std::string& n : fetch.cert->names) {
      names += (names.empty() ? "" : ", ") + n;
    }
    co_return Fail(
        fetch, FetchOutcome::kCertificateInvalid,
        "it names " + (names.empty() ? std::string("no host") : names) + ", not " + host);
  }

  const std::string request = "GET /.well-known/mta-sts.txt HTTP/1.1\r\nHost: " + host +
                              "\r\nUser-Agent: " + options.user_agent +
                              "\r\nAccept: text/plain\r\nConnection: close\r\n\r\n";
  co_await asio::async_write(stream, asio::buffer(request),
                             asio::redirect_error(asio::use_awaitable, ec));
  if (ec) {
    if (deadline.expired()) {
      co_return timed_out("sending the request");
    }
    co_return Fail(fetch, FetchOutcome::kConnectFailed, "sending the request: " + ec.message());
  }

  HttpResponseParser parser(HttpResponseParser::Limits{.max_head_bytes = std::size_t{16} * 1024,
                                                       .max_body_bytes = options.max_body_bytes});
  std::array<char, std::size_t{16} * 1024> buffer;
  while (parser.state() == HttpResponseParser::State::kNeedMore) {
    const std::size_t n = co_await stream.async_read_some(
        asio::buffer(buffer), asio::redirect_error(asio::use_awaitable, ec));
    if (n > 0) {
      parser.Feed(std::string_view(buffer.data(), n));
    }
    if (ec) {
      if (deadline.expired()) {
        co_return timed_out("receiving the policy");
      }
      if (ec == asio::error::eof || ec == asio::ssl::error::stream_truncated) {
        parser.FinishOnClose();
        break;
      }
      if (parser.state() == HttpResponseParser::State::kNeedMore) {
        co_return Fail(fetch, FetchOutcome::kConnectFailed, "receiving: " + ec.message());
      }
    }
  }
  if (parser.state() == HttpResponseParser::State::kError) {
    if (parser.error() == HttpResponseParser::Error::kBodyTooLarge) {
      co_return Fail(fetch, FetchOutcome::kTooLarge, parser.error_message());
    }
    co_return Fail(fetch, FetchOutcome::kMalformed, parser.error_message());
  }
  fetch.http_status = parser.status();
  if (auto type = parser.Header("Content-Type")) {
    fetch.content_type = std::string(*type);
  }
  if (fetch.http_status >= 300 && fetch.http_status < 400) {
    fetch.location = std::string(parser.Header("Location").value_or(""));
    co_return Fail(fetch, FetchOutcome::kRedirect, "redirect to " + fetch.location);
  }
  if (fetch.http_status != 200) {
    co_return Fail(fetch, FetchOutcome::kHttpStatus, "HTTP " + std::to_string(fetch.http_status));
  }
  fetch.body = parser.body();
  fetch.outcome = FetchOutcome::kOk;
  co_return fetch;
}

}  // namespace stswatch::prober
