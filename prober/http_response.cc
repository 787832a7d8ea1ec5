#include "prober/http_response.h"

#include <algorithm>
#include <utility>

#include "mtasts/text.h"

namespace stswatch::prober {
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

// RFC 9110 §5.6.2: tchar, the bytes of a token such as a field name.
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

// CTL other than HTAB (RFC 5234 CTL: %x00-1F / %x7F).
bool IsControlNotTab(char c) {
  const auto u = static_cast<unsigned char>(c);
  return (u < 0x20 && c != '\t') || u == 0x7F;
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
void ForEachListElement(std::string_view list, F f) {
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

HttpResponseParser::HttpResponseParser() : HttpResponseParser(Limits()) {}

HttpResponseParser::HttpResponseParser(Limits limits) : limits_(limits) {}

std::string_view HttpResponseParser::reason() const {
  return head_complete_ ? View(reason_) : std::string_view();
}

std::string_view HttpResponseParser::version() const {
  return head_complete_ ? View(version_) : std::string_view();
}

std::optional<std::string_view> HttpResponseParser::Header(std::string_view name) const {
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

std::string_view HttpResponseParser::View(Span span) const {
  return std::string_view(head_).substr(span.offset, span.size);
}

HttpResponseParser::State HttpResponseParser::Feed(std::string_view bytes) {
  while (state_ == State::kNeedMore && !bytes.empty()) {
    received_any_ = true;
    switch (phase_) {
      case Phase::kBodyByLength:
      case Phase::kBodyToClose:
      case Phase::kChunkData:
        ConsumeBody(bytes);
        break;
      case Phase::kChunkDataEnd:
        ConsumeChunkDataEnd(bytes);
        break;
      case Phase::kStatusLine:
      case Phase::kHeaders:
      case Phase::kChunkSize:
      case Phase::kTrailers:
        ConsumeLine(bytes);
        break;
      case Phase::kDone:
        return state_;  // Not reached: kDone comes with kComplete or kError.
    }
  }
  return state_;
}

HttpResponseParser::State HttpResponseParser::FinishOnClose() {
  if (state_ != State::kNeedMore) {
    return state_;
  }
  std::string message = "The server closed the connection ";
  switch (phase_) {
    case Phase::kBodyToClose:
      // RFC 9112 §6.3 rule 8: without a declared length, the body ends when the server closes.
      Complete();
      return state_;
    case Phase::kStatusLine:
      if (!received_any_) {
        message += "without sending a response.";
      } else if (line_.empty()) {
        message += "after an interim (1xx) response, without sending the final response.";
      } else {
        message += "in the middle of the status line.";
      }
      break;
    case Phase::kHeaders:
      message += "before the end of the response head (the empty line after the header fields).";
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
  Fail(Error::kTruncated, message + " The response is incomplete.");
  return state_;
}

HttpResponseParser::LineRead HttpResponseParser::ReadLine(std::string_view& bytes,
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

std::string_view HttpResponseParser::LineContent() const {
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

void HttpResponseParser::ConsumeLine(std::string_view& bytes) {
  std::size_t budget = 0;
  switch (phase_) {
    case Phase::kStatusLine:
    case Phase::kHeaders:
      budget = limits_.max_head_bytes - head_bytes_;
      break;
    case Phase::kChunkSize:
      budget = kMaxChunkLineBytes;
      break;
    case Phase::kTrailers:
      budget = limits_.max_head_bytes - trailer_bytes_;
      break;
    default:
      return;
  }
  const LineRead read = ReadLine(bytes, budget);
  if (read == LineRead::kOverBudget) {
    switch (phase_) {
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
        Fail(Error::kHeadTooLarge,
             "The response head is longer than " + Bytes(limits_.max_head_bytes) +
                 ", the limit (line " + std::to_string(head_line_ + 1) +
                 " is still incomplete); a policy host needs only a few short header fields.");
        break;
    }
    return;
  }
  if (read == LineRead::kPartial) {
    return;
  }
  const std::string_view line = LineContent();
  switch (phase_) {
    case Phase::kStatusLine:
      head_bytes_ += line_.size();
      ++head_line_;
      OnStatusLine(line);
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

void HttpResponseParser::OnStatusLine(std::string_view line) {
  const auto fail = [&](const std::string& why) {
    Fail(Error::kMalformedStatusLine, "The status line " + Quote(line) +
                                          " is not an HTTP/1.x status line such as " +
                                          "\"HTTP/1.1 200 OK\": " + why);
  };
  if (line.empty()) {
    fail("the line is empty.");
    return;
  }
  // RFC 9112 §2.3: HTTP-version = HTTP-name "/" DIGIT "." DIGIT, with HTTP-name case-sensitive.
  if (line.size() < 9 || !line.starts_with("HTTP/1.") || !IsDigit(line[7])) {
    fail("it does not begin with the version HTTP/1.x (the server may not speak HTTP/1.1).");
    return;
  }
  // RFC 9112 §4: status-line = HTTP-version SP status-code SP [ reason-phrase ], and
  // status-code = 3DIGIT. The SP before an empty reason is tolerated when missing.
  if (line[8] != ' ' || line.size() < 12 || !IsAllDigits(line.substr(9, 3)) ||
      (line.size() > 12 && line[12] != ' ')) {
    fail("the version must be followed by one space and a three-digit status code.");
    return;
  }
  // RFC 9110 §15: status codes are 100..599.
  if (line[9] < '1' || line[9] > '5') {
    fail("the status code " + std::string(line.substr(9, 3)) + " is outside 100..599.");
    return;
  }
  const std::size_t reason_offset = std::min<std::size_t>(line.size(), 13);
  const std::string_view reason = line.substr(reason_offset);
  // RFC 9112 §4: reason-phrase = 1*( HTAB / SP / VCHAR / obs-text ). This also rejects a bare CR
  // (RFC 9112 §2.2).
  if (std::any_of(reason.begin(), reason.end(), IsControlNotTab)) {
    fail("the reason phrase contains control bytes.");
    return;
  }
  head_.assign(line);
  version_ = Span{0, 8};
  reason_ = Span{reason_offset, reason.size()};
  status_ = (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
  phase_ = Phase::kHeaders;
}

void HttpResponseParser::OnHeaderLine(std::string_view line) {
  if (line.empty()) {
    OnHeadEnd();
    return;
  }
  const std::string where =
      "Line " + std::to_string(head_line_) + " of the response head, " + Quote(line) + ", ";
  if (IsWsp(line.front())) {
    // RFC 9112 §5.2: obs-fold is deprecated; RFC 9112 §2.2: whitespace after the start line is
    // either rejected or makes the line ignored. Folding has been used to hide header fields.
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
  if (name.empty() || !std::all_of(name.begin(), name.end(), IsTchar)) {
    // RFC 9112 §5.1: no whitespace is allowed between the field name and the colon.
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
  Field field;
  field.name = Span{head_.size(), name.size()};
  head_.append(name);
  field.value = Span{head_.size(), value.size()};
  head_.append(value);
  fields_.push_back(field);
}

void HttpResponseParser::OnHeadEnd() {
  // RFC 9110 §15.2: a 1xx response is interim and the final response follows it; a client must
  // parse and may ignore it. 101 switches to another protocol: nothing HTTP follows it.
  if (status_ < 200 && status_ != 101) {
    head_.clear();
    fields_.clear();
    version_ = {};
    reason_ = {};
    status_ = 0;
    head_line_ = 0;
    phase_ = Phase::kStatusLine;
    return;
  }
  head_complete_ = true;
  // RFC 9112 §6.3 rule 1: a 1xx, 204 or 304 response ends with the empty line after its head.
  if (status_ == 101 || status_ == 204 || status_ == 304) {
    Complete();
    return;
  }
  // RFC 9112 §6.3 rule 3: Transfer-Encoding overrides Content-Length.
  for (const Field& field : fields_) {
    if (EqualsIgnoreCase(View(field.name), "Transfer-Encoding")) {
      StartBodyByTransferEncoding();
      return;
    }
  }
  StartBodyByContentLength();
}

void HttpResponseParser::StartBodyByTransferEncoding() {
  std::string_view final_coding;
  for (const Field& field : fields_) {
    if (EqualsIgnoreCase(View(field.name), "Transfer-Encoding")) {
      // RFC 9110 §5.3: repeated fields combine into one list, in order.
      ForEachListElement(View(field.value), [&](std::string_view coding) {
        if (!coding.empty()) {
          final_coding = coding;
        }
      });
    }
  }
  // RFC 9112 §6.3 rule 4: chunked as the final coding frames the body; in a response, any other
  // final coding means the body runs until the server closes the connection.
  phase_ = EqualsIgnoreCase(final_coding, "chunked") ? Phase::kChunkSize : Phase::kBodyToClose;
}

void HttpResponseParser::StartBodyByContentLength() {
  bool present = false;
  std::optional<std::string_view> bad;
  std::optional<std::string_view> length;
  bool differing = false;
  for (const Field& field : fields_) {
    if (!EqualsIgnoreCase(View(field.name), "Content-Length")) {
      continue;
    }
    present = true;
    // RFC 9110 §8.6: Content-Length = 1*DIGIT; a list of identical values (from repeated fields
    // or a comma list) may stand for that value, anything else is invalid.
    ForEachListElement(View(field.value), [&](std::string_view element) {
      if (!IsAllDigits(element)) {
        if (!bad) {
          bad = View(field.value);
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
  }
  if (!present) {
    // RFC 9112 §6.3 rule 8: a response without a declared length ends when the server closes.
    phase_ = Phase::kBodyToClose;
    return;
  }
  // RFC 9112 §6.3 rule 5: an invalid Content-Length makes the framing invalid; a user agent
  // must discard the response.
  if (bad) {
    Fail(Error::kBadContentLength,
         "The Content-Length " + Quote(*bad) +
             " is not a number of bytes (digits only); the response cannot be framed.");
    return;
  }
  if (differing) {
    Fail(Error::kBadContentLength,
         "The response carries differing Content-Length values; the response cannot be framed.");
    return;
  }
  std::uint64_t n = 0;
  const bool fits = length->size() <= kMaxDecimalDigits;
  if (fits) {
    for (const char c : *length) {
      n = n * 10 + static_cast<std::uint64_t>(c - '0');
    }
  }
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
  content_length_ = n;
  remaining_ = n;
  phase_ = Phase::kBodyByLength;
}

void HttpResponseParser::OnChunkSizeLine(std::string_view line) {
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

void HttpResponseParser::ConsumeChunkDataEnd(std::string_view& bytes) {
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

void HttpResponseParser::ConsumeBody(std::string_view& bytes) {
  if (phase_ == Phase::kBodyToClose) {
    const std::size_t room = limits_.max_body_bytes - body_.size();
    if (bytes.size() > room) {
      body_.append(bytes.substr(0, room));
      Fail(Error::kBodyTooLarge,
           "The body is longer than the limit of " + Bytes(limits_.max_body_bytes) +
               " (it has no Content-Length and runs until the server closes the connection).");
      return;
    }
    body_.append(bytes);
    bytes = {};
    return;
  }
  // kBodyByLength and kChunkData: remaining_ was checked against the limit when announced.
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

void HttpResponseParser::Complete() {
  state_ = State::kComplete;
  phase_ = Phase::kDone;
  line_.clear();
}

void HttpResponseParser::Fail(Error error, std::string message) {
  state_ = State::kError;
  error_ = error;
  error_message_ = std::move(message);
  phase_ = Phase::kDone;
  line_.clear();
}

}  // namespace stswatch::prober
