#include "api/convert.h"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "mtasts/finding_codes.h"
#include "mtasts/policy.h"

namespace stswatch::api {
namespace {

namespace json = boost::json;
namespace v1 = stswatch::v1;

v1::Severity SeverityOf(mtasts::Severity s) {
  switch (s) {
    case mtasts::Severity::kInfo:
      return v1::SEVERITY_INFO;
    case mtasts::Severity::kWarning:
      return v1::SEVERITY_WARNING;
    case mtasts::Severity::kError:
      return v1::SEVERITY_ERROR;
  }
  return v1::SEVERITY_UNSPECIFIED;
}

v1::PolicyMode ModeOf(std::string_view mode) {
  if (mode == "enforce") {
    return v1::POLICY_MODE_ENFORCE;
  }
  if (mode == "testing") {
    return v1::POLICY_MODE_TESTING;
  }
  if (mode == "none") {
    return v1::POLICY_MODE_NONE;
  }
  return v1::POLICY_MODE_UNSPECIFIED;
}

void FillCertificate(const drift::CertSnapshot& c, v1::Certificate& out) {
  out.set_sha256(c.sha256);
  out.set_subject(c.subject);
  out.set_issuer(c.issuer);
  for (const std::string& n : c.names) {
    out.add_names(n);
  }
  out.set_not_after_unix(c.not_after);
  out.set_valid(c.valid);
  out.set_expiry_window(std::string(drift::ExpiryWindowName(c.window)));
}

std::string Text(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? std::string(v->get_string()) : "";
}

}  // namespace

void FillDetail(const drift::Snapshot& s, v1::DomainDetail& d) {
  v1::DomainSummary* summary = d.mutable_summary();
  summary->set_domain(s.domain);
  summary->set_status(s.status);
  summary->set_mode(s.mode);
  for (const std::string& code : s.findings) {
    v1::Finding* f = d.add_findings();
    f->set_code(code);
    for (const mtasts::FindingCode* known : mtasts::AllFindingCodes()) {
      if (known->id == code) {
        f->set_severity(SeverityOf(known->severity));
        f->set_rfc(std::string(known->rfc));
        f->set_message(std::string(known->summary));
      }
    }
  }
  d.set_sts_id(s.sts_id);
  d.set_policy_fetch(s.fetch);
  if (!s.mode.empty()) {
    v1::Policy* p = d.mutable_policy();
    p->set_version("STSv1");
    p->set_mode(ModeOf(s.mode));
    p->set_max_age(s.max_age);
    for (const std::string& mx : s.policy_mx) {
      p->add_mx(mx);
    }
  }
  if (s.policy_cert) {
    FillCertificate(*s.policy_cert, *d.mutable_policy_certificate());
  }
  for (const drift::MxSnapshot& m : s.mx) {
    v1::MxHost* mx = d.add_mx();
    mx->set_host(m.host);
    mx->set_covered(m.covered);
    mx->set_starttls(std::string(drift::StartTlsName(m.starttls)));
    mx->set_tls_version(m.tls_version);
    if (m.cert) {
      FillCertificate(*m.cert, *mx->mutable_certificate());
    }
    mx->set_deliver(m.deliver);
    mx->set_result_type(m.result_type);
  }
  d.set_tlsrpt_record(s.tlsrpt);
}

absl::StatusOr<v1::DriftEvent> ParseEvent(std::string_view text) {
  boost::system::error_code ec;
  const json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) {
    return absl::DataLossError("a stored event is not a JSON object");
  }
  const json::object& o = v.get_object();
  v1::DriftEvent e;
  e.set_id(Text(o, "id"));
  e.set_domain(Text(o, "domain"));
  e.set_kind(Text(o, "kind"));
  e.set_severity(Text(o, "severity"));
  e.set_subject(Text(o, "subject"));
  e.set_message(Text(o, "message"));
  if (const json::value* before = o.if_contains("before")) {
    e.set_before_json(json::serialize(*before));
  }
  if (const json::value* after = o.if_contains("after")) {
    e.set_after_json(json::serialize(*after));
  }
  // "2026-11-30T01:02:03.456Z"
  const std::string time = Text(o, "time");
  std::tm tm{};
  int ms = 0;
  if (std::sscanf(time.c_str(), "%d-%d-%dT%d:%d:%d.%dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                  &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms) >= 6) {
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    e.set_time_unix_ms(static_cast<std::int64_t>(timegm(&tm)) * 1000 + ms);
  }
  return e;
}

}  // namespace stswatch::api
