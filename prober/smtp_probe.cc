#include "prober/smtp_probe.h"

#include <array>
#include <optional>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "mtasts/text.h"
#include "prober/async.h"
#include "prober/smtp_reply.h"

namespace stswatch::prober {

namespace asio = boost::asio;
using asio::ip::tcp;
using mtasts::SmtpProbe;
using mtasts::SmtpStage;

namespace {

// Reads the next reply from `stream` (plain socket or TLS stream) through `parser`.
template <typename Stream>
asio::awaitable<std::optional<SmtpReply>> ReadReply(Stream& stream, SmtpReplyParser& parser,
                                                    std::string& error) {
  std::array<char, 4096> buffer;
  while (true) {
    if (auto reply = parser.Next()) {
      co_return reply;
    }
    if (parser.failed()) {
      error = parser.error_message();
      co_return std::nullopt;
    }
    boost::system::error_code ec;
    const std::size_t n = co_await stream.async_read_some(
        asio::buffer(buffer), asio::redirect_error(asio::use_awaitable, ec));
    if (n > 0) {
      parser.Feed(std::string_view(buffer.data(), n));
      continue;
    }
    if (ec) {
      error = ec == asio::error::eof ? "the server closed the connection" : ec.message();
      co_return std::nullopt;
    }
  }
}

template <typename Stream>
asio::awaitable<bool> Send(Stream& stream, const std::string& line, std::string& error) {
  boost::system::error_code ec;
  co_await asio::async_write(stream, asio::buffer(line),
                             asio::redirect_error(asio::use_awaitable, ec));
  if (ec) {
    error = ec.message();
    co_return false;
  }
  co_return true;
}

std::string Describe(const SmtpReply& reply) {
  std::string text = reply.lines.empty() ? "" : reply.lines.front();
  return std::to_string(reply.code) + " " + mtasts::Quote(text, 80);
}

bool Advertises(const SmtpReply& ehlo, std::string_view keyword) {
  for (std::size_t i = 1; i < ehlo.lines.size(); ++i) {
    const std::string_view line = ehlo.lines[i];
    const std::string_view word = line.substr(0, line.find(' '));
    if (mtasts::EqualsIgnoreCase(word, keyword)) {
      return true;
    }
  }
  return false;
}

// Connects again with permissive settings and reports the version negotiated, "" if none.
asio::awaitable<std::string> LegacyVersion(TlsContext& tls, const std::string& host,
                                           const asio::ip::address& address,
                                           const SmtpOptions& options) {
  auto executor = co_await asio::this_coro::executor;
  tcp::socket socket(executor);
  Deadline<tcp::socket> deadline(socket, options.timeout);
  boost::system::error_code ec;
  std::string error;
  co_await socket.async_connect(tcp::endpoint(address, options.port),
                                asio::redirect_error(asio::use_awaitable, ec));
  if (ec) {
    co_return "";
  }
  // One co_await per statement: GCC 12 miscompiles co_await inside && / || chains.
  SmtpReplyParser parser;
  const auto banner = co_await ReadReply(socket, parser, error);
  if (!banner || banner->code != 220) {
    co_return "";
  }
  const bool sent_ehlo = co_await Send(socket, "EHLO " + options.ehlo_name + "\r\n", error);
  if (!sent_ehlo) {
    co_return "";
  }
  const auto ehlo = co_await ReadReply(socket, parser, error);
  if (!ehlo || ehlo->code != 250) {
    co_return "";
  }
  const bool sent_starttls = co_await Send(socket, std::string("STARTTLS\r\n"), error);
  if (!sent_starttls) {
    co_return "";
  }
  const auto ready = co_await ReadReply(socket, parser, error);
  if (!ready || ready->code != 220) {
    co_return "";
  }
  asio::ssl::stream<tcp::socket&> stream(socket, tls.legacy());
  SSL_set_tlsext_host_name(stream.native_handle(), host.c_str());
  co_await stream.async_handshake(asio::ssl::stream_base::client,
                                  asio::redirect_error(asio::use_awaitable, ec));
  co_return ec ? std::string() : ProtocolVersion(stream.native_handle());
}

}  // namespace

asio::awaitable<SmtpProbe> ProbeSmtp(TlsContext& tls, std::string host, asio::ip::address address,
                                     SmtpOptions options) {
  SmtpProbe probe;
  probe.address = address.to_string();
  auto executor = co_await asio::this_coro::executor;
  tcp::socket socket(executor);
  Deadline<tcp::socket> deadline(socket, options.timeout);
  const auto fail = [&](SmtpStage stage, std::string error) {
    probe.failed_stage = stage;
    probe.timed_out = deadline.expired();
    probe.error = probe.timed_out
                      ? "no answer within " + std::to_string(options.timeout.count() / 1000) +
                            " s (" + error + ")"
                      : std::move(error);
    return probe;
  };

  boost::system::error_code ec;
  co_await socket.async_connect(tcp::endpoint(address, options.port),
                                asio::redirect_error(asio::use_awaitable, ec));
  if (ec) {
    co_return fail(SmtpStage::kConnect, ec.message());
  }
  SmtpReplyParser parser;
  std::string error;
  const auto banner = co_await ReadReply(socket, parser, error);
  if (!banner) {
    co_return fail(SmtpStage::kBanner, "reading the banner: " + error);
  }
  if (banner->code != 220) {
    co_return fail(SmtpStage::kBanner, "the banner is " + Describe(*banner) + ", not 220");
  }
  const std::string ehlo = "EHLO " + options.ehlo_name + "\r\n";
  if (!co_await Send(socket, ehlo, error)) {
    co_return fail(SmtpStage::kEhlo, "sending EHLO: " + error);
  }
  const auto ehlo_reply = co_await ReadReply(socket, parser, error);
  if (!ehlo_reply) {
    co_return fail(SmtpStage::kEhlo, "reading the EHLO reply: " + error);
  }
  if (ehlo_reply->code != 250) {
    co_return fail(SmtpStage::kEhlo, "EHLO was answered " + Describe(*ehlo_reply));
  }
  probe.starttls_offered = Advertises(*ehlo_reply, "STARTTLS");
  if (!probe.starttls_offered) {
    co_await Send(socket, std::string("QUIT\r\n"), error);
    co_return fail(SmtpStage::kStartTls, "STARTTLS is not offered");
  }
  if (!co_await Send(socket, std::string("STARTTLS\r\n"), error)) {
    co_return fail(SmtpStage::kStartTls, "sending STARTTLS: " + error);
  }
  const auto ready = co_await ReadReply(socket, parser, error);
  if (!ready) {
    co_return fail(SmtpStage::kStartTls, "reading the STARTTLS reply: " + error);
  }
  probe.starttls_reply = ready->code;
  if (ready->code != 220) {
    co_await Send(socket, std::string("QUIT\r\n"), error);
    co_return fail(SmtpStage::kStartTls, "answered " + Describe(*ready) + " to STARTTLS");
  }
  // RFC 3207 §4: anything the server sent before the handshake must be discarded.
  if (parser.buffered_bytes() > 0) {
    probe.plaintext_injection = true;
    parser.DiscardBuffered();
  }

  asio::ssl::stream<tcp::socket&> stream(socket, tls.modern());
  SSL_set_tlsext_host_name(stream.native_handle(), host.c_str());
  co_await stream.async_handshake(asio::ssl::stream_base::client,
                                  asio::redirect_error(asio::use_awaitable, ec));
  if (ec) {
    probe.cert = InspectPeer(stream.native_handle(), host);
    SmtpProbe failed = fail(SmtpStage::kHandshake, HandshakeError(ec));
    if (options.diagnose_legacy_tls && !failed.timed_out) {
      failed.legacy_tls_version = co_await LegacyVersion(tls, host, address, options);
    }
    co_return failed;
  }
  probe.tls_established = true;
  probe.tls_version = ProtocolVersion(stream.native_handle());
  probe.cipher = SSL_get_cipher_name(stream.native_handle());
  probe.cert = InspectPeer(stream.native_handle(), host);

  SmtpReplyParser tls_parser;
  if (!co_await Send(stream, ehlo, error)) {
    co_return fail(SmtpStage::kEhloAfterTls, "sending EHLO over TLS: " + error);
  }
  const auto second = co_await ReadReply(stream, tls_parser, error);
  if (!second || second->code != 250) {
    co_return fail(SmtpStage::kEhloAfterTls, second
                                                 ? "EHLO over TLS was answered " + Describe(*second)
                                                 : "reading the EHLO reply over TLS: " + error);
  }
  if (co_await Send(stream, std::string("QUIT\r\n"), error)) {
    co_await ReadReply(stream, tls_parser, error);  // 221; its absence is not a finding.
  }
  probe.failed_stage = SmtpStage::kDone;
  co_return probe;
}

}  // namespace stswatch::prober
