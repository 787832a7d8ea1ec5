#include "mtasts/finding.h"

#include <algorithm>
#include <utility>

namespace stswatch::mtasts {

std::string_view SeverityName(Severity severity) {
  switch (severity) {
    case Severity::kInfo:
      return "info";
    case Severity::kWarning:
      return "warning";
    case Severity::kError:
      return "error";
  }
  return "error";
}

Finding MakeFinding(const FindingCode& code, std::string message, int line, std::string host) {
  return MakeFinding(code, code.severity, std::move(message), line, std::move(host));
}

Finding MakeFinding(const FindingCode& code, Severity severity, std::string message, int line,
                    std::string host) {
  Finding finding;
  finding.code = std::string(code.id);
  finding.severity = severity;
  finding.rfc = std::string(code.rfc);
  finding.message = std::move(message);
  finding.host = std::move(host);
  finding.line = line;
  return finding;
}

bool HasError(const std::vector<Finding>& findings) {
  return CountSeverity(findings, Severity::kError) > 0;
}

int CountSeverity(const std::vector<Finding>& findings, Severity severity) {
  return static_cast<int>(
      std::count_if(findings.begin(), findings.end(),
                    [severity](const Finding& f) { return f.severity == severity; }));
}

}  // namespace stswatch::mtasts
