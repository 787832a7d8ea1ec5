// Fuzzes the HTTP response parser with arbitrary bytes, fed once in one read and once in reads of
// sizes derived from the input, checking what a user relies on: the outcome does not depend on how
// the bytes were split, the body never exceeds its limit, and every state is consistent (an error
// always says why, a complete response has a final status, an ended parse stays ended).

#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "prober/http_response.h"
#include "tests/fuzz/fuzz_util.h"

namespace {

using stswatch::fuzz::Check;
using stswatch::fuzz::Hash;
using stswatch::fuzz::Next;

using stswatch::prober::HttpResponseParser;
using Error = HttpResponseParser::Error;
using Limits = HttpResponseParser::Limits;
using State = HttpResponseParser::State;

void CheckConsistent(const HttpResponseParser& p, const Limits& limits) {
  Check(p.body().size() <= limits.max_body_bytes);
  switch (p.state()) {
    case State::kNeedMore:
      Check(p.error() == Error::kNone && p.error_message().empty());
      break;
    case State::kComplete:
      Check(p.error() == Error::kNone && p.error_message().empty() && p.head_complete());
      break;
    case State::kError:
      Check(p.error() != Error::kNone && !p.error_message().empty());
      break;
  }
  if (p.head_complete()) {
    // Interim 1xx responses are never the final one, except 101.
    Check(p.status() == 101 || (p.status() >= 200 && p.status() <= 599));
    Check(p.version().size() == 8 && p.version().starts_with("HTTP/1."));
    if (p.status() == 101 || p.status() == 204 || p.status() == 304) {
      Check(p.body().empty());
    }
  } else {
    Check(p.status() == 0 && p.reason().empty() && p.version().empty() && p.body().empty());
    Check(!p.Header("Content-Length").has_value());
  }
}

void CheckSame(const HttpResponseParser& a, const HttpResponseParser& b) {
  Check(a.state() == b.state() && a.error() == b.error() && a.error_message() == b.error_message());
  Check(a.head_complete() == b.head_complete() && a.status() == b.status() &&
        a.reason() == b.reason() && a.version() == b.version());
  Check(a.Header("Content-Type") == b.Header("Content-Type"));
  Check(a.Header("transfer-encoding") == b.Header("transfer-encoding"));
  Check(a.body() == b.body());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  std::uint64_t random = Hash(input) | 1;
  // Small limits half the time, so that the limits are reached by short inputs too.
  Limits limits;
  if ((Next(random) & 1) != 0) {
    limits.max_head_bytes = Next(random) % 512;
    limits.max_body_bytes = Next(random) % 1024;
  }

  HttpResponseParser whole(limits);
  whole.Feed(input);
  CheckConsistent(whole, limits);

  HttpResponseParser pieces(limits);
  State last = pieces.state();
  for (std::size_t at = 0; at < size;) {
    // Mostly short reads, now and then a long one.
    const std::uint64_t r = Next(random);
    const std::size_t n = (r & 7) == 0 ? 1 + (r >> 3) % 4096 : 1 + (r >> 3) % 8;
    const State state = pieces.Feed(input.substr(at, n));
    at += n;
    CheckConsistent(pieces, limits);
    // kComplete and kError are final.
    Check(last == State::kNeedMore || state == last);
    last = state;
  }
  CheckSame(whole, pieces);

  // The close ends every parse, once and for all.
  whole.FinishOnClose();
  pieces.FinishOnClose();
  Check(whole.state() != State::kNeedMore);
  CheckConsistent(whole, limits);
  CheckSame(whole, pieces);
  const std::size_t body_size = whole.body().size();
  Check(whole.FinishOnClose() == pieces.state());
  Check(whole.Feed("HTTP/1.1 200 OK\r\n\r\n") == pieces.state());
  Check(whole.body().size() == body_size);
  CheckSame(whole, pieces);
  return 0;
}
