// Fuzzes the SMTP reply parser with arbitrary bytes, fed once in one read and once in reads of
// sizes derived from the input with replies taken at varying moments, checking what a user relies
// on: the same replies and the same error however the bytes were split, every reply well-formed
// (a code in 200..599, 1 to max_reply_lines lines within the line limit), and every byte received
// either part of a returned reply or counted as buffered.

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "prober/smtp_reply.h"
#include "tests/fuzz/fuzz_util.h"

namespace {

using stswatch::fuzz::Check;
using stswatch::fuzz::Hash;
using stswatch::fuzz::Next;

using stswatch::prober::SmtpReply;
using stswatch::prober::SmtpReplyParser;
using Limits = SmtpReplyParser::Limits;

// Takes every buffered reply, checking each and that the bytes it took are accounted for.
void Drain(SmtpReplyParser& p, const Limits& limits, std::vector<SmtpReply>& replies,
           std::size_t& taken_bytes) {
  while (true) {
    const std::size_t before = p.buffered_bytes();
    std::optional<SmtpReply> reply = p.Next();
    if (!reply) {
      return;
    }
    Check(reply->code >= 200 && reply->code <= 599);
    Check(!reply->lines.empty() && reply->lines.size() <= limits.max_reply_lines);
    std::size_t line_bytes = 0;
    for (const std::string& line : reply->lines) {
      Check(line.empty() || line.size() + 4 <= limits.max_line_bytes);
      Check(line.find('\n') == std::string::npos);
      line_bytes += line.size();
    }
    // "NNN" and LF at least, per line.
    const std::size_t bytes = before - p.buffered_bytes();
    Check(before >= p.buffered_bytes() && bytes >= line_bytes + 4 * reply->lines.size());
    taken_bytes += bytes;
    replies.push_back(std::move(*reply));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  std::uint64_t random = Hash(input) | 1;
  // Small limits half the time, so that the limits are reached by short inputs too.
  Limits limits;
  if ((Next(random) & 1) != 0) {
    limits.max_line_bytes = Next(random) % 300;
    limits.max_reply_lines = Next(random) % 10;
  }
  // The most a parser may hold besides complete replies: a full reply being assembled and a
  // partial line.
  const std::size_t max_pending =
      limits.max_reply_lines * (limits.max_line_bytes + 2) + limits.max_line_bytes + 1;

  SmtpReplyParser whole(limits);
  whole.Feed(input);
  std::vector<SmtpReply> whole_replies;
  std::size_t whole_taken = 0;
  Drain(whole, limits, whole_replies, whole_taken);
  Check(whole.failed() == !whole.error_message().empty());
  Check(whole.buffered_bytes() <= max_pending);
  if (!whole.failed()) {
    Check(whole_taken + whole.buffered_bytes() == size);
  }

  SmtpReplyParser pieces(limits);
  std::vector<SmtpReply> piece_replies;
  std::size_t piece_taken = 0;
  for (std::size_t at = 0; at < size;) {
    const std::uint64_t r = Next(random);
    const std::size_t n = (r & 7) == 0 ? 1 + (r >> 3) % 4096 : 1 + (r >> 3) % 8;
    pieces.Feed(input.substr(at, n));
    at += n;
    if ((r & 0x100) != 0) {
      Drain(pieces, limits, piece_replies, piece_taken);
      Check(pieces.buffered_bytes() <= max_pending);
    }
    if (!pieces.failed()) {
      Check(piece_taken + pieces.buffered_bytes() == std::min(at, size));
    }
  }
  Drain(pieces, limits, piece_replies, piece_taken);
  Check(pieces.failed() == whole.failed() && pieces.error_message() == whole.error_message());
  Check(piece_replies.size() == whole_replies.size());
  for (std::size_t i = 0; i < piece_replies.size(); ++i) {
    Check(piece_replies[i].code == whole_replies[i].code);
    Check(piece_replies[i].lines == whole_replies[i].lines);
  }

  // Dropping the buffer leaves nothing to take.
  pieces.DiscardBuffered();
  Check(pieces.buffered_bytes() == 0 && !pieces.Next().has_value());
  return 0;
}
