#include "mtasts/verdict.h"

#include <algorithm>

#include "mtasts/finding_codes.h"
#include "mtasts/hostname.h"
#include "mtasts/mx_pattern.h"
#include "mtasts/text.h"

namespace stswatch::mtasts {
namespace {

// OpenSSL's X509_V_ERR_* codes the rules distinguish (kept here: the core does not include
// OpenSSL).
constexpr int kX509CertNotYetValid = 9;
constexpr int kX509CertHasExpired = 10;

std::string Days(std::chrono::system_clock::duration d) {
  const auto days = std::chrono::duration_cast<std::chrono::hours>(d).count() / 24;
  return std::to_string(days) + (days == 1 ? " day" : " days");
}

// How much the MX findings of a domain weigh: what a sender does with them depends on the mode.
Severity MxSeverity(const std::optional<Policy>& policy, bool has_record) {
  if (!has_record) {
    return Severity::kInfo;
  }
  if (!policy) {
    return Severity::kWarning;  // The protection is lost; these will matter once it is back.
  }
  switch (policy->mode) {
    case PolicyMode::kEnforce:
      return Severity::kError;
    case PolicyMode::kTesting:
      return Severity::kWarning;
    case PolicyMode::kNone:
      return Severity::kInfo;
  }
  return Severity::kError;
}

class Judgement {
 public:
  Judgement(const DomainObservation& o, std::chrono::system_clock::time_point now)
      : o_(o), now_(now) {}

  Verdict Run() {
    JudgeRecords();
    JudgePolicy();
    JudgeMx();
    Decide();
    return std::move(v_);
  }

 private:
  void Add(Finding f) { v_.findings.push_back(std::move(f)); }

  void JudgeRecords() {
    const std::string sts_name = "_mta-sts." + o_.domain;
    if (o_.sts.outcome == DnsOutcome::kError) {
      Add(MakeFinding(kDnsLookupFailed, "The TXT lookup of " + sts_name + " failed (" +
                                            o_.sts.error +
                                            "); senders cannot tell whether the domain has a "
                                            "policy. Check the domain's name servers."));
      dns_failed_ = true;
      sts_lookup_failed_ = true;
    } else if (o_.sts.records.empty()) {
      Add(MakeFinding(kDomainNoMtaSts, "The domain publishes no MTA-STS record at " + sts_name +
                                           "; senders deliver with opportunistic TLS only."));
    } else {
      has_record_ = true;
      StsRecordResult r = ParseStsRecordSet(o_.sts.records);
      for (Finding& f : r.findings) {
        Add(std::move(f));
      }
      v_.record = std::move(r.record);
    }

    const std::string tlsrpt_name = "_smtp._tls." + o_.domain;
    if (o_.tlsrpt.outcome == DnsOutcome::kError) {
      Add(MakeFinding(kDnsLookupFailed, Severity::kWarning,
                      "The TXT lookup of " + tlsrpt_name + " failed (" + o_.tlsrpt.error +
                          "); senders cannot find where to send TLS reports."));
    } else if (o_.tlsrpt.records.empty()) {
      Add(MakeFinding(kDomainNoTlsRpt,
                      "The domain publishes no TLS-RPT record at " + tlsrpt_name +
                          ", so nobody hears about failed deliveries. Publish e.g. "
                          "\"v=TLSRPTv1; rua=mailto:tlsrpt@" +
                          o_.domain + "\"."));
    } else {
      TlsRptRecordResult r = ParseTlsRptRecordSet(o_.tlsrpt.records);
      for (Finding& f : r.findings) {
        Add(std::move(f));
      }
      v_.tlsrpt = std::move(r.record);
      tlsrpt_problem_ = !v_.tlsrpt.has_value();
    }
  }

  void JudgePolicy() {
    if (!o_.policy) {
      return;
    }
    const PolicyFetch& fetch = *o_.policy;
    const std::string host = "mta-sts." + o_.domain;
    const std::string url = "https://" + host + "/.well-known/mta-sts.txt";
    const auto fail = [&](const FindingCode& code, std::string message,
                          std::string_view result_type) {
      Add(MakeFinding(code, std::move(message), 0, host));
      v_.policy_result_type = std::string(result_type);
    };
    constexpr std::string_view kFetchError = "sts-policy-fetch-error";
    switch (fetch.outcome) {
      case FetchOutcome::kOk:
        break;
      case FetchOutcome::kNoPolicyHost:
        return fail(kFetchNoHost,
                    host + " does not resolve, so senders cannot fetch the policy (" +
                        fetch.detail + "). Publish an A/AAAA record for it and serve " + url + ".",
                    kFetchError);
      case FetchOutcome::kAddressRefused:
        return fail(kFetchAddressRefused, fetch.detail, kFetchError);
      case FetchOutcome::kConnectFailed:
        return fail(kFetchConnectFailed,
                    "Connecting to " + host + " (" + fetch.address +
                        ") on port 443 failed: " + fetch.detail + ".",
                    kFetchError);
      case FetchOutcome::kTlsFailed:
        return fail(kFetchTlsFailed,
                    "The TLS handshake with " + host + " failed: " + fetch.detail + ".",
                    kFetchError);
      case FetchOutcome::kCertificateInvalid:
        return fail(kFetchCertificateInvalid,
                    "The certificate of " + host + " does not validate: " + fetch.detail +
                        ". Senders refuse a policy from a host without a valid certificate; "
                        "install one that names " +
                        host + " and chains to a public root.",
                    "sts-webpki-invalid");
      case FetchOutcome::kHttpStatus:
        return fail(kFetchHttpStatus,
                    url + " answered HTTP " + std::to_string(fetch.http_status) +
                        "; only 200 counts. Serve the policy file at that path.",
                    kFetchError);
      case FetchOutcome::kRedirect:
        return fail(kFetchRedirect,
                    url + " answered HTTP " + std::to_string(fetch.http_status) +
                        " redirecting to " + Quote(fetch.location, 120) +
                        "; senders must not follow redirects (RFC 8461 §3.3). Serve the policy "
                        "directly.",
                    kFetchError);
      case FetchOutcome::kTooLarge:
        return fail(kFetchTooLarge,
                    url + " is larger than 64 KiB (" + fetch.detail +
                        "); senders stop reading. A policy needs a few lines.",
                    kFetchError);
      case FetchOutcome::kTimeout:
        return fail(kFetchTimeout,
                    host + " did not deliver the policy in time (" + fetch.detail + ").",
                    kFetchError);
      case FetchOutcome::kMalformed:
        return fail(kFetchMalformed,
                    host + " did not answer with valid HTTP/1.1: " + fetch.detail + ".",
                    kFetchError);
    }
    if (fetch.cert && fetch.cert->not_after - now_ < kCertExpiryWarning) {
      Add(MakeFinding(kPolicyCertExpiring,
                      "The certificate of " + host + " expires in " +
                          Days(fetch.cert->not_after - now_) +
                          "; renew it before senders start refusing the policy.",
                      0, host));
    }
    // RFC 8461 §3.2: senders SHOULD check the media type; "All parameters other than
    // charset=utf-8 or charset=us-ascii are ignored".
    std::string type = fetch.content_type.value_or("");
    type = ToLowerAscii(TrimWsp(type.substr(0, type.find(';'))));
    if (type != "text/plain") {
      return fail(kFetchContentType,
                  url + " is served as " +
                      (fetch.content_type ? Quote(*fetch.content_type) : std::string("(none)")) +
                      "; serve it as text/plain, or senders may refuse it.",
                  kFetchError);
    }
    PolicyResult parsed = ParsePolicy(fetch.body);
    for (Finding& f : parsed.findings) {
      f.host = host;
      Add(std::move(f));
    }
    if (!parsed.policy) {
      v_.policy_result_type = "sts-policy-invalid";
      return;
    }
    v_.policy = std::move(parsed.policy);
  }

  // Judges one address's SMTP dialogue; returns the result type ("" for a delivery) and adds the
  // findings. `refuse` is set when an enforcing sender would not deliver over it.
  std::string JudgeProbe(const MxObservation& mx, const SmtpProbe& p, Severity severity,
                         bool& refuse) {
    const std::string where = mx.host + " (" + p.address + ")";
    const auto add = [&](const FindingCode& code, const std::string& message) {
      Add(MakeFinding(code, severity, message, 0, mx.host));
    };
    if (p.refused_by_filter) {
      refuse = true;
      add(kMxAddressRefused, "MX host " + where +
                                 " resolves to a private or special-purpose address; it was "
                                 "not probed. Senders on the Internet cannot reach it.");
      return "";
    }
    if (p.failed_stage == SmtpStage::kConnect) {
      refuse = true;
      add(p.timed_out ? kMxTimeout : kMxConnectFailed,
          "Connecting to MX host " + where + " on port 25 failed: " + p.error + ".");
      return "";
    }
    if (p.failed_stage == SmtpStage::kBanner || p.failed_stage == SmtpStage::kEhlo) {
      refuse = true;
      add(p.timed_out ? kMxTimeout : kMxSmtpFailed,
          "MX host " + where + " failed in the SMTP dialogue before STARTTLS: " + p.error + ".");
      return "";
    }
    if (p.failed_stage == SmtpStage::kStartTls) {
      refuse = true;
      if (!p.starttls_offered) {
        add(kMxStartTlsNotOffered, "MX host " + where +
                                       " does not offer STARTTLS; an enforcing sender refuses "
                                       "to deliver in plaintext. Enable TLS on it.");
      } else {
        add(p.timed_out ? kMxTimeout : kMxStartTlsRefused,
            "MX host " + where + " advertises STARTTLS but " + p.error + ".");
      }
      return "starttls-not-supported";
    }
    if (p.failed_stage == SmtpStage::kHandshake && !p.cert) {
      refuse = true;
      std::string message = "The TLS handshake with MX host " + where + " failed: " + p.error;
      if (!p.legacy_tls_version.empty()) {
        message += ". It only negotiates " + p.legacy_tls_version +
                   ", which current senders refuse; enable TLS 1.2 or later";
      }
      add(p.timed_out ? kMxTimeout : kMxTlsHandshakeFailed, message + ".");
      return "validation-failure";
    }
    std::string result_type;
    if (p.cert) {
      const CertificateInfo& c = *p.cert;
      if (!c.chain_valid) {
        refuse = true;
        if (c.chain_error_code == kX509CertHasExpired) {
          add(kMxCertExpired, "The certificate of MX host " + where + " expired " +
                                  Days(now_ - c.not_after) + " ago; renew it.");
          result_type = "certificate-expired";
        } else if (c.chain_error_code == kX509CertNotYetValid) {
          add(kMxCertNotYetValid, "The certificate of MX host " + where + " is not valid yet (" +
                                      c.chain_error +
                                      "); check the server's certificate and clock.");
          result_type = "validation-failure";
        } else {
          add(kMxCertUntrusted, "The certificate of MX host " + where +
                                    " does not validate: " + c.chain_error +
                                    ". Serve the full chain of a certificate from a public CA.");
          result_type = "certificate-not-trusted";
        }
      }
      if (!c.name_match) {
        refuse = true;
        std::string names;
        for (const std::string& n : c.names) {
          names += (names.empty() ? "" : ", ") + n;
        }
        add(kMxCertNameMismatch, "The certificate of MX host " + where + " names " +
                                     (names.empty() ? std::string("no host") : names) + ", not " +
                                     mx.host +
                                     "; senders validate the MX host name. Use a certificate "
                                     "that covers it.");
        if (result_type.empty()) {
          result_type = "certificate-host-mismatch";
        }
      }
      if (c.chain_valid && c.not_after - now_ < kCertExpiryWarning) {
        Add(MakeFinding(kMxCertExpiring,
                        "The certificate of MX host " + where + " expires in " +
                            Days(c.not_after - now_) + "; renew it.",
                        0, mx.host));
      }
    }
    if (p.failed_stage == SmtpStage::kHandshake && !refuse) {
      refuse = true;
      add(kMxTlsHandshakeFailed,
          "The TLS handshake with MX host " + where + " failed: " + p.error + ".");
      result_type = "validation-failure";
    }
    if (p.plaintext_injection) {
      Add(MakeFinding(kMxPlaintextInjection,
                      "MX host " + where +
                          " sent data after \"220 Ready to start TLS\" and before the TLS "
                          "handshake; senders discard it, but it points at a broken or "
                          "tampered-with server (STARTTLS command injection).",
                      0, mx.host));
    }
    return result_type;
  }

  void JudgeMx() {
    const Severity severity = MxSeverity(v_.policy, has_record_);
    if (o_.mx_outcome == DnsOutcome::kError) {
      Add(MakeFinding(kDnsLookupFailed,
                      "The MX lookup of " + o_.domain + " failed (" + o_.mx_error + ")."));
      dns_failed_ = true;
      return;
    }
    if (o_.mx.empty()) {
      Add(MakeFinding(kDomainNoMx,
                      "The domain has no MX records; senders fall back to its "
                      "address records (RFC 5321 §5.1). Publish MX records."));
      return;
    }
    for (const MxObservation& mx : o_.mx) {
      MxVerdict verdict;
      verdict.host = mx.host;
      verdict.priority = mx.priority;
      bool refuse = false;
      if (v_.policy) {
        verdict.pattern = FindCoveringPattern(v_.policy->mx, mx.host);
        verdict.covered = verdict.pattern.has_value();
        if (!verdict.covered && v_.policy->mode != PolicyMode::kNone) {
          refuse = true;
          verdict.result_type = "validation-failure";
          Add(MakeFinding(kMxNotCovered, severity,
                          "MX host " + mx.host +
                              " matches no mx pattern of the policy; enforcing senders refuse "
                              "to deliver to it. Add \"mx: " +
                              CanonicalHostname(mx.host) + "\" (or a covering pattern).",
                          0, mx.host));
        }
      }
      if (mx.resolve_outcome != DnsOutcome::kOk || mx.addresses.empty()) {
        refuse = true;
        Add(MakeFinding(kMxUnresolvable, severity,
                        "MX host " + mx.host + " does not resolve to an address" +
                            (mx.resolve_error.empty() ? "" : " (" + mx.resolve_error + ")") +
                            "; mail cannot be delivered to it.",
                        0, mx.host));
      }
      if (!mx.cname_target.empty()) {
        Add(MakeFinding(kMxCname,
                        "MX host " + mx.host + " is an alias (CNAME) of " + mx.cname_target +
                            "; RFC 2181 §10.3 requires MX records to name a host directly, and "
                            "some senders refuse aliases. Point the MX record at " +
                            mx.cname_target + ".",
                        0, mx.host));
      }
      for (const SmtpProbe& p : mx.probes) {
        const std::string type = JudgeProbe(mx, p, severity, refuse);
        if (verdict.result_type.empty()) {
          verdict.result_type = type;
        }
      }
      verdict.outcome = refuse ? EnforceOutcome::kRefuse : EnforceOutcome::kDeliver;
      if (!refuse) {
        verdict.result_type.clear();
      }
      v_.mx.push_back(std::move(verdict));
    }
  }

  void Decide() { v_.status = Status(); }

  DomainStatus Status() const {
    if (!has_record_) {
      // Publishing nothing is "none"; not knowing whether anything is published is "broken".
      return sts_lookup_failed_ ? DomainStatus::kBroken : DomainStatus::kNone;
    }
    if (!v_.record || !v_.policy) {
      return DomainStatus::kBroken;
    }
    if (v_.policy->mode == PolicyMode::kNone) {
      return DomainStatus::kNone;
    }
    const bool any_refuse = std::any_of(v_.mx.begin(), v_.mx.end(), [](const MxVerdict& m) {
      return m.outcome == EnforceOutcome::kRefuse;
    });
    if (any_refuse && v_.policy->mode == PolicyMode::kEnforce) {
      return DomainStatus::kFailing;
    }
    const bool any_warning = CountSeverity(v_.findings, Severity::kWarning) > 0;
    if (any_refuse || any_warning || tlsrpt_problem_ || dns_failed_) {
      return DomainStatus::kWarning;
    }
    return DomainStatus::kOk;
  }

  const DomainObservation& o_;
  const std::chrono::system_clock::time_point now_;
  Verdict v_;
  bool has_record_ = false;
  bool dns_failed_ = false;
  bool sts_lookup_failed_ = false;
  bool tlsrpt_problem_ = false;
};

}  // namespace

std::string_view DomainStatusName(DomainStatus status) {
  switch (status) {
    case DomainStatus::kOk:
      return "ok";
    case DomainStatus::kWarning:
      return "warning";
    case DomainStatus::kFailing:
      return "failing";
    case DomainStatus::kBroken:
      return "broken";
    case DomainStatus::kNone:
      return "none";
  }
  return "broken";
}

Verdict Judge(const DomainObservation& observation, std::chrono::system_clock::time_point now) {
  return Judgement(observation, now).Run();
}

}  // namespace stswatch::mtasts
