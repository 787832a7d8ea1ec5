#pragma once

// Helpers shared by the fuzz targets that feed a parser in pieces.

#include <cstdint>
#include <cstdlib>
#include <string_view>

namespace stswatch::fuzz {

// Aborts (a finding for libFuzzer) when an invariant does not hold.
inline void Check(bool ok) {
  if (!ok) {
    std::abort();
  }
}

// FNV-1a: a seed for read sizes and limits that leaves every input byte part of the message.
inline std::uint64_t Hash(std::string_view bytes) {
  std::uint64_t h = 14695981039346656037ULL;
  for (const char c : bytes) {
    h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ULL;
  }
  return h;
}

// xorshift64: the next pseudo-random number.
inline std::uint64_t Next(std::uint64_t& x) {
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  return x;
}

}  // namespace stswatch::fuzz
