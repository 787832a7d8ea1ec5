#pragma once

// A small option parser shared by the subcommands: `--name VALUE` and `--name=VALUE`, boolean
// switches, `--` ending the options, and errors a person can act on ("--interval takes a
// duration such as 30s, 15m, 1h").

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cli/command.h"

namespace stswatch::cli {

class Flags {
 public:
  void Switch(std::string_view name, bool* target);
  void String(std::string_view name, std::string* target);
  void Strings(std::string_view name, std::vector<std::string>* target);  // Repeatable.
  void Int(std::string_view name, int low, int high, int* target);
  void Duration(std::string_view name, std::chrono::seconds low, std::chrono::seconds high,
                std::chrono::seconds* target);
  // Arguments that are not options; without a handler they are an error.
  void Operands(std::function<std::optional<std::string>(std::string_view)> handler);

  // Parses `args`; returns an error message, or nullopt. Sets *help for -h/--help.
  std::optional<std::string> Parse(Args args, bool* help);

 private:
  struct Option {
    std::string name;
    bool takes_value = true;
    std::function<std::optional<std::string>(std::string_view)> set;
  };
  std::vector<Option> options_;
  std::function<std::optional<std::string>(std::string_view)> operands_;
};

}  // namespace stswatch::cli
