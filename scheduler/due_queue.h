#pragma once

// The due queue: decides when each monitored domain is checked next.
//
// Schedule (the product spec):
// - Each domain is checked every `interval` (its own, or the queue's default).
// - Phase spreading: within every interval a domain has a fixed slot, its *phase*, the stable hash
//   of its name (StableDomainHash) modulo the interval, counted from the Unix epoch. Phases of
//   many domains spread evenly over the interval, and a restart keeps every domain's phase.
// - Jitter: each scheduling adds a random offset in [0, min(jitter_fraction * interval,
//   max_jitter)] to the slot, drawn from a generator seeded by DueQueueOptions::seed.
// - After a check completes at `finished`, the domain is due at its next phase slot strictly after
//   `finished`, plus jitter: a domain never waits more than its interval (+ jitter). The first
//   check after an off-phase one (a start-up or collapsed check) may therefore come sooner than a
//   full interval: that is the domain returning to its phase.
// - Missed cycles collapse: a domain whose due time is long past (the process was down, or
//   overloaded) is due once, now, not once per missed cycle.
//
// The queue is pure: no I/O, no clock reads (every method that needs the time takes it), and its
// only randomness is the seeded jitter, so tests drive it with a fake `now`. Not thread-safe: one
// owner thread (the scheduler's io_context) calls all methods.
//
// Memory: about 24 bytes of slot, 16 of heap entry, ~5 of index per domain plus the name's bytes,
// all in a few flat arrays (see bench/README.md, "Scheduler memory per domain").

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <absl/container/flat_hash_set.h>

namespace stswatch::scheduler {

struct DueQueueOptions {
  // Interval of domains upserted with interval 0. At least 1 s.
  std::chrono::seconds default_interval{3600};
  // Jitter of a scheduling: uniform in [0, min(jitter_fraction * interval, max_jitter)].
  double jitter_fraction = 0.01;
  std::chrono::seconds max_jitter{60};
  // Never-checked domains are first due within min(interval, startup_spread) of their upsert,
  // spread by the hash of their name.
  std::chrono::seconds startup_spread{600};
  // Seed of the jitter generator. Equal seeds and equal calls give equal schedules (tests); a
  // service passes a random seed so that its replicas do not jitter in step.
  uint64_t seed = 0;
};

// A domain handed out by PopDue, and the time it was due.
struct Due {
  std::string domain;
  std::chrono::system_clock::time_point due;
};

// The stable 64-bit hash of a domain name that fixes its phase: FNV-1a 64 over the bytes of the
// name, finished with the SplitMix64 mixer. It never changes between runs, builds or machines
// (unlike absl::Hash or std::hash), so phases survive restarts. Names are hashed and compared as
// bytes: the caller normalises case and trailing dots.
uint64_t StableDomainHash(std::string_view domain);

class DueQueue {
 public:
  using Clock = std::chrono::system_clock;
  using TimePoint = Clock::time_point;

  explicit DueQueue(const DueQueueOptions& options = {});
  // Not copyable or movable: the name index refers to the queue's own storage. Hold it in a
  // std::unique_ptr to move it around.
  DueQueue(const DueQueue&) = delete;
  DueQueue& operator=(const DueQueue&) = delete;

  // Adds `domain`, or updates the interval of a known one; returns true when it was added.
  //
  // `interval` 0 (or negative) means the default interval. For a new domain, `last_check` is the
  // last check the store knows of: known, the domain is due at its next phase slot after
  // `last_check` (which is never later than last_check + interval), or now when that slot has
  // passed (collapsed: once however many cycles were missed); unknown (never checked), it is due
  // within min(interval, startup_spread) of `now`, spread by its hash, so that a first start with
  // 100 000 domains does not check them all in the first second. A `last_check` in the future
  // counts as `now`.
  //
  // For a known domain `last_check` is ignored and its due time is kept (a reload does not
  // reshuffle the schedule); a new interval takes effect at its next scheduling, except that a
  // shorter one also brings a pending due time forward to the new interval's next slot after
  // `now` (+ jitter) if that is sooner, so the domain never waits longer than its new interval.
  // An in-flight domain stays in flight.
  bool Upsert(std::string_view domain, std::chrono::seconds interval,
              std::optional<TimePoint> last_check, TimePoint now);

  // Forgets `domain`; returns false when it was unknown. Removing an in-flight domain makes its
  // Completed a no-op.
  bool Remove(std::string_view domain);

  // Removes every domain not in `keep`, in one pass over the queue (O(n), not O(n log n));
  // returns how many were removed. A reload of the domains file is Retain(names) followed by
  // Upsert(name, interval, last_check, now) for each name: known domains keep their due times,
  // new ones are scheduled, vanished ones are gone (in flight or not).
  size_t Retain(const absl::flat_hash_set<std::string>& keep);

  bool Contains(std::string_view domain) const;

  // Hands out up to `max` domains due at or before `now`, earliest due first. A domain handed out
  // is in flight: it is not handed out again until Completed re-arms it.
  std::vector<Due> PopDue(TimePoint now, size_t max);

  // A check of an in-flight `domain` finished at `finished`: it is due at its next phase slot
  // strictly after `finished`, plus jitter. Returns false, and does nothing, when `domain` is not
  // in flight (removed meanwhile, or never handed out).
  bool Completed(std::string_view domain, TimePoint finished);

  // The check of an in-flight `domain` did not happen (its worker left, its dispatch failed): it
  // is due again at `due` (usually now), not at its next slot. Returns false, and does nothing,
  // when `domain` is not in flight.
  bool Requeue(std::string_view domain, TimePoint due);

  // The earliest due time among domains not in flight; nullopt when there is none. The caller
  // sleeps until then (or until a reload).
  std::optional<TimePoint> NextDue() const;

  // When `domain` is due; nullopt when it is unknown or in flight.
  std::optional<TimePoint> DueOf(std::string_view domain) const;

  // The interval of `domain` (the default resolved); 0 when it is unknown.
  std::chrono::seconds IntervalOf(std::string_view domain) const;

  bool InFlight(std::string_view domain) const;

  // Domains known, in flight or not.
  size_t size() const { return index_.size(); }  // NOLINT(readability-identifier-naming)
  // Domains handed out by PopDue and not yet Completed or removed.
  size_t in_flight() const { return in_flight_; }  // NOLINT(readability-identifier-naming)

  // Bytes of heap memory the queue holds (capacities of its arrays and index), for metrics.
  size_t MemoryUsage() const;

 private:
  enum class State : uint8_t { kFree, kQueued, kInFlight };

  // One domain. 24 bytes; `link` is its position in heap_ when queued and the next free slot when
  // free.
  struct Slot {
    uint64_t hash;
    uint32_t name_offset;
    uint32_t interval_s;
    uint32_t link;
    uint16_t name_size;
    State state;
  };

  struct HeapItem {
    int64_t due_ms;
    uint32_t slot;
  };

  // The index holds slot numbers; it hashes and compares them through the names they refer to,
  // so that a lookup by std::string_view needs no std::string and the index costs 4 bytes (+ 1
  // control byte) per entry.
  struct IndexHash {
    using is_transparent = void;
    size_t operator()(uint32_t slot) const;
    size_t operator()(std::string_view name) const;
    const DueQueue* queue;
  };
  struct IndexEq {
    using is_transparent = void;
    bool operator()(uint32_t a, uint32_t b) const { return a == b; }
    bool operator()(uint32_t slot, std::string_view name) const;
    bool operator()(std::string_view name, uint32_t slot) const { return (*this)(slot, name); }
    const DueQueue* queue;
  };

  std::string_view NameOf(const Slot& slot) const;
  const Slot* Find(std::string_view domain) const;
  uint32_t IntervalSeconds(std::chrono::seconds interval) const;
  // The next phase slot of `slot` strictly after `after_ms`, plus jitter.
  int64_t NextDueAfter(const Slot& slot, int64_t after_ms);
  int64_t Jitter(uint32_t interval_s);
  uint32_t AllocateSlot(std::string_view domain, uint32_t interval_s);
  void FreeSlot(uint32_t slot);
  void CompactNamesIfWasteful();

  void HeapPush(uint32_t slot, int64_t due_ms);
  void HeapErase(uint32_t pos);
  void HeapPlace(uint32_t pos, const HeapItem& item);
  void SiftUp(uint32_t pos);
  void SiftDown(uint32_t pos);

  int64_t default_interval_s_;
  double jitter_fraction_;
  int64_t max_jitter_ms_;
  int64_t startup_spread_ms_;
  uint64_t rng_state_;

  std::vector<Slot> slots_;
  uint32_t free_head_;
  std::string names_;  // all names, back to back, addressed by Slot::name_offset
  size_t names_garbage_ = 0;
  std::vector<HeapItem> heap_;  // binary min-heap on due_ms of the queued slots
  absl::flat_hash_set<uint32_t, IndexHash, IndexEq> index_;
  size_t in_flight_ = 0;
};

}  // namespace stswatch::scheduler
