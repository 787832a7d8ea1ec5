#include "mtasts/finding_codes.h"

namespace stswatch::mtasts {
namespace {

#define STSWATCH_FINDING_CODE_ADDRESS(name, id, severity, rfc, summary) &(name),
constexpr const FindingCode* kAllCodes[] = {STSWATCH_FINDING_CODES(STSWATCH_FINDING_CODE_ADDRESS)};
#undef STSWATCH_FINDING_CODE_ADDRESS

}  // namespace

std::span<const FindingCode* const> AllFindingCodes() { return kAllCodes; }

}  // namespace stswatch::mtasts
