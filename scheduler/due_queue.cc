// The due queue: a slot array (one 24-byte Slot per domain, removed slots on a free list), the
// names back to back in one string, an index of slot numbers keyed by name, and an indexed binary
// min-heap of {due, slot} so that removal and re-scheduling of any domain is O(log n).

#include "scheduler/due_queue.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <limits>
#include <utility>

#include <absl/strings/string_view.h>

#include "common/stable_hash.h"

namespace stswatch::scheduler {
namespace {

using std::chrono::milliseconds;

constexpr uint32_t kNone = std::numeric_limits<uint32_t>::max();
constexpr int64_t kMsPerSecond = 1000;
// Names are host names (at most 253 bytes); the slot stores the size in 16 bits.
constexpr size_t kMaxNameSize = std::numeric_limits<uint16_t>::max();
// Start-up offsets come from a second hash of the name, so that they are not the phase itself.
constexpr uint64_t kStartupSalt = 0x5bd1e9955bd1e995ULL;

int64_t ToMs(DueQueue::TimePoint t) {
  return std::chrono::floor<milliseconds>(t.time_since_epoch()).count();
}

DueQueue::TimePoint FromMs(int64_t ms) {
  return DueQueue::TimePoint(
      std::chrono::duration_cast<DueQueue::Clock::duration>(milliseconds(ms)));
}

int64_t FloorMod(int64_t a, int64_t m) {
  const int64_t r = a % m;
  return r < 0 ? r + m : r;
}

}  // namespace

uint64_t StableDomainHash(std::string_view domain) { return StableHash(domain); }

size_t DueQueue::IndexHash::operator()(uint32_t slot) const { return queue->slots_[slot].hash; }

size_t DueQueue::IndexHash::operator()(std::string_view name) const {
  return StableDomainHash(name);
}

bool DueQueue::IndexEq::operator()(uint32_t slot, std::string_view name) const {
  return queue->NameOf(queue->slots_[slot]) == name;
}

DueQueue::DueQueue(const DueQueueOptions& options)
    : default_interval_s_(std::clamp<int64_t>(options.default_interval.count(), 1,
                                              std::numeric_limits<uint32_t>::max())),
      jitter_fraction_(std::max(0.0, options.jitter_fraction)),
      max_jitter_ms_(std::max<int64_t>(0, options.max_jitter.count()) * kMsPerSecond),
      startup_spread_ms_(std::max<int64_t>(0, options.startup_spread.count()) * kMsPerSecond),
      rng_state_(options.seed),
      free_head_(kNone),
      index_(0, IndexHash{this}, IndexEq{this}) {}

std::string_view DueQueue::NameOf(const Slot& slot) const {
  return std::string_view(names_).substr(slot.name_offset, slot.name_size);
}

const DueQueue::Slot* DueQueue::Find(std::string_view domain) const {
  const auto it = index_.find(domain);
  return it == index_.end() ? nullptr : &slots_[*it];
}

uint32_t DueQueue::IntervalSeconds(std::chrono::seconds interval) const {
  const int64_t s = interval.count() > 0 ? interval.count() : default_interval_s_;
  return static_cast<uint32_t>(std::min<int64_t>(s, std::numeric_limits<uint32_t>::max()));
}

int64_t DueQueue::Jitter(uint32_t interval_s) {
  const auto fraction_ms =
      static_cast<int64_t>(jitter_fraction_ * static_cast<double>(interval_s) * kMsPerSecond);
  const int64_t bound_ms = std::min(fraction_ms, max_jitter_ms_);
  if (bound_ms <= 0) {
    return 0;
  }
  // SplitMix64 as the generator: tiny, and the same sequence everywhere for a given seed.
  rng_state_ += 0x9e3779b97f4a7c15ULL;
  return static_cast<int64_t>(Mix64(rng_state_) % static_cast<uint64_t>(bound_ms + 1));
}

int64_t DueQueue::NextDueAfter(const Slot& slot, int64_t after_ms) {
  const int64_t interval_ms = int64_t{slot.interval_s} * kMsPerSecond;
  const auto phase_ms = static_cast<int64_t>(slot.hash % static_cast<uint64_t>(interval_ms));
  // The smallest t > after_ms with t ≡ phase (mod interval): a slot exactly at after_ms is taken.
  const int64_t next_slot_ms = after_ms + interval_ms - FloorMod(after_ms - phase_ms, interval_ms);
  return next_slot_ms + Jitter(slot.interval_s);
}

uint32_t DueQueue::AllocateSlot(std::string_view domain, uint32_t interval_s) {
  assert(domain.size() <= kMaxNameSize);
  assert(names_.size() + domain.size() <= std::numeric_limits<uint32_t>::max());
  const Slot slot{
      .hash = StableDomainHash(domain),
      .name_offset = static_cast<uint32_t>(names_.size()),
      .interval_s = interval_s,
      .link = kNone,
      .name_size = static_cast<uint16_t>(domain.size()),
      .state = State::kQueued,
  };
  names_.append(domain);
  if (free_head_ != kNone) {
    const uint32_t n = free_head_;
    free_head_ = slots_[n].link;
    slots_[n] = slot;
    return n;
  }
  assert(slots_.size() < kNone);
  slots_.push_back(slot);
  return static_cast<uint32_t>(slots_.size() - 1);
}

void DueQueue::FreeSlot(uint32_t n) {
  Slot& slot = slots_[n];
  names_garbage_ += slot.name_size;
  slot.state = State::kFree;
  slot.link = free_head_;
  free_head_ = n;
}

void DueQueue::CompactNamesIfWasteful() {
  // Removed names stay in names_ until they are more than half of it: amortised O(1) per removal.
  if (names_garbage_ < 4096 || names_garbage_ * 2 < names_.size()) {
    return;
  }
  std::string compact;
  compact.reserve(names_.size() - names_garbage_);
  for (Slot& slot : slots_) {
    if (slot.state == State::kFree) {
      continue;
    }
    const std::string_view name = NameOf(slot);
    slot.name_offset = static_cast<uint32_t>(compact.size());
    compact.append(name);
  }
  names_ = std::move(compact);
  names_garbage_ = 0;
}

bool DueQueue::Upsert(std::string_view domain, std::chrono::seconds interval,
                      std::optional<TimePoint> last_check, TimePoint now) {
  const uint32_t interval_s = IntervalSeconds(interval);
  const int64_t now_ms = ToMs(now);
  if (const auto it = index_.find(domain); it != index_.end()) {
    Slot& slot = slots_[*it];
    const uint32_t old_interval_s = slot.interval_s;
    slot.interval_s = interval_s;
    if (slot.state == State::kQueued && interval_s < old_interval_s) {
      const int64_t sooner_ms = NextDueAfter(slot, now_ms);
      const uint32_t pos = slot.link;
      if (sooner_ms < heap_[pos].due_ms) {
        heap_[pos].due_ms = sooner_ms;
        SiftUp(pos);
      }
    }
    return false;
  }

  const uint32_t n = AllocateSlot(domain, interval_s);
  index_.insert(n);
  const Slot& slot = slots_[n];
  int64_t due_ms = now_ms;
  if (last_check.has_value()) {
    const int64_t next_ms = NextDueAfter(slot, std::min(ToMs(*last_check), now_ms));
    // Collapsed: however many slots passed while nobody checked, the domain is due once, now.
    due_ms = std::max(next_ms, now_ms);
  } else {
    const int64_t spread_ms = std::min(int64_t{interval_s} * kMsPerSecond, startup_spread_ms_);
    if (spread_ms > 0) {
      due_ms +=
          static_cast<int64_t>(Mix64(slot.hash ^ kStartupSalt) % static_cast<uint64_t>(spread_ms));
    }
  }
  HeapPush(n, due_ms);
  return true;
}

bool DueQueue::Remove(std::string_view domain) {
  const auto it = index_.find(domain);
  if (it == index_.end()) {
    return false;
  }
  const uint32_t n = *it;
  index_.erase(it);
  if (slots_[n].state == State::kQueued) {
    HeapErase(slots_[n].link);
  } else {
    --in_flight_;
  }
  FreeSlot(n);
  CompactNamesIfWasteful();
  return true;
}

size_t DueQueue::Retain(const absl::flat_hash_set<std::string>& keep) {
  size_t removed = 0;
  for (uint32_t n = 0; n < slots_.size(); ++n) {
    const Slot& slot = slots_[n];
    if (slot.state == State::kFree) {
      continue;
    }
    const std::string_view name = NameOf(slot);
    // Debian's Abseil has its own absl::string_view, distinct from std::string_view.
    if (keep.contains(absl::string_view(name.data(), name.size()))) {
      continue;
    }
    index_.erase(n);
    if (slot.state == State::kInFlight) {
      --in_flight_;
    }
    FreeSlot(n);
    ++removed;
  }
  if (removed == 0) {
    return 0;
  }
  // Drop the freed slots' heap items and heapify once (Floyd, O(n)) instead of n erasures.
  std::erase_if(heap_,
                [this](const HeapItem& item) { return slots_[item.slot].state != State::kQueued; });
  for (uint32_t pos = 0; pos < heap_.size(); ++pos) {
    slots_[heap_[pos].slot].link = pos;
  }
  for (auto pos = static_cast<uint32_t>(heap_.size() / 2); pos-- > 0;) {
    SiftDown(pos);
  }
  CompactNamesIfWasteful();
  return removed;
}

bool DueQueue::Contains(std::string_view domain) const { return index_.contains(domain); }

std::vector<Due> DueQueue::PopDue(TimePoint now, size_t max) {
  std::vector<Due> due;
  const int64_t now_ms = ToMs(now);
  while (due.size() < max && !heap_.empty() && heap_.front().due_ms <= now_ms) {
    const HeapItem top = heap_.front();
    HeapErase(0);
    Slot& slot = slots_[top.slot];
    slot.state = State::kInFlight;
    slot.link = kNone;
    ++in_flight_;
    due.push_back(Due{std::string(NameOf(slot)), FromMs(top.due_ms)});
  }
  return due;
}

bool DueQueue::Completed(std::string_view domain, TimePoint finished) {
  const auto it = index_.find(domain);
  if (it == index_.end() || slots_[*it].state != State::kInFlight) {
    return false;
  }
  const uint32_t n = *it;
  Slot& slot = slots_[n];
  slot.state = State::kQueued;
  --in_flight_;
  HeapPush(n, NextDueAfter(slot, ToMs(finished)));
  return true;
}

bool DueQueue::Requeue(std::string_view domain, TimePoint due) {
  const auto it = index_.find(domain);
  if (it == index_.end() || slots_[*it].state != State::kInFlight) {
    return false;
  }
  const uint32_t n = *it;
  slots_[n].state = State::kQueued;
  --in_flight_;
  HeapPush(n, ToMs(due));
  return true;
}

std::optional<DueQueue::TimePoint> DueQueue::NextDue() const {
  if (heap_.empty()) {
    return std::nullopt;
  }
  return FromMs(heap_.front().due_ms);
}

std::optional<DueQueue::TimePoint> DueQueue::DueOf(std::string_view domain) const {
  const Slot* slot = Find(domain);
  if (slot == nullptr || slot->state != State::kQueued) {
    return std::nullopt;
  }
  return FromMs(heap_[slot->link].due_ms);
}

std::chrono::seconds DueQueue::IntervalOf(std::string_view domain) const {
  const Slot* slot = Find(domain);
  return std::chrono::seconds(slot == nullptr ? 0 : slot->interval_s);
}

bool DueQueue::InFlight(std::string_view domain) const {
  const Slot* slot = Find(domain);
  return slot != nullptr && slot->state == State::kInFlight;
}

size_t DueQueue::MemoryUsage() const {
  // A flat_hash_set keeps one control byte per bucket next to the bucket.
  return slots_.capacity() * sizeof(Slot) + heap_.capacity() * sizeof(HeapItem) +
         names_.capacity() + index_.capacity() * (sizeof(uint32_t) + 1);
}

void DueQueue::HeapPlace(uint32_t pos, const HeapItem& item) {
  heap_[pos] = item;
  slots_[item.slot].link = pos;
}

void DueQueue::HeapPush(uint32_t slot, int64_t due_ms) {
  heap_.push_back(HeapItem{due_ms, slot});
  const auto pos = static_cast<uint32_t>(heap_.size() - 1);
  slots_[slot].link = pos;
  SiftUp(pos);
}

void DueQueue::HeapErase(uint32_t pos) {
  const HeapItem last = heap_.back();
  heap_.pop_back();
  if (pos == heap_.size()) {
    return;
  }
  const int64_t erased_due_ms = heap_[pos].due_ms;
  HeapPlace(pos, last);
  if (last.due_ms < erased_due_ms) {
    SiftUp(pos);
  } else {
    SiftDown(pos);
  }
}

void DueQueue::SiftUp(uint32_t pos) {
  const HeapItem item = heap_[pos];
  while (pos > 0) {
    const uint32_t parent = (pos - 1) / 2;
    if (heap_[parent].due_ms <= item.due_ms) {
      break;
    }
    HeapPlace(pos, heap_[parent]);
    pos = parent;
  }
  HeapPlace(pos, item);
}

void DueQueue::SiftDown(uint32_t pos) {
  const HeapItem item = heap_[pos];
  const auto size = static_cast<uint32_t>(heap_.size());
  while (true) {
    uint32_t child = 2 * pos + 1;
    if (child >= size) {
      break;
    }
    if (child + 1 < size && heap_[child + 1].due_ms < heap_[child].due_ms) {
      ++child;
    }
    if (item.due_ms <= heap_[child].due_ms) {
      break;
    }
    HeapPlace(pos, heap_[child]);
    pos = child;
  }
  HeapPlace(pos, item);
}

}  // namespace stswatch::scheduler
