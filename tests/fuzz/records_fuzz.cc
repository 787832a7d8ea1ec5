// Fuzzes both TXT record parsers (`_mta-sts` and `_smtp._tls`). The input is split on NUL bytes
// into a record set, so the fuzzer explores the discard and multiple-record rules too.

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "mtasts/sts_record.h"
#include "mtasts/tlsrpt_record.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> records;
  std::size_t start = 0;
  while (records.size() < 16) {
    const std::size_t nul = input.find('\0', start);
    records.emplace_back(input.substr(start, nul == std::string_view::npos ? nul : nul - start));
    if (nul == std::string_view::npos) {
      break;
    }
    start = nul + 1;
  }
  const auto sts = stswatch::mtasts::ParseStsRecordSet(records);
  if (sts.valid() == stswatch::mtasts::HasError(sts.findings) ||
      (sts.record && (sts.record->id.empty() || sts.record->id.size() > 32))) {
    std::abort();
  }
  const auto tlsrpt = stswatch::mtasts::ParseTlsRptRecordSet(records);
  if (tlsrpt.valid() == stswatch::mtasts::HasError(tlsrpt.findings) ||
      (tlsrpt.record && tlsrpt.record->rua.empty())) {
    std::abort();
  }
  return 0;
}
