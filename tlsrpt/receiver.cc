#include "tlsrpt/receiver.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdint>
#include <ctime>
#include <exception>
#include <map>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <openssl/ssl.h>

#include "absl/status/statusor.h"
#include "mtasts/text.h"
#include "prober/async.h"
#include "tlsrpt/http_request.h"
#include "tlsrpt/mail.h"
#include "tlsrpt/report.h"

namespace stswatch::tlsrpt {
namespace internal {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using asio::ip::tcp;

// What the receiver's coroutines share. Held by the receiver and by every coroutine, so that a
// coroutine resumed after the receiver is gone still finds `stopped` (and then touches nothing
// else but its own sockets).
struct ReceiverState {
  ReceiverState(asio::io_context& io_context, ReportSink& report_sink, const TimeSource& time,
                Logger& logger, ReceiverOptions receiver_options)
      : io(io_context),
        sink(report_sink),
        clock(time),
        log(logger),
        options(std::move(receiver_options)),
        acceptor(io_context) {}

  asio::io_context& io;
  ReportSink& sink;
  const TimeSource& clock;
  Logger& log;
  ReceiverOptions options;
  std::unique_ptr<ssl::context> tls;  // Null: plain HTTP.
  tcp::acceptor acceptor;
  // The open connections' sockets, for Stop() to close.
  std::map<std::uint64_t, tcp::socket*> connections;
  std::uint64_t next_connection = 0;
  bool started = false;
  bool stopped = false;
};

}  // namespace internal

namespace {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using asio::ip::tcp;
using internal::ReceiverState;
using mtasts::EqualsIgnoreCase;
using mtasts::Quote;
using ParserState = HttpRequestParser::State;

constexpr std::string_view kGzipType = "application/tlsrpt+gzip";
constexpr std::string_view kJsonType = "application/tlsrpt+json";
constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
// Senders retry a 503 after this many seconds.
constexpr std::string_view kRetryAfterSeconds = "60";
// After the last answer on a connection: how long, and how much, is read and dropped before the
// socket is closed. Closing with unread bytes makes the kernel send a reset, which can destroy the
// answer before the client has read it (RFC 9112 §9.6).
constexpr auto kLingerTime = std::chrono::seconds(2);
constexpr std::size_t kLingerBytes = std::size_t{8} << 20;
// A failed accept (out of file descriptors) is retried after this pause, not in a busy loop.
constexpr auto kAcceptPause = std::chrono::milliseconds(100);
// The longest message put in an answer's body.
constexpr std::size_t kMaxMessageBytes = 2000;

// One answer to a request, and what the log line says about it.
struct Reply {
  int status = 0;
  std::string text;                 // One line: what happened or what is wrong.
  std::string result = "rejected";  // stored, duplicate, refused, unavailable, rejected, timeout
  std::string report_id;
  std::string organization;
};

Reply MakeReply(int status, std::string text) {
  Reply reply;
  reply.status = status;
  reply.text = std::move(text);
  return reply;
}

std::string_view ReasonPhrase(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 400:
      return "Bad Request";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 411:
      return "Length Required";
    case 413:
      return "Content Too Large";
    case 414:
      return "URI Too Long";
    case 415:
      return "Unsupported Media Type";
    case 417:
      return "Expectation Failed";
    case 431:
      return "Request Header Fields Too Large";
    case 501:
      return "Not Implemented";
    case 503:
      return "Service Unavailable";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "Error";
  }
}

// The message as one line of bounded length: control bytes become spaces.
std::string OneLine(std::string_view text) {
  std::string line(text.substr(0, kMaxMessageBytes));
  for (char& c : line) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7F) {
      c = ' ';
    }
  }
  if (text.size() > kMaxMessageBytes) {
    line += "...";
  }
  return line;
}

// RFC 9110 §5.6.7: IMF-fixdate, "Sun, 06 Nov 1994 08:49:37 GMT" (not strftime: its names
// follow the locale).
std::string HttpDate(std::chrono::system_clock::time_point t) {
  static constexpr std::array<std::string_view, 7> kDays = {"Sun", "Mon", "Tue", "Wed",
                                                            "Thu", "Fri", "Sat"};
  static constexpr std::array<std::string_view, 12> kMonths = {
      "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  const std::time_t seconds = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  if (gmtime_r(&seconds, &tm) == nullptr || tm.tm_wday < 0 || tm.tm_wday > 6 || tm.tm_mon < 0 ||
      tm.tm_mon > 11) {
    return "Thu, 01 Jan 1970 00:00:00 GMT";
  }
  const auto two = [](int n) {
    std::string s = std::to_string(n);
    return s.size() < 2 ? "0" + s : s;
  };
  return std::string(kDays[tm.tm_wday]) + ", " + two(tm.tm_mday) + " " +
         std::string(kMonths[tm.tm_mon]) + " " + std::to_string(tm.tm_year + 1900) + " " +
         two(tm.tm_hour) + ":" + two(tm.tm_min) + ":" + two(tm.tm_sec) + " GMT";
}

// The answer on the wire.
std::string Serialize(const Reply& reply, bool keep_alive, bool http10, bool head_request,
                      const std::string& date) {
  const std::string body = OneLine(reply.text) + "\n";
  std::string out = "HTTP/1.1 " + std::to_string(reply.status) + " " +
                    std::string(ReasonPhrase(reply.status)) + "\r\n";
  out += "Date: " + date + "\r\n";
  out += "Content-Type: text/plain; charset=utf-8\r\n";
  out += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  if (reply.status == 405) {
    out += "Allow: POST\r\n";
  }
  if (reply.status == 503) {
    out += "Retry-After: " + std::string(kRetryAfterSeconds) + "\r\n";
  }
  if (!keep_alive) {
    out += "Connection: close\r\n";
  } else if (http10) {
    out += "Connection: keep-alive\r\n";
  }
  out += "\r\n";
  // RFC 9110 §9.3.2: the answer to HEAD has the head of the answer to GET, and no body.
  if (!head_request) {
    out += body;
  }
  return out;
}

void LogRequest(Logger& log, const Reply& reply, const std::string& peer, std::size_t bytes) {
  log.Log(reply.status < 400 ? LogLevel::kInfo : LogLevel::kWarning, "receiver.report",
          {{"status", std::to_string(reply.status)},
           {"result", reply.result},
           {"report_id", reply.report_id},
           {"organization", reply.organization},
           {"peer", peer},
           {"bytes", std::to_string(bytes)},
           {"message", OneLine(reply.text)}});
}

void LogTlsFailed(Logger& log, const std::string& peer, const boost::system::error_code& ec) {
  log.Log(LogLevel::kDebug, "receiver.tls_failed", {{"peer", peer}, {"error", ec.message()}});
}

void LogRefusedConnection(Logger& log, const std::string& peer, int limit) {
  log.Warn("receiver.refused_connection",
           {{"peer", peer}, {"reason", std::to_string(limit) + " connections open, the limit"}});
}

void LogError(Logger& log, std::string_view what, const std::string& detail) {
  log.Error("receiver.error", {{"what", std::string(what)}, {"error", detail}});
}

void LogException(Logger& log, const std::exception_ptr& e) {
  std::string what = "unknown exception";
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& x) {
    what = x.what();
  } catch (...) {
  }
  LogError(log, "request", what);
}

// The peer's address without the port; an IPv4-mapped IPv6 address as IPv4.
std::string PeerAddress(const tcp::socket& socket) {
  boost::system::error_code ec;
  const tcp::endpoint endpoint = socket.remote_endpoint(ec);
  if (ec) {
    return "unknown";
  }
  asio::ip::address address = endpoint.address();
  if (address.is_v6() && address.to_v6().is_v4_mapped()) {
    address = asio::ip::make_address_v4(asio::ip::v4_mapped, address.to_v6());
  }
  return address.to_string();
}

absl::StatusOr<tcp::endpoint> ParseListen(const std::string& listen) {
  const std::size_t colon = listen.rfind(':');
  if (colon == std::string::npos) {
    return absl::InvalidArgumentError("receiver address \"" + listen + "\" is not IP:PORT");
  }
  std::string host = listen.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  boost::system::error_code ec;
  const asio::ip::address address = asio::ip::make_address(host, ec);
  if (ec) {
    return absl::InvalidArgumentError("receiver address \"" + listen + "\": \"" + host +
                                      "\" is not an IP address");
  }
  const std::string_view port = std::string_view(listen).substr(colon + 1);
  int value = -1;
  const auto [end, error] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || port.size() > 5 || error != std::errc() || end != port.data() + port.size() ||
      value < 0 || value > 65535) {
    return absl::InvalidArgumentError("receiver address \"" + listen +
                                      "\": the port is not 0 to 65535");
  }
  return tcp::endpoint(address, static_cast<unsigned short>(value));
}

absl::StatusOr<std::unique_ptr<ssl::context>> MakeTlsContext(const std::string& cert_file,
                                                             const std::string& key_file) {
  auto context = std::make_unique<ssl::context>(ssl::context::tls_server);
  // What current senders negotiate; TLS 1.0 and 1.1 are deprecated (RFC 8996).
  SSL_CTX_set_min_proto_version(context->native_handle(), TLS1_2_VERSION);
  context->set_options(ssl::context::default_workarounds | ssl::context::no_compression);
  boost::system::error_code ec;
  context->use_certificate_chain_file(cert_file, ec);
  if (ec) {
    return absl::InvalidArgumentError("cannot load the TLS certificate chain \"" + cert_file +
                                      "\": " + ec.message());
  }
  context->use_private_key_file(key_file, ssl::context::pem, ec);
  if (ec) {
    return absl::InvalidArgumentError("cannot load the TLS private key \"" + key_file +
                                      "\": " + ec.message());
  }
  if (SSL_CTX_check_private_key(context->native_handle()) != 1) {
    return absl::InvalidArgumentError("the TLS private key \"" + key_file +
                                      "\" does not match the certificate \"" + cert_file + "\"");
  }
  return context;
}

// One accepted connection: its socket, the TLS layer over it, and the bytes read ahead.
struct Connection {
  Connection(std::shared_ptr<ReceiverState> receiver, tcp::socket accepted, std::string address)
      : state(std::move(receiver)), socket(std::move(accepted)), peer(std::move(address)) {
    id = state->next_connection++;
    state->connections[id] = &socket;
  }
  ~Connection() { state->connections.erase(id); }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  std::shared_ptr<ReceiverState> state;
  tcp::socket socket;
  std::optional<ssl::stream<tcp::socket&>> tls;
  std::string peer;
  // Bytes read and not yet consumed by a request (the start of a pipelined next request).
  std::string pending;
  std::array<char, std::size_t{16} * 1024> buffer{};
  std::uint64_t id = 0;
};

// Cancels the pending operations on a socket (rather than closing it, as prober::Deadline does)
// when the request's time is up, so that a 408 can still be written. Destroying it disarms it,
// also when its handler is already queued (the timer's destructor cancels the wait; a handler
// already queued finds no socket).
class RequestTimer {
 public:
  RequestTimer(tcp::socket& socket, std::chrono::steady_clock::duration timeout)
      : timer_(socket.get_executor()), state_(std::make_shared<TimerState>()) {
    state_->socket = &socket;
    timer_.expires_after(timeout);
    timer_.async_wait([state = state_](const boost::system::error_code& ec) {
      if (ec || state->socket == nullptr) {
        return;
      }
      state->expired = true;
      boost::system::error_code ignored;
      state->socket->cancel(ignored);
    });
  }
  RequestTimer(const RequestTimer&) = delete;
  RequestTimer& operator=(const RequestTimer&) = delete;
  ~RequestTimer() { state_->socket = nullptr; }
  bool Expired() const { return state_->expired; }

 private:
  struct TimerState {
    tcp::socket* socket = nullptr;
    bool expired = false;
  };
  asio::steady_timer timer_;
  std::shared_ptr<TimerState> state_;
};

struct IoResult {
  boost::system::error_code ec;
  std::size_t bytes = 0;
};

asio::awaitable<IoResult> ReadSome(std::shared_ptr<Connection> c) {
  IoResult r;
  if (c->tls) {
    r.bytes = co_await c->tls->async_read_some(asio::buffer(c->buffer),
                                               asio::redirect_error(asio::use_awaitable, r.ec));
  } else {
    r.bytes = co_await c->socket.async_read_some(asio::buffer(c->buffer),
                                                 asio::redirect_error(asio::use_awaitable, r.ec));
  }
  co_return r;
}

asio::awaitable<boost::system::error_code> WriteAll(std::shared_ptr<Connection> c,
                                                    std::string data) {
  boost::system::error_code ec;
  if (c->tls) {
    co_await asio::async_write(*c->tls, asio::buffer(data),
                               asio::redirect_error(asio::use_awaitable, ec));
  } else {
    co_await asio::async_write(c->socket, asio::buffer(data),
                               asio::redirect_error(asio::use_awaitable, ec));
  }
  co_return ec;
}

bool IsEof(const boost::system::error_code& ec) {
  return ec == asio::error::eof || ec == ssl::error::stream_truncated;
}

// The Content-Encoding's coding: "" (none or identity), "gzip", or nullopt when unsupported.
std::optional<std::string> ContentCoding(const HttpRequestParser& parser) {
  const std::optional<std::string_view> field = parser.Header("Content-Encoding");
  if (!field) {
    return std::string();
  }
  const std::string coding = mtasts::ToLowerAscii(mtasts::TrimWsp(*field));
  if (coding.empty() || coding == "identity") {
    return std::string();
  }
  if (coding == "gzip" || coding == "x-gzip") {
    return std::string("gzip");
  }
  return std::nullopt;
}

// The checks of a request's head, before its body is read: the refusal, or nullopt.
std::optional<Reply> CheckHead(const HttpRequestParser& parser, const ReceiverOptions& options) {
  if (!options.path.empty() && parser.Path() != options.path) {
    return MakeReply(404, "No TLS reports are received at this path.");
  }
  if (parser.method() != "POST") {
    return MakeReply(405, "The method " + Quote(parser.method(), 32) +
                              " is not allowed here: TLS reports are sent with POST (RFC 8460 "
                              "§5.4).");
  }
  const std::optional<std::string_view> expect = parser.Header("Expect");
  if (expect && !EqualsIgnoreCase(*expect, "100-continue")) {
    return MakeReply(
        417, "The expectation " + Quote(*expect, 64) + " is not supported; only 100-continue is.");
  }
  if (parser.framing() == HttpRequestParser::Framing::kNone) {
    return MakeReply(411,
                     "The request has neither a Content-Length nor a chunked body; send the "
                     "report with one of them.");
  }
  if (!ContentCoding(parser)) {
    return MakeReply(415, "The Content-Encoding " +
                              Quote(parser.Header("Content-Encoding").value_or(""), 64) +
                              " is not supported: send gzip, or no Content-Encoding.");
  }
  const std::optional<std::string_view> content_type = parser.Header("Content-Type");
  const std::string media = content_type ? MediaType(*content_type) : std::string();
  if (media != kGzipType && media != kJsonType) {
    return MakeReply(
        415, (content_type ? "The Content-Type " + Quote(*content_type, 64) + " is not a TLS report"
                           : std::string("The request has no Content-Type")) +
                 ": send application/tlsrpt+gzip or application/tlsrpt+json (RFC "
                 "8460 §5.4).");
  }
  return std::nullopt;
}

// The report of a complete request that passed CheckHead, or the refusal.
struct Prepared {
  std::optional<Reply> refusal;
  Report report;
};

Prepared PrepareReport(const HttpRequestParser& parser, const ReceiverOptions& options) {
  Prepared prepared;
  const std::string& body = parser.body();
  const std::string media = MediaType(parser.Header("Content-Type").value_or(""));
  const bool gzip_coding = ContentCoding(parser).value_or("") == "gzip";
  std::string inflated;
  std::string_view json = body;
  if (IsGzip(body)) {
    // Also for application/tlsrpt+json: the magic number tells, as for mislabelled e-mail parts.
    std::vector<std::string> warnings;
    absl::StatusOr<std::string> out = Gunzip(body, options.max_report_bytes, warnings);
    if (!out.ok()) {
      // Past the limit (a gzip bomb) 413; otherwise corrupt or truncated data.
      const int status = absl::IsResourceExhausted(out.status()) ? 413 : 400;
      prepared.refusal = MakeReply(status, std::string(out.status().message()));
      return prepared;
    }
    inflated = *std::move(out);
    json = inflated;
  } else if (gzip_coding || media == kGzipType) {
    const std::string_view start = mtasts::TrimWsp(std::string_view(body).substr(0, 64));
    // Some senders label plain JSON as gzip; the JSON parser has the last word on it.
    if (gzip_coding || !start.starts_with('{')) {
      prepared.refusal =
          MakeReply(400, std::string(gzip_coding ? "The body is Content-Encoding gzip"
                                                 : "The body is typed application/tlsrpt+gzip") +
                             " but is not gzip data: it lacks the gzip magic number 1f 8b.");
      return prepared;
    }
  }
  if (json.size() > options.max_report_bytes) {
    prepared.refusal = MakeReply(413, "The report has " + std::to_string(json.size()) +
                                          " bytes, more than the limit of " +
                                          std::to_string(options.max_report_bytes) + ".");
    return prepared;
  }
  ParseOptions parse_options;
  parse_options.max_bytes = options.max_report_bytes;
  absl::StatusOr<Report> report = ParseReport(json, parse_options);
  if (!report.ok()) {
    prepared.refusal = MakeReply(
        400, "The body is not a valid RFC 8460 report: " + std::string(report.status().message()));
    return prepared;
  }
  prepared.report = *std::move(report);
  return prepared;
}

Reply IngestReply(const IngestResult& result, const std::string& report_id,
                  const std::string& organization) {
  Reply reply;
  switch (result.status) {
    case IngestStatus::kStored:
      reply = MakeReply(201, "stored: report " + Quote(report_id, 256) + " from " +
                                 Quote(organization, 128) + ".");
      reply.result = "stored";
      break;
    case IngestStatus::kDuplicate:
      reply = MakeReply(200, "duplicate: report " + Quote(report_id, 256) + " from " +
                                 Quote(organization, 128) + " was received before.");
      reply.result = "duplicate";
      break;
    case IngestStatus::kRefused:
      reply = MakeReply(403, "refused: " + (result.message.empty()
                                                ? std::string("the report is not accepted here.")
                                                : result.message));
      reply.result = "refused";
      break;
    case IngestStatus::kUnavailable:
      reply = MakeReply(
          503, "The report cannot be stored now (" +
                   (result.message.empty() ? std::string("storage unavailable") : result.message) +
                   "); try again later.");
      reply.result = "unavailable";
      break;
  }
  reply.report_id = report_id;
  reply.organization = organization;
  return reply;
}

std::int64_t UnixMillis(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

enum class Next { kKeepAlive, kLingerAndClose, kClose };

// Reads one request, answers it, and says what becomes of the connection.
asio::awaitable<Next> HandleRequest(std::shared_ptr<Connection> c, bool last) {
  ReceiverState& state = *c->state;
  const ReceiverOptions& options = state.options;
  HttpRequestParser::Limits limits;
  limits.max_body_bytes = options.max_body_bytes;
  HttpRequestParser parser(limits);
  std::optional<RequestTimer> timer;
  timer.emplace(c->socket, options.read_timeout);
  bool head_checked = false;
  std::optional<Reply> reply;
  while (true) {
    c->pending.erase(0, parser.Feed(c->pending));
    if (parser.state() == ParserState::kError) {
      reply = MakeReply(parser.ErrorStatus(), parser.error_message());
      break;
    }
    if (parser.head_complete() && !head_checked) {
      head_checked = true;
      reply = CheckHead(parser, options);
      if (reply) {
        break;
      }
      // RFC 9110 §10.1.1: the client waits for 100 Continue (or the final answer) before it
      // sends the body.
      if (parser.state() == ParserState::kNeedMore && parser.ExpectsContinue()) {
        const boost::system::error_code ec = co_await WriteAll(c, std::string(kContinue));
        if (state.stopped || ec) {
          co_return Next::kClose;
        }
      }
    }
    if (parser.state() == ParserState::kComplete) {
      break;
    }
    IoResult read;
    if (timer->Expired()) {
      read.ec = asio::error::timed_out;
    } else {
      read = co_await ReadSome(c);
      if (state.stopped) {
        co_return Next::kClose;
      }
    }
    if (read.ec) {
      if (timer->Expired()) {
        // An idle keep-alive connection (or one that never sent a byte) is simply closed.
        if (!parser.received_any()) {
          co_return Next::kClose;
        }
        reply = MakeReply(408, "The request was not complete within " +
                                   std::to_string(options.read_timeout.count()) + " s.");
        reply->result = "timeout";
        break;
      }
      if (IsEof(read.ec) && parser.received_any()) {
        // The client may have closed only its sending side: it still reads the answer.
        parser.FinishOnClose();
        reply = MakeReply(parser.ErrorStatus(), parser.error_message());
        break;
      }
      co_return Next::kClose;
    }
    c->pending.append(c->buffer.data(), read.bytes);
  }
  timer.reset();
  const bool complete = parser.state() == ParserState::kComplete;
  if (!reply) {
    Prepared prepared = PrepareReport(parser, options);
    if (prepared.refusal) {
      reply = std::move(prepared.refusal);
    } else {
      std::string report_id = prepared.report.report_id;
      std::string organization = prepared.report.organization_name;
      ReportOrigin origin;
      origin.channel = "https";
      origin.submitter = c->peer;
      origin.received_ms = UnixMillis(state.clock.Now());
      const IngestResult result =
          co_await state.sink.Ingest(std::move(prepared.report), std::move(origin));
      if (state.stopped) {
        co_return Next::kClose;
      }
      reply = IngestReply(result, report_id, organization);
    }
  }
  // An answer given before the whole request was read leaves its unread rest on the connection:
  // the connection cannot carry another request.
  const bool keep_alive = complete && !last && parser.KeepAlive();
  LogRequest(state.log, *reply, c->peer, parser.body().size());
  if (options.on_reply) {
    options.on_reply(reply->status, reply->result);
  }
  std::string wire = Serialize(*reply, keep_alive, parser.minor_version() == 0,
                               parser.method() == "HEAD", HttpDate(state.clock.Now()));
  boost::system::error_code ec;
  {
    prober::Deadline<tcp::socket> deadline(c->socket, options.read_timeout);
    ec = co_await WriteAll(c, std::move(wire));
  }
  if (state.stopped || ec) {
    co_return Next::kClose;
  }
  co_return keep_alive ? Next::kKeepAlive : Next::kLingerAndClose;
}

// Ends a connection after its last answer: TLS close_notify, the sending side shut, and what the
// client still sends read and dropped for a while (see kLingerTime).
asio::awaitable<void> Linger(std::shared_ptr<Connection> c) {
  ReceiverState& state = *c->state;
  boost::system::error_code ec;
  if (c->tls) {
    prober::Deadline<tcp::socket> deadline(c->socket, kLingerTime);
    co_await c->tls->async_shutdown(asio::redirect_error(asio::use_awaitable, ec));
    if (state.stopped || deadline.expired()) {
      co_return;
    }
  }
  c->socket.shutdown(tcp::socket::shutdown_send, ec);
  if (ec) {
    co_return;
  }
  prober::Deadline<tcp::socket> deadline(c->socket, kLingerTime);
  std::size_t drained = 0;
  while (drained < kLingerBytes && !state.stopped) {
    const std::size_t n = co_await c->socket.async_read_some(
        asio::buffer(c->buffer), asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      break;
    }
    drained += n;
  }
}

asio::awaitable<void> Serve(std::shared_ptr<Connection> c) {
  ReceiverState& state = *c->state;
  if (state.tls) {
    c->tls.emplace(c->socket, *state.tls);
    boost::system::error_code ec;
    {
      prober::Deadline<tcp::socket> deadline(c->socket, state.options.read_timeout);
      co_await c->tls->async_handshake(ssl::stream_base::server,
                                       asio::redirect_error(asio::use_awaitable, ec));
    }
    if (state.stopped) {
      co_return;
    }
    if (ec) {
      LogTlsFailed(state.log, c->peer, ec);
      co_return;
    }
  }
  for (int served = 1;; ++served) {
    const bool last = served >= state.options.max_requests_per_connection;
    const Next next = co_await HandleRequest(c, last);
    if (state.stopped || next == Next::kClose) {
      co_return;
    }
    if (next == Next::kLingerAndClose) {
      co_await Linger(c);
      co_return;
    }
  }
}

asio::awaitable<void> AcceptLoop(std::shared_ptr<ReceiverState> state) {
  while (!state->stopped) {
    tcp::socket socket(state->io);
    boost::system::error_code ec;
    co_await state->acceptor.async_accept(socket, asio::redirect_error(asio::use_awaitable, ec));
    if (state->stopped) {
      co_return;
    }
    if (ec) {
      // Out of file descriptors, or another transient failure: wait a little and go on.
      LogError(state->log, "accept", ec.message());
      asio::steady_timer pause(state->io, kAcceptPause);
      co_await pause.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      continue;
    }
    std::string peer = PeerAddress(socket);
    if (state->connections.size() >=
        static_cast<std::size_t>(std::max(state->options.max_connections, 0))) {
      // Closed without an answer: a TLS handshake only to say 503 would cost what the limit
      // protects.
      LogRefusedConnection(state->log, peer, state->options.max_connections);
      socket.close(ec);
      continue;
    }
    auto connection = std::make_shared<Connection>(state, std::move(socket), std::move(peer));
    asio::co_spawn(state->io, Serve(std::move(connection)), [state](const std::exception_ptr& e) {
      if (e && !state->stopped) {
        LogException(state->log, e);
      }
    });
  }
}

}  // namespace

ReportReceiver::ReportReceiver(boost::asio::io_context& io, ReportSink& sink,
                               const TimeSource& clock, Logger& log, ReceiverOptions options)
    : state_(std::make_shared<ReceiverState>(io, sink, clock, log, std::move(options))) {}

ReportReceiver::~ReportReceiver() { Stop(); }

absl::Status ReportReceiver::Start() {
  ReceiverState& state = *state_;
  if (state.started || state.stopped) {
    return absl::FailedPreconditionError(state.stopped ? "the receiver was stopped"
                                                       : "the receiver was started already");
  }
  const ReceiverOptions& options = state.options;
  absl::StatusOr<tcp::endpoint> endpoint = ParseListen(options.listen);
  if (!endpoint.ok()) {
    return endpoint.status();
  }
  if (options.tls_cert_file.empty() != options.tls_key_file.empty()) {
    return absl::InvalidArgumentError(
        "the receiver's TLS certificate and key go together: give both (HTTPS) or neither "
        "(plain HTTP behind a TLS-terminating proxy)");
  }
  if (!options.tls_cert_file.empty()) {
    absl::StatusOr<std::unique_ptr<ssl::context>> tls =
        MakeTlsContext(options.tls_cert_file, options.tls_key_file);
    if (!tls.ok()) {
      return tls.status();
    }
    state.tls = *std::move(tls);
  }
  boost::system::error_code ec;
  const auto fail = [&](std::string_view step) {
    boost::system::error_code ignored;
    state.acceptor.close(ignored);
    return absl::UnavailableError("cannot listen on " + options.listen + " (" + std::string(step) +
                                  "): " + ec.message());
  };
  state.acceptor.open(endpoint->protocol(), ec);
  if (ec) {
    return fail("open");
  }
  state.acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (ec) {
    return fail("SO_REUSEADDR");
  }
  state.acceptor.bind(*endpoint, ec);
  if (ec) {
    return fail("bind");
  }
  state.acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return fail("listen");
  }
  const tcp::endpoint bound = state.acceptor.local_endpoint(ec);
  if (ec) {
    return fail("local address");
  }
  port_ = bound.port();
  const std::string host = bound.address().to_string();
  address_ = (bound.address().is_v6() ? "[" + host + "]" : host) + ":" + std::to_string(port_);
  state.started = true;
  asio::co_spawn(state.io, AcceptLoop(state_), [state = state_](const std::exception_ptr& e) {
    if (e && !state->stopped) {
      LogException(state->log, e);
    }
  });
  state.log.Info("receiver.listening", {{"address", address_},
                                        {"tls", state.tls ? "on" : "off"},
                                        {"path", options.path.empty() ? "(any)" : options.path}});
  return absl::OkStatus();
}

void ReportReceiver::Stop() {
  ReceiverState& state = *state_;
  if (state.stopped) {
    return;
  }
  state.stopped = true;
  boost::system::error_code ignored;
  state.acceptor.close(ignored);
  for (const auto& [id, socket] : state.connections) {
    socket->close(ignored);
  }
}

}  // namespace stswatch::tlsrpt
