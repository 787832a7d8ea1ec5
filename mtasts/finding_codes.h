#pragma once

// The catalogue of finding codes: the one place where every code is declared. Codes are stable
// identifiers that users grep for and alert on; never rename one, add a new one instead.
// FINDINGS.md documents each code; a test keeps the two in step.

#include <span>

#include "mtasts/finding.h"

namespace stswatch::mtasts {

// X(constant, "code", default severity, "RFC section", "summary")
#define STSWATCH_FINDING_CODES(X)                                                                 \
  /* _mta-sts TXT record, RFC 8461 §3.1 */                                                       \
  X(kStsRecordNone, "sts_record.none", kError, "RFC 8461 §3.1",                                   \
    "No TXT record at _mta-sts begins with v=STSv1: senders see no MTA-STS policy.")              \
  X(kStsRecordMultiple, "sts_record.multiple", kError, "RFC 8461 §3.1",                           \
    "More than one v=STSv1 record: senders must ignore MTA-STS for the domain.")                  \
  X(kStsRecordDiscarded, "sts_record.discarded", kInfo, "RFC 8461 §3.1",                          \
    "A TXT record that does not begin with v=STSv1 was ignored.")                                 \
  X(kStsRecordVersionNearMiss, "sts_record.version_near_miss", kWarning, "RFC 8461 §3.1",         \
    "A record looks meant as v=STSv1 but is spelt differently, so senders ignore it.")            \
  X(kStsRecordSyntax, "sts_record.syntax", kError, "RFC 8461 §3.1",                               \
    "The v=STSv1 record does not follow the record grammar.")                                     \
  X(kStsRecordIdMissing, "sts_record.id_missing", kError, "RFC 8461 §3.1",                        \
    "The record has no id field.")                                                                \
  X(kStsRecordIdInvalid, "sts_record.id_invalid", kError, "RFC 8461 §3.1",                        \
    "The id is not 1 to 32 letters and digits.")                                                  \
  X(kStsRecordIdDuplicate, "sts_record.id_duplicate", kWarning, "RFC 8461 §3.1",                  \
    "The record has more than one id field; senders may use either.")                             \
  X(kStsRecordExtension, "sts_record.extension", kInfo, "RFC 8461 §3.1",                          \
    "The record carries an extension field that senders ignore.")                                 \
  /* _smtp._tls TXT record, RFC 8460 §3 */                                                       \
  X(kTlsRptRecordNone, "tlsrpt_record.none", kError, "RFC 8460 §3",                               \
    "No TXT record at _smtp._tls begins with v=TLSRPTv1: no TLS reports are sent.")               \
  X(kTlsRptRecordMultiple, "tlsrpt_record.multiple", kError, "RFC 8460 §3",                       \
    "More than one v=TLSRPTv1 record: senders must ignore TLS reporting for the domain.")         \
  X(kTlsRptRecordDiscarded, "tlsrpt_record.discarded", kInfo, "RFC 8460 §3",                      \
    "A TXT record that does not begin with v=TLSRPTv1 was ignored.")                              \
  X(kTlsRptRecordVersionNearMiss, "tlsrpt_record.version_near_miss", kWarning, "RFC 8460 §3",     \
    "A record looks meant as v=TLSRPTv1 but is spelt differently, so senders ignore it.")         \
  X(kTlsRptRecordSyntax, "tlsrpt_record.syntax", kError, "RFC 8460 §3",                           \
    "The v=TLSRPTv1 record does not follow the record grammar.")                                  \
  X(kTlsRptRecordRuaMissing, "tlsrpt_record.rua_missing", kError, "RFC 8460 §3",                  \
    "The record has no rua field, so senders do not know where to report.")                       \
  X(kTlsRptRecordRuaDuplicate, "tlsrpt_record.rua_duplicate", kWarning, "RFC 8460 §3",            \
    "The record has more than one rua field; some senders read only the first.")                  \
  X(kTlsRptRecordRuaInvalidUri, "tlsrpt_record.rua_invalid_uri", kError, "RFC 8460 §3",           \
    "A rua entry is not a valid URI.")                                                            \
  X(kTlsRptRecordRuaScheme, "tlsrpt_record.rua_unsupported_scheme", kError, "RFC 8460 §3",        \
    "A rua URI uses a scheme other than mailto: or https:.")                                      \
  X(kTlsRptRecordRuaMailto, "tlsrpt_record.rua_mailto_invalid", kError, "RFC 8460 §3",            \
    "A mailto: rua URI has no valid e-mail address.")                                             \
  X(kTlsRptRecordRuaHttps, "tlsrpt_record.rua_https_invalid", kError, "RFC 8460 §3",              \
    "An https: rua URI has no valid host.")                                                       \
  X(kTlsRptRecordExtension, "tlsrpt_record.extension", kInfo, "RFC 8460 §3",                      \
    "The record carries an extension field that senders ignore.")                                 \
  /* Policy file, RFC 8461 §3.2 */                                                               \
  X(kPolicyEmpty, "policy.empty", kError, "RFC 8461 §3.2", "The policy file is empty.")           \
  X(kPolicyTooLarge, "policy.too_large", kError, "RFC 8461 §3.3",                                 \
    "The policy file is larger than 64 KiB; senders stop reading it.")                            \
  X(kPolicyNotText, "policy.not_text", kError, "RFC 8461 §3.2",                                   \
    "The policy file is not UTF-8 text (invalid UTF-8, NUL or other control bytes).")             \
  X(kPolicySyntax, "policy.syntax", kError, "RFC 8461 §3.2",                                      \
    "A line of the policy file is not a key: value pair.")                                        \
  X(kPolicyBlankLine, "policy.blank_line", kError, "RFC 8461 §3.2",                               \
    "The policy file has an empty line, which its grammar does not allow.")                       \
  X(kPolicyLfLineEndings, "policy.lf_line_endings", kWarning, "RFC 8461 §3.2 (erratum 6253)",     \
    "Lines end in LF only; the RFC as published requires CRLF and some senders still do.")        \
  X(kPolicyVersionMissing, "policy.version_missing", kError, "RFC 8461 §3.2",                     \
    "The policy has no version field.")                                                           \
  X(kPolicyVersionInvalid, "policy.version_invalid", kError, "RFC 8461 §3.2",                     \
    "The version is not STSv1.")                                                                  \
  X(kPolicyModeMissing, "policy.mode_missing", kError, "RFC 8461 §3.2",                           \
    "The policy has no mode field.")                                                              \
  X(kPolicyModeInvalid, "policy.mode_invalid", kError, "RFC 8461 §3.2",                           \
    "The mode is not enforce, testing or none.")                                                  \
  X(kPolicyModeTesting, "policy.mode_testing", kInfo, "RFC 8461 §5",                              \
    "Testing mode: senders report failures but still deliver.")                                   \
  X(kPolicyModeNone, "policy.mode_none", kInfo, "RFC 8461 §5",                                    \
    "Mode none: senders treat the domain as having no active policy.")                            \
  X(kPolicyMaxAgeMissing, "policy.max_age_missing", kError, "RFC 8461 §3.2",                      \
    "The policy has no max_age field.")                                                           \
  X(kPolicyMaxAgeInvalid, "policy.max_age_invalid", kError, "RFC 8461 §3.2",                      \
    "The max_age is not a plain number of seconds (1 to 10 digits).")                             \
  X(kPolicyMaxAgeOutOfRange, "policy.max_age_out_of_range", kError, "RFC 8461 §3.2",              \
    "The max_age is larger than 31557600 seconds (one year).")                                    \
  X(kPolicyMaxAgeShort, "policy.max_age_short", kWarning, "RFC 8461 §3.2",                        \
    "The max_age is under one day, so the policy protects little against downgrade attacks.")     \
  X(kPolicyMaxAgeShortEnforce, "policy.max_age_short_enforce", kWarning, "RFC 8461 §3.2",         \
    "Enforce mode with a max_age under 30 days; the rollout guide advises 2592000 or more.")      \
  X(kPolicyMxMissing, "policy.mx_missing", kError, "RFC 8461 §3.2",                               \
    "The policy has no mx field although its mode is not none.")                                  \
  X(kPolicyMxInvalid, "policy.mx_invalid", kError, "RFC 8461 §3.2",                               \
    "An mx value is not a host name or a *. wildcard pattern.")                                   \
  X(kPolicyMxTrailingDot, "policy.mx_trailing_dot", kWarning, "RFC 8461 §3.2",                    \
    "An mx pattern ends with a dot; senders disagree on whether it matches.")                     \
  X(kPolicyMxIpAddress, "policy.mx_ip_address", kWarning, "RFC 8461 §4.1",                        \
    "An mx pattern is an IP address; MX records name hosts, so it never matches.")                \
  X(kPolicyMxDuplicate, "policy.mx_duplicate", kInfo, "RFC 8461 §3.2",                            \
    "The same mx pattern appears more than once.")                                                \
  X(kPolicyDuplicateKey, "policy.duplicate_key", kWarning, "RFC 8461 §3.2",                       \
    "A key other than mx appears more than once; senders use the first.")                         \
  X(kPolicyUnknownKey, "policy.unknown_key", kInfo, "RFC 8461 §3.2",                              \
    "The policy has a key senders do not know; they ignore it.")                                  \
  X(kPolicyKeyTypo, "policy.key_typo", kWarning, "RFC 8461 §3.2",                                 \
    "An unknown key looks like a misspelt known key; senders ignore it.")                         \
  /* MX coverage, RFC 8461 §4.1 */                                                               \
  X(kMxNotCovered, "mx.not_covered", kError, "RFC 8461 §4.1",                                     \
    "An MX host matches no mx pattern of the policy: enforcing senders refuse to deliver to it.") \
  X(kDomainNoMtaSts, "domain.no_mta_sts", kInfo, "RFC 8461 §3.1",                                 \
    "The domain publishes no MTA-STS record.")                                                    \
  X(kDomainNoTlsRpt, "domain.no_tlsrpt", kWarning, "RFC 8460 §3",                                 \
    "The domain publishes no TLS-RPT record, so nobody hears about delivery failures.")           \
  X(kDomainNoMx, "domain.no_mx", kWarning, "RFC 5321 §5.1", "The domain has no MX records.")      \
  X(kDnsLookupFailed, "dns.lookup_failed", kError, "RFC 8461 §5",                                 \
    "A DNS lookup failed (server failure or timeout), so senders cannot discover the policy.")    \
  X(kFetchNoHost, "policy.fetch.no_host", kError, "RFC 8461 §3.3",                                \
    "The policy host mta-sts.<domain> does not resolve.")                                         \
  X(kFetchAddressRefused, "policy.fetch.address_refused", kError, "RFC 8461 §3.3",                \
    "The policy host resolves to a private or special address, which is not fetched.")            \
  X(kFetchConnectFailed, "policy.fetch.connect_failed", kError, "RFC 8461 §3.3",                  \
    "The policy host does not accept connections on port 443.")                                   \
  X(kFetchTlsFailed, "policy.fetch.tls_failed", kError, "RFC 8461 §3.3",                          \
    "The TLS handshake with the policy host failed.")                                             \
  X(kFetchCertificateInvalid, "policy.fetch.certificate_invalid", kError, "RFC 8461 §3.3",        \
    "The policy host's certificate does not validate (sts-webpki-invalid).")                      \
  X(kFetchHttpStatus, "policy.fetch.http_status", kError, "RFC 8461 §3.3",                        \
    "The policy URL answered with a status other than 200.")                                      \
  X(kFetchRedirect, "policy.fetch.redirect", kError, "RFC 8461 §3.3",                             \
    "The policy URL redirects; senders must not follow redirects.")                               \
  X(kFetchTooLarge, "policy.fetch.too_large", kError, "RFC 8461 §3.3",                            \
    "The policy is larger than 64 KiB.")                                                          \
  X(kFetchTimeout, "policy.fetch.timeout", kError, "RFC 8461 §3.3",                               \
    "The policy host did not deliver the policy before the deadline.")                            \
  X(kFetchMalformed, "policy.fetch.malformed", kError, "RFC 8461 §3.3",                           \
    "The policy host's answer is not a valid HTTP/1.1 response.")                                 \
  X(kFetchContentType, "policy.fetch.content_type", kError, "RFC 8461 §3.2",                      \
    "The policy is not served as text/plain; senders may refuse it.")                             \
  X(kPolicyCertExpiring, "policy.cert.expiring", kWarning, "RFC 8461 §3.3",                       \
    "The policy host's certificate expires within 14 days.")                                      \
  X(kMxUnresolvable, "mx.unresolvable", kError, "RFC 5321 §5.1",                                  \
    "An MX host name does not resolve to an address.")                                            \
  X(kMxAddressRefused, "mx.address_refused", kError, "RFC 8461 §4",                               \
    "An MX host resolves to a private or special address, which is not probed.")                  \
  X(kMxConnectFailed, "mx.connect_failed", kError, "RFC 5321 §5.1",                               \
    "An MX host does not accept connections on port 25.")                                         \
  X(kMxTimeout, "mx.timeout", kError, "RFC 5321 §4.5.3.2", "An MX host did not answer in time.")  \
  X(kMxSmtpFailed, "mx.smtp_failed", kError, "RFC 5321 §4.2",                                     \
    "An MX host's SMTP dialogue failed before STARTTLS (banner or EHLO).")                        \
  X(kMxStartTlsNotOffered, "mx.starttls_not_offered", kError, "RFC 8461 §4.2",                    \
    "An MX host does not offer STARTTLS (starttls-not-supported).")                               \
  X(kMxStartTlsRefused, "mx.starttls_refused", kError, "RFC 3207 §4",                             \
    "An MX host offers STARTTLS but refuses it when asked (starttls-not-supported).")             \
  X(kMxTlsHandshakeFailed, "mx.tls_handshake_failed", kError, "RFC 8461 §4.2",                    \
    "The TLS handshake with an MX host failed (validation-failure).")                             \
  X(kMxCertExpired, "mx.cert.expired", kError, "RFC 8461 §4.1",                                   \
    "An MX host's certificate has expired (certificate-expired).")                                \
  X(kMxCertNotYetValid, "mx.cert.not_yet_valid", kError, "RFC 8461 §4.1",                         \
    "An MX host's certificate is not valid yet (validation-failure).")                            \
  X(kMxCertUntrusted, "mx.cert.untrusted", kError, "RFC 8461 §4.1",                               \
    "An MX host's certificate does not chain to a trusted root (certificate-not-trusted).")       \
  X(kMxCertNameMismatch, "mx.cert.name_mismatch", kError, "RFC 8461 §4.1",                        \
    "An MX host's certificate does not name the host (certificate-host-mismatch).")               \
  X(kMxCertExpiring, "mx.cert.expiring", kWarning, "RFC 8461 §4.1",                               \
    "An MX host's certificate expires within 14 days.")                                           \
  X(kMxCname, "mx.cname", kWarning, "RFC 2181 §10.3",                                             \
    "An MX record points at an alias (CNAME); some senders refuse such MX hosts.")                \
  X(kMxPlaintextInjection, "mx.plaintext_injection", kWarning, "RFC 3207 §4",                     \
    "An MX host sent data after agreeing to STARTTLS and before the handshake.")

#define STSWATCH_DECLARE_FINDING_CODE(name, id, severity, rfc, summary) \
  inline constexpr FindingCode name{id, Severity::severity, rfc, summary};
STSWATCH_FINDING_CODES(STSWATCH_DECLARE_FINDING_CODE)
#undef STSWATCH_DECLARE_FINDING_CODE

// Every code of the catalogue, in declaration order.
std::span<const FindingCode* const> AllFindingCodes();

}  // namespace stswatch::mtasts
