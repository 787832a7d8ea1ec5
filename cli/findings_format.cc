#include "cli/findings_format.h"

#include <algorithm>

#include <boost/json/object.hpp>

namespace stswatch::cli {
namespace {

using mtasts::Finding;
using mtasts::Severity;

constexpr std::string_view kReset = "\033[0m";

std::string_view SeverityColor(Severity severity) {
  switch (severity) {
    case Severity::kError:
      return "\033[1;31m";
    case Severity::kWarning:
      return "\033[1;33m";
    case Severity::kInfo:
      return "\033[36m";
  }
  return "";
}

std::string Plural(int n, std::string_view word) {
  return std::to_string(n) + " " + std::string(word) + (n == 1 ? "" : "s");
}

// Wraps `text` at `width` columns, indenting continuation lines by `indent` spaces.
void PrintWrapped(std::ostream& out, std::string_view text, std::size_t indent, std::size_t width) {
  std::size_t column = indent;
  bool first = true;
  while (!text.empty()) {
    const std::size_t space = text.find(' ');
    const std::string_view word = text.substr(0, space);
    if (!first && column + 1 + word.size() > width) {
      out << '\n' << std::string(indent, ' ');
      column = indent;
      first = true;
    }
    if (!first) {
      out << ' ';
      ++column;
    }
    out << word;
    column += word.size();
    first = false;
    if (space == std::string_view::npos) {
      break;
    }
    text.remove_prefix(space + 1);
  }
  out << '\n';
}

}  // namespace

boost::json::array FindingsToJson(const std::vector<Finding>& findings) {
  boost::json::array array;
  for (const Finding& f : findings) {
    boost::json::object object;
    object["code"] = f.code;
    object["severity"] = mtasts::SeverityName(f.severity);
    object["rfc"] = f.rfc;
    object["message"] = f.message;
    if (!f.host.empty()) {
      object["host"] = f.host;
    }
    if (f.line > 0) {
      object["line"] = f.line;
    }
    array.push_back(std::move(object));
  }
  return array;
}

void PrintFindings(std::ostream& out, const std::vector<Finding>& findings, bool color) {
  std::vector<const Finding*> sorted;
  sorted.reserve(findings.size());
  for (const Finding& f : findings) {
    sorted.push_back(&f);
  }
  std::stable_sort(sorted.begin(), sorted.end(), [](const Finding* a, const Finding* b) {
    return static_cast<int>(a->severity) > static_cast<int>(b->severity);
  });
  for (const Finding* f : sorted) {
    const std::string_view name = mtasts::SeverityName(f->severity);
    if (color) {
      out << SeverityColor(f->severity);
    }
    out << name;
    if (color) {
      out << kReset;
    }
    out << std::string(9 - name.size(), ' ') << f->code << "  [" << f->rfc;
    if (f->line > 0) {
      out << ", line " << f->line;
    }
    out << "]\n" << std::string(9, ' ');
    PrintWrapped(out, f->message, 9, 100);
  }
}

std::string SummarizeFindings(const std::vector<Finding>& findings) {
  const int errors = mtasts::CountSeverity(findings, Severity::kError);
  const int warnings = mtasts::CountSeverity(findings, Severity::kWarning);
  const int infos = mtasts::CountSeverity(findings, Severity::kInfo);
  std::vector<std::string> parts;
  if (errors > 0) {
    parts.push_back(Plural(errors, "error"));
  }
  if (warnings > 0) {
    parts.push_back(Plural(warnings, "warning"));
  }
  if (infos > 0) {
    parts.push_back(std::to_string(infos) + " info");
  }
  if (parts.empty()) {
    return "no findings";
  }
  std::string out = parts.front();
  for (std::size_t i = 1; i < parts.size(); ++i) {
    out += ", " + parts[i];
  }
  return out;
}

}  // namespace stswatch::cli
