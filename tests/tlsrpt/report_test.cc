// The TLS-RPT report parser against every report of the shared corpus (real senders' reports and
// the RFC 8460 examples, in testdata/), hand-written bad inputs, and the JSON writer's round trip.

#include "tlsrpt/report.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"

namespace stswatch::tlsrpt {
namespace {

using std::chrono::system_clock;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

std::string TestdataDir() {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  const char* workspace = std::getenv("TEST_WORKSPACE");
  return std::string(srcdir == nullptr ? "." : srcdir) + "/" +
         (workspace == nullptr ? "stswatch" : workspace) + "/tests/tlsrpt/testdata";
}

std::string ReadTestdata(const std::string& name) {
  std::ifstream in(TestdataDir() + "/" + name, std::ios::binary);
  std::stringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

// Every corpus report, which the tests below each check.
const std::vector<std::string>& CorpusFiles() {
  static const auto* files = new std::vector<std::string>{
      "domainaware-parsedmarc/mail.ru.json",
      "domainaware-parsedmarc/rfc8460.json",
      "domainaware-parsedmarc/smtp_tls.json",
      "phi-ag-mta-sts-exporter/google.json",
      "phi-ag-mta-sts-exporter/microsoft-2.json",
      "phi-ag-mta-sts-exporter/microsoft.json",
      "phi-ag-mta-sts-exporter/rfc-errata-6241.json",
      "phi-ag-mta-sts-exporter/rfc.json",
      "robalexdev-tlsrpt-be/report-2.json",
      "robalexdev-tlsrpt-be/report.json",
      "robalexdev-tlsrpt-be/testing.json",
      "stalwartlabs-mail-auth/rpt01.json",
      "stalwartlabs-mail-auth/rpt02.json",
      "stalwartlabs-mail-auth/rpt03.json",
  };
  return *files;
}

Report MustParse(const std::string& name) {
  const std::string bytes = ReadTestdata(name);
  EXPECT_FALSE(bytes.empty()) << name;
  absl::StatusOr<Report> report = ParseReport(bytes);
  EXPECT_TRUE(report.ok()) << name << ": " << report.status();
  return report.ok() ? *std::move(report) : Report{};
}

system_clock::time_point Utc(int y, unsigned mo, unsigned d, int h, int mi, int s) {
  return std::chrono::sys_days(std::chrono::year(y) / mo / d) + std::chrono::hours(h) +
         std::chrono::minutes(mi) + std::chrono::seconds(s);
}

std::vector<std::string> ResultTypesOf(const PolicyResult& p) {
  std::vector<std::string> out;
  out.reserve(p.failure_details.size());
  for (const FailureDetail& d : p.failure_details) {
    out.push_back(d.result_type);
  }
  return out;
}

std::vector<std::uint64_t> CountsOf(const PolicyResult& p) {
  std::vector<std::uint64_t> out;
  out.reserve(p.failure_details.size());
  for (const FailureDetail& d : p.failure_details) {
    out.push_back(d.failed_session_count);
  }
  return out;
}

// The RFC 8460 §4.6 example, which five corpus files carry with small differences.
void ExpectRfcExample(const Report& r, const std::string& report_id,
                      const std::string& policy_domain, const std::string& additional_information) {
  EXPECT_EQ(r.organization_name, "Company-X");
  EXPECT_EQ(r.contact_info, "sts-reporting@company-x.example");
  EXPECT_EQ(r.report_id, report_id);
  EXPECT_EQ(r.date_range.start, Utc(2016, 4, 1, 0, 0, 0));
  EXPECT_EQ(r.date_range.end, Utc(2016, 4, 1, 23, 59, 59));
  ASSERT_EQ(r.policies.size(), 1u);
  const PolicyResult& p = r.policies[0];
  EXPECT_EQ(p.policy.policy_type, "sts");
  EXPECT_TRUE(p.policy.policy_type_known);
  EXPECT_THAT(p.policy.policy_string,
              ElementsAre("version: STSv1", "mode: testing", "mx: *.mail.company-y.example",
                          "max_age: 86400"));
  EXPECT_EQ(p.policy.policy_domain, policy_domain);
  EXPECT_THAT(p.policy.mx_host, ElementsAre("*.mail.company-y.example"));
  EXPECT_EQ(p.summary.total_successful_session_count, 5326u);
  EXPECT_EQ(p.summary.total_failure_session_count, 303u);
  EXPECT_THAT(ResultTypesOf(p),
              ElementsAre("certificate-expired", "starttls-not-supported", "validation-failure"));
  EXPECT_THAT(CountsOf(p), ElementsAre(100u, 200u, 3u));
  ASSERT_EQ(p.failure_details.size(), 3u);
  for (const FailureDetail& d : p.failure_details) {
    EXPECT_TRUE(d.result_type_known);
  }
  EXPECT_EQ(p.failure_details[0].sending_mta_ip, "2001:db8:abcd:0012::1");
  EXPECT_EQ(p.failure_details[0].receiving_mx_hostname, "mx1.mail.company-y.example");
  EXPECT_EQ(p.failure_details[0].receiving_ip, "");
  EXPECT_EQ(p.failure_details[1].sending_mta_ip, "2001:db8:abcd:0013::1");
  EXPECT_EQ(p.failure_details[1].receiving_mx_hostname, "mx2.mail.company-y.example");
  EXPECT_EQ(p.failure_details[1].receiving_ip, "203.0.113.56");
  EXPECT_EQ(p.failure_details[1].additional_information, additional_information);
  EXPECT_EQ(p.failure_details[2].sending_mta_ip, "198.51.100.62");
  EXPECT_EQ(p.failure_details[2].receiving_ip, "203.0.113.58");
  EXPECT_EQ(p.failure_details[2].receiving_mx_hostname, "mx-backup.mail.company-y.example");
  EXPECT_EQ(p.failure_details[2].failure_reason_code, "X509_V_ERR_PROXY_PATH_LENGTH_EXCEEDED");
  EXPECT_THAT(r.warnings, IsEmpty());
}

constexpr char kRfcAdditionalInformation[] =
    "https://reports.company-x.example/report_info ? id = 5065427 c - 23 d3# StarttlsNotSupported ";

TEST(Corpus, EveryJsonFileIsChecked) {
  // Every report in the corpus folders, that is, not only those listed.
  std::set<std::string> folders;
  for (const std::string& name : CorpusFiles()) {
    folders.insert(name.substr(0, name.find('/')));
  }
  std::set<std::string> found;
  for (const std::string& folder : folders) {
    for (const auto& entry : std::filesystem::directory_iterator(TestdataDir() + "/" + folder)) {
      if (entry.path().extension() == ".json") {
        found.insert(folder + "/" + entry.path().filename().string());
      }
    }
  }
  const std::set<std::string> checked(CorpusFiles().begin(), CorpusFiles().end());
  EXPECT_EQ(found, checked);
}

TEST(Corpus, ParsedmarcRfc8460MxHostAsString) {
  ExpectRfcExample(MustParse("domainaware-parsedmarc/rfc8460.json"),
                   "5065427c-23d3-47ca-b6e0-946ea0e8c4be", "company-y.example",
                   "https://reports.company-x.example/report_info?id=5065427c-23d3#"
                   "StarttlsNotSupported");
}

TEST(Corpus, PhiRfcMxHostAsString) {
  ExpectRfcExample(MustParse("phi-ag-mta-sts-exporter/rfc.json"),
                   "5065427c-23d3-47ca-b6e0-946ea0e8c4be", "company-y.example",
                   kRfcAdditionalInformation);
}

TEST(Corpus, PhiRfcErrata6241MxHostAsArray) {
  ExpectRfcExample(MustParse("phi-ag-mta-sts-exporter/rfc-errata-6241.json"),
                   "5065427c-23d3-47ca-b6e0-946ea0e8c4be", "company-y.example",
                   kRfcAdditionalInformation);
}

TEST(Corpus, StalwartRpt01MxHostAsArray) {
  ExpectRfcExample(MustParse("stalwartlabs-mail-auth/rpt01.json"),
                   "5065427c-23d3-47ca-b6e0-946ea0e8c4be", "company-y.example",
                   kRfcAdditionalInformation);
}

TEST(Corpus, RobalexdevTestingIdnPolicyDomain) {
  ExpectRfcExample(MustParse("robalexdev-tlsrpt-be/testing.json"),
                   "report-id-of-report-over-email-1234", "xn--gpher-jua.test",
                   kRfcAdditionalInformation);
}

TEST(Corpus, MailRuTotalsDisagreeWithDetails) {
  const Report r = MustParse("domainaware-parsedmarc/mail.ru.json");
  EXPECT_EQ(r.organization_name, "Mail.ru");
  EXPECT_EQ(r.contact_info, "tls_support@corp.mail.ru");
  EXPECT_EQ(r.report_id, "b28254de-7b2e-be36-bb5c-4c3b92da8b25@mail.ru");
  EXPECT_EQ(r.date_range.start, Utc(2024, 2, 22, 0, 0, 0));
  EXPECT_EQ(r.date_range.end, Utc(2024, 2, 23, 0, 0, 0));
  ASSERT_EQ(r.policies.size(), 1u);
  const PolicyResult& p = r.policies[0];
  EXPECT_EQ(p.policy.policy_type, "sts");
  EXPECT_EQ(p.policy.policy_domain, "example.com");
  EXPECT_THAT(p.policy.policy_string, IsEmpty());
  EXPECT_THAT(p.policy.mx_host, IsEmpty());
  // Both kept: the summary says 1, the details 1 + 1.
  EXPECT_EQ(p.summary.total_successful_session_count, 0u);
  EXPECT_EQ(p.summary.total_failure_session_count, 1u);
  EXPECT_THAT(ResultTypesOf(p), ElementsAre("sts-policy-fetch-error", "sts-policy-fetch-error"));
  EXPECT_THAT(CountsOf(p), ElementsAre(1u, 1u));
  ASSERT_EQ(p.failure_details.size(), 2u);
  EXPECT_EQ(p.failure_details[0].failure_reason_code, "bad https response code: 404");
  EXPECT_EQ(p.failure_details[1].failure_reason_code, "bad https response code: 500");
  EXPECT_EQ(p.failure_details[0].sending_mta_ip, std::nullopt);
  EXPECT_EQ(p.failure_details[0].receiving_ip, "");
  EXPECT_EQ(p.failure_details[0].receiving_mx_hostname, "");
  EXPECT_THAT(r.warnings, ElementsAre("policies[0].summary.total-failure-session-count is 1 but "
                                      "the failed-session-count of its failure-details add up to "
                                      "2; both kept."));
}

TEST(Corpus, ParsedmarcSmtpTlsValidationFailures) {
  const Report r = MustParse("domainaware-parsedmarc/smtp_tls.json");
  EXPECT_EQ(r.organization_name, "Example Inc.");
  EXPECT_EQ(r.contact_info, "smtp-tls-reporting@example.com");
  EXPECT_EQ(r.report_id, "2024-01-09T00:00:00Z_example.com");
  EXPECT_EQ(r.date_range.start, Utc(2024, 1, 9, 0, 0, 0));
  EXPECT_EQ(r.date_range.end, Utc(2024, 1, 9, 23, 59, 59));
  ASSERT_EQ(r.policies.size(), 1u);
  const PolicyResult& p = r.policies[0];
  EXPECT_EQ(p.policy.policy_type, "sts");
  EXPECT_EQ(p.policy.policy_domain, "example.com");
  EXPECT_THAT(p.policy.policy_string,
              ElementsAre("version: STSv1", "mode: testing", "mx: example.com", "max_age: 86400"));
  EXPECT_THAT(p.policy.mx_host, IsEmpty());
  EXPECT_EQ(p.summary.total_successful_session_count, 0u);
  EXPECT_EQ(p.summary.total_failure_session_count, 3u);
  EXPECT_THAT(ResultTypesOf(p), ElementsAre("validation-failure", "validation-failure"));
  EXPECT_THAT(CountsOf(p), ElementsAre(2u, 1u));
  ASSERT_EQ(p.failure_details.size(), 2u);
  EXPECT_EQ(p.failure_details[0].sending_mta_ip, "209.85.222.201");
  EXPECT_EQ(p.failure_details[0].receiving_ip, "173.212.201.41");
  EXPECT_EQ(p.failure_details[0].receiving_mx_hostname, "example.com");
  EXPECT_EQ(p.failure_details[1].sending_mta_ip, "209.85.208.176");
  EXPECT_THAT(r.warnings, IsEmpty());
}

TEST(Corpus, PhiGoogleMxHostArray) {
  const Report r = MustParse("phi-ag-mta-sts-exporter/google.json");
  EXPECT_EQ(r.organization_name, "Google Inc.");
  EXPECT_EQ(r.contact_info, "smtp-tls-reporting@google.com");
  EXPECT_EQ(r.report_id, "2024-02-17T00:00:00Z_example.com");
  EXPECT_EQ(r.date_range.start, Utc(2024, 2, 17, 0, 0, 0));
  EXPECT_EQ(r.date_range.end, Utc(2024, 2, 17, 23, 59, 59));
  ASSERT_EQ(r.policies.size(), 1u);
  const PolicyResult& p = r.policies[0];
  EXPECT_EQ(p.policy.policy_type, "sts");
  EXPECT_EQ(p.policy.policy_domain, "example.com");
  EXPECT_THAT(p.policy.policy_string,
              ElementsAre("version: STSv1", "mode: enforce", "mx: example.com", "max_age: 86400"));
  EXPECT_THAT(p.policy.mx_host, ElementsAre("example.com"));
  EXPECT_EQ(p.summary.total_successful_session_count, 53u);
  EXPECT_EQ(p.summary.total_failure_session_count, 0u);
  EXPECT_THAT(p.failure_details, IsEmpty());
  EXPECT_THAT(r.warnings, IsEmpty());
}

TEST(Corpus, PhiMicrosoftNoMxHost) {
  const Report r = MustParse("phi-ag-mta-sts-exporter/microsoft.json");
  EXPECT_EQ(r.organization_name, "Microsoft Corporation");
  EXPECT_EQ(r.contact_info, "tlsrpt-noreply@microsoft.com");
  EXPECT_EQ(r.report_id, "133526718584528772+example.com");
  EXPECT_EQ(r.date_range.start, Utc(2024, 2, 16, 0, 0, 0));
  EXPECT_EQ(r.date_range.end, Utc(2024, 2, 16, 23, 59, 59));
  ASSERT_EQ(r.policies.size(), 1u);
  const PolicyResult& p = r.policies[0];
  EXPECT_EQ(p.policy.policy_type, "sts");
  EXPECT_EQ(p.policy.policy_domain, "example.com");
  EXPECT_THAT(p.policy.mx_host, IsEmpty());
  EXPECT_EQ(p.summary.total_successful_session_count, 18u);
  EXPECT_EQ(p.summary.total_failure_session_count, 0u);
  EXPECT_THAT(p.failure_details, IsEmpty());
  EXPECT_THAT(r.warnings, IsEmpty());
}

TEST(Corpus, PhiMicrosoft2ZonelessDatesReadAsUtc) {
  const Report r = MustParse("phi-ag-mta-sts-exporter/microsoft-2.json");
  EXPECT_EQ(r.organization_name, "Microsoft Corporation");
  EXPECT_EQ(r.report_id, "133561180919336230+example.com");
  EXPECT_EQ(r.date_range.start, Utc(2024, 3, 26, 0, 0, 0));
  EXPECT_EQ(r.date_range.end, Utc(2024, 3, 26, 23, 59, 59));
  ASSERT_EQ(r.policies.size(), 1u);
  const PolicyResult& p = r.policies[0];
  EXPECT_EQ(p.policy.policy_type, "sts");
  EXPECT_EQ(p.policy.policy_domain, "example.com");
  EXPECT_THAT(p.policy.policy_string, ElementsAre("version: STSv1", "mode: enforce",
                                                  "mx: mx.example.com", "max_age: 86400"));
  EXPECT_THAT(p.policy.mx_host, IsEmpty());
  EXPECT_EQ(p.summary.total_successful_session_count, 7u);
  EXPECT_EQ(p.summary.total_failure_session_count, 0u);
  EXPECT_THAT(p.failure_details, IsEmpty());
  EXPECT_THAT(r.warnings, ElementsAre("date-range.start-datetime \"2024-03-26T00:00:00\" has no "
                                      "time zone; read as UTC.",
                                      "date-range.end-datetime \"2024-03-26T23:59:59\" has no "
                                      "time zone; read as UTC."));
}

TEST(Corpus, RobalexdevNoPolicyFoundAllSuccessful) {
  const Report r = MustParse("robalexdev-tlsrpt-be/report-2.json");
  EXPECT_EQ(r.organization_name, "Example LLC.");
  EXPECT_EQ(r.contact_info, "smtp-tls-reporting@example-llc.com");
  EXPECT_EQ(r.report_id, "2025-08-04T00:00:00Z_example.org");
  EXPECT_EQ(r.date_range.start, Utc(2025, 8, 4, 0, 0, 0));
  EXPECT_EQ(r.date_range.end, Utc(2025, 8, 4, 23, 59, 59));
  ASSERT_EQ(r.policies.size(), 1u);
  const PolicyResult& p = r.policies[0];
  EXPECT_EQ(p.policy.policy_type, "no-policy-found");
  EXPECT_TRUE(p.policy.policy_type_known);
  EXPECT_EQ(p.policy.policy_domain, "example.org");
  EXPECT_THAT(p.policy.policy_string, IsEmpty());
  EXPECT_EQ(p.summary.total_successful_session_count, 13u);
  EXPECT_EQ(p.summary.total_failure_session_count, 0u);
  EXPECT_THAT(p.failure_details, IsEmpty());
  EXPECT_THAT(r.warnings, IsEmpty());
}

TEST(Corpus, RobalexdevFailuresWithoutDetailsAreNotAMismatch) {
  const Report r = MustParse("robalexdev-tlsrpt-be/report.json");
  EXPECT_EQ(r.organization_name, "Example Inc.");
  EXPECT_EQ(r.report_id, "report-id-from-report.json");
  EXPECT_EQ(r.date_range.start, Utc(2025, 8, 4, 0, 0, 0));
  ASSERT_EQ(r.policies.size(), 1u);
  const PolicyResult& p = r.policies[0];
  EXPECT_EQ(p.policy.policy_type, "no-policy-found");
  EXPECT_EQ(p.policy.policy_domain, "xn--gpher-jua.test");
  EXPECT_EQ(p.summary.total_successful_session_count, 99u);
  EXPECT_EQ(p.summary.total_failure_session_count, 102u);
  EXPECT_THAT(p.failure_details, IsEmpty());
  // Failure details are optional: 102 failures without any is not a disagreement.
  EXPECT_THAT(r.warnings, IsEmpty());
}

TEST(Corpus, StalwartRpt02CertificateHostMismatchOverAWeek) {
  const Report r = MustParse("stalwartlabs-mail-auth/rpt02.json");
  EXPECT_EQ(r.organization_name, "Google Inc.");
  EXPECT_EQ(r.contact_info, "smtp-tls-reporting@google.com");
  EXPECT_EQ(r.report_id, "2020-01-01T00:00:00Z_example.com");
  EXPECT_EQ(r.date_range.start, Utc(2020, 1, 1, 0, 0, 0));
  EXPECT_EQ(r.date_range.end, Utc(2020, 1, 7, 23, 59, 59));
  ASSERT_EQ(r.policies.size(), 1u);
  const PolicyResult& p = r.policies[0];
  EXPECT_EQ(p.policy.policy_type, "sts");
  EXPECT_EQ(p.policy.policy_domain, "example.com");
  EXPECT_THAT(p.policy.policy_string, ElementsAre("version: STSv1", "mode: enforce",
                                                  "mx: demo.example.com", "max_age: 604800"));
  EXPECT_THAT(p.policy.mx_host, IsEmpty());
  EXPECT_EQ(p.summary.total_successful_session_count, 23u);
  EXPECT_EQ(p.summary.total_failure_session_count, 1u);
  EXPECT_THAT(ResultTypesOf(p), ElementsAre("certificate-host-mismatch"));
  EXPECT_THAT(CountsOf(p), ElementsAre(1u));
  EXPECT_EQ(p.failure_details[0].sending_mta_ip, "123.123.123.123");
  EXPECT_EQ(p.failure_details[0].receiving_ip, "234.234.234.234");
  EXPECT_EQ(p.failure_details[0].receiving_mx_hostname, "demo.example.com");
  EXPECT_THAT(r.warnings, IsEmpty());
}

TEST(Corpus, StalwartRpt03InvalidPolicyTypeNoDomainNoFailureCount) {
  const Report r = MustParse("stalwartlabs-mail-auth/rpt03.json");
  EXPECT_EQ(r.organization_name, "Google Inc.");
  EXPECT_EQ(r.contact_info, "smtp-tls-reporting@google.com");
  EXPECT_EQ(r.report_id, "2019-04-14T00:00:00Z_example.org");
  EXPECT_EQ(r.date_range.start, Utc(2019, 4, 14, 0, 0, 0));
  EXPECT_EQ(r.date_range.end, Utc(2019, 4, 14, 23, 59, 59));
  ASSERT_EQ(r.policies.size(), 2u);
  EXPECT_EQ(r.policies[0].policy.policy_type, "no-policy-found");
  EXPECT_TRUE(r.policies[0].policy.policy_type_known);
  EXPECT_EQ(r.policies[1].policy.policy_type, "invalid-policy-type");
  EXPECT_FALSE(r.policies[1].policy.policy_type_known);
  for (const PolicyResult& p : r.policies) {
    EXPECT_EQ(p.policy.policy_domain, "");
    EXPECT_EQ(p.summary.total_successful_session_count, 1u);
    EXPECT_EQ(p.summary.total_failure_session_count, 0u);
    EXPECT_THAT(p.failure_details, IsEmpty());
  }
  EXPECT_THAT(
      r.warnings,
      ElementsAre("policies[0].policy.policy-domain is missing.",
                  "policies[0].summary.total-failure-session-count is missing; read as 0.",
                  "policies[1].policy.policy-type \"invalid-policy-type\" is not an RFC 8460 "
                  "policy type; kept as given.",
                  "policies[1].policy.policy-domain is missing.",
                  "policies[1].summary.total-failure-session-count is missing; read as 0."));
}

TEST(Corpus, EveryReportRoundTripsThroughJson) {
  for (const std::string& name : CorpusFiles()) {
    const Report r = MustParse(name);
    const std::string json = ReportToJson(r);
    const absl::StatusOr<Report> again = ParseReport(json);
    ASSERT_TRUE(again.ok()) << name << ": " << again.status();
    EXPECT_EQ(*again, r) << name;
    // What the writer writes is clean: no quirk left to tolerate, except what the data carries
    // (rpt03's unknown policy type and missing domains, Mail.ru's totals).
    for (const std::string& w : again->warnings) {
      EXPECT_THAT(w, ::testing::AnyOf(HasSubstr("policy-type"), HasSubstr("policy-domain"),
                                      HasSubstr("both kept")))
          << name;
    }
  }
}

TEST(Corpus, WriterPrintsMxHostAsAnArray) {
  const std::string json = ReportToJson(MustParse("phi-ag-mta-sts-exporter/rfc.json"));
  EXPECT_THAT(json, HasSubstr("\"mx-host\":[\"*.mail.company-y.example\"]"));
  EXPECT_THAT(json, HasSubstr("\"start-datetime\":\"2016-04-01T00:00:00Z\""));
}

// A minimal valid report, which the bad-input tests break one member at a time.
constexpr char kStsLines[] =
    R"(["version: STSv1", "mode: enforce", "mx: mx.example.com", "max_age: 86400"])";
constexpr char kMinimal[] = R"({
  "organization-name": "Org",
  "date-range": {"start-datetime": "2026-01-01T00:00:00Z",
                 "end-datetime": "2026-01-01T23:59:59Z"},
  "contact-info": "tls@org.example",
  "report-id": "id-1",
  "policies": [{
    "policy": {"policy-type": "sts", "policy-domain": "example.com", "policy-string":
               ["version: STSv1", "mode: enforce", "mx: mx.example.com", "max_age: 86400"]},
    "summary": {"total-successful-session-count": 10, "total-failure-session-count": 3},
    "failure-details": [{"result-type": "certificate-expired", "failed-session-count": 3}]
  }]
})";

// `text` with every `from` replaced by `to`.
std::string ReplaceAll(std::string text, std::string_view from, std::string_view to) {
  for (std::size_t pos = text.find(from); pos != std::string::npos;
       pos = text.find(from, pos + to.size())) {
    text.replace(pos, from.size(), to);
  }
  return text;
}

std::string Minimal(std::string_view from, std::string_view to) {
  std::string json = ReplaceAll(kMinimal, from, to);
  EXPECT_NE(json, kMinimal) << "no \"" << from << "\" in the minimal report";
  return json;
}

// The error message of a refused document (and that it was refused as invalid input).
std::string Refusal(std::string_view json, const ParseOptions& options = {}) {
  const absl::StatusOr<Report> r = ParseReport(json, options);
  if (r.ok()) {
    return "accepted";
  }
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << r.status();
  EXPECT_FALSE(r.status().message().empty());
  return std::string(r.status().message());
}

TEST(Parse, MinimalReportIsClean) {
  const absl::StatusOr<Report> r = ParseReport(kMinimal);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT(r->warnings, IsEmpty());
  EXPECT_EQ(r->policies[0].failure_details[0].sending_mta_ip, std::nullopt);
}

TEST(Parse, CountAsStringIsRefusedWithItsPath) {
  EXPECT_EQ(Refusal(Minimal("\"total-failure-session-count\": 3",
                            "\"total-failure-session-count\": \"3\"")),
            "policies[0].summary.total-failure-session-count is not a non-negative integer");
  EXPECT_EQ(Refusal(Minimal("\"failed-session-count\": 3", "\"failed-session-count\": \"3\"")),
            "policies[0].failure-details[0].failed-session-count is not a non-negative integer");
}

TEST(Parse, NegativeFractionalAndHugeCountsAreRefused) {
  EXPECT_EQ(Refusal(Minimal("\"total-successful-session-count\": 10",
                            "\"total-successful-session-count\": -1")),
            "policies[0].summary.total-successful-session-count is not a non-negative integer");
  EXPECT_EQ(Refusal(Minimal("\"total-successful-session-count\": 10",
                            "\"total-successful-session-count\": 1.5")),
            "policies[0].summary.total-successful-session-count is not a non-negative integer");
  EXPECT_EQ(Refusal(Minimal("\"total-successful-session-count\": 10",
                            "\"total-successful-session-count\": 1e30")),
            "policies[0].summary.total-successful-session-count is not a non-negative integer");
  EXPECT_EQ(Refusal(Minimal("\"total-successful-session-count\": 10",
                            "\"total-successful-session-count\": 18446744073709551616")),
            "policies[0].summary.total-successful-session-count is not a non-negative integer");
  EXPECT_EQ(Refusal(Minimal("\"total-successful-session-count\": 10",
                            "\"total-successful-session-count\": 18446744073709551615")),
            "policies[0].summary.total-successful-session-count is 18446744073709551615, above "
            "the limit of 1000000000000");
  EXPECT_EQ(
      Refusal(Minimal("\"failed-session-count\": 3", "\"failed-session-count\": 1000000000001")),
      "policies[0].failure-details[0].failed-session-count is 1000000000001, above the "
      "limit of 1000000000000");
  // The limit itself is accepted.
  EXPECT_EQ(Refusal(Minimal("\"total-successful-session-count\": 10",
                            "\"total-successful-session-count\": 1000000000000")),
            "accepted");
  ParseOptions options;
  options.max_count = 5;
  EXPECT_EQ(Refusal(kMinimal, options),
            "policies[0].summary.total-successful-session-count is 10, above the limit of 5");
}

TEST(Parse, WrongJsonTypesAreRefusedWithTheirPath) {
  EXPECT_EQ(Refusal(Minimal("\"Org\"", "42")), "organization-name is not a string");
  EXPECT_EQ(Refusal(Minimal("\"id-1\"", "[\"id-1\"]")), "report-id is not a string");
  EXPECT_EQ(Refusal(Minimal("\"tls@org.example\"", "{}")), "contact-info is not a string");
  EXPECT_EQ(
      Refusal(R"({"organization-name":"O","date-range":{"start-datetime":"2026-01-01T00:00:00Z",
      "end-datetime":"2026-01-01T00:00:00Z"},"report-id":"i","policies":{}})"),
      "policies is not an array");
  EXPECT_EQ(Refusal(Minimal("\"policies\": [{", "\"policies\": [7, {")),
            "policies[0] is not an object");
  EXPECT_EQ(Refusal(Minimal("\"policy\": {", "\"policy\": 1, \"x\": {")),
            "policies[0].policy is not an object");
  EXPECT_EQ(Refusal(Minimal("\"policy-type\": \"sts\"", "\"policy-type\": true")),
            "policies[0].policy.policy-type is not a string");
  EXPECT_EQ(Refusal(Minimal("\"policy-domain\": \"example.com\"", "\"policy-domain\": 1")),
            "policies[0].policy.policy-domain is not a string");
  EXPECT_EQ(Refusal(Minimal("\"max_age: 86400\"", "86400")),
            "policies[0].policy.policy-string is not an array of strings");
  EXPECT_EQ(Refusal(Minimal("\"policy-domain\": \"example.com\"",
                            "\"policy-domain\": \"example.com\", \"mx-host\": 5")),
            "policies[0].policy.mx-host is not a string or an array of strings");
  EXPECT_EQ(Refusal(Minimal("\"policy-domain\": \"example.com\"",
                            "\"policy-domain\": \"example.com\", \"mx-host\": [\"a\", 5]")),
            "policies[0].policy.mx-host is not an array of strings");
  EXPECT_EQ(Refusal(Minimal("\"summary\": {", "\"summary\": [], \"x\": {")),
            "policies[0].summary is not an object");
  EXPECT_EQ(Refusal(Minimal("\"failure-details\": [{\"result-type\": \"certificate-expired\", "
                            "\"failed-session-count\": 3}]",
                            "\"failure-details\": {}")),
            "policies[0].failure-details is not an array");
  EXPECT_EQ(Refusal(Minimal("\"failure-details\": [{", "\"failure-details\": [\"x\", {")),
            "policies[0].failure-details[0] is not an object");
  EXPECT_EQ(Refusal(Minimal("\"result-type\": \"certificate-expired\"", "\"result-type\": 1")),
            "policies[0].failure-details[0].result-type is not a string");
  EXPECT_EQ(Refusal(Minimal("\"result-type\": \"certificate-expired\"",
                            "\"result-type\": \"certificate-expired\", \"sending-mta-ip\": 1")),
            "policies[0].failure-details[0].sending-mta-ip is not a string");
  EXPECT_EQ(Refusal(Minimal("\"result-type\": \"certificate-expired\"",
                            "\"result-type\": \"certificate-expired\", \"receiving-ip\": []")),
            "policies[0].failure-details[0].receiving-ip is not a string");
  EXPECT_EQ(Refusal(Minimal("\"date-range\": {", "\"date-range\": 5, \"x\": {")),
            "date-range is not an object");
  EXPECT_EQ(Refusal(Minimal("\"start-datetime\": \"2026-01-01T00:00:00Z\"",
                            "\"start-datetime\": 1767225600")),
            "date-range.start-datetime is not a string");
}

TEST(Parse, RequiredMembersAreRefusedWhenMissing) {
  EXPECT_EQ(Refusal(Minimal("\"report-id\": \"id-1\",", "")), "report-id is missing");
  EXPECT_EQ(Refusal(Minimal("\"report-id\": \"id-1\",", "\"report-id\": null,")),
            "report-id is missing");
  EXPECT_EQ(Refusal(Minimal("\"report-id\": \"id-1\",", "\"report-id\": \"\",")),
            "report-id is empty");
  EXPECT_EQ(Refusal(Minimal("\"id-1\"", "\"" + std::string(1025, 'x') + "\"")),
            "report-id has 1025 bytes, above the limit of 1024");
  EXPECT_EQ(Refusal(Minimal("\"id-1\"", "\"" + std::string(1024, 'x') + "\"")), "accepted");
  EXPECT_EQ(Refusal(Minimal("\"organization-name\": \"Org\",", "")),
            "organization-name is missing");
  EXPECT_EQ(Refusal(Minimal("\"organization-name\": \"Org\",", "\"organization-name\": \"\",")),
            "organization-name is empty");
  EXPECT_EQ(Refusal(Minimal("\"start-datetime\": \"2026-01-01T00:00:00Z\",", "")),
            "date-range.start-datetime is missing");
  EXPECT_EQ(Refusal(Minimal("\"policy-type\": \"sts\",", "")),
            "policies[0].policy.policy-type is missing");
  EXPECT_EQ(Refusal(Minimal("\"result-type\": \"certificate-expired\",", "")),
            "policies[0].failure-details[0].result-type is missing");
  EXPECT_EQ(
      Refusal(R"({"organization-name":"O","date-range":{"start-datetime":"2026-01-01T00:00:00Z",
      "end-datetime":"2026-01-01T00:00:00Z"},"report-id":"i"})"),
      "policies is missing");
  EXPECT_EQ(Refusal(R"({"organization-name":"O","report-id":"i","policies":[]})"),
            "date-range is missing");
  EXPECT_EQ(
      Refusal(R"({"organization-name":"O","date-range":{"start-datetime":"2026-01-01T00:00:00Z",
      "end-datetime":"2026-01-01T00:00:00Z"},"report-id":"i","policies":[{"summary":{}}]})"),
      "policies[0].policy is missing");
  EXPECT_EQ(
      Refusal(R"({"organization-name":"O","date-range":{"start-datetime":"2026-01-01T00:00:00Z",
      "end-datetime":"2026-01-01T00:00:00Z"},"report-id":"i",
      "policies":[{"policy":{"policy-type":"sts","policy-domain":"d"}}]})"),
      "policies[0].summary is missing");
}

TEST(Parse, AbsurdDateRangesAreRefused) {
  EXPECT_EQ(Refusal(Minimal("\"end-datetime\": \"2026-01-01T23:59:59Z\"",
                            "\"end-datetime\": \"2025-12-31T23:59:59Z\"")),
            "date-range.end-datetime is before date-range.start-datetime");
  EXPECT_EQ(Refusal(Minimal("\"end-datetime\": \"2026-01-01T23:59:59Z\"",
                            "\"end-datetime\": \"2026-02-01T00:00:01Z\"")),
            "date-range covers more than 31 days");
  EXPECT_EQ(Refusal(Minimal("\"end-datetime\": \"2026-01-01T23:59:59Z\"",
                            "\"end-datetime\": \"2026-02-01T00:00:00Z\"")),
            "accepted");
  EXPECT_EQ(Refusal(Minimal("2026-01-01T00:00:00Z", "1999-12-31T00:00:00Z")),
            "date-range.start-datetime \"1999-12-31T00:00:00Z\" is not in the years 2000 to 2200");
  // 2000-01-01T00:30+01:00 is still 1999 in UTC.
  EXPECT_EQ(Refusal(Minimal("2026-01-01T00:00:00Z", "2000-01-01T00:30:00+01:00")),
            "date-range.start-datetime \"2000-01-01T00:30:00+01:00\" is not in the years 2000 to "
            "2200");
  EXPECT_EQ(Refusal(Minimal("2026-01-01T00:00:00Z", "9999-01-01T00:00:00Z")),
            "date-range.start-datetime \"9999-01-01T00:00:00Z\" is not in the years 2000 to 2200");
  EXPECT_EQ(Refusal(Minimal("2026-01-01T00:00:00Z", "2026-02-30T00:00:00Z")),
            "date-range.start-datetime \"2026-02-30T00:00:00Z\" is not an RFC 3339 date-time");
  for (const char* bad : {"2026-01-01", "2026-01-01T24:00:00Z", "2026-01-01T00:00:00.Z",
                          "2026-01-01T00:00:00+0100", "2026-01-01T00:00:00Zjunk", "yesterday",
                          "2026-01-01T00:00:00+24:00", "+2026-01-01T00:00:00Z", ""}) {
    EXPECT_THAT(Refusal(Minimal("2026-01-01T00:00:00Z", bad)),
                HasSubstr("is not an RFC 3339 date-time"))
        << bad;
  }
  ParseOptions options;
  options.max_range = std::chrono::hours(12);
  EXPECT_EQ(Refusal(kMinimal, options), "date-range covers more than 43200 seconds");
}

TEST(Parse, DateTimesWithFractionsAndOffsets) {
  const absl::StatusOr<Report> r = ParseReport(Minimal(
      R"("start-datetime": "2026-01-01T00:00:00Z",
                 "end-datetime": "2026-01-01T23:59:59Z")",
      R"("start-datetime": "2026-01-01T02:00:00.25+02:00",
                 "end-datetime": "2026-01-01t18:59:59.123456789123-05:00")"));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->date_range.start, Utc(2026, 1, 1, 0, 0, 0) + std::chrono::milliseconds(250));
  EXPECT_EQ(r->date_range.end, Utc(2026, 1, 1, 23, 59, 59) + std::chrono::nanoseconds(123456789));
  EXPECT_THAT(r->warnings, IsEmpty());
  const std::string json = ReportToJson(*r);
  EXPECT_THAT(json, HasSubstr("\"start-datetime\":\"2026-01-01T00:00:00.25Z\""));
  EXPECT_THAT(json, HasSubstr("\"end-datetime\":\"2026-01-01T23:59:59.123456789Z\""));
  const absl::StatusOr<Report> again = ParseReport(json);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(*again, *r);
}

TEST(Parse, DocumentsAboveTheByteLimitAreRefusedBeforeParsing) {
  const std::string huge(std::size_t{10} * 1024 * 1024 + 1, ' ');
  EXPECT_EQ(Refusal(huge), "the report has 10485761 bytes, above the limit of 10485760");
  ParseOptions options;
  options.max_bytes = 100;
  EXPECT_EQ(Refusal(kMinimal, options),
            absl::StrCat("the report has ", std::string_view(kMinimal).size(),
                         " bytes, above the limit of 100"));
}

TEST(Parse, DeepNestingIsRefused) {
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  EXPECT_EQ(Refusal(deep), "the report is nested deeper than 32 levels");
  // Also inside an unknown member of a valid report.
  EXPECT_EQ(Refusal(Minimal("\"contact-info\"", "\"x\": " + std::string(40, '[') +
                                                    std::string(40, ']') + ", \"contact-info\"")),
            "the report is nested deeper than 32 levels");
}

TEST(Parse, InvalidJsonAndNonObjectsAreRefused) {
  const std::string rfc = ReadTestdata("phi-ag-mta-sts-exporter/rfc.json");
  ASSERT_FALSE(rfc.empty());
  EXPECT_THAT(Refusal(rfc.substr(0, rfc.size() / 2)), HasSubstr("the report is not valid JSON ("));
  EXPECT_THAT(Refusal(""), HasSubstr("the report is not valid JSON ("));
  EXPECT_THAT(Refusal("{\"a\": 1} {"), HasSubstr("the report is not valid JSON ("));
  EXPECT_THAT(Refusal("{\"a\": \"\xff\"}"), HasSubstr("the report is not valid JSON ("));
  for (const char* not_object : {"[]", "\"report\"", "42", "null", "true"}) {
    EXPECT_EQ(Refusal(not_object), "the report is not a JSON object") << not_object;
  }
}

TEST(Parse, TooManyPoliciesOrFailureDetailsAreRefused) {
  ParseOptions options;
  options.max_policies = 0;
  EXPECT_EQ(Refusal(kMinimal, options), "policies has 1 elements, above the limit of 0");
  options = {};
  options.max_failure_details = 0;
  EXPECT_EQ(Refusal(kMinimal, options),
            "policies[0].failure-details has 1 elements, above the limit of 0");
}

TEST(Parse, TlsaPolicyStringInOneStringIsSplit) {
  const absl::StatusOr<Report> r =
      ParseReport(ReplaceAll(ReplaceAll(kMinimal, "\"sts\"", "\"tlsa\""), kStsLines,
                             R"("[\"3 1 1 0123ABCD\", \"2 1 1 4567EF01\"]")"));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->policies[0].policy.policy_type, "tlsa");
  EXPECT_THAT(r->policies[0].policy.policy_string, ElementsAre("3 1 1 0123ABCD", "2 1 1 4567EF01"));
  EXPECT_THAT(r->warnings, ElementsAre("policies[0].policy.policy-string is one string holding a "
                                       "JSON array; read as the array's strings."));
  const absl::StatusOr<Report> again = ParseReport(ReportToJson(*r));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(*again, *r);
  EXPECT_THAT(again->warnings, IsEmpty());
}

TEST(Parse, PolicyStringAsAPlainStringIsOneLine) {
  const absl::StatusOr<Report> r = ParseReport(Minimal(kStsLines, "\"3 1 1 0123ABCD\""));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT(r->policies[0].policy.policy_string, ElementsAre("3 1 1 0123ABCD"));
  EXPECT_THAT(r->warnings, ElementsAre("policies[0].policy.policy-string is a string, not an "
                                       "array; read as an array of that string."));
}

TEST(Parse, ToleratedQuirksEachWarn) {
  const absl::StatusOr<Report> r = ParseReport(R"({
    "organization-name": "Org", "report-id": "r", "unknown": {"nested": [1, 2]},
    "date-range": {"start-datetime": "2026-01-01T00:00:00Z", "end-datetime": "2026-01-02T00:00:00Z"},
    "policies": [{
      "policy": {"policy-type": "sts", "policy-domain": "example.com", "mx-host": "mx.example.com"},
      "summary": {"total-successful-session-count": 1, "total-failure-session-count": 5},
      "failure-details": [
        {"result-type": "certificate-expired", "failed-session-count": 2, "sending-mta-ip": null},
        {"result-type": "something-new", "receiving-mx-helo": "helo.example.com"}
      ]
    }]
  })");
  ASSERT_TRUE(r.ok()) << r.status();
  const PolicyResult& p = r->policies[0];
  EXPECT_THAT(p.policy.mx_host, ElementsAre("mx.example.com"));
  EXPECT_EQ(p.failure_details[0].sending_mta_ip, std::nullopt);
  EXPECT_TRUE(p.failure_details[0].result_type_known);
  EXPECT_EQ(p.failure_details[1].result_type, "something-new");
  EXPECT_FALSE(p.failure_details[1].result_type_known);
  EXPECT_EQ(p.failure_details[1].failed_session_count, 0u);
  EXPECT_EQ(p.failure_details[1].receiving_mx_helo, "helo.example.com");
  EXPECT_THAT(
      r->warnings,
      ElementsAre("contact-info is missing.",
                  "policies[0].failure-details[1].result-type \"something-new\" is not an RFC "
                  "8460 result type; kept as given.",
                  "policies[0].failure-details[1].failed-session-count is missing; read as 0.",
                  "policies[0].summary.total-failure-session-count is 5 but the "
                  "failed-session-count of its failure-details add up to 2; both kept."));
}

TEST(Parse, EmptyPoliciesWarn) {
  const absl::StatusOr<Report> r = ParseReport(
      R"({"organization-name":"O","date-range":{"start-datetime":"2026-01-01T00:00:00Z",
      "end-datetime":"2026-01-01T00:00:00Z"},"contact-info":"c","report-id":"i","policies":[]})");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT(r->policies, IsEmpty());
  EXPECT_THAT(r->warnings, ElementsAre("policies is empty: the report reports nothing."));
}

TEST(Parse, WarningsAreCapped) {
  std::string policies;
  for (int i = 0; i < 150; ++i) {
    absl::StrAppend(&policies, i == 0 ? "" : ",",
                    R"({"policy":{"policy-type":"x","policy-domain":"d"},"summary":{)",
                    R"("total-successful-session-count":0,"total-failure-session-count":0}})");
  }
  const absl::StatusOr<Report> r = ParseReport(absl::StrCat(
      R"({"organization-name":"O","date-range":{"start-datetime":"2026-01-01T00:00:00Z",)",
      R"("end-datetime":"2026-01-01T00:00:00Z"},"contact-info":"c","report-id":"i","policies":[)",
      policies, "]}"));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->policies.size(), 150u);
  ASSERT_EQ(r->warnings.size(), 101u);
  EXPECT_EQ(r->warnings.back(), "50 more warnings left out.");
}

TEST(RoundTrip, HandBuiltReport) {
  Report r;
  r.organization_name = "Org \"quoted\" \xc3\xa9";
  r.date_range.start = Utc(2200, 12, 31, 0, 0, 0) + std::chrono::nanoseconds(1);
  r.date_range.end = Utc(2200, 12, 31, 23, 59, 59) + std::chrono::nanoseconds(999999999);
  r.report_id = std::string("id\0with nul", 11);
  PolicyResult& p = r.policies.emplace_back();
  p.policy.policy_type = "future-type";
  p.policy.policy_string = {"a", "", "c"};
  p.policy.mx_host = {"mx1.example.com", "*.example.net"};
  p.summary.total_successful_session_count = 1000000000000;
  p.summary.total_failure_session_count = 7;
  FailureDetail& d = p.failure_details.emplace_back();
  d.result_type = "dane-required";
  d.result_type_known = true;
  d.sending_mta_ip = "";
  d.receiving_mx_hostname = "mx1.example.com";
  d.receiving_mx_helo = "helo";
  d.receiving_ip = "192.0.2.1";
  d.failed_session_count = 7;
  d.additional_information = "https://example.com/";
  d.failure_reason_code = "code";
  const absl::StatusOr<Report> again = ParseReport(ReportToJson(r));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(*again, r);
  // Warnings are not part of the comparison.
  Report warned = r;
  warned.warnings = {"a warning"};
  EXPECT_EQ(warned, r);
  warned.policies[0].failure_details[0].sending_mta_ip.reset();
  EXPECT_NE(warned, r);
}

TEST(ResultTypes, AreTheRfc8460Ones) {
  EXPECT_THAT(ResultTypes(),
              ElementsAre("starttls-not-supported", "certificate-host-mismatch",
                          "certificate-expired", "certificate-not-trusted", "validation-failure",
                          "tlsa-invalid", "dnssec-invalid", "dane-required",
                          "sts-policy-fetch-error", "sts-policy-invalid", "sts-webpki-invalid"));
}

}  // namespace
}  // namespace stswatch::tlsrpt
