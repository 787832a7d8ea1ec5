#include "mtasts/policy.h"

#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/mtasts/test_util.h"

namespace stswatch::mtasts {
namespace {

using testing::Codes;
using ::testing::Contains;
using ::testing::ElementsAre;
using testing::FindCode;
using ::testing::IsEmpty;
using ::testing::Not;

// RFC 8461 §3.2's example, with CRLF line ends.
constexpr char kRfcExample[] =
    "version: STSv1\r\n"
    "mode: enforce\r\n"
    "mx: mail.example.com\r\n"
    "mx: *.example.net\r\n"
    "mx: backupmx.example.com\r\n"
    "max_age: 604800\r\n";

// RFC 8461 Appendix A.
constexpr char kAppendixA[] =
    "version: STSv1\r\n"
    "mode: testing\r\n"
    "mx: mx1.example.com\r\n"
    "mx: mx2.example.com\r\n"
    "mx: mx.backup-example.com\r\n"
    "max_age: 1296000\r\n";

std::string Lf(const std::string& crlf) {
  std::string out;
  for (char c : crlf) {
    if (c != '\r') {
      out += c;
    }
  }
  return out;
}

TEST(PolicyTest, RfcExampleIsValid) {
  const PolicyResult r = ParsePolicy(kRfcExample);
  ASSERT_TRUE(r.valid()) << ::testing::PrintToString(Codes(r.findings));
  EXPECT_EQ(r.policy->version, "STSv1");
  EXPECT_EQ(r.policy->mode, PolicyMode::kEnforce);
  EXPECT_EQ(r.policy->max_age, 604800u);
  EXPECT_THAT(r.policy->mx,
              ElementsAre("mail.example.com", "*.example.net", "backupmx.example.com"));
  // Valid, but a week is short for enforce mode.
  EXPECT_THAT(Codes(r.findings), ElementsAre("policy.max_age_short_enforce"));
}

TEST(PolicyTest, AppendixAIsValidTesting) {
  const PolicyResult r = ParsePolicy(kAppendixA);
  ASSERT_TRUE(r.valid());
  EXPECT_EQ(r.policy->mode, PolicyMode::kTesting);
  EXPECT_EQ(r.policy->max_age, 1296000u);
  EXPECT_THAT(Codes(r.findings), ElementsAre("policy.mode_testing"));
}

TEST(PolicyTest, LfLineEndsAreValidWithWarning) {
  const PolicyResult r = ParsePolicy(Lf(kRfcExample));
  ASSERT_TRUE(r.valid());
  EXPECT_THAT(Codes(r.findings), Contains("policy.lf_line_endings"));
}

TEST(PolicyTest, MixedLineEndsAreValidWithWarning) {
  const PolicyResult r =
      ParsePolicy("version: STSv1\r\nmode: enforce\nmx: mx.example.com\r\nmax_age: 2592000\r\n");
  ASSERT_TRUE(r.valid());
  const Finding* f = FindCode(r.findings, "policy.lf_line_endings");
  ASSERT_NE(f, nullptr);
  EXPECT_THAT(f->message, ::testing::HasSubstr("mixed"));
}

TEST(PolicyTest, NoFinalLineEndIsValid) {
  const PolicyResult r =
      ParsePolicy("version: STSv1\r\nmode: enforce\r\nmx: mx.example.com\r\nmax_age: 2592000");
  ASSERT_TRUE(r.valid());
  EXPECT_THAT(r.findings, IsEmpty());
}

TEST(PolicyTest, FieldOrderDoesNotMatter) {
  const PolicyResult r =
      ParsePolicy("max_age: 2592000\r\nmx: mx.example.com\r\nmode: enforce\r\nversion: STSv1\r\n");
  ASSERT_TRUE(r.valid());
  EXPECT_THAT(r.findings, IsEmpty());
}

TEST(PolicyTest, WhitespaceAfterColonAndAtLineEndIsAllowed) {
  const PolicyResult r = ParsePolicy(
      "version:STSv1\r\nmode:\t enforce \t\r\nmx:   mx.example.com  \r\nmax_age: 2592000\t\r\n");
  ASSERT_TRUE(r.valid()) << ::testing::PrintToString(Codes(r.findings));
  EXPECT_EQ(r.policy->mx.front(), "mx.example.com");
}

TEST(PolicyTest, EmptyInputIsInvalid) {
  const PolicyResult r = ParsePolicy("");
  EXPECT_FALSE(r.valid());
  EXPECT_THAT(Codes(r.findings), ElementsAre("policy.empty"));
}

TEST(PolicyTest, OversizedInputIsInvalid) {
  std::string body = kRfcExample;
  body += "x-padding: " + std::string(kMaxPolicyBytes, 'a') + "\r\n";
  const PolicyResult r = ParsePolicy(body);
  EXPECT_FALSE(r.valid());
  EXPECT_THAT(Codes(r.findings), ElementsAre("policy.too_large"));
}

TEST(PolicyTest, ExactlySixtyFourKibIsAccepted) {
  std::string body = kRfcExample;
  const std::string prefix = "x-padding: ";
  body += prefix + std::string(kMaxPolicyBytes - body.size() - prefix.size() - 2, 'a') + "\r\n";
  ASSERT_EQ(body.size(), kMaxPolicyBytes);
  EXPECT_TRUE(ParsePolicy(body).valid());
}

TEST(PolicyTest, BinaryAndInvalidUtf8AreInvalid) {
  EXPECT_THAT(Codes(ParsePolicy(std::string("version: STSv1\0\r\n", 17)).findings),
              ElementsAre("policy.not_text"));
  EXPECT_THAT(Codes(ParsePolicy("version: STSv1\r\nmode: \xff\xfe\r\n").findings),
              ElementsAre("policy.not_text"));
  EXPECT_THAT(Codes(ParsePolicy("\x89PNG\r\n\x1a\n").findings), ElementsAre("policy.not_text"));
  // Overlong encoding of "/" and a UTF-16 surrogate.
  EXPECT_FALSE(ParsePolicy(std::string(kRfcExample) + "x: \xc0\xaf\r\n").valid());
  EXPECT_FALSE(ParsePolicy(std::string(kRfcExample) + "x: \xed\xa0\x80\r\n").valid());
}

TEST(PolicyTest, Utf8InExtensionValueIsAllowed) {
  const PolicyResult r = ParsePolicy(std::string(kAppendixA) + "comment: caf\xc3\xa9 ok\r\n");
  EXPECT_TRUE(r.valid());
  EXPECT_THAT(Codes(r.findings), Contains("policy.unknown_key"));
}

TEST(PolicyTest, MissingRequiredFields) {
  EXPECT_THAT(Codes(ParsePolicy("mode: enforce\r\nmx: a.example\r\nmax_age: 2592000\r\n").findings),
              ElementsAre("policy.version_missing"));
  EXPECT_THAT(
      Codes(ParsePolicy("version: STSv1\r\nmx: a.example\r\nmax_age: 2592000\r\n").findings),
      ElementsAre("policy.mode_missing"));
  EXPECT_THAT(Codes(ParsePolicy("version: STSv1\r\nmode: enforce\r\nmx: a.example\r\n").findings),
              ElementsAre("policy.max_age_missing"));
  EXPECT_THAT(
      Codes(ParsePolicy("version: STSv1\r\nmode: enforce\r\nmax_age: 2592000\r\n").findings),
      ElementsAre("policy.mx_missing"));
  EXPECT_FALSE(ParsePolicy("version: STSv1\r\nmode: testing\r\nmax_age: 86400\r\n").valid());
}

TEST(PolicyTest, ModeNoneNeedsNoMx) {
  const PolicyResult r = ParsePolicy("version: STSv1\r\nmode: none\r\nmax_age: 86400\r\n");
  ASSERT_TRUE(r.valid());
  EXPECT_THAT(r.policy->mx, IsEmpty());
  EXPECT_THAT(Codes(r.findings), ElementsAre("policy.mode_none"));
}

TEST(PolicyTest, VersionAndModeAreCaseSensitive) {
  EXPECT_THAT(Codes(ParsePolicy("version: stsv1\r\nmode: enforce\r\nmx: a.example\r\n"
                                "max_age: 2592000\r\n")
                        .findings),
              ElementsAre("policy.version_invalid"));
  EXPECT_THAT(Codes(ParsePolicy("version: STSv2\r\nmode: enforce\r\nmx: a.example\r\n"
                                "max_age: 2592000\r\n")
                        .findings),
              ElementsAre("policy.version_invalid"));
  EXPECT_THAT(Codes(ParsePolicy("version: STSv1\r\nmode: Enforce\r\nmx: a.example\r\n"
                                "max_age: 2592000\r\n")
                        .findings),
              ElementsAre("policy.mode_invalid"));
  EXPECT_FALSE(ParsePolicy("version: STSv1\r\nmode: reject\r\nmx: a.example\r\n"
                           "max_age: 2592000\r\n")
                   .valid());
}

TEST(PolicyTest, KeysAreCaseSensitiveAndTyposAreFlagged) {
  const PolicyResult r =
      ParsePolicy("version: STSv1\r\nMode: enforce\r\nmx: a.example\r\nmax_age: 2592000\r\n");
  EXPECT_FALSE(r.valid());
  EXPECT_THAT(Codes(r.findings), ElementsAre("policy.key_typo", "policy.mode_missing"));
  EXPECT_THAT(FindCode(r.findings, "policy.key_typo")->message, ::testing::HasSubstr("\"mode\""));

  const PolicyResult typo = ParsePolicy(
      "version: STSv1\r\nmode: enforce\r\nmx: a.example\r\nnmx: b.example\r\nmax_age: 2592000\r\n");
  ASSERT_TRUE(typo.valid());
  EXPECT_THAT(Codes(typo.findings), ElementsAre("policy.key_typo"));
  EXPECT_EQ(FindCode(typo.findings, "policy.key_typo")->line, 4);
  EXPECT_THAT(typo.policy->mx, ElementsAre("a.example"));

  EXPECT_THAT(Codes(ParsePolicy("version: STSv1\r\nmode: enforce\r\nmx: a.example\r\n"
                                "max-age: 2592000\r\n")
                        .findings),
              ElementsAre("policy.key_typo", "policy.max_age_missing"));
}

TEST(PolicyTest, UnknownKeysAreIgnored) {
  const PolicyResult r = ParsePolicy(std::string(kAppendixA) + "report-uri: https://x/y?a=b;c\r\n");
  ASSERT_TRUE(r.valid());
  EXPECT_THAT(Codes(r.findings), Contains("policy.unknown_key"));
}

TEST(PolicyTest, FirstOfDuplicatedKeyWins) {
  const PolicyResult r = ParsePolicy(
      "version: STSv1\r\nmode: testing\r\nmode: enforce\r\nmx: a.example\r\nmax_age: 86400\r\n"
      "max_age: 0\r\n");
  ASSERT_TRUE(r.valid());
  EXPECT_EQ(r.policy->mode, PolicyMode::kTesting);
  EXPECT_EQ(r.policy->max_age, 86400u);
  EXPECT_EQ(testing::Codes(r.findings).size(), 3u);
  EXPECT_EQ(CountSeverity(r.findings, Severity::kWarning), 2);
  EXPECT_EQ(FindCode(r.findings, "policy.duplicate_key")->line, 3);
}

TEST(PolicyTest, FirstOfDuplicatedKeyWinsEvenWhenInvalid) {
  const PolicyResult r = ParsePolicy(
      "version: STSv1\r\nmode: bogus\r\nmode: enforce\r\nmx: a.example\r\nmax_age: 2592000\r\n");
  EXPECT_FALSE(r.valid());
  EXPECT_THAT(Codes(r.findings), ElementsAre("policy.mode_invalid", "policy.duplicate_key"));
}

TEST(PolicyTest, MaxAgeBounds) {
  const auto policy_with = [](const std::string& max_age) {
    return ParsePolicy("version: STSv1\r\nmode: testing\r\nmx: a.example\r\nmax_age: " + max_age +
                       "\r\n");
  };
  EXPECT_EQ(policy_with("0").policy->max_age, 0u);
  EXPECT_THAT(Codes(policy_with("0").findings), Contains("policy.max_age_short"));
  EXPECT_EQ(policy_with("31557600").policy->max_age, 31557600u);
  EXPECT_EQ(policy_with("0031557600").policy->max_age, 31557600u);  // 10 digits.
  EXPECT_THAT(Codes(policy_with("31557601").findings), Contains("policy.max_age_out_of_range"));
  EXPECT_THAT(Codes(policy_with("9999999999").findings), Contains("policy.max_age_out_of_range"));
  EXPECT_THAT(Codes(policy_with("00000086400").findings), Contains("policy.max_age_out_of_range"));
  EXPECT_THAT(Codes(policy_with("184467440737095516160").findings),
              Contains("policy.max_age_out_of_range"));
  for (const char* bad : {"-1", "+86400", "86400s", "1e5", "86,400", "86 400", "", "0x10", "١"}) {
    EXPECT_THAT(Codes(policy_with(bad).findings), Contains("policy.max_age_invalid")) << bad;
  }
}

TEST(PolicyTest, ShortMaxAgeWarnings) {
  const PolicyResult day =
      ParsePolicy("version: STSv1\r\nmode: testing\r\nmx: a.example\r\nmax_age: 86399\r\n");
  EXPECT_THAT(Codes(day.findings), Contains("policy.max_age_short"));
  const PolicyResult enforce =
      ParsePolicy("version: STSv1\r\nmode: enforce\r\nmx: a.example\r\nmax_age: 2591999\r\n");
  EXPECT_THAT(Codes(enforce.findings), ElementsAre("policy.max_age_short_enforce"));
  const PolicyResult ok =
      ParsePolicy("version: STSv1\r\nmode: enforce\r\nmx: a.example\r\nmax_age: 2592000\r\n");
  EXPECT_THAT(ok.findings, IsEmpty());
}

TEST(PolicyTest, GrammarViolationsAreInvalid) {
  const std::string base = "version: STSv1\r\nmode: enforce\r\nmx: a.example\r\nmax_age: 2592000";
  struct Case {
    std::string body;
    std::string code;
  };
  const Case cases[] = {
      {base + "\r\n\r\n", "policy.blank_line"},  // Two line ends at the end.
      {"version: STSv1\r\n\r\n" + base.substr(16), "policy.blank_line"},
      {"version: STSv1\r\n  \r\n" + base.substr(16), "policy.blank_line"},
      {" " + base, "policy.syntax"},                               // Leading whitespace.
      {"version : STSv1\r\n" + base.substr(16), "policy.syntax"},  // Space before colon.
      {base + "\r\njunk line\r\n", "policy.syntax"},               // No colon.
      {base + "\r\n_x: y\r\n", "policy.syntax"},      // Key must begin with a letter/digit.
      {base + "\r\nx:\r\n", "policy.syntax"},         // Extension without value.
      {base + "\r\nfoo: a\rb\r\n", "policy.syntax"},  // Bare CR.
      {"\xef\xbb\xbf" + base, "policy.syntax"},       // Byte order mark before the key.
      {base + "\r\n" + std::string(33, 'k') + ": v\r\n", "policy.syntax"},  // Key > 32 chars.
  };
  for (const Case& c : cases) {
    const PolicyResult r = ParsePolicy(c.body);
    EXPECT_FALSE(r.valid()) << ::testing::PrintToString(c.body);
    EXPECT_THAT(Codes(r.findings), Contains(c.code)) << ::testing::PrintToString(c.body);
  }
}

TEST(PolicyTest, MxPatternsAreValidated) {
  const auto with_mx = [](const std::string& mx) {
    return ParsePolicy("version: STSv1\r\nmode: enforce\r\nmx: " + mx + "\r\nmax_age: 2592000\r\n");
  };
  for (const char* good : {"mail.example.com", "*.example.net", "MX1.Example.COM",
                           "xn--bcher-kva.example", "a", "1mx.example", "mx-1.example"}) {
    const PolicyResult r = with_mx(good);
    EXPECT_TRUE(r.valid()) << good;
    EXPECT_THAT(r.findings, IsEmpty()) << good;
  }
  for (const char* bad :
       {"*", "*.", "**.example.com", "*.*.example.com", "mx*.example.com", "mx.*.example.com",
        "*example.com", "mx_1.example.com", "-mx.example", "mx-.example", "mx..example",
        ".example.com", "[192.0.2.1]", "2001:db8::1", "bücher.example", "mx.example.com:25", ""}) {
    const PolicyResult r = with_mx(bad);
    EXPECT_FALSE(r.valid()) << bad;
    EXPECT_THAT(Codes(r.findings), Contains("policy.mx_invalid")) << bad;
  }
  const PolicyResult dot = with_mx("mail.example.com.");
  EXPECT_TRUE(dot.valid());
  EXPECT_THAT(Codes(dot.findings), ElementsAre("policy.mx_trailing_dot"));
  const PolicyResult ip = with_mx("192.0.2.25");
  EXPECT_TRUE(ip.valid());
  EXPECT_THAT(Codes(ip.findings), ElementsAre("policy.mx_ip_address"));
  const PolicyResult long_label = with_mx(std::string(64, 'a') + ".example");
  EXPECT_THAT(Codes(long_label.findings), Contains("policy.mx_invalid"));
}

TEST(PolicyTest, DuplicateMxIsReportedOnce) {
  const PolicyResult r = ParsePolicy(
      "version: STSv1\r\nmode: enforce\r\nmx: a.example\r\nmx: A.example\r\nmax_age: 2592000\r\n");
  ASSERT_TRUE(r.valid());
  EXPECT_THAT(r.policy->mx, ElementsAre("a.example"));
  EXPECT_THAT(Codes(r.findings), ElementsAre("policy.mx_duplicate"));
}

TEST(PolicyTest, FindingsCarryLineAndRfc) {
  const PolicyResult r =
      ParsePolicy("version: STSv1\nmode: enforce\nmax_age: abc\nmx: a.example\n");
  const Finding* f = FindCode(r.findings, "policy.max_age_invalid");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->line, 3);
  EXPECT_EQ(f->severity, Severity::kError);
  EXPECT_EQ(f->rfc, "RFC 8461 §3.2");
  EXPECT_THAT(f->message, ::testing::HasSubstr("\"abc\""));
}

TEST(PolicyTest, CoverageOfMxHosts) {
  const PolicyResult r = ParsePolicy(kRfcExample);
  ASSERT_TRUE(r.valid());
  std::vector<Finding> findings;
  const std::vector<std::string> hosts = {"mail.example.com.", "mx9.example.net",
                                          "deep.mx.example.net", "example.net"};
  const std::vector<MxCoverage> coverage = CoverMxHosts(*r.policy, hosts, findings);
  ASSERT_EQ(coverage.size(), 4u);
  EXPECT_EQ(coverage[0].pattern, "mail.example.com");
  EXPECT_EQ(coverage[1].pattern, "*.example.net");
  EXPECT_FALSE(coverage[2].pattern.has_value());
  EXPECT_FALSE(coverage[3].pattern.has_value());
  EXPECT_THAT(Codes(findings), ElementsAre("mx.not_covered", "mx.not_covered"));
  EXPECT_EQ(findings[0].severity, Severity::kError);
  EXPECT_EQ(findings[0].host, "deep.mx.example.net");
}

TEST(PolicyTest, UncoveredMxSeverityFollowsMode) {
  std::vector<Finding> findings;
  const std::vector<std::string> hosts = {"other.example.org"};
  CoverMxHosts(*ParsePolicy(kAppendixA).policy, hosts, findings);
  ASSERT_EQ(findings.size(), 1u);
  EXPECT_EQ(findings[0].severity, Severity::kWarning);
  findings.clear();
  CoverMxHosts(*ParsePolicy("version: STSv1\r\nmode: none\r\nmax_age: 86400\r\n").policy, hosts,
               findings);
  ASSERT_EQ(findings.size(), 1u);
  EXPECT_EQ(findings[0].severity, Severity::kInfo);
}

TEST(PolicyTest, ValidIffNoErrorFinding) {
  for (const char* body : {kRfcExample, kAppendixA, "version: STSv1\r\nmode: none\r\n"}) {
    const PolicyResult r = ParsePolicy(body);
    EXPECT_EQ(r.valid(), !HasError(r.findings)) << body;
  }
}

}  // namespace
}  // namespace stswatch::mtasts
