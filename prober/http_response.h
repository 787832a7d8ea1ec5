#pragma once

// One HTTP/1.1 response to a GET request (RFC 9112), parsed incrementally from the bytes of a TLS
// stream in chunks of any size: how the prober reads the MTA-STS policy from
// https://mta-sts.<domain>/.well-known/mta-sts.txt (RFC 8461 §3.3).
//
// Pure: no I/O, no clocks, no globals. Bounded: the parser holds at most about max_head_bytes +
// max_body_bytes (plus a small constant per header field), its work is linear in the bytes fed,
// and it has no recursion. Hostile input ends in kError with a sentence saying why; no code path
// throws on bad input.
//
// What it accepts, and where it is stricter or looser than RFC 9112:
// - Status line `HTTP/1.<digit> SP 3DIGIT SP reason`, the code 100..599; the reason may be empty
//   and the SP before an empty reason may be missing. The reason holds no control bytes but HTAB.
// - Lines end in CRLF or in a bare LF (RFC 9112 §2.2); a CR anywhere else is malformed.
// - Header lines `name: value`: the name a token immediately followed by ":" (no whitespace
//   before the colon, RFC 9112 §5.1), whitespace around the value ignored, NUL in a value is
//   malformed (RFC 9110 §5.5). obs-fold (a line beginning with SP or HTAB) is malformed: stricter
//   than RFC 9112 §5.2, which lets a user agent unfold it.
// - Interim 1xx responses (100 Continue, 103 Early Hints) are skipped with their headers, and the
//   final response is parsed. 101 Switching Protocols is final: after it the connection speaks
//   another protocol, so it completes at the end of its head, without a body.
// - Body framing (RFC 9112 §6.3): 204, 304 and 101 have none. A Transfer-Encoding whose final
//   coding is chunked is decoded; any other Transfer-Encoding means the body runs until the close.
//   Transfer-Encoding overrides Content-Length. Otherwise Content-Length (digits only; repeated
//   headers and comma lists must all carry the same value) gives the exact length, and without
//   either the body runs until the peer closes (FinishOnClose).
// - Chunked bodies: hex sizes, chunk extensions ignored, the zero-size last chunk required, the
//   trailer section read and discarded. Only the chunked framing is removed: other transfer codings
//   and Content-Encoding are not decoded, body() holds the bytes as they were sent.
// - Bytes after the complete response are ignored.
//
// Not thread-safe. The string_views returned point into the parser and stay valid until it is
// destroyed, moved or assigned.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace stswatch::prober {

class HttpResponseParser {
 public:
  struct Limits {
    // The bytes of all response heads read, line ends and skipped interim 1xx responses
    // included. Also the limit of the trailer section of a chunked body.
    std::size_t max_head_bytes = 16 * 1024;
    // The body after removing the chunked framing. RFC 8461 §3.3: senders read at most 64 KiB
    // of a policy.
    std::size_t max_body_bytes = 64 * 1024;
  };

  // The longest chunk-size line (size, extensions and line end) accepted in a chunked body.
  static constexpr std::size_t kMaxChunkLineBytes = 4096;

  enum class State {
    kNeedMore,  // Feed more bytes, or call FinishOnClose when the peer has closed.
    kComplete,  // The final response is complete; further input is ignored.
    kError,     // The response is unusable: error() and error_message() say why. Sticky.
  };

  enum class Error {
    kNone,
    kMalformedStatusLine,  // Not `HTTP/1.x SP 3DIGIT SP reason` (an HTTP/0.9 or non-HTTP peer).
    kMalformedHeader,      // A header line that is not `name: value`, or an obs-fold.
    kHeadTooLarge,         // The heads, or a chunked body's trailer section, over max_head_bytes.
    kBodyTooLarge,         // Content-Length, a chunk size or the body over max_body_bytes.
    kBadContentLength,     // Content-Length not digits, or several differing values.
    kBadChunk,             // A chunk-size line or a chunk's line end that breaks RFC 9112 §7.1.
    kTruncated,            // The peer closed before the response was complete.
  };

  // With the default Limits. (Not a default argument: GCC cannot use the member initializers of a
  // nested struct before the enclosing class is complete.)
  HttpResponseParser();
  explicit HttpResponseParser(Limits limits);

  // Consumes the next bytes read from the connection, in any chunking; empty input is fine.
  // Returns state(). After kComplete or kError the input is ignored.
  State Feed(std::string_view bytes);

  // The peer closed the connection. Completes a body that runs until the close; anything else
  // still missing is kTruncated. Only a TLS close_notify proves such a body whole (an attacker can
  // cut the TCP stream, RFC 8446 §6.1): whether to call this on a bare EOF is the caller's choice.
  // Returns state(); repeated calls and calls after kComplete or kError change nothing.
  State FinishOnClose();

  State state() const { return state_; }
  Error error() const { return error_; }
  // A sentence for people saying what was wrong with the response, with any bytes it quotes
  // escaped and cut short. Empty unless state() is kError.
  const std::string& error_message() const { return error_message_; }

  // True once the head of the final (non-1xx) response is parsed. The accessors below describe
  // that head; before it they return 0, empty views and nullopt. The head stays available when a
  // later error concerns the body (e.g. a 200 whose body is too large).
  bool head_complete() const { return head_complete_; }
  // The status code, 100..599 (never an interim 1xx other than 101).
  int status() const { return head_complete_ ? status_ : 0; }
  // The reason phrase, possibly empty, e.g. "Not Found".
  std::string_view reason() const;
  // "HTTP/1.1", "HTTP/1.0", ...
  std::string_view version() const;
  // The value of the first header field of that name (ASCII case-insensitive), without the
  // whitespace around it; nullopt when the response has no such field.
  std::optional<std::string_view> Header(std::string_view name) const;

  // The body received so far, without chunked framing. Complete when state() is kComplete; after
  // kBodyTooLarge it holds the bytes up to the limit that were received before the error.
  const std::string& body() const { return body_; }

 private:
  // Where in the response the next byte belongs.
  enum class Phase {
    kStatusLine,
    kHeaders,
    kBodyByLength,  // Content-Length bytes remain.
    kBodyToClose,   // Until FinishOnClose.
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

  // Moves bytes up to and including the next LF from `bytes` into line_, unless line_ would then
  // hold more than `budget` bytes (kOverBudget; nothing is moved).
  LineRead ReadLine(std::string_view& bytes, std::size_t budget);
  // line_ without its line end (LF or CRLF).
  std::string_view LineContent() const;

  // Each consumes a prefix of `bytes` in its phase.
  void ConsumeLine(std::string_view& bytes);
  void ConsumeChunkDataEnd(std::string_view& bytes);
  void ConsumeBody(std::string_view& bytes);

  void OnStatusLine(std::string_view line);
  void OnHeaderLine(std::string_view line);
  void OnHeadEnd();
  void StartBodyByTransferEncoding();
  void StartBodyByContentLength();
  void OnChunkSizeLine(std::string_view line);

  std::string_view View(Span span) const;
  void Complete();
  void Fail(Error error, std::string message);

  Limits limits_;
  State state_ = State::kNeedMore;
  Error error_ = Error::kNone;
  std::string error_message_;
  Phase phase_ = Phase::kStatusLine;

  bool received_any_ = false;
  // The line being assembled in a line phase, line end included once complete (in kChunkDataEnd:
  // the CR received before the LF).
  std::string line_;
  // Bytes of complete head lines (all heads, interim ones included) and of trailer lines.
  std::size_t head_bytes_ = 0;
  std::size_t trailer_bytes_ = 0;
  // 1-based number of the current line within the current response head, for messages.
  int head_line_ = 0;

  // The current response head: the status line, then each field's name and value, without line
  // ends. Spans below point into it.
  std::string head_;
  Span version_;
  Span reason_;
  int status_ = 0;
  std::vector<Field> fields_;
  bool head_complete_ = false;

  // Body bytes still expected: of the Content-Length, or of the current chunk.
  std::uint64_t remaining_ = 0;
  std::uint64_t content_length_ = 0;
  std::string body_;
};

}  // namespace stswatch::prober
