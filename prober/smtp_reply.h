#pragma once

// SMTP replies (RFC 5321 §4.2), parsed incrementally from the bytes a server sends, in chunks of
// any size: the banner, the EHLO capabilities, the answer to STARTTLS. Several replies may arrive
// in one read (pipelining, or a server that sends ahead), so they queue up until taken.
//
// Pure: no I/O, no clocks, no globals. Bounded: the partial line never holds more than
// max_line_bytes + 1 bytes and the reply being assembled at most max_reply_lines lines; the replies
// complete but not yet taken with Next() grow with the input, so take them as they come. Hostile
// input sets failed() with a sentence saying why; no code path throws on bad input.
//
// A reply line is `3DIGIT ("-" / SP) text` ending in CRLF or a bare LF; a bare `3DIGIT` line is
// accepted as the last line of a reply. The code's first digit must be 2 to 5, and every line of a
// multi-line reply carries the same code. The text is kept as the bytes sent (not necessarily
// ASCII or UTF-8, and it may hold any byte but LF).
//
// Not thread-safe.

#include <cstddef>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace stswatch::prober {

struct SmtpReply {
  // 200..599.
  int code = 0;
  // The text of each line after "NNN-" or "NNN " (empty for a bare "NNN"), without its line end.
  // At least one line.
  std::vector<std::string> lines;

  // The lines joined with "\n".
  std::string Text() const;
};

class SmtpReplyParser {
 public:
  struct Limits {
    // The longest line, without its line end. RFC 5321 §4.5.3.1.5 allows 512 octets with the code
    // and CRLF; servers send longer ones, so the default is lenient.
    std::size_t max_line_bytes = 2048;
    // The most lines one reply may have.
    std::size_t max_reply_lines = 64;
  };

  // With the default Limits. (Not a default argument: GCC cannot use the member initializers of a
  // nested struct before the enclosing class is complete.)
  SmtpReplyParser();
  explicit SmtpReplyParser(Limits limits);

  // Consumes the next bytes read from the connection. Errors are detected here, as soon as the
  // bytes show them (a line is too long once max_line_bytes + 1 bytes arrive without a line end);
  // after an error the input is ignored.
  void Feed(std::string_view bytes);

  // The next complete reply, oldest first, if one is buffered; call it repeatedly to take
  // pipelined replies. Replies completed before an error are still returned, none after it.
  std::optional<SmtpReply> Next();

  // True once the server sent something that is not an SMTP reply. Sticky.
  bool failed() const { return failed_; }
  // A sentence for people saying what was wrong, with the bytes it quotes escaped and cut short.
  // Empty unless failed().
  const std::string& error_message() const { return error_message_; }

  // Bytes received but not yet part of a reply returned by Next(): complete replies not taken,
  // the lines of an incomplete reply and a partial line, line ends included. After STARTTLS's
  // 220 this must be 0: bytes sent before the TLS handshake were not protected by it.
  std::size_t buffered_bytes() const { return ready_bytes_ + current_bytes_ + line_.size(); }
  // Drops those bytes (e.g. plaintext received before a TLS handshake). Does not clear failed().
  void DiscardBuffered();

 private:
  struct Ready {
    SmtpReply reply;
    std::size_t bytes = 0;
  };

  // Handles one complete line: its text without the line end, and its size with it.
  void OnLine(std::string_view line, std::size_t raw_bytes);
  // The line in line_, continued by `more`, is longer than max_line_bytes.
  void FailLongLine(std::string_view more);
  void Fail(std::string message);

  Limits limits_;
  bool failed_ = false;
  std::string error_message_;
  // The line being received, without its LF.
  std::string line_;
  // The reply being assembled, and its bytes.
  SmtpReply current_;
  std::size_t current_bytes_ = 0;
  // Complete replies not yet returned by Next(), and their bytes.
  std::deque<Ready> ready_;
  std::size_t ready_bytes_ = 0;
};

}  // namespace stswatch::prober
