#pragma once

// The resume point of a WatchEvents stream: where the watcher is in every partition's events
// stream (store/README.md). Opaque to clients; "c1.<base ms>.<delta>-<seq>,..." with one entry
// per partition, so a resumed stream starts exactly after the last event seen, in every
// partition. Pure: the decoder takes any bytes (a client may send anything).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace stswatch::api {

// A Redis stream entry id.
struct StreamId {
  std::uint64_t ms = 0;
  std::uint64_t seq = 0;

  auto operator<=>(const StreamId&) const = default;
  std::string ToString() const;  // "1700000000000-0"
  static std::optional<StreamId> Parse(std::string_view text);
};

class EventCursor {
 public:
  explicit EventCursor(std::vector<StreamId> positions) : positions_(std::move(positions)) {}

  const std::vector<StreamId>& positions() const { return positions_; }
  void Advance(int partition, StreamId id) {
    positions_.at(static_cast<std::size_t>(partition)) = id;
  }

  std::string Encode() const;
  // InvalidArgument ("the cursor is not one this server issued") for anything Encode did not
  // write for `partitions` partitions.
  static absl::StatusOr<EventCursor> Decode(std::string_view text, int partitions);

 private:
  std::vector<StreamId> positions_;
};

}  // namespace stswatch::api
