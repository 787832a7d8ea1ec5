#pragma once

// The store seam: where a finished check goes. The store compares the check's snapshot with the
// stored one, persists the new state and the drift events atomically, and refuses writes whose
// fencing token is older than the newest it has seen for the domain.

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "drift/events.h"
#include "drift/snapshot.h"

namespace stswatch::store {

struct CheckResult {
  drift::Snapshot snapshot;  // snapshot.domain names the domain.
  // Orders writers: FencingToken(epoch, sequence) (store/keys.h).
  std::string token;
  std::chrono::system_clock::time_point finished;
};

enum class WriteOutcome {
  kUnchanged,   // The state is the stored one; the check time was recorded.
  kApplied,     // A new state was stored, with `events`.
  kRefused,     // The token is older than the stored one: a newer writer owns the domain.
  kSuperseded,  // A newer result for the domain was submitted before this one was written.
  kDropped,     // The store was stopped before the result could be written.
};

std::string_view WriteOutcomeName(WriteOutcome outcome);

struct WriteResult {
  WriteOutcome outcome = WriteOutcome::kDropped;
  std::vector<drift::Event> events;  // For kApplied.
  std::uint64_t version = 0;         // The domain's state version after the write.
};

class SnapshotStore {
 public:
  using Callback = std::function<void(const WriteResult&)>;
  virtual ~SnapshotStore() = default;
  // Takes the result; `done` runs once when it is written, refused, superseded or dropped. The
  // store keeps the result until then, whatever happens to the connection.
  virtual void Write(CheckResult result, Callback done) = 0;
};

}  // namespace stswatch::store
