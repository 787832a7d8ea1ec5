#include "api/event_cursor.h"

#include <algorithm>
#include <charconv>

namespace stswatch::api {
namespace {

constexpr std::string_view kPrefix = "c1.";

std::optional<std::uint64_t> Number(std::string_view text) {
  if (text.empty() || text.size() > 20) {
    return std::nullopt;
  }
  std::uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) {
    return std::nullopt;
  }
  return value;
}

absl::Status Bad() {
  return absl::InvalidArgumentError(
      "the cursor is not one this server issued; start without a cursor to watch from now on");
}

}  // namespace

std::string StreamId::ToString() const { return std::to_string(ms) + "-" + std::to_string(seq); }

std::optional<StreamId> StreamId::Parse(std::string_view text) {
  const std::size_t dash = text.find('-');
  if (dash == std::string_view::npos) {
    return std::nullopt;
  }
  const auto ms = Number(text.substr(0, dash));
  const auto seq = Number(text.substr(dash + 1));
  if (!ms || !seq) {
    return std::nullopt;
  }
  return StreamId{*ms, *seq};
}

std::string EventCursor::Encode() const {
  std::uint64_t base = UINT64_MAX;
  for (const StreamId& id : positions_) {
    base = std::min(base, id.ms);
  }
  if (positions_.empty()) {
    base = 0;
  }
  std::string out = std::string(kPrefix) + std::to_string(base) + ".";
  for (std::size_t i = 0; i < positions_.size(); ++i) {
    if (i > 0) {
      out += ',';
    }
    out += std::to_string(positions_[i].ms - base);
    if (positions_[i].seq != 0) {
      out += '-' + std::to_string(positions_[i].seq);
    }
  }
  return out;
}

absl::StatusOr<EventCursor> EventCursor::Decode(std::string_view text, int partitions) {
  if (text.size() > std::size_t{64} * 1024 || !text.starts_with(kPrefix) || partitions < 1) {
    return Bad();
  }
  text.remove_prefix(kPrefix.size());
  const std::size_t dot = text.find('.');
  if (dot == std::string_view::npos) {
    return Bad();
  }
  const auto base = Number(text.substr(0, dot));
  if (!base) {
    return Bad();
  }
  text.remove_prefix(dot + 1);
  std::vector<StreamId> positions;
  positions.reserve(static_cast<std::size_t>(partitions));
  while (true) {
    const std::size_t comma = text.find(',');
    const std::string_view entry = text.substr(0, comma);
    const std::size_t dash = entry.find('-');
    const auto delta = Number(entry.substr(0, dash));
    std::optional<std::uint64_t> seq = 0;
    if (dash != std::string_view::npos) {
      seq = Number(entry.substr(dash + 1));
    }
    if (!delta || !seq || *delta > UINT64_MAX - *base ||
        positions.size() >= static_cast<std::size_t>(partitions)) {
      return Bad();
    }
    positions.push_back(StreamId{*base + *delta, *seq});
    if (comma == std::string_view::npos) {
      break;
    }
    text.remove_prefix(comma + 1);
  }
  if (positions.size() != static_cast<std::size_t>(partitions)) {
    return Bad();
  }
  return EventCursor(std::move(positions));
}

}  // namespace stswatch::api
