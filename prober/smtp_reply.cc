#include "prober/smtp_reply.h"

#include <algorithm>
#include <utility>

#include "mtasts/text.h"

namespace stswatch::prober {
namespace {

using mtasts::IsDigit;
using mtasts::Quote;

}  // namespace

std::string SmtpReply::Text() const {
  std::string text;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    if (i > 0) {
      text += '\n';
    }
    text += lines[i];
  }
  return text;
}

SmtpReplyParser::SmtpReplyParser() : SmtpReplyParser(Limits()) {}

SmtpReplyParser::SmtpReplyParser(Limits limits) : limits_(limits) {}

void SmtpReplyParser::Feed(std::string_view bytes) {
  // One more byte than the limit fits a CR whose LF has not arrived yet.
  const std::size_t max_pending = limits_.max_line_bytes + 1;
  while (!failed_ && !bytes.empty()) {
    const std::size_t lf = bytes.find('\n');
    const std::size_t take = lf == std::string_view::npos ? bytes.size() : lf;
    // Checked before appending: a line without end never grows line_ past the limit.
    if (take > max_pending || line_.size() > max_pending - take) {
      FailLongLine(bytes.substr(0, take));
      return;
    }
    line_.append(bytes.substr(0, take));
    if (lf == std::string_view::npos) {
      if (line_.size() > limits_.max_line_bytes && line_.back() != '\r') {
        FailLongLine({});
      }
      return;
    }
    bytes.remove_prefix(lf + 1);
    std::string_view line = line_;
    // RFC 5321 §2.3.8: lines end in CRLF; a bare LF is accepted too.
    if (!line.empty() && line.back() == '\r') {
      line.remove_suffix(1);
    }
    if (line.size() > limits_.max_line_bytes) {
      FailLongLine({});
      return;
    }
    OnLine(line, line_.size() + 1);
    line_.clear();
  }
}

void SmtpReplyParser::FailLongLine(std::string_view more) {
  // The line's first bytes, as many whichever read revealed the error (there are always more than
  // max_line_bytes), so the message does not depend on how the bytes were split.
  const std::size_t shown = std::min<std::size_t>(32, limits_.max_line_bytes);
  std::string start = line_.substr(0, shown);
  start.append(more.substr(0, shown - start.size()));
  Fail("The server sent a line longer than " + std::to_string(limits_.max_line_bytes) +
       " bytes, beginning " + Quote(start) +
       "...; RFC 5321 §4.5.3.1.5 allows 512 bytes per reply line.");
}

void SmtpReplyParser::OnLine(std::string_view line, std::size_t raw_bytes) {
  // RFC 5321 §4.2: Reply-line = *( Reply-code "-" [ textstring ] CRLF )
  //                             Reply-code [ SP textstring ] CRLF
  if (line.size() < 3 || !IsDigit(line[0]) || !IsDigit(line[1]) || !IsDigit(line[2]) ||
      (line.size() > 3 && line[3] != '-' && line[3] != ' ')) {
    Fail("The server sent " + Quote(line) +
         ", which is not an SMTP reply line (a three-digit code, then \"-\" or a space and "
         "text).");
    return;
  }
  // RFC 5321 §4.2: servers must not send codes whose first digit is other than 2, 3, 4 or 5.
  if (line[0] < '2' || line[0] > '5') {
    Fail("The server sent the reply code " + std::string(line.substr(0, 3)) + " in " + Quote(line) +
         "; SMTP reply codes begin with 2, 3, 4 or 5.");
    return;
  }
  const int code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
  // RFC 5321 §4.2.1: in a multi-line reply, the code on each line must be the same.
  if (!current_.lines.empty() && code != current_.code) {
    Fail("The server's multi-line " + std::to_string(current_.code) + " reply continues with " +
         Quote(line) + ", a line with another code; every line of a reply carries the same code.");
    return;
  }
  if (current_.lines.size() >= limits_.max_reply_lines) {
    Fail("The server's " + std::to_string(code) + " reply has more than " +
         std::to_string(limits_.max_reply_lines) + " lines.");
    return;
  }
  current_.code = code;
  current_.lines.emplace_back(line.size() > 4 ? line.substr(4) : std::string_view());
  current_bytes_ += raw_bytes;
  if (line.size() > 3 && line[3] == '-') {
    return;
  }
  ready_.push_back(Ready{std::move(current_), current_bytes_});
  ready_bytes_ += current_bytes_;
  current_ = SmtpReply();
  current_bytes_ = 0;
}

std::optional<SmtpReply> SmtpReplyParser::Next() {
  if (ready_.empty()) {
    return std::nullopt;
  }
  Ready ready = std::move(ready_.front());
  ready_.pop_front();
  ready_bytes_ -= ready.bytes;
  return std::move(ready.reply);
}

void SmtpReplyParser::DiscardBuffered() {
  ready_.clear();
  ready_bytes_ = 0;
  current_ = SmtpReply();
  current_bytes_ = 0;
  line_.clear();
}

void SmtpReplyParser::Fail(std::string message) {
  failed_ = true;
  error_message_ = std::move(message);
}

}  // namespace stswatch::prober
