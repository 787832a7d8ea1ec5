// Fuzzes the TLS-RPT report parser (reports arrive by mail from anyone): it never crashes, a
// refusal always says why, and what it accepts survives a round trip through ReportToJson.

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "tlsrpt/report.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto report = stswatch::tlsrpt::ParseReport(text);
  if (!report.ok()) {
    if (report.status().message().empty()) {
      std::abort();  // A refusal always says why.
    }
    return 0;
  }
  for (const std::string& warning : report->warnings) {
    if (warning.empty()) {
      std::abort();
    }
  }
  const std::string json = stswatch::tlsrpt::ReportToJson(*report);
  const auto again = stswatch::tlsrpt::ParseReport(json);
  if (!again.ok() || !(*again == *report)) {
    std::abort();
  }
  // What the writer writes reads back to the same text.
  if (stswatch::tlsrpt::ReportToJson(*again) != json) {
    std::abort();
  }
  return 0;
}
