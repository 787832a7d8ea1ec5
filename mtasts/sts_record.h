#pragma once

// The `_mta-sts.<domain>` TXT record set (RFC 8461 §3.1).
//
// Records that do not begin with "v=STSv1" are discarded; exactly one must remain, and it must
// follow the grammar:
//
//   sts-text-record = sts-version 1*(sts-field-delim sts-field) [sts-field-delim]
//   sts-version     = %s"v=STSv1"
//   sts-id          = %s"id=" 1*32(ALPHA / DIGIT)
//   sts-extension   = sts-ext-name "=" sts-ext-value
//
// Pure function of its input: no I/O, no allocation beyond the result, safe on hostile bytes.

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "mtasts/finding.h"

namespace stswatch::mtasts {

inline constexpr std::string_view kStsVersion = "v=STSv1";

struct StsRecord {
  std::string id;
  // Extension fields in record order (name, value); senders ignore them.
  std::vector<std::pair<std::string, std::string>> extensions;
};

struct StsRecordResult {
  // Set when exactly one v=STSv1 record remained and it is valid.
  std::optional<StsRecord> record;
  std::vector<Finding> findings;

  bool valid() const { return record.has_value(); }
};

// Diagnoses the TXT records found at one `_mta-sts` name. Each element is one record with its
// character-strings already concatenated (RFC 7208 §3.3 style, as resolvers return them).
StsRecordResult ParseStsRecordSet(std::span<const std::string> records);

}  // namespace stswatch::mtasts
