#include "mtasts/verdict.h"

#include <chrono>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/mtasts/test_util.h"

namespace stswatch::mtasts {
namespace {

using testing::Codes;
using ::testing::Contains;
using testing::FindCode;
using ::testing::IsEmpty;
using ::testing::Not;

constexpr auto kNow = std::chrono::system_clock::time_point(std::chrono::seconds(1'800'000'000));
constexpr auto kDay = std::chrono::hours(24);

CertificateInfo GoodCert(const std::string& name) {
  CertificateInfo c;
  c.names = {name};
  c.not_before = kNow - 10 * kDay;
  c.not_after = kNow + 200 * kDay;
  c.chain_valid = true;
  c.name_match = true;
  return c;
}

SmtpProbe GoodProbe(const std::string& host, const std::string& address) {
  SmtpProbe p;
  p.address = address;
  p.starttls_offered = true;
  p.starttls_reply = 220;
  p.tls_established = true;
  p.tls_version = "TLSv1.3";
  p.cert = GoodCert(host);
  return p;
}

MxObservation GoodMx(const std::string& host, int priority, const std::string& address) {
  MxObservation mx;
  mx.host = host;
  mx.priority = priority;
  mx.addresses = {address};
  mx.probes = {GoodProbe(host, address)};
  return mx;
}

// example.test in enforce mode with two healthy MX hosts and TLS-RPT.
DomainObservation Healthy(const std::string& mode = "enforce") {
  DomainObservation o;
  o.domain = "example.test";
  o.sts.records = {"v=STSv1; id=20240101;"};
  o.tlsrpt.records = {"v=TLSRPTv1; rua=mailto:tlsrpt@example.test"};
  o.mx = {GoodMx("mx1.example.test", 10, "192.0.2.1"), GoodMx("mx2.example.test", 20, "192.0.2.2")};
  PolicyFetch fetch;
  fetch.http_status = 200;
  fetch.content_type = "text/plain; charset=utf-8";
  fetch.body = "version: STSv1\r\nmode: " + mode + "\r\nmx: *.example.test\r\nmax_age: 2592000\r\n";
  fetch.cert = GoodCert("mta-sts.example.test");
  o.policy = fetch;
  return o;
}

TEST(VerdictTest, HealthyEnforceDomainIsOk) {
  const Verdict v = Judge(Healthy(), kNow);
  EXPECT_EQ(v.status, DomainStatus::kOk) << ::testing::PrintToString(Codes(v.findings));
  EXPECT_THAT(v.findings, IsEmpty());
  ASSERT_EQ(v.mx.size(), 2u);
  for (const MxVerdict& mx : v.mx) {
    EXPECT_EQ(mx.outcome, EnforceOutcome::kDeliver);
    EXPECT_TRUE(mx.covered);
    EXPECT_EQ(mx.pattern, "*.example.test");
    EXPECT_EQ(mx.result_type, "");
  }
  ASSERT_TRUE(v.record.has_value());
  EXPECT_EQ(v.record->id, "20240101");
  ASSERT_TRUE(v.tlsrpt.has_value());
}

TEST(VerdictTest, NoRecordMeansNone) {
  DomainObservation o = Healthy();
  o.sts.outcome = DnsOutcome::kNxDomain;
  o.sts.records.clear();
  o.policy.reset();
  const Verdict v = Judge(o, kNow);
  EXPECT_EQ(v.status, DomainStatus::kNone);
  EXPECT_THAT(Codes(v.findings), Contains("domain.no_mta_sts"));
}

TEST(VerdictTest, InvalidRecordIsBroken) {
  DomainObservation o = Healthy();
  o.sts.records = {"v=STSv1; id=1;", "v=STSv1; id=2;"};
  EXPECT_EQ(Judge(o, kNow).status, DomainStatus::kBroken);
  o.sts.records = {"v=STSv1; id=2024-01-01;"};
  const Verdict v = Judge(o, kNow);
  EXPECT_EQ(v.status, DomainStatus::kBroken);
  EXPECT_THAT(Codes(v.findings), Contains("sts_record.id_invalid"));
}

TEST(VerdictTest, FetchFailuresAreBrokenWithResultType) {
  struct Case {
    FetchOutcome outcome;
    std::string code;
    std::string result_type;
  };
  const Case cases[] = {
      {FetchOutcome::kNoPolicyHost, "policy.fetch.no_host", "sts-policy-fetch-error"},
      {FetchOutcome::kConnectFailed, "policy.fetch.connect_failed", "sts-policy-fetch-error"},
      {FetchOutcome::kCertificateInvalid, "policy.fetch.certificate_invalid", "sts-webpki-invalid"},
      {FetchOutcome::kHttpStatus, "policy.fetch.http_status", "sts-policy-fetch-error"},
      {FetchOutcome::kRedirect, "policy.fetch.redirect", "sts-policy-fetch-error"},
      {FetchOutcome::kTooLarge, "policy.fetch.too_large", "sts-policy-fetch-error"},
      {FetchOutcome::kTimeout, "policy.fetch.timeout", "sts-policy-fetch-error"},
      {FetchOutcome::kMalformed, "policy.fetch.malformed", "sts-policy-fetch-error"},
  };
  for (const Case& c : cases) {
    DomainObservation o = Healthy();
    o.policy->outcome = c.outcome;
    o.policy->http_status = c.outcome == FetchOutcome::kRedirect ? 301 : 404;
    const Verdict v = Judge(o, kNow);
    EXPECT_EQ(v.status, DomainStatus::kBroken) << c.code;
    EXPECT_THAT(Codes(v.findings), Contains(c.code));
    EXPECT_EQ(v.policy_result_type, c.result_type) << c.code;
    EXPECT_FALSE(v.policy.has_value());
    // Without a usable policy the MX findings are not errors (the mode is unknown).
    for (const MxVerdict& mx : v.mx) {
      EXPECT_FALSE(mx.covered);
    }
  }
}

TEST(VerdictTest, WrongContentTypeIsBroken) {
  DomainObservation o = Healthy();
  o.policy->content_type = "text/html";
  Verdict v = Judge(o, kNow);
  EXPECT_EQ(v.status, DomainStatus::kBroken);
  EXPECT_THAT(Codes(v.findings), Contains("policy.fetch.content_type"));
  o.policy->content_type = "TEXT/PLAIN ; charset=us-ascii";
  EXPECT_EQ(Judge(o, kNow).status, DomainStatus::kOk);
  o.policy->content_type.reset();
  EXPECT_EQ(Judge(o, kNow).status, DomainStatus::kBroken);
}

TEST(VerdictTest, UnparseablePolicyIsBroken) {
  DomainObservation o = Healthy();
  o.policy->body = "<html>Welcome</html>\n";
  const Verdict v = Judge(o, kNow);
  EXPECT_EQ(v.status, DomainStatus::kBroken);
  EXPECT_EQ(v.policy_result_type, "sts-policy-invalid");
  const Finding* f = FindCode(v.findings, "policy.version_missing");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->host, "mta-sts.example.test");
}

TEST(VerdictTest, UncoveredMxFailsInEnforceWarnsInTesting) {
  DomainObservation o = Healthy();
  o.mx.push_back(GoodMx("backup.other.test", 30, "192.0.2.3"));
  Verdict v = Judge(o, kNow);
  EXPECT_EQ(v.status, DomainStatus::kFailing);
  ASSERT_EQ(v.mx.size(), 3u);
  EXPECT_FALSE(v.mx[2].covered);
  EXPECT_EQ(v.mx[2].outcome, EnforceOutcome::kRefuse);
  EXPECT_EQ(v.mx[2].result_type, "validation-failure");
  EXPECT_EQ(FindCode(v.findings, "mx.not_covered")->severity, Severity::kError);

  o = Healthy("testing");
  o.mx.push_back(GoodMx("backup.other.test", 30, "192.0.2.3"));
  v = Judge(o, kNow);
  EXPECT_EQ(v.status, DomainStatus::kWarning);
  EXPECT_EQ(v.mx[2].outcome, EnforceOutcome::kRefuse) << "would fail under enforce";
  EXPECT_EQ(FindCode(v.findings, "mx.not_covered")->severity, Severity::kWarning);
}

TEST(VerdictTest, MxTlsFailuresMapToResultTypes) {
  struct Case {
    std::string name;
    std::function<void(SmtpProbe&)> breakit;
    std::string code;
    std::string result_type;
  };
  const std::vector<Case> cases = {
      {"no starttls",
       [](SmtpProbe& p) {
         p.failed_stage = SmtpStage::kStartTls;
         p.starttls_offered = false;
         p.cert.reset();
       },
       "mx.starttls_not_offered", "starttls-not-supported"},
      {"454",
       [](SmtpProbe& p) {
         p.failed_stage = SmtpStage::kStartTls;
         p.starttls_reply = 454;
         p.error = "answered 454 to STARTTLS";
         p.cert.reset();
       },
       "mx.starttls_refused", "starttls-not-supported"},
      {"expired",
       [](SmtpProbe& p) {
         p.cert->chain_valid = false;
         p.cert->chain_error_code = 10;
         p.cert->not_after = kNow - kDay;
       },
       "mx.cert.expired", "certificate-expired"},
      {"not yet valid",
       [](SmtpProbe& p) {
         p.cert->chain_valid = false;
         p.cert->chain_error_code = 9;
       },
       "mx.cert.not_yet_valid", "validation-failure"},
      {"self-signed",
       [](SmtpProbe& p) {
         p.cert->chain_valid = false;
         p.cert->chain_error_code = 18;
         p.cert->chain_error = "self-signed certificate";
       },
       "mx.cert.untrusted", "certificate-not-trusted"},
      {"wrong name", [](SmtpProbe& p) { p.cert->name_match = false; }, "mx.cert.name_mismatch",
       "certificate-host-mismatch"},
      {"legacy tls",
       [](SmtpProbe& p) {
         p.failed_stage = SmtpStage::kHandshake;
         p.cert.reset();
         p.error = "unsupported protocol";
         p.legacy_tls_version = "TLSv1";
       },
       "mx.tls_handshake_failed", "validation-failure"},
  };
  for (const Case& c : cases) {
    DomainObservation o = Healthy();
    c.breakit(o.mx[1].probes[0]);
    const Verdict v = Judge(o, kNow);
    EXPECT_EQ(v.status, DomainStatus::kFailing) << c.name;
    EXPECT_EQ(v.mx[0].outcome, EnforceOutcome::kDeliver) << c.name;
    EXPECT_EQ(v.mx[1].outcome, EnforceOutcome::kRefuse) << c.name;
    EXPECT_EQ(v.mx[1].result_type, c.result_type) << c.name;
    const Finding* f = FindCode(v.findings, c.code);
    ASSERT_NE(f, nullptr) << c.name << " " << ::testing::PrintToString(Codes(v.findings));
    EXPECT_EQ(f->host, "mx2.example.test");
    EXPECT_EQ(f->severity, Severity::kError);
  }
}

TEST(VerdictTest, NonTlsFailuresRefuseWithoutResultType) {
  DomainObservation o = Healthy();
  o.mx[1].probes[0].failed_stage = SmtpStage::kConnect;
  o.mx[1].probes[0].error = "connection refused";
  o.mx[1].probes[0].cert.reset();
  Verdict v = Judge(o, kNow);
  EXPECT_EQ(v.status, DomainStatus::kFailing);
  EXPECT_EQ(v.mx[1].result_type, "");
  EXPECT_THAT(Codes(v.findings), Contains("mx.connect_failed"));

  o = Healthy();
  o.mx[1].addresses.clear();
  o.mx[1].probes.clear();
  o.mx[1].resolve_outcome = DnsOutcome::kNxDomain;
  v = Judge(o, kNow);
  EXPECT_EQ(v.mx[1].outcome, EnforceOutcome::kRefuse);
  EXPECT_THAT(Codes(v.findings), Contains("mx.unresolvable"));

  o = Healthy();
  o.mx[0].probes[0] = SmtpProbe{};
  o.mx[0].probes[0].address = "10.0.0.1";
  o.mx[0].probes[0].refused_by_filter = true;
  v = Judge(o, kNow);
  EXPECT_EQ(v.mx[0].outcome, EnforceOutcome::kRefuse);
  EXPECT_THAT(Codes(v.findings), Contains("mx.address_refused"));
}

TEST(VerdictTest, ExpiringCertificatesWarn) {
  DomainObservation o = Healthy();
  o.mx[0].probes[0].cert->not_after = kNow + 5 * kDay;
  o.policy->cert->not_after = kNow + 3 * kDay;
  const Verdict v = Judge(o, kNow);
  EXPECT_EQ(v.status, DomainStatus::kWarning);
  EXPECT_THAT(Codes(v.findings), Contains("mx.cert.expiring"));
  EXPECT_THAT(Codes(v.findings), Contains("policy.cert.expiring"));
  EXPECT_THAT(FindCode(v.findings, "mx.cert.expiring")->message, ::testing::HasSubstr("5 days"));
}

TEST(VerdictTest, PlaintextInjectionWarnsButDelivers) {
  DomainObservation o = Healthy();
  o.mx[0].probes[0].plaintext_injection = true;
  const Verdict v = Judge(o, kNow);
  EXPECT_EQ(v.status, DomainStatus::kWarning);
  EXPECT_EQ(v.mx[0].outcome, EnforceOutcome::kDeliver);
  EXPECT_THAT(Codes(v.findings), Contains("mx.plaintext_injection"));
}

TEST(VerdictTest, ModeNoneIsNone) {
  DomainObservation o = Healthy();
  o.policy->body = "version: STSv1\r\nmode: none\r\nmax_age: 86400\r\n";
  o.mx[1].probes[0].cert->name_match = false;
  const Verdict v = Judge(o, kNow);
  EXPECT_EQ(v.status, DomainStatus::kNone);
  EXPECT_EQ(FindCode(v.findings, "mx.cert.name_mismatch")->severity, Severity::kInfo);
}

TEST(VerdictTest, TlsRptProblemsWarnOnly) {
  DomainObservation o = Healthy();
  o.tlsrpt.records.clear();
  Verdict v = Judge(o, kNow);
  EXPECT_EQ(v.status, DomainStatus::kWarning);
  EXPECT_THAT(Codes(v.findings), Contains("domain.no_tlsrpt"));
  o.tlsrpt.records = {"v=TLSRPTv1; rua=http://x.example/"};
  v = Judge(o, kNow);
  EXPECT_EQ(v.status, DomainStatus::kWarning);
  EXPECT_FALSE(v.tlsrpt.has_value());
}

TEST(VerdictTest, DnsFailureIsBroken) {
  DomainObservation o = Healthy();
  o.sts.outcome = DnsOutcome::kError;
  o.sts.error = "SERVFAIL";
  o.sts.records.clear();
  o.policy.reset();
  const Verdict v = Judge(o, kNow);
  EXPECT_EQ(v.status, DomainStatus::kBroken);
  EXPECT_THAT(Codes(v.findings), Contains("dns.lookup_failed"));
}

TEST(VerdictTest, ShortMaxAgeWarns) {
  DomainObservation o = Healthy();
  o.policy->body = "version: STSv1\r\nmode: enforce\r\nmx: *.example.test\r\nmax_age: 604800\r\n";
  const Verdict v = Judge(o, kNow);
  EXPECT_EQ(v.status, DomainStatus::kWarning);
  EXPECT_THAT(Codes(v.findings), Contains("policy.max_age_short_enforce"));
}

}  // namespace
}  // namespace stswatch::mtasts
