#pragma once

// Findings: every diagnosis stswatch makes, from a lint of a policy file to a probe of an MX host,
// is a Finding with a stable code, a severity, the RFC section it rests on and a sentence a person
// can act on. The codes are declared once, in finding_codes.h, and documented in FINDINGS.md.

#include <string>
#include <string_view>
#include <vector>

namespace stswatch::mtasts {

enum class Severity {
  kInfo,
  kWarning,
  kError,
};

// "info", "warning" or "error": the spelling used in JSON output and documentation.
std::string_view SeverityName(Severity severity);

// A finding code of the catalogue: identifier, default severity, RFC section, one-line summary.
// Instances live for the whole program (they are constants in finding_codes.h).
struct FindingCode {
  std::string_view id;
  Severity severity;
  std::string_view rfc;
  std::string_view summary;
};

struct Finding {
  std::string code;
  Severity severity = Severity::kError;
  std::string rfc;
  // A complete sentence: what is wrong, and what to do about it.
  std::string message;
  // The host the finding concerns (an MX host, a policy host); empty when none.
  std::string host;
  // 1-based line of the policy file the finding concerns; 0 when it concerns no line.
  int line = 0;
};

// Builds a finding from a catalogue code with the code's default severity.
Finding MakeFinding(const FindingCode& code, std::string message, int line = 0,
                    std::string host = "");

// Same, with a severity other than the code's default (e.g. an uncovered MX is an error in enforce
// mode and a warning in testing mode).
Finding MakeFinding(const FindingCode& code, Severity severity, std::string message, int line = 0,
                    std::string host = "");

// True when any finding has severity kError.
bool HasError(const std::vector<Finding>& findings);

// Counts the findings of one severity.
int CountSeverity(const std::vector<Finding>& findings, Severity severity);

}  // namespace stswatch::mtasts
