#pragma once

// DKIM verification (RFC 6376) of report e-mails: RFC 8460 §3 requires TLS reports sent by
// e-mail to be DKIM-signed. Algorithms rsa-sha256 (RFC 8301: rsa-sha1 and RSA keys under 1024
// bits are refused) and ed25519-sha256 (RFC 8463); canonicalizations simple and relaxed for
// header and body. A body length limit (l=) is honoured: only the signed prefix is hashed, and
// the result says so (`body_length_limited`), because anything appended after it is unsigned.
//
// The crypto is OpenSSL's; the public keys come from a DkimKeySource (DNS in production, a map
// in tests).

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "prober/dns_resolver.h"

namespace stswatch::tlsrpt {

// Looks up the TXT records of a DKIM key name ("<selector>._domainkey.<domain>").
//
// `done` is called exactly once, either inside Lookup or later; the caller must keep the source
// alive until then. Answers: the TXT records (each one's character-strings joined); NotFound
// when the name has no TXT record (NXDOMAIN or no data), which RFC 6376 §6.1.2 treats as a
// permanent failure; any other error (Unavailable, DeadlineExceeded, ...) is a temporary DNS
// failure.
class DkimKeySource {
 public:
  using Callback = std::function<void(absl::StatusOr<std::vector<std::string>> txt_records)>;
  virtual ~DkimKeySource() = default;
  virtual void Lookup(std::string name, Callback done) = 0;
};

// Key lookups over the prober's DNS seam. Threading and lifetime are the resolver's: use it on
// the resolver's thread; the callback never runs after the resolver is destroyed.
class DnsDkimKeySource : public DkimKeySource {
 public:
  explicit DnsDkimKeySource(prober::DnsResolver& resolver) : resolver_(resolver) {}
  void Lookup(std::string name, Callback done) override;

 private:
  prober::DnsResolver& resolver_;
};

// Fixed answers, given synchronously (inside Lookup). Names compare case-insensitively; an
// unknown name is NotFound.
class StaticDkimKeySource : public DkimKeySource {
 public:
  void Add(const std::string& name, const std::string& txt_record);
  // Makes lookups of `name` fail with `status` (a DNS failure when it is not NotFound).
  void Fail(const std::string& name, const absl::Status& status);
  void Lookup(std::string name, Callback done) override;
  // The names looked up so far, in order.
  const std::vector<std::string>& Lookups() const { return lookups_; }

 private:
  std::map<std::string, absl::StatusOr<std::vector<std::string>>> answers_;
  std::vector<std::string> lookups_;
};

enum class DkimStatus {
  kPass,
  kFail,       // The signature or the body hash does not verify, or the signature expired.
  kNone,       // No DKIM-Signature header field.
  kTempError,  // The key could not be fetched now (DNS failure): try again later.
  kPermError,  // Malformed signature or key record, unsupported algorithm, no key, revoked key.
};

std::string_view DkimStatusName(DkimStatus status);  // "pass", "fail", ... (RFC 8601 words).

struct DkimSignatureResult {
  DkimStatus status = DkimStatus::kPermError;
  std::string domain;     // d=, lower case.
  std::string selector;   // s=
  std::string algorithm;  // a=
  std::string reason;     // One sentence: why it passed or failed.
  // l= was present: only the first `body_length` bytes of the canonicalized body are signed.
  bool body_length_limited = false;
  std::uint64_t body_length = 0;
  bool testing = false;  // The key record has t=y (the signer is testing DKIM).
  // d= is the same domain as, or a parent or subdomain of, the TLS-Report-Submitter's domain
  // or the From address's domain. Facts for the caller's policy, not part of the verdict.
  bool aligned_with_submitter = false;
  bool aligned_with_from = false;
};

struct DkimResult {
  // kPass if any signature passes; otherwise kTempError if any signature could not be checked
  // for a DNS failure, else kFail, else kPermError; kNone without signatures.
  DkimStatus status = DkimStatus::kNone;
  // The signature that decided `status` (the first one with that status).
  std::string domain;
  std::string selector;
  std::string reason;
  bool aligned_with_submitter = false;
  bool aligned_with_from = false;
  // Every signature, in header order (at most DkimOptions::max_signatures).
  std::vector<DkimSignatureResult> signatures;
};

struct DkimOptions {
  // The time against which x= (expiry) is checked; absl::Now() when unset.
  std::optional<absl::Time> now;
  // Signatures beyond this many are ignored (each costs a key lookup).
  int max_signatures = 8;
  std::size_t max_message_bytes = std::size_t{20} << 20;
};

// Verifies the DKIM signatures of `message` (RFC 5322, CRLF or LF line ends: LF is taken as
// CRLF, as the message was on the wire). The message is copied, so it need not outlive the
// call. Key lookups run one after the other through `keys`, which must stay alive until `done`
// runs. `done` is called exactly once: inside this call when every lookup answers synchronously
// (or there is no signature), otherwise from the last lookup's callback.
void VerifyDkim(std::string_view message, DkimKeySource& keys, std::function<void(DkimResult)> done,
                const DkimOptions& options = {});

}  // namespace stswatch::tlsrpt
