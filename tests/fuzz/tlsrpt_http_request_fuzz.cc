// Fuzzes the HTTP request parser of the TLS report receiver with arbitrary bytes, fed once in one
// read and once in reads of sizes derived from the input, checking what the receiver relies on:
// the outcome and the bytes consumed do not depend on how the input was split, the body never
// exceeds its limit, an error always says why and maps to a 4xx or 5xx status, a complete request
// has a head, and an ended parse stays ended. MediaType sees the Content-Type.

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "tests/fuzz/fuzz_util.h"
#include "tlsrpt/http_request.h"

namespace {

using stswatch::fuzz::Check;
using stswatch::fuzz::Hash;
using stswatch::fuzz::Next;

using stswatch::tlsrpt::HttpRequestParser;
using stswatch::tlsrpt::MediaType;
using Error = HttpRequestParser::Error;
using Framing = HttpRequestParser::Framing;
using Limits = HttpRequestParser::Limits;
using State = HttpRequestParser::State;

void CheckConsistent(const HttpRequestParser& p, const Limits& limits) {
  Check(p.body().size() <= limits.max_body_bytes);
  switch (p.state()) {
    case State::kNeedMore:
      Check(p.error() == Error::kNone && p.error_message().empty() && p.ErrorStatus() == 0);
      break;
    case State::kComplete:
      Check(p.error() == Error::kNone && p.error_message().empty() && p.head_complete());
      break;
    case State::kError:
      Check(p.error() != Error::kNone && !p.error_message().empty());
      Check(p.ErrorStatus() >= 400 && p.ErrorStatus() <= 505);
      break;
  }
  if (p.head_complete()) {
    Check(!p.method().empty() && !p.target().empty());
    Check(p.version().size() == 8 && p.version().starts_with("HTTP/1."));
    Check(p.minor_version() == 0 || p.minor_version() == 1);
    Check(!p.Path().empty());
    if (p.framing() == Framing::kNone) {
      Check(p.body().empty());
    }
    if (p.framing() == Framing::kContentLength && p.state() == State::kComplete) {
      Check(p.body().size() == p.content_length());
    }
    if (const auto type = p.Header("Content-Type")) {
      const std::string media = MediaType(*type);
      Check(media.empty() || media.find('/') != std::string::npos);
    }
    (void)p.KeepAlive();
    (void)p.ExpectsContinue();
  } else {
    Check(p.method().empty() && p.target().empty() && p.version().empty() && p.body().empty());
    Check(!p.Header("Host").has_value() && p.framing() == Framing::kNone);
  }
}

void CheckSame(const HttpRequestParser& a, const HttpRequestParser& b) {
  Check(a.state() == b.state() && a.error() == b.error() && a.error_message() == b.error_message());
  Check(a.head_complete() == b.head_complete() && a.method() == b.method() &&
        a.target() == b.target() && a.version() == b.version());
  Check(a.Header("Content-Type") == b.Header("Content-Type"));
  Check(a.framing() == b.framing() && a.body() == b.body());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  std::uint64_t random = Hash(input) | 1;
  // Small limits half the time, so that the limits are reached by short inputs too.
  Limits limits;
  if ((Next(random) & 1) != 0) {
    limits.max_request_line_bytes = Next(random) % 128;
    limits.max_head_bytes = Next(random) % 512;
    limits.max_header_fields = Next(random) % 8;
    limits.max_body_bytes = Next(random) % 1024;
  }

  HttpRequestParser whole(limits);
  const std::size_t whole_used = whole.Feed(input);
  Check(whole_used <= size);
  // Bytes are left over only after a complete request (or an error).
  Check(whole_used == size || whole.state() != State::kNeedMore);
  CheckConsistent(whole, limits);

  HttpRequestParser pieces(limits);
  State last = pieces.state();
  std::size_t pieces_used = 0;
  for (std::size_t at = 0; at < size;) {
    // Mostly short reads, now and then a long one.
    const std::uint64_t r = Next(random);
    const std::size_t n = (r & 7) == 0 ? 1 + (r >> 3) % 4096 : 1 + (r >> 3) % 8;
    const std::string_view piece = input.substr(at, n);
    const std::size_t used = pieces.Feed(piece);
    Check(used <= piece.size());
    if (last == State::kNeedMore) {
      pieces_used += used;
    } else {
      // kComplete and kError are final, and consume nothing.
      Check(used == 0);
    }
    at += piece.size();
    CheckConsistent(pieces, limits);
    Check(last == State::kNeedMore || pieces.state() == last);
    last = pieces.state();
  }
  CheckSame(whole, pieces);
  if (whole.state() == State::kComplete) {
    Check(pieces_used == whole_used);
  }

  // The close ends every parse, once and for all.
  whole.FinishOnClose();
  pieces.FinishOnClose();
  Check(whole.state() != State::kNeedMore);
  CheckConsistent(whole, limits);
  CheckSame(whole, pieces);
  Check(whole.FinishOnClose() == pieces.state());
  Check(whole.Feed("POST / HTTP/1.1\r\nHost: a\r\n\r\n") == 0);
  CheckSame(whole, pieces);
  return 0;
}
