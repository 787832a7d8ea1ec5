#pragma once

// The `_smtp._tls.<domain>` TXT record set of SMTP TLS Reporting (RFC 8460 §3).
//
// Records that do not begin with "v=TLSRPTv1" are discarded; exactly one must remain:
//
//   tlsrpt-record = tlsrpt-version 1*(field-delim tlsrpt-field) [field-delim]
//   tlsrpt-rua    = %s"rua=" tlsrpt-uri *(*WSP "," *WSP tlsrpt-uri)
//
// Each rua URI is an RFC 3986 URI with the scheme mailto: (an address to send reports to) or
// https: (an endpoint to POST reports to); commas, "!" and ";" inside a URI must be
// percent-encoded. Extension fields are ignored.
//
// Pure function of its input: no I/O, safe on hostile bytes.

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "mtasts/finding.h"

namespace stswatch::mtasts {

inline constexpr std::string_view kTlsRptVersion = "v=TLSRPTv1";

struct TlsRptRecord {
  // The rua URIs in record order, as written.
  std::vector<std::string> rua;
};

struct TlsRptRecordResult {
  // Set when exactly one v=TLSRPTv1 record remained and it is valid.
  std::optional<TlsRptRecord> record;
  std::vector<Finding> findings;

  bool valid() const { return record.has_value(); }
};

// Diagnoses the TXT records found at one `_smtp._tls` name; each element is one record with its
// character-strings concatenated.
TlsRptRecordResult ParseTlsRptRecordSet(std::span<const std::string> records);

// Validates one rua URI. Returns no findings when it is a usable mailto: or https: URI.
std::vector<Finding> CheckRuaUri(std::string_view uri);

}  // namespace stswatch::mtasts
