// Fuzzes the reader of stored snapshots (what `serve` reads back from Redis, where anything may
// have been written): it never crashes, and what it accepts survives a round trip unchanged.

#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "drift/events.h"
#include "drift/snapshot.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto snapshot = stswatch::drift::FromJson(text);
  if (!snapshot.ok()) {
    if (snapshot.status().message().empty()) {
      std::abort();  // A refusal always says why.
    }
    return 0;
  }
  const auto again = stswatch::drift::FromJson(stswatch::drift::ToJson(*snapshot));
  if (!again.ok() || !(*again == *snapshot)) {
    std::abort();
  }
  // Diffing a stored snapshot against itself and against a fresh one never crashes, and a
  // snapshot compared with itself has no events.
  const stswatch::drift::Transition t{snapshot->domain, "a", "a", 1, {}};
  if (!stswatch::drift::Diff(*snapshot, *snapshot, t).empty()) {
    std::abort();
  }
  stswatch::drift::Snapshot empty;
  empty.domain = snapshot->domain;
  for (const auto& e : stswatch::drift::Diff(*snapshot, empty, t)) {
    (void)stswatch::drift::EventToJson(e);
  }
  for (const auto& e : stswatch::drift::Diff(empty, *snapshot, t)) {
    (void)stswatch::drift::EventToJson(e);
  }
  return 0;
}
