#pragma once

// The Redis key schema (store/README.md documents it for people). Domains are spread over a fixed
// number of logical partitions; every key of a domain and its partition's streams and hashes carry
// the partition's hash tag "{pN}", so a script touching them runs on one Redis Cluster slot.

#include <cstdint>
#include <string>
#include <string_view>

namespace stswatch::store {

// Stored in the meta hash on first use; a later start with another count is refused, since
// domains would be looked up in the wrong partition.
inline constexpr int kDefaultPartitions = 64;
inline constexpr int kMaxPartitions = 16384;

class KeySchema {
 public:
  KeySchema() = default;
  explicit KeySchema(int partitions, std::string prefix = "stswatch")
      : partitions_(partitions), prefix_(std::move(prefix)) {}

  int partitions() const { return partitions_; }
  const std::string& prefix() const { return prefix_; }

  // StableHash(domain) mod partitions.
  int PartitionOf(std::string_view domain) const;

  // stswatch:{p17}:d:example.com — hash: snapshot, hash, version, token, checked, changed, ...
  std::string Domain(std::string_view domain) const;
  // stswatch:{p17}:h:example.com — stream: the domain's state changes and events.
  std::string History(std::string_view domain) const;
  // stswatch:{p17}:events — stream: the partition's drift events, oldest first.
  std::string Events(int partition) const;
  // stswatch:{p17}:stats — hash: counters (state_changes, events, events:<kind>, writes_refused).
  std::string Stats(int partition) const;
  // stswatch:{p17}:index — hash: domain -> "status mode" of every domain with a state.
  std::string Index(int partition) const;
  // stswatch:{p17}:watch — hash: domain -> settings JSON of domains added through the API.
  std::string Watch(int partition) const;
  // stswatch:meta — hash: partitions, schema.
  std::string Meta() const;
  // stswatch:epoch:<name> — counter: a writer's epoch for its fencing tokens.
  std::string Epoch(std::string_view name) const;

 private:
  std::string Tagged(int partition, std::string_view rest) const;

  int partitions_ = kDefaultPartitions;
  std::string prefix_ = "stswatch";
};

// A fencing token: epoch and sequence as 20 decimal digits, so that comparing tokens as strings
// (as the update script does) compares them as numbers.
std::string FencingToken(std::uint32_t epoch, std::uint64_t sequence);

}  // namespace stswatch::store
