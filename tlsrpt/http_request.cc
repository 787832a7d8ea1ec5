#include "tlsrpt/http_request.h"

#include <algorithm>
#include <utility>

#include "mtasts/text.h"

namespace stswatch::tlsrpt {
namespace {

using mtasts::EqualsIgnoreCase;
using mtasts::IsAlnum;
using mtasts::IsDigit;
using mtasts::IsWsp;
using mtasts::Quote;
using mtasts::TrimWsp;

// The most significant digits a size may have once leading zeros are dropped: 19 decimal digits
// or 16 hex digits always fit in 64 bits.
constexpr std::size_t kMaxDecimalDigits = 19;
constexpr std::size_t kMaxHexDigits = 16;

// RFC 9110 §5.6.2: tchar, the bytes of a token such as a method or a field name.
bool IsTchar(char c) {
  if (IsAlnum(c)) {
    return true;
  }
  switch (c) {
    case '!':
    case '#':
    case '$':
    case '%':
    case '&':
    case '\'':
    case '*':
    case '+':
    case '-':
    case '.':
    case '^':
    case '_':
    case '`':
    case '|':
    case '~':
      return true;
    default:
      return false;
  }
}

bool IsToken(std::string_view s) { return !s.empty() && std::all_of(s.begin(), s.end(), IsTchar); }

// RFC 5234 VCHAR: visible ASCII.
bool IsVchar(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u >= 0x21 && u <= 0x7E;
}

// Bytes a request line may hold before its line end: VCHAR, SP, and the CR of a CRLF.
bool MayBeInRequestLine(char c) { return IsVchar(c) || c == ' ' || c == '\r' || c == '\n'; }

int HexValue(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}

bool IsAllDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), IsDigit);
}

// "0" for zero, else the digits without leading zeros.
std::string_view StripLeadingZeros(std::string_view digits) {
  while (digits.size() > 1 && digits.front() == '0') {
    digits.remove_prefix(1);
  }
  return digits;
}

// RFC 9110 §5.6.1: calls `f` with each element of a comma-separated list, without the
// whitespace around it (empty elements included, for the caller to judge).
template <typename F>
void ForEachListElement(std::string_view list, F& f) {
  while (true) {
    const std::size_t comma = list.find(',');
    f(TrimWsp(list.substr(0, comma)));
    if (comma == std::string_view::npos) {
      return;
    }
    list.remove_prefix(comma + 1);
  }
}

std::string Bytes(std::uint64_t n) { return std::to_string(n) + (n == 1 ? " byte" : " bytes"); }

}  // namespace

HttpRequestParser::HttpRequestParser() : HttpRequestParser(Limits()) {}

HttpRequestParser::HttpRequestParser(Limits limits) : limits_(limits) {}

int HttpRequestParser::ErrorStatus() const {
  switch (error_) {
    case Error::kNone:
      return 0;
    case Error::kRequestLineTooLong:
      return 414;
    case Error::kUnsupportedVersion:
      return 505;
    case Error::kHeadTooLarge:
      return 431;
    case Error::kUnsupportedTransferCoding:
      return 501;
    case Error::kBodyTooLarge:
      return 413;
    case Error::kMalformedRequestLine:
    case Error::kMalformedHeader:
    case Error::kBadContentLength:
    case Error::kBadTransferEncoding:
    case Error::kBadChunk:
    case Error::kTruncated:
      return 400;
  }
  return 400;
}

std::string_view HttpRequestParser::View(Span span) const {
  return std::string_view(head_).substr(span.offset, span.size);
}

std::string_view HttpRequestParser::method() const {
  return head_complete_ ? View(method_) : std::string_view();
}

std::string_view HttpRequestParser::target() const {
  return head_complete_ ? View(target_) : std::string_view();
}

std::string_view HttpRequestParser::version() const {
  return head_complete_ ? View(version_) : std::string_view();
}

std::string_view HttpRequestParser::Path() const {
  std::string_view t = target();
  if (t.starts_with('/')) {
    return t.substr(0, t.find('?'));
  }
  // RFC 9112 §3.2.2: a server must accept the absolute-form.
  for (const std::string_view scheme :
       {std::string_view("http://"), std::string_view("https://")}) {
    if (mtasts::StartsWithIgnoreCase(t, scheme)) {
      t.remove_prefix(scheme.size());
      const std::size_t end = t.find_first_of("/?");
      if (end == std::string_view::npos || t[end] == '?') {
        return "/";
      }
      t.remove_prefix(end);
      return t.substr(0, t.find('?'));
    }
  }
  return t;
}

std::optional<std::string_view> HttpRequestParser::Header(std::string_view name) const {
  if (!head_complete_) {
    return std::nullopt;
  }
  for (const Field& field : fields_) {
    if (EqualsIgnoreCase(View(field.name), name)) {
      return View(field.value);
    }
  }
  return std::nullopt;
}

template <typename F>
void HttpRequestParser::ForEachElement(std::string_view name, F f) const {
  for (const Field& field : fields_) {
    if (EqualsIgnoreCase(View(field.name), name)) {
      // RFC 9110 §5.3: repeated fields combine into one list, in order.
      ForEachListElement(View(field.value), f);
    }
  }
}

bool HttpRequestParser::KeepAlive() const {
  if (!head_complete_) {
    return false;
  }
  bool close = false;
  bool keep_alive = false;
  ForEachElement("Connection", [&](std::string_view option) {
    close = close || EqualsIgnoreCase(option, "close");
    keep_alive = keep_alive || EqualsIgnoreCase(option, "keep-alive");
  });
  if (close) {
    return false;
  }
  return minor_version_ >= 1 || keep_alive;
}

bool HttpRequestParser::ExpectsContinue() const {
  if (!head_complete_ || minor_version_ == 0) {
    return false;
  }
  const std::optional<std::string_view> expect = Header("Expect");
  return expect.has_value() && EqualsIgnoreCase(*expect, "100-continue");
}

std::size_t HttpRequestParser::Feed(std::string_view bytes) {
  const std::size_t size = bytes.size();
  while (state_ == State::kNeedMore && !bytes.empty()) {
    received_any_ = true;
    switch (phase_) {
      case Phase::kBodyByLength:
      case Phase::kChunkData:
        ConsumeBody(bytes);
        break;
      case Phase::kChunkDataEnd:
        ConsumeChunkDataEnd(bytes);
        break;
      case Phase::kRequestLine:
      case Phase::kHeaders:
      case Phase::kChunkSize:
      case Phase::kTrailers:
        ConsumeLine(bytes);
        break;
      case Phase::kDone:
        return size - bytes.size();  // Not reached: kDone comes with kComplete or kError.
    }
  }
  return size - bytes.size();
}

HttpRequestParser::State HttpRequestParser::FinishOnClose() {
  if (state_ != State::kNeedMore) {
    return state_;
  }
  std::string message = "The client closed the connection ";
  switch (phase_) {
    case Phase::kRequestLine:
      message +=
          received_any_ ? "in the middle of the request line." : "without sending a request.";
      break;
    case Phase::kHeaders:
      message += "before the end of the request head (the empty line after the header fields).";
      break;
    case Phase::kBodyByLength:
      message += "after " + std::to_string(content_length_ - remaining_) + " of the " +
                 Bytes(content_length_) + " of body its Content-Length announced.";
      break;
    case Phase::kChunkSize:
    case Phase::kChunkData:
    case Phase::kChunkDataEnd:
      message += "in the middle of the chunked body, before its last (zero-size) chunk.";
      break;
    case Phase::kTrailers:
      message += "before the end of the chunked body (the empty line after the last chunk).";
      break;
    case Phase::kDone:
      return state_;
  }
  Fail(Error::kTruncated, message + " The request is incomplete.");
  return state_;
}

HttpRequestParser::LineRead HttpRequestParser::ReadLine(std::string_view& bytes,
                                                        std::size_t budget) {
  const std::size_t lf = bytes.find('\n');
  const std::size_t take = lf == std::string_view::npos ? bytes.size() : lf + 1;
  // Checked before appending, so a line without end never grows line_ past the budget.
  if (take > budget || line_.size() > budget - take) {
    return LineRead::kOverBudget;
  }
  line_.append(bytes.substr(0, take));
  bytes.remove_prefix(take);
  return lf == std::string_view::npos ? LineRead::kPartial : LineRead::kComplete;
}

std::string_view HttpRequestParser::LineContent() const {
  std::string_view line = line_;
  if (!line.empty() && line.back() == '\n') {
    line.remove_suffix(1);
    // RFC 9112 §2.2: a recipient MAY recognize a single LF as a line terminator and ignore a
    // preceding CR.
    if (!line.empty() && line.back() == '\r') {
      line.remove_suffix(1);
    }
  }
  return line;
}

void HttpRequestParser::ConsumeLine(std::string_view& bytes) {
  std::size_t budget = 0;
  const std::size_t head_left =
      limits_.max_head_bytes - std::min(head_bytes_, limits_.max_head_bytes);
  switch (phase_) {
    case Phase::kRequestLine:
      budget = std::min(limits_.max_request_line_bytes, head_left);
      break;
    case Phase::kHeaders:
      budget = head_left;
      break;
    case Phase::kChunkSize:
      budget = kMaxChunkLineBytes;
      break;
    case Phase::kTrailers:
      budget = limits_.max_head_bytes - std::min(trailer_bytes_, limits_.max_head_bytes);
      break;
    default:
      return;
  }
  if (phase_ == Phase::kRequestLine) {
    // Fail fast on what cannot be HTTP (a TLS ClientHello on a plain port, binary noise) rather
    // than wait for a line end that may never come. Only the bytes within the budget are looked
    // at, so that the outcome does not depend on how the input was split into reads.
    const std::size_t lf = bytes.find('\n');
    const std::size_t room = budget - std::min(budget, line_.size());
    const std::string_view scan =
        bytes.substr(0, std::min(lf == std::string_view::npos ? bytes.size() : lf + 1, room));
    const auto bad = std::find_if_not(scan.begin(), scan.end(), MayBeInRequestLine);
    if (bad != scan.end()) {
      Fail(Error::kMalformedRequestLine,
           "The request does not begin with an HTTP/1.1 request line: it holds the byte " +
               Quote(std::string_view(&*bad, 1)) + ", which no request line may contain.");
      return;
    }
  }
  const LineRead read = ReadLine(bytes, budget);
  if (read == LineRead::kOverBudget) {
    switch (phase_) {
      case Phase::kRequestLine:
        if (limits_.max_request_line_bytes <= head_left) {
          Fail(Error::kRequestLineTooLong, "The request line is longer than " +
                                               Bytes(limits_.max_request_line_bytes) +
                                               ", the limit.");
        } else {
          Fail(Error::kHeadTooLarge,
               "The request head is longer than " + Bytes(limits_.max_head_bytes) + ", the limit.");
        }
        break;
      case Phase::kChunkSize:
        Fail(Error::kBadChunk, "A chunk-size line of the chunked body is longer than " +
                                   Bytes(kMaxChunkLineBytes) +
                                   "; a chunk size needs a few hexadecimal digits.");
        break;
      case Phase::kTrailers:
        Fail(Error::kHeadTooLarge, "The trailer section after the chunked body is longer than " +
                                       Bytes(limits_.max_head_bytes) + ", the limit.");
        break;
      default:
        Fail(Error::kHeadTooLarge, "The request head is longer than " +
                                       Bytes(limits_.max_head_bytes) + ", the limit (line " +
                                       std::to_string(head_line_ + 1) + " is still incomplete).");
        break;
    }
    return;
  }
  if (read == LineRead::kPartial) {
    return;
  }
  const std::string_view line = LineContent();
  switch (phase_) {
    case Phase::kRequestLine:
      head_bytes_ += line_.size();
      OnRequestLine(line);
      break;
    case Phase::kHeaders:
      head_bytes_ += line_.size();
      ++head_line_;
      OnHeaderLine(line);
      break;
    case Phase::kChunkSize:
      OnChunkSizeLine(line);
      break;
    case Phase::kTrailers:
      // RFC 9112 §7.1.2: trailer fields may be discarded; the section ends with an empty line.
      trailer_bytes_ += line_.size();
      if (line.empty()) {
        Complete();
      }
      break;
    default:
      break;
  }
  line_.clear();
}

void HttpRequestParser::OnRequestLine(std::string_view line) {
  if (line.empty()) {
    // RFC 9112 §2.2: a server SHOULD ignore at least one empty line before the request line.
    if (++empty_lines_ > kMaxLeadingEmptyLines) {
      Fail(Error::kMalformedRequestLine, "The request begins with more than " +
                                             std::to_string(kMaxLeadingEmptyLines) +
                                             " empty lines instead of a request line.");
    }
    return;
  }
  ++head_line_;
  const auto fail = [&](const std::string& why) {
    Fail(Error::kMalformedRequestLine, "The request line " + Quote(line) +
                                           " is not an HTTP/1.1 request line such as " +
                                           "\"POST /tlsrpt HTTP/1.1\": " + why);
  };
  // RFC 9112 §3: request-line = method SP request-target SP HTTP-version.
  const std::size_t sp1 = line.find(' ');
  const std::size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != std::string_view::npos) {
    fail("it must be three parts separated by single spaces.");
    return;
  }
  const std::string_view method = line.substr(0, sp1);
  const std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  const std::string_view version = line.substr(sp2 + 1);
  if (!IsToken(method)) {
    fail("the method is not a token.");
    return;
  }
  if (target.empty() || !std::all_of(target.begin(), target.end(), IsVchar)) {
    fail("the request target is empty or holds bytes other than visible ASCII.");
    return;
  }
  // RFC 9112 §2.3: HTTP-version = HTTP-name "/" DIGIT "." DIGIT, HTTP-name case-sensitive.
  if (version.size() != 8 || !version.starts_with("HTTP/") || !IsDigit(version[5]) ||
      version[6] != '.' || !IsDigit(version[7])) {
    fail("the version is not HTTP/1.x.");
    return;
  }
  if (version[5] != '1') {
    Fail(Error::kUnsupportedVersion, "The request is " + std::string(version) +
                                         "; this server speaks HTTP/1.1 (and HTTP/1.0).");
    return;
  }
  head_.assign(line);
  method_ = Span{0, method.size()};
  target_ = Span{sp1 + 1, target.size()};
  version_ = Span{sp2 + 1, version.size()};
  // RFC 9110 §2.5: a recipient of a higher minor version treats it as the highest it supports.
  minor_version_ = version[7] == '0' ? 0 : 1;
  phase_ = Phase::kHeaders;
}

void HttpRequestParser::OnHeaderLine(std::string_view line) {
  if (line.empty()) {
    OnHeadEnd();
    return;
  }
  const std::string where =
      "Line " + std::to_string(head_line_) + " of the request head, " + Quote(line) + ", ";
  if (IsWsp(line.front())) {
    // RFC 9112 §5.2: a server must reject obs-fold (or replace it) in a request not inside a
    // message/http; folding has been used to hide header fields from proxies.
    Fail(Error::kMalformedHeader,
         where + "begins with whitespace: a folded continuation of the previous line (obs-fold), " +
             "which RFC 9112 deprecates. Send each header field on one line.");
    return;
  }
  const std::size_t colon = line.find(':');
  if (colon == std::string_view::npos) {
    Fail(Error::kMalformedHeader, where + "is not a header field (name: value).");
    return;
  }
  const std::string_view name = line.substr(0, colon);
  if (!IsToken(name)) {
    // RFC 9112 §5.1: a server MUST reject a request with whitespace between the field name and
    // the colon.
    Fail(Error::kMalformedHeader,
         where + (!name.empty() && IsWsp(name.back())
                      ? std::string("has whitespace between the field name and the colon, which "
                                    "RFC 9112 forbids.")
                      : std::string("does not begin with a valid field name.")));
    return;
  }
  // RFC 9112 §5.1: field-line = field-name ":" OWS field-value OWS.
  const std::string_view value = TrimWsp(line.substr(colon + 1));
  // RFC 9110 §5.5: a field value with CR, LF or NUL is invalid and dangerous.
  if (value.find('\0') != std::string_view::npos || value.find('\r') != std::string_view::npos) {
    Fail(Error::kMalformedHeader, where + "contains a NUL byte or a bare carriage return.");
    return;
  }
  if (fields_.size() >= limits_.max_header_fields) {
    Fail(Error::kHeadTooLarge, "The request head has more than " +
                                   std::to_string(limits_.max_header_fields) +
                                   " header fields, the limit.");
    return;
  }
  Field field;
  field.name = Span{head_.size(), name.size()};
  head_.append(name);
  field.value = Span{head_.size(), value.size()};
  head_.append(value);
  fields_.push_back(field);
}

void HttpRequestParser::OnHeadEnd() {
  head_complete_ = true;
  // RFC 9112 §3.2: a server MUST respond 400 to an HTTP/1.1 request without a Host field or
  // with more than one.
  if (minor_version_ >= 1) {
    int hosts = 0;
    for (const Field& field : fields_) {
      hosts += EqualsIgnoreCase(View(field.name), "Host") ? 1 : 0;
    }
    if (hosts != 1) {
      Fail(Error::kMalformedHeader, hosts == 0 ? "The HTTP/1.1 request has no Host header field."
                                               : "The request has " + std::to_string(hosts) +
                                                     " Host header fields; RFC 9112 allows one.");
      return;
    }
  }
  // RFC 9112 §6.3 rule 3: Transfer-Encoding overrides Content-Length.
  bool has_transfer_encoding = false;
  bool has_content_length = false;
  for (const Field& field : fields_) {
    has_transfer_encoding =
        has_transfer_encoding || EqualsIgnoreCase(View(field.name), "Transfer-Encoding");
    has_content_length = has_content_length || EqualsIgnoreCase(View(field.name), "Content-Length");
  }
  if (has_transfer_encoding) {
    // RFC 9112 §6.1: a server MAY reject a request with both (and must then close the
    // connection); a Transfer-Encoding in an HTTP/1.0 request means faulty framing. Either is
    // how requests are smuggled past a proxy that frames them the other way.
    if (has_content_length) {
      Fail(Error::kBadTransferEncoding,
           "The request has both Transfer-Encoding and Content-Length; send one of them.");
      return;
    }
    if (minor_version_ == 0) {
      Fail(Error::kBadTransferEncoding,
           "The HTTP/1.0 request has a Transfer-Encoding, which HTTP/1.0 does not define.");
      return;
    }
    StartChunkedBody();
    return;
  }
  if (has_content_length) {
    StartBodyByContentLength();
    return;
  }
  // RFC 9112 §6.3 rule 7: a request without either has no body.
  framing_ = Framing::kNone;
  Complete();
}

void HttpRequestParser::StartChunkedBody() {
  int chunked = 0;
  bool chunked_last = false;
  std::string other;
  ForEachElement("Transfer-Encoding", [&](std::string_view coding) {
    if (coding.empty()) {
      return;
    }
    // transfer-coding = token *( OWS ";" OWS transfer-parameter ): the name decides.
    const std::string_view name = TrimWsp(coding.substr(0, coding.find(';')));
    if (EqualsIgnoreCase(name, "chunked")) {
      ++chunked;
      chunked_last = true;
    } else {
      chunked_last = false;
      if (other.empty()) {
        other = Quote(name, 32);
      }
    }
  });
  // RFC 9112 §6.3 rule 4: in a request, a final coding other than chunked leaves the length
  // unknown: the server MUST respond 400 and close.
  if (!chunked_last) {
    Fail(Error::kBadTransferEncoding,
         "The Transfer-Encoding does not end in chunked, so the body's length is unknown.");
    return;
  }
  // RFC 9112 §7: chunked MUST NOT be applied more than once.
  if (chunked > 1) {
    Fail(Error::kBadTransferEncoding, "The Transfer-Encoding applies chunked more than once.");
    return;
  }
  // RFC 9112 §6.1: a server SHOULD answer 501 to a transfer coding it does not understand.
  if (!other.empty()) {
    Fail(Error::kUnsupportedTransferCoding,
         "The transfer coding " + other +
             " is not supported: send the body with Content-Length, or chunked alone.");
    return;
  }
  framing_ = Framing::kChunked;
  phase_ = Phase::kChunkSize;
}

void HttpRequestParser::StartBodyByContentLength() {
  std::optional<std::string_view> bad;
  std::optional<std::string_view> length;
  bool differing = false;
  ForEachElement("Content-Length", [&](std::string_view element) {
    // RFC 9110 §8.6: Content-Length = 1*DIGIT; a list of identical values may stand for that
    // value, anything else is invalid.
    if (!IsAllDigits(element)) {
      if (!bad) {
        bad = element;
      }
      return;
    }
    const std::string_view digits = StripLeadingZeros(element);
    if (!length) {
      length = digits;
    } else if (*length != digits) {
      differing = true;
    }
  });
  // RFC 9112 §6.3 rule 6: an invalid Content-Length in a request: 400 and close.
  if (bad || !length) {
    Fail(Error::kBadContentLength, "The Content-Length " + Quote(bad ? *bad : "") +
                                       " is not a number of bytes (digits only).");
    return;
  }
  if (differing) {
    Fail(Error::kBadContentLength, "The request carries differing Content-Length values.");
    return;
  }
  std::uint64_t n = 0;
  const bool fits = length->size() <= kMaxDecimalDigits;
  if (fits) {
    for (const char c : *length) {
      n = n * 10 + static_cast<std::uint64_t>(c - '0');
    }
  }
  framing_ = Framing::kContentLength;
  content_length_ = n;
  if (!fits || n > limits_.max_body_bytes) {
    Fail(Error::kBodyTooLarge, "The Content-Length announces " +
                                   (fits ? Bytes(n) : Quote(*length, 32) + " bytes") +
                                   ", more than the limit of " + Bytes(limits_.max_body_bytes) +
                                   "; the body was not read.");
    return;
  }
  if (n == 0) {
    Complete();
    return;
  }
  remaining_ = n;
  phase_ = Phase::kBodyByLength;
}

void HttpRequestParser::OnChunkSizeLine(std::string_view line) {
  // RFC 9112 §7.1: chunk = chunk-size [ chunk-ext ] CRLF chunk-data CRLF, chunk-size = 1*HEXDIG,
  // chunk-ext = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] ).
  std::size_t digits_end = 0;
  while (digits_end < line.size() && HexValue(line[digits_end]) >= 0) {
    ++digits_end;
  }
  if (digits_end == 0) {
    Fail(Error::kBadChunk, "A chunk-size line of the chunked body, " + Quote(line) +
                               ", does not begin with a hexadecimal chunk size.");
    return;
  }
  std::string_view rest = line.substr(digits_end);
  while (!rest.empty() && IsWsp(rest.front())) {
    rest.remove_prefix(1);
  }
  // Extensions are ignored, but a bare CR is invalid anywhere in the line (RFC 9112 §2.2).
  if ((!rest.empty() && rest.front() != ';') || line.find('\r') != std::string_view::npos) {
    Fail(Error::kBadChunk, "A chunk-size line of the chunked body, " + Quote(line) +
                               ", has something other than chunk extensions after the size.");
    return;
  }
  const std::string_view digits = StripLeadingZeros(line.substr(0, digits_end));
  std::uint64_t size = 0;
  const bool fits = digits.size() <= kMaxHexDigits;
  if (fits) {
    for (const char c : digits) {
      size = (size << 4) | static_cast<std::uint64_t>(HexValue(c));
    }
  }
  const std::size_t room = limits_.max_body_bytes - body_.size();
  if (!fits || size > room) {
    Fail(Error::kBodyTooLarge, "A chunk of the chunked body announces " +
                                   (fits ? Bytes(size) : Quote(digits, 32) + " (hex) bytes") +
                                   ", which would make the body longer than the limit of " +
                                   Bytes(limits_.max_body_bytes) + ".");
    return;
  }
  if (size == 0) {
    // RFC 9112 §7.1: last-chunk, then the trailer section and the final CRLF.
    phase_ = Phase::kTrailers;
    return;
  }
  remaining_ = size;
  phase_ = Phase::kChunkData;
}

void HttpRequestParser::ConsumeChunkDataEnd(std::string_view& bytes) {
  // RFC 9112 §7.1: chunk-data is followed by CRLF (a bare LF is accepted, RFC 9112 §2.2).
  const char c = bytes.front();
  if (c == '\n') {
    bytes.remove_prefix(1);
    line_.clear();
    phase_ = Phase::kChunkSize;
    return;
  }
  if (c == '\r' && line_.empty()) {
    bytes.remove_prefix(1);
    line_.push_back(c);
    return;
  }
  Fail(Error::kBadChunk,
       "A chunk of the chunked body is not followed by a line end where its size says it ends: "
       "the chunk size does not match the data.");
}

void HttpRequestParser::ConsumeBody(std::string_view& bytes) {
  // remaining_ was checked against the limit when announced.
  const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, bytes.size()));
  body_.append(bytes.substr(0, n));
  bytes.remove_prefix(n);
  remaining_ -= n;
  if (remaining_ == 0) {
    if (phase_ == Phase::kBodyByLength) {
      Complete();
    } else {
      phase_ = Phase::kChunkDataEnd;
    }
  }
}

void HttpRequestParser::Complete() {
  state_ = State::kComplete;
  phase_ = Phase::kDone;
  line_.clear();
}

void HttpRequestParser::Fail(Error error, std::string message) {
  state_ = State::kError;
  error_ = error;
  error_message_ = std::move(message);
  phase_ = Phase::kDone;
  line_.clear();
}

std::string MediaType(std::string_view content_type) {
  const std::string_view type = TrimWsp(content_type.substr(0, content_type.find(';')));
  const std::size_t slash = type.find('/');
  if (slash == std::string_view::npos || !IsToken(type.substr(0, slash)) ||
      !IsToken(type.substr(slash + 1))) {
    return "";
  }
  return mtasts::ToLowerAscii(type);
}

}  // namespace stswatch::tlsrpt
