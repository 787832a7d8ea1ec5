#include "drift/snapshot.h"

#include <algorithm>
#include <set>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <openssl/sha.h>

#include "absl/status/status.h"
#include "common/json_reader.h"
#include "mtasts/policy.h"

namespace stswatch::drift {
namespace {

namespace json = boost::json;
using std::chrono::system_clock;

std::string_view FetchName(mtasts::FetchOutcome outcome) {
  switch (outcome) {
    case mtasts::FetchOutcome::kOk:
      return "ok";
    case mtasts::FetchOutcome::kNoPolicyHost:
      return "no-policy-host";
    case mtasts::FetchOutcome::kAddressRefused:
      return "address-refused";
    case mtasts::FetchOutcome::kConnectFailed:
      return "connect-failed";
    case mtasts::FetchOutcome::kTlsFailed:
      return "tls-failed";
    case mtasts::FetchOutcome::kCertificateInvalid:
      return "certificate-invalid";
    case mtasts::FetchOutcome::kHttpStatus:
      return "http-status";
    case mtasts::FetchOutcome::kRedirect:
      return "redirect";
    case mtasts::FetchOutcome::kTooLarge:
      return "too-large";
    case mtasts::FetchOutcome::kTimeout:
      return "timeout";
    case mtasts::FetchOutcome::kMalformed:
      return "malformed";
  }
  return "unknown";
}

std::int64_t UnixSeconds(system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

CertSnapshot Reduce(const mtasts::CertificateInfo& info, system_clock::time_point now) {
  CertSnapshot c;
  c.sha256 = info.sha256;
  c.subject = info.subject;
  c.issuer = info.issuer;
  c.names = info.names;
  std::sort(c.names.begin(), c.names.end());
  c.not_after = UnixSeconds(info.not_after);
  c.valid = info.chain_valid && info.name_match;
  c.window = ExpiryWindowAt(info.not_after, now);
  return c;
}

MxSnapshot Reduce(const mtasts::MxObservation& mx, const mtasts::MxVerdict* verdict,
                  system_clock::time_point now) {
  MxSnapshot s;
  s.host = mx.host;
  if (verdict != nullptr) {
    s.covered = verdict->covered;
    s.deliver = verdict->outcome == mtasts::EnforceOutcome::kDeliver;
    s.result_type = verdict->result_type;
  }
  // Probes in address order, so the certificate kept does not depend on the DNS answer's order.
  std::vector<const mtasts::SmtpProbe*> probes;
  for (const mtasts::SmtpProbe& p : mx.probes) {
    probes.push_back(&p);
  }
  std::sort(probes.begin(), probes.end(),
            [](const auto* a, const auto* b) { return a->address < b->address; });
  std::set<std::string> versions;
  bool established = false;
  bool reached_ehlo = false;
  bool offered = false;
  for (const mtasts::SmtpProbe* p : probes) {
    if (p->tls_established) {
      established = true;
      versions.insert(p->tls_version);
    }
    if (p->starttls_offered) {
      offered = true;
    }
    if (!p->refused_by_filter && p->failed_stage != mtasts::SmtpStage::kConnect &&
        p->failed_stage != mtasts::SmtpStage::kBanner &&
        p->failed_stage != mtasts::SmtpStage::kEhlo) {
      reached_ehlo = true;
    }
    if (!s.cert && p->cert) {
      s.cert = Reduce(*p->cert, now);
    }
  }
  if (established) {
    s.starttls = StartTls::kEstablished;
  } else if (offered) {
    s.starttls = StartTls::kFailed;
  } else if (reached_ehlo) {
    s.starttls = StartTls::kNotOffered;
  } else {
    s.starttls = StartTls::kUnreachable;
  }
  for (const std::string& v : versions) {
    if (!s.tls_version.empty()) {
      s.tls_version += ",";
    }
    s.tls_version += v;
  }
  return s;
}

json::array Strings(const std::vector<std::string>& values) {
  json::array a;
  for (const std::string& v : values) {
    a.emplace_back(v);
  }
  return a;
}

json::value CertJson(const std::optional<CertSnapshot>& cert) {
  if (!cert) {
    return nullptr;
  }
  json::object o;
  o["sha256"] = cert->sha256;
  o["subject"] = cert->subject;
  o["issuer"] = cert->issuer;
  o["names"] = Strings(cert->names);
  o["not_after"] = cert->not_after;
  o["valid"] = cert->valid;
  o["window"] = ExpiryWindowName(cert->window);
  return o;
}

std::optional<CertSnapshot> ReadCert(JsonReader& parent, std::string_view key) {
  const json::object* o = parent.Object(key);
  if (o == nullptr) {
    return std::nullopt;
  }
  JsonReader r = parent.Child(*o, parent.Path(key));
  CertSnapshot c;
  c.sha256 = r.String("sha256");
  c.subject = r.String("subject");
  c.issuer = r.String("issuer");
  c.names = r.Strings("names");
  c.not_after = r.Int("not_after");
  c.valid = r.Bool("valid");
  const std::string window = r.String("window");
  bool known = false;
  for (const ExpiryWindow w :
       {ExpiryWindow::kNone, ExpiryWindow::kDays30, ExpiryWindow::kDays14, ExpiryWindow::kDays7,
        ExpiryWindow::kDays1, ExpiryWindow::kExpired}) {
    if (ExpiryWindowName(w) == window) {
      c.window = w;
      known = true;
    }
  }
  if (!known) {
    r.Fail("window", "an expiry window (\"\", 30d, 14d, 7d, 1d, expired)");
  }
  return c;
}

}  // namespace

std::string_view ExpiryWindowName(ExpiryWindow window) {
  switch (window) {
    case ExpiryWindow::kNone:
      return "";
    case ExpiryWindow::kDays30:
      return "30d";
    case ExpiryWindow::kDays14:
      return "14d";
    case ExpiryWindow::kDays7:
      return "7d";
    case ExpiryWindow::kDays1:
      return "1d";
    case ExpiryWindow::kExpired:
      return "expired";
  }
  return "";
}

ExpiryWindow ExpiryWindowAt(system_clock::time_point not_after, system_clock::time_point now) {
  constexpr auto kDay = std::chrono::hours(24);
  const auto left = not_after - now;
  if (left <= system_clock::duration::zero()) {
    return ExpiryWindow::kExpired;
  }
  if (left <= kDay) {
    return ExpiryWindow::kDays1;
  }
  if (left <= 7 * kDay) {
    return ExpiryWindow::kDays7;
  }
  if (left <= 14 * kDay) {
    return ExpiryWindow::kDays14;
  }
  if (left <= 30 * kDay) {
    return ExpiryWindow::kDays30;
  }
  return ExpiryWindow::kNone;
}

std::string_view StartTlsName(StartTls state) {
  switch (state) {
    case StartTls::kEstablished:
      return "established";
    case StartTls::kNotOffered:
      return "not-offered";
    case StartTls::kFailed:
      return "failed";
    case StartTls::kUnreachable:
      return "unreachable";
  }
  return "unreachable";
}

Snapshot TakeSnapshot(const mtasts::DomainObservation& observation, const mtasts::Verdict& verdict,
                      system_clock::time_point now) {
  Snapshot s;
  s.domain = observation.domain;
  s.status = std::string(mtasts::DomainStatusName(verdict.status));
  for (const std::string& record : observation.sts.records) {
    if (record.starts_with(mtasts::kStsVersion)) {
      s.sts_present = true;
    }
  }
  if (verdict.record) {
    s.sts_id = verdict.record->id;
  }
  if (observation.policy) {
    const mtasts::PolicyFetch& fetch = *observation.policy;
    s.fetch = std::string(FetchName(fetch.outcome));
    if (fetch.outcome == mtasts::FetchOutcome::kOk) {
      s.policy_body = fetch.body.substr(0, mtasts::kMaxPolicyBytes);
      unsigned char digest[SHA256_DIGEST_LENGTH];
      SHA256(reinterpret_cast<const unsigned char*>(fetch.body.data()), fetch.body.size(), digest);
      constexpr char kHex[] = "0123456789abcdef";
      for (const unsigned char b : digest) {
        s.policy_sha256 += kHex[b >> 4];
        s.policy_sha256 += kHex[b & 0xF];
      }
    }
    if (fetch.cert) {
      s.policy_cert = Reduce(*fetch.cert, now);
    }
  }
  if (verdict.policy) {
    s.mode = std::string(mtasts::PolicyModeName(verdict.policy->mode));
    s.max_age = verdict.policy->max_age;
    s.policy_mx = verdict.policy->mx;
  }
  for (const std::string& record : observation.tlsrpt.records) {
    if (record.starts_with(mtasts::kTlsRptVersion)) {
      s.tlsrpt += (s.tlsrpt.empty() ? "" : "\n") + record;
    }
  }
  std::set<std::string> hosts;
  for (const mtasts::MxObservation& mx : observation.mx) {
    if (!hosts.insert(mx.host).second) {
      continue;  // The same host twice (two priorities): one entry.
    }
    const mtasts::MxVerdict* mv = nullptr;
    for (const mtasts::MxVerdict& v : verdict.mx) {
      if (v.host == mx.host) {
        mv = &v;
        break;
      }
    }
    s.mx.push_back(Reduce(mx, mv, now));
  }
  s.mx_hosts.assign(hosts.begin(), hosts.end());
  std::sort(s.mx.begin(), s.mx.end(),
            [](const MxSnapshot& a, const MxSnapshot& b) { return a.host < b.host; });
  std::set<std::string> codes;
  for (const mtasts::Finding& f : verdict.findings) {
    codes.insert(f.code);
  }
  s.findings.assign(codes.begin(), codes.end());
  return s;
}

std::string ToJson(const Snapshot& s) {
  json::object o;
  o["domain"] = s.domain;
  o["status"] = s.status;
  o["sts_present"] = s.sts_present;
  o["sts_id"] = s.sts_id;
  o["fetch"] = s.fetch;
  o["policy_sha256"] = s.policy_sha256;
  o["policy_body"] = s.policy_body;
  o["mode"] = s.mode;
  o["max_age"] = s.max_age;
  o["policy_mx"] = Strings(s.policy_mx);
  o["policy_cert"] = CertJson(s.policy_cert);
  o["tlsrpt"] = s.tlsrpt;
  o["mx_hosts"] = Strings(s.mx_hosts);
  json::array mx;
  for (const MxSnapshot& m : s.mx) {
    json::object e;
    e["host"] = m.host;
    e["covered"] = m.covered;
    e["starttls"] = StartTlsName(m.starttls);
    e["tls_version"] = m.tls_version;
    e["cert"] = CertJson(m.cert);
    e["deliver"] = m.deliver;
    e["result_type"] = m.result_type;
    mx.emplace_back(std::move(e));
  }
  o["mx"] = std::move(mx);
  o["findings"] = Strings(s.findings);
  return json::serialize(o);
}

absl::StatusOr<Snapshot> FromJson(std::string_view text) {
  boost::system::error_code ec;
  const json::value v = json::parse(text, ec);
  if (ec) {
    return absl::InvalidArgumentError("snapshot is not JSON: " + ec.message());
  }
  if (!v.is_object()) {
    return absl::InvalidArgumentError("snapshot is not a JSON object");
  }
  absl::Status status;
  JsonReader r(v.get_object(), "snapshot", "snapshot", status);
  Snapshot s;
  s.domain = r.String("domain");
  s.status = r.String("status");
  s.sts_present = r.Bool("sts_present");
  s.sts_id = r.String("sts_id");
  s.fetch = r.String("fetch");
  s.policy_sha256 = r.String("policy_sha256");
  s.policy_body = r.String("policy_body");
  s.mode = r.String("mode");
  s.max_age = r.Uint32("max_age");
  s.policy_mx = r.Strings("policy_mx");
  s.policy_cert = ReadCert(r, "policy_cert");
  s.tlsrpt = r.String("tlsrpt");
  s.mx_hosts = r.Strings("mx_hosts");
  int index = 0;
  r.Objects("mx", [&](JsonReader& e) {
    MxSnapshot m;
    m.host = e.String("host");
    m.covered = e.Bool("covered");
    const std::string starttls = e.String("starttls");
    bool known = false;
    for (const StartTls t : {StartTls::kEstablished, StartTls::kNotOffered, StartTls::kFailed,
                             StartTls::kUnreachable}) {
      if (StartTlsName(t) == starttls) {
        m.starttls = t;
        known = true;
      }
    }
    if (!known) {
      e.Fail("starttls", "established, not-offered, failed or unreachable");
    }
    m.tls_version = e.String("tls_version");
    m.cert = ReadCert(e, "cert");
    m.deliver = e.Bool("deliver");
    m.result_type = e.String("result_type");
    for (const MxSnapshot& other : s.mx) {
      if (other.host == m.host) {
        // Diff pairs MX hosts by name: a host listed twice has no meaning.
        e.Error(absl::InvalidArgumentError("snapshot member " + r.Path("mx") + "[" +
                                           std::to_string(index) + "].host repeats " + m.host));
      }
    }
    s.mx.push_back(std::move(m));
    ++index;
  });
  s.findings = r.Strings("findings");
  if (!status.ok()) {
    return status;
  }
  return s;
}

std::string StateHash(const Snapshot& snapshot) {
  const std::string canonical = ToJson(snapshot);
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(canonical.data()), canonical.size(), digest);
  constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (int i = 0; i < 16; ++i) {
    out += kHex[digest[i] >> 4];
    out += kHex[digest[i] & 0xF];
  }
  return out;
}

}  // namespace stswatch::drift
