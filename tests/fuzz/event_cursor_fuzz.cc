// Fuzzes the watch cursor decoder (clients send any bytes back): never a crash; what it accepts
// re-encodes to a cursor that decodes to the same positions.

#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "api/event_cursor.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  for (const int partitions : {1, 3, 64}) {
    const auto cursor = stswatch::api::EventCursor::Decode(text, partitions);
    if (!cursor.ok()) {
      continue;
    }
    const auto again = stswatch::api::EventCursor::Decode(cursor->Encode(), partitions);
    if (!again.ok() || again->positions() != cursor->positions()) {
      std::abort();
    }
  }
  return 0;
}
