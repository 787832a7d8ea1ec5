#pragma once

// Builds a Redis command from its parts: Command("HGET", key, "checked").
//
// Coroutines build their commands with this: GCC 12 cannot compile an initializer list of
// std::string inside a coroutine body ("array used as initializer").

#include <string>
#include <vector>

namespace stswatch::store {

template <typename... Parts>
std::vector<std::string> Command(const Parts&... parts) {
  std::vector<std::string> args;
  args.reserve(sizeof...(parts));
  (args.emplace_back(parts), ...);
  return args;
}

}  // namespace stswatch::store
