#pragma once

// The HTTPS receiver of TLS reports (RFC 8460 §5.4): senders POST a report to the `https:` URI
// of a domain's `rua`, gzip-compressed (`application/tlsrpt+gzip`) or not
// (`application/tlsrpt+json`). Each report is decompressed with a limit, parsed
// (tlsrpt/report.h) and handed to a ReportSink (tlsrpt/ingest.h) with origin channel "https",
// the time it arrived and the peer's address as submitter.
//
// Answers, each with a one-line text/plain body saying what happened or what is wrong:
//   201 Created                 stored
//   200 OK                      a duplicate (stored before); the body says "duplicate"
//   400 Bad Request             a malformed request, bad or truncated gzip, invalid JSON, not an
//                               RFC 8460 report (the parser's sentence), a truncated request
//   403 Forbidden               the sink refused the report (IngestStatus::kRefused: e.g. it
//                               concerns only domains nobody watches here). 403 rather than 422:
//                               the report is well-formed, this receiver does not take it
//   404 Not Found               ReceiverOptions::path is set and the request is for another path
//   405 Method Not Allowed      anything but POST (with `Allow: POST`)
//   408 Request Timeout         the request was not complete within read_timeout
//   411 Length Required         a POST with neither Content-Length nor chunked framing
//   413 Content Too Large       the body over max_body_bytes (refused on the Content-Length,
//                               before the body is read), or the report over max_report_bytes
//                               once decompressed (a gzip bomb, stopped at the limit)
//   414, 431                    a request line or head over its limit (8 KiB; 16 KiB, 100 fields)
//   415 Unsupported Media Type  another Content-Type, or a Content-Encoding other than gzip
//   417 Expectation Failed      an Expect other than 100-continue
//   501, 505                    a transfer coding other than chunked; an HTTP version not 1.x
//   503 Service Unavailable     the sink cannot store now (IngestStatus::kUnavailable), with
//                               `Retry-After: 60`
//
// HTTP/1.1 (tlsrpt/http_request.h): keep-alive (up to max_requests_per_connection requests on
// one connection), `Connection: close`, chunked request bodies, `Expect: 100-continue` (100
// Continue once the head has passed every check, else the final answer at once). An answer
// given before the body was read, and every parse error, closes the connection (after a short
// lingering read, so that the client still sees the answer rather than a reset).
//
// Logs one line per answered request, event `receiver.report` (status, result, report_id,
// organization, peer, bytes, message); `receiver.listening` at Start, `receiver.refused_connection`
// when at max_connections, `receiver.tls_failed` (debug) for a failed handshake,
// `receiver.error` for a request that ended in an exception (a bug).
//
// Threading: one io_context, one thread. Construct, Start, Stop and destroy the receiver on the
// io_context's thread, or before it runs. The sink's Ingest runs on that thread too.
//
// Lifetime: the sink, the logger and the clock must outlive the receiver. Stop() (and the
// destructor) closes the listening socket and every connection at once; after it no request is
// answered, and nothing of the receiver touches the sink, the logger or the clock again. An Ingest
// already running at Stop() is left to finish inside the sink (its result is dropped); the
// io_context must outlive the receiver.

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include <boost/asio/io_context.hpp>

#include "absl/status/status.h"
#include "common/log.h"
#include "common/time_source.h"
#include "tlsrpt/ingest.h"

namespace stswatch::tlsrpt {

struct ReceiverOptions {
  // "IP:PORT" ("127.0.0.1:8443", "0.0.0.0:443", "[::]:443"); port 0 picks a free port (see
  // port()). Required.
  std::string listen;
  // PEM certificate chain and private key. Both empty: plain HTTP, for running behind a
  // TLS-terminating proxy (the submitter is then the proxy's address).
  std::string tls_cert_file;
  std::string tls_key_file;
  // The request body as sent (compressed, without chunked framing).
  std::size_t max_body_bytes = std::size_t{1} << 20;
  // The report's JSON after gzip decompression.
  std::size_t max_report_bytes = std::size_t{10} << 20;
  // Connections open at once; more are closed as soon as they are accepted.
  int max_connections = 256;
  // Requests answered on one connection; the last answer carries `Connection: close`.
  int max_requests_per_connection = 100;
  // From the start of a request (the connection, or the end of the previous answer on a
  // keep-alive connection) to its last byte, TLS handshake included. Also the limit of writing an
  // answer.
  std::chrono::seconds read_timeout{30};
  // Empty: reports are accepted at any path. Otherwise only at this one (compared with the
  // request's path, the query left out), elsewhere 404.
  std::string path;
  // Called for each answer with its status and result ("stored", "duplicate", "refused",
  // "unavailable", "rejected", "timeout"), on the io_context's thread; for metrics. Optional.
  std::function<void(int status, std::string_view result)> on_reply;
};

namespace internal {
struct ReceiverState;
}  // namespace internal

class ReportReceiver {
 public:
  ReportReceiver(boost::asio::io_context& io, ReportSink& sink, const TimeSource& clock,
                 Logger& log, ReceiverOptions options);
  // Stop().
  ~ReportReceiver();
  ReportReceiver(const ReportReceiver&) = delete;
  ReportReceiver& operator=(const ReportReceiver&) = delete;

  // Loads the certificate and key (when set), binds and listens; requests are served while the
  // io_context runs. InvalidArgument for a malformed listen address, one of the TLS files
  // without the other, or a certificate or key OpenSSL cannot load or that do not match (naming
  // the file and OpenSSL's reason); Unavailable when the address cannot be bound (in use, not
  // local); FailedPrecondition when called twice or after Stop().
  absl::Status Start();

  // Stops listening and closes every connection (see Lifetime above). Idempotent.
  void Stop();

  // The port listened on (the one chosen for port 0); 0 before Start.
  int port() const { return port_; }
  // "IP:PORT" with that port ("[::1]:8443" for IPv6).
  const std::string& address() const { return address_; }

 private:
  std::shared_ptr<internal::ReceiverState> state_;
  int port_ = 0;
  std::string address_;
};

}  // namespace stswatch::tlsrpt
