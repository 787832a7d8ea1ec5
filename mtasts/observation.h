#pragma once

// What a sending MTA observes about one domain: DNS answers, the policy fetch, the SMTP dialogue
// with every MX address. The prober fills these in; the verdict rules (verdict.h) judge them.
// Plain data, no I/O: tests and fuzzers build observations by hand.

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace stswatch::mtasts {

// How a DNS lookup ended.
enum class DnsOutcome {
  kOk,
  kNoData,    // The name exists but has no record of the type.
  kNxDomain,  // The name does not exist.
  kError,     // SERVFAIL, REFUSED, timeout, malformed answer: the sender cannot know.
};

struct TxtLookup {
  DnsOutcome outcome = DnsOutcome::kNoData;
  // One entry per TXT record, its character-strings joined (RFC 8461 §3.1).
  std::vector<std::string> records;
  std::string error;  // Set for kError.
};

// The leaf certificate a server presented, and what validating it found.
struct CertificateInfo {
  // dNSName subjectAltNames (the subject CN when there are none).
  std::vector<std::string> names;
  std::string subject;
  std::string issuer;
  std::chrono::system_clock::time_point not_before;
  std::chrono::system_clock::time_point not_after;
  std::string sha256;  // Hex fingerprint of the DER leaf.
  // Subjects of the certificates the server sent, leaf first (an incomplete chain shows here).
  std::vector<std::string> chain;
  // True when the chain leads to a trusted root and every certificate is within its validity.
  bool chain_valid = false;
  // OpenSSL's X509_V_ERR_* and its text when the chain does not validate.
  int chain_error_code = 0;
  std::string chain_error;
  // True when a name matches the host name asked for (RFC 6125, wildcard in the left-most label).
  bool name_match = false;
};

enum class FetchOutcome {
  kOk,                  // 200 with a body (not yet parsed).
  kNoPolicyHost,        // mta-sts.<domain> has no address.
  kAddressRefused,      // Its address is private, loopback, ... and such targets are not allowed.
  kConnectFailed,       // TCP failed.
  kTlsFailed,           // The TLS handshake failed for a reason other than the certificate.
  kCertificateInvalid,  // The certificate does not validate for the policy host.
  kHttpStatus,          // A status other than 200 (and not a redirect).
  kRedirect,            // 3xx: RFC 8461 §3.3 forbids following it.
  kTooLarge,            // The body is larger than the limit.
  kTimeout,             // The deadline passed.
  kMalformed,           // Not a valid HTTP/1.1 response.
};

struct PolicyFetch {
  FetchOutcome outcome = FetchOutcome::kOk;
  std::string detail;  // What happened, for people.
  std::string address;
  int http_status = 0;
  std::optional<std::string> content_type;
  std::string location;  // For redirects.
  std::string body;
  std::optional<CertificateInfo> cert;
};

// Where an SMTP dialogue stopped.
enum class SmtpStage {
  kDone,  // Banner, EHLO, STARTTLS, handshake, EHLO again and QUIT all went through.
  kConnect,
  kBanner,
  kEhlo,
  kStartTls,  // STARTTLS not offered, or refused.
  kHandshake,
  kEhloAfterTls,
};

struct SmtpProbe {
  std::string address;
  bool refused_by_filter = false;
  SmtpStage failed_stage = SmtpStage::kDone;
  bool timed_out = false;
  std::string error;  // What happened, for people; empty when the dialogue completed.
  bool starttls_offered = false;
  int starttls_reply = 0;  // The reply code to STARTTLS, 0 when not sent.
  bool tls_established = false;
  std::string tls_version;  // "TLSv1.3"
  std::string cipher;
  std::optional<CertificateInfo> cert;
  // Bytes arrived after "220 Ready to start TLS" and before the handshake (RFC 3207 §4: the
  // client discards them); a sign of a broken or hostile server.
  bool plaintext_injection = false;
  // When the handshake with modern settings failed: the versions a second, permissive attempt
  // could negotiate (e.g. "TLSv1"), for the diagnosis only.
  std::string legacy_tls_version;
};

struct MxObservation {
  std::string host;  // As in the MX record, without the trailing dot.
  int priority = 0;
  // Set when the MX host name is an alias (CNAME) of this name.
  std::string cname_target;
  DnsOutcome resolve_outcome = DnsOutcome::kOk;
  std::string resolve_error;
  std::vector<std::string> addresses;
  std::vector<SmtpProbe> probes;  // One per address probed.
};

struct DomainObservation {
  std::string domain;
  TxtLookup sts;     // _mta-sts.<domain>
  TxtLookup tlsrpt;  // _smtp._tls.<domain>
  DnsOutcome mx_outcome = DnsOutcome::kOk;
  std::string mx_error;
  std::vector<MxObservation> mx;  // Sorted by priority.
  // Fetched when _mta-sts has any record (even an invalid one, for the diagnosis).
  std::optional<PolicyFetch> policy;
};

}  // namespace stswatch::mtasts
