#pragma once

// One HTTP/1.1 request (RFC 9112), parsed incrementally from the bytes of a connection in chunks of
// any size: how the HTTPS receiver of TLS reports (RFC 8460 §5.4, tlsrpt/receiver.h) reads the
// reports POSTed to it. The server's mirror of prober/http_response.h.
//
// Pure: no I/O, no clocks, no globals. Bounded: the parser holds at most about max_head_bytes +
// max_body_bytes (plus a small constant per header field), its work is linear in the bytes fed,
// and it has no recursion. Hostile input ends in kError with a sentence saying why, and the HTTP
// status a server answers (ErrorStatus()); no code path throws on bad input.
//
// What it accepts, and where it is stricter or looser than RFC 9112:
// - Request line `method SP request-target SP HTTP/1.<digit>`, single spaces: the method a token,
//   the target visible ASCII (origin-form `/path?query`, absolute-form `http://host/path`, or
//   anything else visible, kept as sent). HTTP/1.0 and 1.1 (1.2..1.9 are read as 1.1); another
//   major version is kUnsupportedVersion (505). Up to kMaxLeadingEmptyLines empty lines before
//   the request line are skipped (RFC 9112 §2.2). A byte that cannot be part of a request line (a
//   control byte, a non-ASCII byte) fails at once, before the line is complete: a TLS handshake
//   or binary garbage sent to a plain HTTP port is refused without waiting for a line end.
// - Lines end in CRLF or in a bare LF (RFC 9112 §2.2); a CR anywhere else is malformed.
// - Header lines `name: value` as in the response parser: no whitespace before the colon, no NUL
//   or bare CR in a value, no obs-fold (a line beginning with SP or HTAB). At most
//   max_header_fields fields. An HTTP/1.1 request must carry exactly one Host field (RFC 9112
//   §3.2).
// - Body framing (RFC 9112 §6.3): Transfer-Encoding must be exactly `chunked` (other codings
//   before it are kUnsupportedTransferCoding, 501; a final coding other than chunked, chunked
//   twice, Transfer-Encoding in an HTTP/1.0 request or together with Content-Length are
//   kBadTransferEncoding: framings a proxy in front might read differently, the stuff of request
//   smuggling). Otherwise Content-Length (digits; repeated fields and comma lists must agree)
//   gives the length; without either the request has no body (RFC 9112 §6.3 rule 7: whether a
//   POST without a length is acceptable is the server's business, see framing()).
// - A Content-Length above max_body_bytes fails as soon as the head is complete, before any byte
//   of the body (the head stays readable, for the server's 413); so does a chunk that would take
//   the body past the limit.
// - Chunked bodies: hex sizes, chunk extensions ignored (chunk-size lines up to
//   kMaxChunkLineBytes), the trailer section (up to max_head_bytes) read and discarded.
// - Feed() stops at the end of the request and says how much it consumed: the rest belongs to
//   the next request on the connection (pipelining).
//
// Not thread-safe. The string_views returned point into the parser and stay valid until it is
// destroyed, moved or assigned.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace stswatch::tlsrpt {

class HttpRequestParser {
 public:
  struct Limits {
    // The request line, its line end included. Longer: kRequestLineTooLong (414).
    std::size_t max_request_line_bytes = std::size_t{8} * 1024;
    // The request head: skipped empty lines, the request line and the header lines, line ends
    // included. Also the limit of the trailer section of a chunked body.
    std::size_t max_head_bytes = std::size_t{16} * 1024;
    // Header fields in the head.
    std::size_t max_header_fields = 100;
    // The body after removing the chunked framing.
    std::size_t max_body_bytes = std::size_t{1024} * 1024;
  };

  // The longest chunk-size line (size, extensions and line end) accepted in a chunked body.
  static constexpr std::size_t kMaxChunkLineBytes = 4096;
  // Empty lines skipped before the request line (RFC 9112 §2.2 asks for at least one).
  static constexpr int kMaxLeadingEmptyLines = 4;

  enum class State {
    kNeedMore,  // Feed more bytes.
    kComplete,  // The request is complete; Feed consumes nothing more.
    kError,     // The request is unusable: error() and error_message() say why. Sticky.
  };

  enum class Error {
    kNone,
    kMalformedRequestLine,       // 400: not `method SP target SP HTTP/1.x`.
    kRequestLineTooLong,         // 414: over max_request_line_bytes.
    kUnsupportedVersion,         // 505: HTTP/2.0, HTTP/3.0, ...
    kMalformedHeader,            // 400: a bad header line, an obs-fold, Host missing or repeated.
    kHeadTooLarge,               // 431: the head over max_head_bytes or max_header_fields, or the
                                 //      trailer section over max_head_bytes.
    kBadContentLength,           // 400: not digits, or differing values.
    kBadTransferEncoding,        // 400: see above.
    kUnsupportedTransferCoding,  // 501: a transfer coding other than chunked.
    kBodyTooLarge,               // 413: Content-Length, a chunk or the body over max_body_bytes.
    kBadChunk,                   // 400: a chunk-size line or chunk end breaking RFC 9112 §7.1.
    kTruncated,                  // 400: the client closed before the request was complete.
  };

  enum class Framing {
    kNone,           // Neither Content-Length nor Transfer-Encoding: no body.
    kContentLength,  // content_length() bytes.
    kChunked,        // Transfer-Encoding: chunked.
  };

  // With the default Limits. (Not a default argument: GCC cannot use the member initializers of a
  // nested struct before the enclosing class is complete.)
  HttpRequestParser();
  explicit HttpRequestParser(Limits limits);

  // Consumes the next bytes read from the connection, in any chunking; empty input is fine.
  // Returns how many bytes of `bytes` belong to this request: all of them while state() stays
  // kNeedMore; when the request completes, the bytes after it are not consumed (the start of the
  // next request). After kError the count means nothing: the connection is to be closed.
  std::size_t Feed(std::string_view bytes);

  // The client closed its side of the connection: a request still incomplete is kTruncated.
  // Returns state(); repeated calls and calls after kComplete or kError change nothing.
  State FinishOnClose();

  State state() const { return state_; }
  Error error() const { return error_; }
  // A sentence for people saying what was wrong with the request, with any bytes it quotes
  // escaped and cut short. Empty unless state() is kError.
  const std::string& error_message() const { return error_message_; }
  // The status code a server answers for error() (see Error), 0 for kNone.
  int ErrorStatus() const;

  // Whether Feed was given at least one byte (empty lines before the request line included).
  bool received_any() const { return received_any_; }

  // True once the head (request line and header fields) is parsed. The accessors below describe
  // it; before it they return empty views, nullopt and defaults. The head stays available when a
  // later error concerns the framing or the body (e.g. a Content-Length over the limit).
  bool head_complete() const { return head_complete_; }
  // "POST", as sent (methods are case-sensitive).
  std::string_view method() const;
  // The request-target as sent: "/tlsrpt?x=1", "http://example.com/tlsrpt", "*".
  std::string_view target() const;
  // The target's path without the query: "/tlsrpt" for both examples above ("/" for an
  // absolute-form target without a path); other forms as sent.
  std::string_view Path() const;
  // "HTTP/1.1", "HTTP/1.0", ... as sent.
  std::string_view version() const;
  // 0 for HTTP/1.0, 1 for HTTP/1.1 (and above).
  int minor_version() const { return head_complete_ ? minor_version_ : 0; }
  // The value of the first header field of that name (ASCII case-insensitive), without the
  // whitespace around it; nullopt when the request has no such field.
  std::optional<std::string_view> Header(std::string_view name) const;
  // How the body is delimited (kNone before the head is complete).
  Framing framing() const { return head_complete_ ? framing_ : Framing::kNone; }
  // The Content-Length, with Framing::kContentLength.
  std::uint64_t content_length() const { return content_length_; }
  // RFC 9112 §9.3: whether the client asks to keep the connection open after the response
  // (HTTP/1.1 unless `Connection: close`; HTTP/1.0 only with `Connection: keep-alive`).
  bool KeepAlive() const;
  // RFC 9110 §10.1.1: an HTTP/1.1 request with `Expect: 100-continue` (ignored in HTTP/1.0).
  bool ExpectsContinue() const;

  // The body received so far, without chunked framing. Complete when state() is kComplete.
  const std::string& body() const { return body_; }

 private:
  enum class Phase {
    kRequestLine,
    kHeaders,
    kBodyByLength,  // Content-Length bytes remain.
    kChunkSize,     // A chunk-size line.
    kChunkData,     // The bytes of a chunk remain.
    kChunkDataEnd,  // The CRLF after a chunk's data.
    kTrailers,      // The trailer section after the last chunk.
    kDone,
  };

  // A span of head_.
  struct Span {
    std::size_t offset = 0;
    std::size_t size = 0;
  };

  struct Field {
    Span name;
    Span value;
  };

  enum class LineRead { kPartial, kComplete, kOverBudget };

  LineRead ReadLine(std::string_view& bytes, std::size_t budget);
  std::string_view LineContent() const;

  void ConsumeLine(std::string_view& bytes);
  void ConsumeChunkDataEnd(std::string_view& bytes);
  void ConsumeBody(std::string_view& bytes);

  void OnRequestLine(std::string_view line);
  void OnHeaderLine(std::string_view line);
  void OnHeadEnd();
  void StartChunkedBody();
  void StartBodyByContentLength();
  void OnChunkSizeLine(std::string_view line);

  std::string_view View(Span span) const;
  // Calls `f` with each element of every field named `name`, as a comma-separated list.
  template <typename F>
  void ForEachElement(std::string_view name, F f) const;
  void Complete();
  void Fail(Error error, std::string message);

  Limits limits_;
  State state_ = State::kNeedMore;
  Error error_ = Error::kNone;
  std::string error_message_;
  Phase phase_ = Phase::kRequestLine;

  bool received_any_ = false;
  int empty_lines_ = 0;
  // The line being assembled in a line phase, line end included once complete (in kChunkDataEnd:
  // the CR received before the LF).
  std::string line_;
  std::size_t head_bytes_ = 0;
  std::size_t trailer_bytes_ = 0;
  // 1-based number of the current line of the head, for messages.
  int head_line_ = 0;

  // The request line, then each field's name and value, without line ends. Spans point into it.
  std::string head_;
  Span method_;
  Span target_;
  Span version_;
  int minor_version_ = 0;
  std::vector<Field> fields_;
  bool head_complete_ = false;
  Framing framing_ = Framing::kNone;

  std::uint64_t remaining_ = 0;
  std::uint64_t content_length_ = 0;
  std::string body_;
};

// The media type of a Content-Type value without its parameters, ASCII lower case and without
// surrounding whitespace: "Application/TLSRPT+gzip ; charset=x" → "application/tlsrpt+gzip".
// Empty when it is not `type/subtype` made of tokens.
std::string MediaType(std::string_view content_type);

}  // namespace stswatch::tlsrpt
