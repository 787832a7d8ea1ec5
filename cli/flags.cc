#include "cli/flags.h"

#include "common/duration.h"

namespace stswatch::cli {

void Flags::Switch(std::string_view name, bool* target) {
  options_.push_back({std::string(name), false, [target](std::string_view) {
                        *target = true;
                        return std::optional<std::string>();
                      }});
}

void Flags::String(std::string_view name, std::string* target) {
  options_.push_back({std::string(name), true, [target](std::string_view v) {
                        *target = std::string(v);
                        return std::optional<std::string>();
                      }});
}

void Flags::Strings(std::string_view name, std::vector<std::string>* target) {
  options_.push_back({std::string(name), true, [target](std::string_view v) {
                        target->emplace_back(v);
                        return std::optional<std::string>();
                      }});
}

void Flags::Int(std::string_view name, int low, int high, int* target) {
  const std::string n(name);
  options_.push_back({n, true, [n, low, high, target](std::string_view v) {
                        long long value = 0;  // NOLINT(google-runtime-int)
                        bool ok = !v.empty() && v.size() <= 9;
                        for (const char c : v) {
                          ok = ok && c >= '0' && c <= '9';
                          value = value * 10 + (c - '0');
                        }
                        if (!ok || value < low || value > high) {
                          return std::optional<std::string>(n + " takes a number from " +
                                                            std::to_string(low) + " to " +
                                                            std::to_string(high));
                        }
                        *target = static_cast<int>(value);
                        return std::optional<std::string>();
                      }});
}

void Flags::Duration(std::string_view name, std::chrono::seconds low, std::chrono::seconds high,
                     std::chrono::seconds* target) {
  const std::string n(name);
  options_.push_back({n, true, [n, low, high, target](std::string_view v) {
                        const auto d = ParseDuration(v);
                        if (!d || *d < low || *d > high) {
                          return std::optional<std::string>(
                              n + " takes a duration from " + FormatDuration(low) + " to " +
                              FormatDuration(high) + " such as 30s, 15m, 1h or 2d");
                        }
                        *target = *d;
                        return std::optional<std::string>();
                      }});
}

void Flags::Operands(std::function<std::optional<std::string>(std::string_view)> handler) {
  operands_ = std::move(handler);
}

std::optional<std::string> Flags::Parse(Args args, bool* help) {
  bool operands_only = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string_view arg = args[i];
    if (operands_only || !arg.starts_with("-") || arg == "-") {
      if (!operands_) {
        return "unexpected argument '" + std::string(arg) + "'";
      }
      if (auto error = operands_(arg)) {
        return error;
      }
      continue;
    }
    if (arg == "--") {
      operands_only = true;
      continue;
    }
    if (arg == "-h" || arg == "--help") {
      *help = true;
      return std::nullopt;
    }
    const std::size_t eq = arg.find('=');
    const std::string_view name = arg.substr(0, eq);
    const Option* option = nullptr;
    for (const Option& o : options_) {
      if (o.name == name) {
        option = &o;
      }
    }
    if (option == nullptr) {
      return "unknown option '" + std::string(name) + "'";
    }
    std::string_view value;
    if (!option->takes_value) {
      if (eq != std::string_view::npos) {
        return option->name + " takes no value";
      }
    } else if (eq != std::string_view::npos) {
      value = arg.substr(eq + 1);
    } else if (i + 1 < args.size()) {
      value = args[++i];
    } else {
      return option->name + " needs a value";
    }
    if (auto error = option->set(value)) {
      return error;
    }
  }
  return std::nullopt;
}

}  // namespace stswatch::cli
