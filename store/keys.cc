#include "store/keys.h"

#include <cstdio>

#include "common/stable_hash.h"

namespace stswatch::store {

int KeySchema::PartitionOf(std::string_view domain) const {
  return static_cast<int>(StableHash(domain) % static_cast<std::uint64_t>(partitions_));
}

std::string KeySchema::Tagged(int partition, std::string_view rest) const {
  return prefix_ + ":{p" + std::to_string(partition) + "}:" + std::string(rest);
}

std::string KeySchema::Domain(std::string_view domain) const {
  return Tagged(PartitionOf(domain), "d:" + std::string(domain));
}

std::string KeySchema::History(std::string_view domain) const {
  return Tagged(PartitionOf(domain), "h:" + std::string(domain));
}

std::string KeySchema::Events(int partition) const { return Tagged(partition, "events"); }
std::string KeySchema::Stats(int partition) const { return Tagged(partition, "stats"); }
std::string KeySchema::Index(int partition) const { return Tagged(partition, "index"); }
std::string KeySchema::Watch(int partition) const { return Tagged(partition, "watch"); }
std::string KeySchema::Meta() const { return prefix_ + ":meta"; }
std::string KeySchema::Epoch(std::string_view name) const {
  return prefix_ + ":epoch:" + std::string(name);
}

std::string FencingToken(std::uint32_t epoch, std::uint64_t sequence) {
  char buf[32];
  // Ten digits each; the sequence is taken modulo 10^10 to keep the width (a writer takes a new
  // epoch at every start, long before ten billion dispatches).
  std::snprintf(buf, sizeof buf, "%010u%010llu", epoch,
                static_cast<unsigned long long>(sequence % 10000000000ULL));  // NOLINT
  return buf;
}

}  // namespace stswatch::store
