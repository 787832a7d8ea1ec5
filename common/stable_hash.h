#pragma once

// A hash whose value never changes between runs, builds or machines: partitions in Redis and
// schedule phases are derived from it, so it is part of the stored data's format (tests pin
// golden values).

#include <cstdint>
#include <string_view>

namespace stswatch {

// SplitMix64's finaliser (Steele, Lea, Flood 2014): a bijection that spreads every input bit.
constexpr std::uint64_t Mix64(std::uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// FNV-1a 64 (http://www.isthe.com/chongo/tech/comp/fnv/), finalised with Mix64: FNV's low bits
// mix poorly, and partitions and phases are taken modulo small numbers.
constexpr std::uint64_t StableHash(std::string_view data) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (const char c : data) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ULL;
  }
  return Mix64(h);
}

}  // namespace stswatch
