#pragma once

// A hash whose value never changes between runs, builds or machines: partitions in Redis and
// schedule phases are derived from it, so it is part of the stored data's format.

#include <cstdint>
#include <string_view>

namespace stswatch {

// 64-bit FNV-1a.
constexpr std::uint64_t StableHash(std::string_view data) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (const char c : data) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ULL;
  }
  return h;
}

}  // namespace stswatch
