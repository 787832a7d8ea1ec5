#pragma once

// What every stswatch subcommand receives: its arguments (without the program and subcommand
// names) and its standard streams. Subcommands return the process exit status.

#include <iosfwd>
#include <span>
#include <string_view>

namespace stswatch::cli {

struct CommandIo {
  std::istream& in;
  std::ostream& out;
  std::ostream& err;
  // True when `out` is a terminal that should get colour (and NO_COLOR is unset).
  bool color = false;
};

using Args = std::span<const std::string_view>;

}  // namespace stswatch::cli
