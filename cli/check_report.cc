#include "cli/check_report.h"

#include <ctime>

#include <boost/json/array.hpp>

#include "cli/findings_format.h"
#include "common/time_format.h"
#include "mtasts/policy.h"

namespace stswatch::cli {

namespace json = boost::json;
using mtasts::Verdict;

namespace {

json::value CertToJson(const std::optional<mtasts::CertificateInfo>& cert) {
  if (!cert) {
    return nullptr;
  }
  json::array names;
  for (const std::string& n : cert->names) {
    names.emplace_back(n);
  }
  json::object o;
  o["names"] = std::move(names);
  o["subject"] = cert->subject;
  o["issuer"] = cert->issuer;
  o["not_before"] = FormatTime(cert->not_before);
  o["not_after"] = FormatTime(cert->not_after);
  o["sha256"] = cert->sha256;
  json::array chain;
  for (const std::string& subject : cert->chain) {
    chain.emplace_back(subject);
  }
  o["chain"] = std::move(chain);
  o["chain_valid"] = cert->chain_valid;
  o["chain_error"] = cert->chain_error;
  o["name_match"] = cert->name_match;
  return o;
}

const mtasts::MxObservation* FindMx(const mtasts::DomainObservation& o, const std::string& host) {
  for (const mtasts::MxObservation& mx : o.mx) {
    if (mx.host == host) {
      return &mx;
    }
  }
  return nullptr;
}

// The probe that decides what a person sees for an MX: the first failing one, else the first.
const mtasts::SmtpProbe* Representative(const mtasts::MxObservation& mx) {
  for (const mtasts::SmtpProbe& p : mx.probes) {
    if (p.failed_stage != mtasts::SmtpStage::kDone || p.refused_by_filter ||
        (p.cert && (!p.cert->chain_valid || !p.cert->name_match))) {
      return &p;
    }
  }
  return mx.probes.empty() ? nullptr : &mx.probes.front();
}

}  // namespace

json::object CheckToJson(const mtasts::DomainObservation& o, const Verdict& v) {
  json::object out;
  out["domain"] = o.domain;
  out["status"] = mtasts::DomainStatusName(v.status);
  out["mode"] = v.policy ? json::value(mtasts::PolicyModeName(v.policy->mode)) : nullptr;
  out["policy_id"] = v.record ? json::value(v.record->id) : nullptr;
  out["findings"] = FindingsToJson(v.findings);
  if (v.policy) {
    json::array mx;
    for (const std::string& p : v.policy->mx) {
      mx.emplace_back(p);
    }
    out["policy"] = {{"version", v.policy->version},
                     {"mode", mtasts::PolicyModeName(v.policy->mode)},
                     {"max_age", v.policy->max_age},
                     {"mx", std::move(mx)}};
  } else {
    out["policy"] = nullptr;
  }
  out["policy_result_type"] =
      v.policy_result_type.empty() ? json::value(nullptr) : json::value(v.policy_result_type);
  if (v.tlsrpt) {
    json::array rua;
    for (const std::string& u : v.tlsrpt->rua) {
      rua.emplace_back(u);
    }
    out["tlsrpt"] = {{"rua", std::move(rua)}};
  } else {
    out["tlsrpt"] = nullptr;
  }
  json::array mx;
  for (const mtasts::MxVerdict& m : v.mx) {
    json::object entry;
    entry["host"] = m.host;
    entry["priority"] = m.priority;
    entry["covered"] = m.covered;
    entry["pattern"] = m.pattern ? json::value(*m.pattern) : nullptr;
    json::array addresses;
    json::array probes;
    const mtasts::MxObservation* observed = FindMx(o, m.host);
    const mtasts::SmtpProbe* shown = observed ? Representative(*observed) : nullptr;
    if (observed) {
      for (const std::string& a : observed->addresses) {
        addresses.emplace_back(a);
      }
      for (const mtasts::SmtpProbe& p : observed->probes) {
        json::object probe;
        probe["address"] = p.address;
        probe["refused"] = p.refused_by_filter;
        probe["starttls"] = p.starttls_offered;
        probe["tls_version"] =
            p.tls_version.empty() ? json::value(nullptr) : json::value(p.tls_version);
        probe["cipher"] = p.cipher.empty() ? json::value(nullptr) : json::value(p.cipher);
        probe["error"] = p.error.empty() ? json::value(nullptr) : json::value(p.error);
        probe["cert"] = CertToJson(p.cert);
        probes.push_back(std::move(probe));
      }
    }
    entry["addresses"] = std::move(addresses);
    entry["starttls"] = shown ? json::value(shown->starttls_offered) : nullptr;
    entry["tls_version"] =
        shown && !shown->tls_version.empty() ? json::value(shown->tls_version) : nullptr;
    entry["cert"] = shown ? CertToJson(shown->cert) : nullptr;
    entry["enforce_outcome"] = m.outcome == mtasts::EnforceOutcome::kDeliver ? "deliver" : "refuse";
    entry["result_type"] =
        m.result_type.empty() ? json::value(nullptr) : json::value(m.result_type);
    entry["probes"] = std::move(probes);
    mx.push_back(std::move(entry));
  }
  out["mx"] = std::move(mx);
  return out;
}

void PrintCheck(std::ostream& out, const mtasts::DomainObservation& o, const Verdict& v,
                bool color) {
  const std::string_view status = mtasts::DomainStatusName(v.status);
  const char* paint = "";
  switch (v.status) {
    case mtasts::DomainStatus::kOk:
      paint = "\033[1;32m";
      break;
    case mtasts::DomainStatus::kWarning:
      paint = "\033[1;33m";
      break;
    case mtasts::DomainStatus::kFailing:
    case mtasts::DomainStatus::kBroken:
      paint = "\033[1;31m";
      break;
    case mtasts::DomainStatus::kNone:
      paint = "\033[1m";
      break;
  }
  int refused = 0;
  for (const mtasts::MxVerdict& m : v.mx) {
    refused += m.outcome == mtasts::EnforceOutcome::kRefuse ? 1 : 0;
  }
  std::string summary;
  switch (v.status) {
    case mtasts::DomainStatus::kOk:
      summary = "a compliant sender delivers over validated TLS to every MX";
      break;
    case mtasts::DomainStatus::kWarning:
      summary = "mail is delivered, but something needs attention";
      break;
    case mtasts::DomainStatus::kFailing:
      summary = "in enforce mode, senders would refuse mail to " + std::to_string(refused) +
                " of " + std::to_string(v.mx.size()) + " MX hosts";
      break;
    case mtasts::DomainStatus::kBroken:
      summary = "the policy cannot be discovered, fetched or parsed: MTA-STS protection is lost";
      break;
    case mtasts::DomainStatus::kNone:
      summary = "no MTA-STS policy is in force";
      break;
  }
  out << o.domain << ": " << (color ? paint : "") << std::string(status) << (color ? "\033[0m" : "")
      << " — " << summary << " (" << SummarizeFindings(v.findings) << ")\n";
  out << "  _mta-sts      ";
  if (o.sts.records.empty()) {
    out << (o.sts.outcome == mtasts::DnsOutcome::kError ? "lookup failed: " + o.sts.error
                                                        : std::string("(none)"));
  }
  for (std::size_t i = 0; i < o.sts.records.size(); ++i) {
    out << (i ? "\n                " : "") << "\"" << o.sts.records[i] << "\"";
  }
  out << "\n  _smtp._tls    ";
  if (o.tlsrpt.records.empty()) {
    out << "(none)";
  }
  for (std::size_t i = 0; i < o.tlsrpt.records.size(); ++i) {
    out << (i ? "\n                " : "") << "\"" << o.tlsrpt.records[i] << "\"";
  }
  out << "\n  policy        ";
  if (v.policy) {
    out << "mode " << mtasts::PolicyModeName(v.policy->mode) << ", max_age " << v.policy->max_age
        << ", mx";
    for (const std::string& p : v.policy->mx) {
      out << " " << p;
    }
  } else if (o.policy) {
    out << "unusable (" << (v.policy_result_type.empty() ? "not fetched" : v.policy_result_type)
        << ")";
  } else {
    out << "(not fetched)";
  }
  out << "\n";
  for (const mtasts::MxVerdict& m : v.mx) {
    out << "  MX " << m.priority << " " << m.host << ": "
        << (m.outcome == mtasts::EnforceOutcome::kDeliver ? "deliver" : "REFUSE");
    if (!m.result_type.empty()) {
      out << " (" << m.result_type << ")";
    }
    if (v.policy) {
      out << ", " << (m.pattern ? "covered by " + *m.pattern : std::string("not covered"));
    }
    out << "\n";
    const mtasts::MxObservation* observed = FindMx(o, m.host);
    if (observed == nullptr) {
      continue;
    }
    for (const mtasts::SmtpProbe& p : observed->probes) {
      out << "      " << p.address << "  ";
      if (p.refused_by_filter) {
        out << "not probed: " << p.error << "\n";
        continue;
      }
      if (p.tls_established) {
        out << "STARTTLS " << p.tls_version << " " << p.cipher;
      } else {
        out << (p.error.empty() ? "no TLS" : p.error);
      }
      if (p.cert) {
        std::string names;
        for (const std::string& n : p.cert->names) {
          names += (names.empty() ? "" : ",") + n;
        }
        out << "\n        cert " << names << ", expires " << FormatTime(p.cert->not_after)
            << (p.cert->chain_valid ? ", chain ok" : ", chain: " + p.cert->chain_error)
            << (p.cert->name_match ? ", name ok" : ", NAME MISMATCH");
      }
      out << "\n";
    }
  }
  if (!v.findings.empty()) {
    out << "\n";
    PrintFindings(out, v.findings, color);
  }
}

}  // namespace stswatch::cli
