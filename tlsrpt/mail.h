#pragma once

// TLS reports delivered by e-mail (RFC 8460 §5.3): a `multipart/report; report-type=tlsrpt`
// message whose report part is `application/tlsrpt+gzip` (gzip of the JSON report, usually
// base64) or `application/tlsrpt+json`, with `TLS-Report-Domain` and `TLS-Report-Submitter`
// header fields and the subject `Report Domain: <domain> Submitter: <submitter> Report-ID: <id>`.
//
// Pure functions of their input (no I/O). This layer finds and unpacks the report; it does not
// parse the JSON (see tlsrpt/report.h) and does not check the DKIM signature (tlsrpt/dkim.h).
// Bounded work on hostile input: the message size, the MIME nesting depth, the number of parts
// and the decompressed size are all limited.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace stswatch::tlsrpt {

struct MailOptions {
  // Larger messages are refused before they are parsed.
  std::size_t max_message_bytes = std::size_t{20} << 20;
  // The report JSON (after gzip decompression) may not exceed this: a gzip bomb is refused as
  // soon as its output passes the limit, without inflating the rest.
  std::size_t max_report_bytes = std::size_t{10} << 20;
};

struct ReportMail {
  // The report's JSON bytes, decompressed when the part was gzip.
  std::string json;
  // The report part's media type, lower case, without parameters ("application/tlsrpt+gzip").
  std::string content_type;
  // Whether the report part was gzip-compressed (by its type or, for a mislabelled or
  // non-standard type, by its magic number).
  bool gzip = false;
  // The report part's file name (Content-Disposition filename or Content-Type name), if any.
  std::string filename;
  // Top-level header fields, unfolded and trimmed; empty when absent.
  std::string report_domain;     // TLS-Report-Domain
  std::string report_submitter;  // TLS-Report-Submitter
  std::string subject;           // RFC 2047 encoded-words decoded to UTF-8.
  std::string from;
  std::string message_id;
  std::string date;
  // The message's header block as received (up to, not including, the empty line).
  std::string raw_headers;
  // Deviations tolerated on the way, one sentence each (a non-standard media type, a missing
  // closing boundary, trailing bytes after the gzip stream, ...).
  std::vector<std::string> warnings;
};

// Parses an RFC 5322 message (CRLF or LF line ends) and returns its TLS report. Errors are
// InvalidArgument with a sentence saying what is wrong: the message is not a multipart/report,
// its report-type is not tlsrpt (naming what it is), no report part, bad base64 or
// quoted-printable, corrupt or truncated gzip, or a size limit exceeded.
absl::StatusOr<ReportMail> ParseReportMail(std::string_view message,
                                           const MailOptions& options = {});

// Decompresses gzip data (RFC 1952, several members allowed) of at most `limit` bytes out: past
// the limit it stops and refuses with ResourceExhausted (a gzip bomb). Truncated or corrupt data
// is InvalidArgument with a sentence; data after the stream is a warning appended to `warnings`.
absl::StatusOr<std::string> Gunzip(std::string_view data, std::size_t limit,
                                   std::vector<std::string>& warnings);

// Whether `data` starts with gzip's magic number.
bool IsGzip(std::string_view data);

// Compares the e-mail's header fields and subject with values taken from the report's JSON body
// (the policy domain, the report-id and the organization-name; an empty argument skips its
// checks) and returns the disagreements, one sentence each, e.g. "TLS-Report-Domain is
// example.net but the report is for example.com". Domains compare case-insensitively without a
// trailing dot. The Subject's Report-ID is compared by its letters and digits only, without
// angle brackets and without an "@submitter" suffix, because large senders write the same id
// with different punctuation in the subject and in the JSON.
std::vector<std::string> CheckReportHeaders(const ReportMail& mail, std::string_view report_domain,
                                            std::string_view report_id,
                                            std::string_view organization);

// RFC 2047 decoding of an unstructured header field's value: B and Q encoded-words in UTF-8,
// US-ASCII or ISO-8859-1 become UTF-8; whitespace between adjacent encoded-words is dropped.
// Words in other charsets are left as they are. Exposed for tests.
std::string DecodeEncodedWords(std::string_view value);

}  // namespace stswatch::tlsrpt
