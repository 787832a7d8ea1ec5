// `stswatch check` against every scenario of the testbed catalogue: real DNS (knotd), real HTTPS
// (nginx), real SMTP (postfix) and the hostile servers. Asserts what a user reads: the status,
// the finding codes, and what an enforcing sender would do at each MX.

#include <algorithm>
#include <chrono>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/testing/subprocess.h"
#include "tests/testing/testbed.h"

namespace stswatch {
namespace {

using testing::ProcessResult;
using testing::RunProcess;
using testing::Testbed;

constexpr char kNet[] = "127.42";

struct Expect {
  std::string domain;
  std::string status;
  std::vector<std::string> codes;  // Findings that must be present.
  // Per MX in priority order: "deliver", or "refuse" with the result type after a colon.
  std::vector<std::string> mx;
  std::string policy_result_type = "";
};

const std::vector<Expect>& Catalogue() {
  static const std::vector<Expect> expectations = {
      {"enforce-ok.test", "ok", {}, {"deliver", "deliver"}},
      {"testing-ok.test", "ok", {"policy.mode_testing"}, {"deliver"}},
      {"no-mta-sts.test", "none", {"domain.no_mta_sts"}, {"deliver"}},
      {"two-sts-records.test", "broken", {"sts_record.multiple"}, {"deliver"}},
      {"bad-id.test", "broken", {"sts_record.id_invalid"}, {"deliver"}},
      {"no-policy-host.test",
       "broken",
       {"policy.fetch.no_host"},
       {"deliver"},
       "sts-policy-fetch-error"},
      {"policy-404.test",
       "broken",
       {"policy.fetch.http_status"},
       {"deliver"},
       "sts-policy-fetch-error"},
      {"policy-redirect.test",
       "broken",
       {"policy.fetch.redirect"},
       {"deliver"},
       "sts-policy-fetch-error"},
      {"policy-html.test",
       "broken",
       {"policy.fetch.content_type"},
       {"deliver"},
       "sts-policy-fetch-error"},
      {"policy-too-large.test",
       "broken",
       {"policy.fetch.too_large"},
       {"deliver"},
       "sts-policy-fetch-error"},
      {"policy-slow.test",
       "broken",
       {"policy.fetch.timeout"},
       {"deliver"},
       "sts-policy-fetch-error"},
      {"policy-trickle.test",
       "broken",
       {"policy.fetch.timeout"},
       {"deliver"},
       "sts-policy-fetch-error"},
      {"policy-never-close.test",
       "broken",
       {"policy.fetch.timeout"},
       {"deliver"},
       "sts-policy-fetch-error"},
      {"policy-cert-expired.test",
       "broken",
       {"policy.fetch.certificate_invalid"},
       {"deliver"},
       "sts-webpki-invalid"},
      {"policy-cert-wrong-name.test",
       "broken",
       {"policy.fetch.certificate_invalid"},
       {"deliver"},
       "sts-webpki-invalid"},
      {"policy-cert-self-signed.test",
       "broken",
       {"policy.fetch.certificate_invalid"},
       {"deliver"},
       "sts-webpki-invalid"},
      {"policy-cert-missing-intermediate.test",
       "broken",
       {"policy.fetch.certificate_invalid"},
       {"deliver"},
       "sts-webpki-invalid"},
      {"policy-unparseable.test",
       "broken",
       {"policy.version_missing", "policy.syntax"},
       {"deliver"},
       "sts-policy-invalid"},
      {"mx-not-covered.test",
       "failing",
       {"mx.not_covered"},
       {"deliver", "refuse:validation-failure"}},
      {"wildcard-too-deep.test", "failing", {"mx.not_covered"}, {"refuse:validation-failure"}},
      {"mx-no-starttls.test",
       "failing",
       {"mx.starttls_not_offered"},
       {"refuse:starttls-not-supported"}},
      {"mx-legacy-tls.test", "failing", {"mx.tls_handshake_failed"}, {"refuse:validation-failure"}},
      {"mx-cert-expired.test", "failing", {"mx.cert.expired"}, {"refuse:certificate-expired"}},
      {"mx-cert-wrong-name.test",
       "failing",
       {"mx.cert.name_mismatch"},
       {"refuse:certificate-host-mismatch"}},
      {"mx-cert-self-signed.test",
       "failing",
       {"mx.cert.untrusted"},
       {"refuse:certificate-not-trusted"}},
      {"mx-cert-not-yet-valid.test",
       "failing",
       {"mx.cert.not_yet_valid"},
       {"refuse:validation-failure"}},
      {"mx-cert-untrusted.test",
       "failing",
       {"mx.cert.untrusted"},
       {"refuse:certificate-not-trusted"}},
      {"mx-cert-missing-intermediate.test",
       "failing",
       {"mx.cert.untrusted"},
       {"refuse:certificate-not-trusted"}},
      {"mx-wildcard-cert.test", "warning", {"domain.no_tlsrpt"}, {"deliver"}},
      {"backup-mx-broken.test",
       "failing",
       {"mx.cert.expired"},
       {"deliver", "refuse:certificate-expired"}},
      {"mx-cname.test", "warning", {"mx.cname"}, {"deliver"}},
      {"sts-delegated.test", "warning", {"domain.no_tlsrpt"}, {"deliver"}},
      {"tlsrpt-missing.test", "warning", {"domain.no_tlsrpt"}, {"deliver"}},
      {"tlsrpt-invalid.test", "warning", {"tlsrpt_record.rua_unsupported_scheme"}, {"deliver"}},
      {"tlsrpt-https.test", "ok", {}, {"deliver"}},
      {"mode-none.test", "none", {"policy.mode_none"}, {"deliver"}},
      {"mx-no-banner.test", "failing", {"mx.timeout"}, {"refuse"}},
      {"mx-long-line.test", "failing", {"mx.smtp_failed"}, {"refuse"}},
      {"mx-starttls-454.test",
       "failing",
       {"mx.starttls_refused"},
       {"refuse:starttls-not-supported"}},
      {"mx-inject.test", "warning", {"mx.plaintext_injection"}, {"deliver"}},
      {"mx-outside-range.test", "failing", {"mx.address_refused"}, {"refuse"}},
  };
  return expectations;
}

class CheckCatalogueTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    std::string error;
    shared_testbed = Testbed::Start("testbed/scenarios/catalogue.yaml", kNet, error).release();
    ASSERT_NE(shared_testbed, nullptr) << error;
  }
  static void TearDownTestSuite() { delete shared_testbed; }

  static std::vector<std::string> CheckArgs(std::vector<std::string> extra) {
    std::vector<std::string> args = {"cli/stswatch",
                                     "check",
                                     "--resolver",
                                     shared_testbed->resolver(),
                                     "--ca-file",
                                     shared_testbed->ca_file(),
                                     "--allow-private",
                                     "--allow-net",
                                     std::string(kNet) + ".0.0/16",
                                     "--timeout",
                                     "5"};
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  }

  static Testbed* shared_testbed;
};

Testbed* CheckCatalogueTest::shared_testbed = nullptr;

TEST_F(CheckCatalogueTest, EveryScenarioGetsItsVerdict) {
  std::vector<std::string> extra = {"--json"};
  for (const Expect& e : Catalogue()) {
    extra.push_back(e.domain);
  }
  const auto started = std::chrono::steady_clock::now();
  const ProcessResult r = RunProcess(CheckArgs(extra), "", std::chrono::seconds(120));
  const auto elapsed = std::chrono::steady_clock::now() - started;
  ASSERT_FALSE(r.timed_out) << "stswatch check hung";
  EXPECT_EQ(r.exit_code, 2) << r.err;  // Some domains are failing or broken.
  // Hostile servers end in findings within their deadlines (5 s each, run concurrently).
  EXPECT_LT(elapsed, std::chrono::seconds(60));

  std::map<std::string, boost::json::object> results;
  std::istringstream lines(r.out);
  std::string line;
  while (std::getline(lines, line)) {
    const boost::json::object o = boost::json::parse(line).as_object();
    results[std::string(o.at("domain").as_string())] = o;
  }
  ASSERT_EQ(results.size(), Catalogue().size()) << r.out << r.err;

  for (const Expect& e : Catalogue()) {
    SCOPED_TRACE(e.domain);
    ASSERT_TRUE(results.count(e.domain));
    const boost::json::object& o = results[e.domain];
    EXPECT_EQ(o.at("status").as_string(), e.status);
    std::set<std::string> codes;
    for (const auto& f : o.at("findings").as_array()) {
      codes.insert(std::string(f.at("code").as_string()));
      for (const char* key : {"code", "severity", "rfc", "message"}) {
        EXPECT_TRUE(f.as_object().contains(key));
      }
    }
    for (const std::string& code : e.codes) {
      EXPECT_TRUE(codes.count(code)) << "missing " << code << " in " << boost::json::serialize(o);
    }
    const auto& mx = o.at("mx").as_array();
    ASSERT_EQ(mx.size(), e.mx.size()) << boost::json::serialize(o);
    for (std::size_t i = 0; i < mx.size(); ++i) {
      std::string got(mx[i].at("enforce_outcome").as_string());
      if (mx[i].at("result_type").is_string()) {
        got += ":" + std::string(mx[i].at("result_type").as_string());
      }
      EXPECT_EQ(got, e.mx[i]) << "MX " << mx[i].at("host").as_string();
    }
    if (e.policy_result_type.empty()) {
      EXPECT_TRUE(o.at("policy_result_type").is_null());
    } else {
      EXPECT_EQ(o.at("policy_result_type").as_string(), e.policy_result_type);
    }
  }

  // The schema a script relies on.
  const boost::json::object& ok = results["enforce-ok.test"];
  EXPECT_EQ(ok.at("mode").as_string(), "enforce");
  EXPECT_EQ(ok.at("policy_id").as_string(), "20240101000000");
  EXPECT_EQ(ok.at("policy").at("max_age").to_number<int>(), 2592000);
  EXPECT_EQ(ok.at("tlsrpt").at("rua").as_array()[0].as_string(), "mailto:tlsrpt@enforce-ok.test");
  const auto& mx1 = ok.at("mx").as_array()[0].as_object();
  EXPECT_EQ(mx1.at("host").as_string(), "mx1.enforce-ok.test");
  EXPECT_EQ(mx1.at("covered"), true);
  EXPECT_EQ(mx1.at("pattern").as_string(), "mx1.enforce-ok.test");
  EXPECT_EQ(mx1.at("starttls"), true);
  EXPECT_EQ(mx1.at("tls_version").as_string(), "TLSv1.3");
  EXPECT_EQ(mx1.at("cert").at("chain_valid"), true);
  EXPECT_EQ(mx1.at("cert").at("name_match"), true);
  EXPECT_EQ(mx1.at("cert").at("names").as_array()[0].as_string(), "mx1.enforce-ok.test");
  EXPECT_EQ(mx1.at("addresses").as_array().size(), 1u);
  EXPECT_EQ(mx1.at("cert").at("chain").as_array().size(), 2u);  // Leaf and intermediate.
  const auto& incomplete = results["mx-cert-missing-intermediate.test"].at("mx").as_array()[0];
  EXPECT_EQ(incomplete.at("cert").at("chain").as_array().size(), 1u);
  EXPECT_EQ(results["sts-delegated.test"].at("policy_id").as_string(), "provider2024");
  EXPECT_EQ(results["tlsrpt-https.test"].at("tlsrpt").at("rua").as_array()[0].as_string(),
            "https://reports.tlsrpt-https.test/v1/tlsrpt");

  // The MX outside the testbed was refused, never connected to: the canary saw nobody.
  std::ifstream events(shared_testbed->dir() + "/hostile/events.jsonl");
  std::string event;
  while (std::getline(events, event)) {
    EXPECT_FALSE(event.find("\"accepted\"") != std::string::npos &&
                 event.find(shared_testbed->canary()) != std::string::npos)
        << event;
  }
}

TEST_F(CheckCatalogueTest, ExitStatusFollowsTheWorstDomain) {
  EXPECT_EQ(RunProcess(CheckArgs({"enforce-ok.test", "no-mta-sts.test"})).exit_code, 0);
  EXPECT_EQ(RunProcess(CheckArgs({"enforce-ok.test", "tlsrpt-missing.test"})).exit_code, 1);
  EXPECT_EQ(RunProcess(CheckArgs({"tlsrpt-missing.test", "mx-cert-expired.test"})).exit_code, 2);
  EXPECT_EQ(RunProcess(CheckArgs({"policy-404.test"})).exit_code, 2);
  const ProcessResult usage = RunProcess(CheckArgs({"not_a domain"}));
  EXPECT_EQ(usage.exit_code, 3);
  EXPECT_THAT(usage.err, ::testing::HasSubstr("not a domain name"));
  EXPECT_EQ(RunProcess({"cli/stswatch", "check"}).exit_code, 3);
}

TEST_F(CheckCatalogueTest, HumanReportSaysWhatToFix) {
  const ProcessResult r = RunProcess(CheckArgs({"backup-mx-broken.test"}));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.out, ::testing::StartsWith("backup-mx-broken.test: failing"));
  EXPECT_THAT(r.out, ::testing::HasSubstr("MX 20 mx2.backup-mx-broken.test: REFUSE "
                                          "(certificate-expired)"));
  EXPECT_THAT(r.out, ::testing::HasSubstr("MX 10 mx1.backup-mx-broken.test: deliver"));
  EXPECT_THAT(r.out, ::testing::HasSubstr("mx.cert.expired  [RFC 8461 §4.1]"));
  EXPECT_THAT(r.out, ::testing::HasSubstr("The certificate of MX host mx2.backup-mx-broken.test"));
  EXPECT_EQ(r.out.find('\033'), std::string::npos);
}

TEST_F(CheckCatalogueTest, DomainsFromAFileShareTheirProbes) {
  const std::string path = std::string(std::getenv("TEST_TMPDIR")) + "/domains.txt";
  std::ofstream(path) << "# catalogue domains\nenforce-ok.test\n\nsts-delegated.test  # shared MX\n"
                         "provider.test\nnot a domain\n";
  const ProcessResult r = RunProcess(CheckArgs({"--json", "--file", path}));
  EXPECT_EQ(r.exit_code, 1) << r.err;  // Two domains lack TLS-RPT.
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 3);
  EXPECT_THAT(r.err, ::testing::HasSubstr(":6: \"not a domain\" is not a domain name"));
  // mx1.enforce-ok.test serves all three domains: probed once, shared twice.
  EXPECT_THAT(r.err, ::testing::HasSubstr("3 domains in"));
  EXPECT_THAT(r.err, ::testing::HasSubstr("2 SMTP probes, 2 answered from shared results"));
}

TEST_F(CheckCatalogueTest, PrivateAddressesAreRefusedByDefault) {
  const ProcessResult r =
      RunProcess({"cli/stswatch", "check", "--json", "--resolver", shared_testbed->resolver(),
                  "--ca-file", shared_testbed->ca_file(), "enforce-ok.test"});
  EXPECT_EQ(r.exit_code, 2);
  const boost::json::object o = boost::json::parse(r.out).as_object();
  EXPECT_EQ(o.at("status").as_string(), "broken");  // The policy host is on loopback too.
  EXPECT_THAT(r.out, ::testing::HasSubstr("policy.fetch.address_refused"));
  EXPECT_THAT(r.out, ::testing::HasSubstr("mx.address_refused"));
}

}  // namespace
}  // namespace stswatch
