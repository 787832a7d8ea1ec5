// `stswatch lint` as a user runs it: the real binary, its exit status, its output.

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/testing/subprocess.h"

namespace stswatch {
namespace {

using ::testing::HasSubstr;
using testing::ProcessResult;
using testing::RunProcess;
using ::testing::StartsWith;

constexpr char kBinary[] = "cli/stswatch";
constexpr char kGoodPolicy[] =
    "version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\nmx: *.example.net\r\n"
    "max_age: 2592000\r\n";

ProcessResult Lint(std::vector<std::string> args, const std::string& input = "") {
  args.insert(args.begin(), {kBinary, "lint"});
  return RunProcess(args, input);
}

boost::json::object Json(const ProcessResult& r) {
  boost::system::error_code ec;
  const boost::json::value value = boost::json::parse(r.out, ec);
  EXPECT_FALSE(ec) << "not JSON: " << r.out;
  EXPECT_TRUE(value.is_object()) << r.out;
  return value.is_object() ? value.as_object() : boost::json::object();
}

std::vector<std::string> CodesOf(const boost::json::object& o) {
  std::vector<std::string> codes;
  for (const auto& f : o.at("findings").as_array()) {
    codes.emplace_back(f.at("code").as_string());
  }
  return codes;
}

std::string TempFile(const std::string& name, const std::string& content) {
  std::string path = std::string(std::getenv("TEST_TMPDIR")) + "/" + name;
  std::ofstream(path, std::ios::binary) << content;
  return path;
}

TEST(LintCliTest, ValidPolicyFromFileExitsZeroWithJson) {
  const ProcessResult r = Lint({"policy", "--json", TempFile("good.txt", kGoodPolicy)});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  const boost::json::object o = Json(r);
  EXPECT_EQ(o.at("valid"), true);
  EXPECT_TRUE(o.at("findings").as_array().empty());
  const auto& policy = o.at("policy").as_object();
  EXPECT_EQ(policy.at("version"), "STSv1");
  EXPECT_EQ(policy.at("mode"), "enforce");
  EXPECT_TRUE(policy.at("max_age").is_int64() || policy.at("max_age").is_uint64());
  EXPECT_EQ(policy.at("max_age").to_number<std::int64_t>(), 2592000);
  EXPECT_EQ(boost::json::serialize(policy.at("mx")), R"(["mail.example.com","*.example.net"])");
  EXPECT_FALSE(o.contains("mx_coverage"));
}

TEST(LintCliTest, PolicyFromStandardInput) {
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"policy", "-"}, std::vector<std::string>{"policy"}}) {
    const ProcessResult r = Lint(args, kGoodPolicy);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_THAT(r.out, StartsWith("policy: valid"));
  }
}

TEST(LintCliTest, InvalidPolicyExitsOneWithFindings) {
  const ProcessResult r =
      Lint({"policy", "--json", "-"}, "version: STSv1\nmode: enforce\nmax_age: 1y\n");
  EXPECT_EQ(r.exit_code, 1);
  const boost::json::object o = Json(r);
  EXPECT_EQ(o.at("valid"), false);
  EXPECT_FALSE(o.contains("policy"));
  EXPECT_THAT(CodesOf(o), ::testing::IsSupersetOf({"policy.max_age_invalid", "policy.mx_missing",
                                                   "policy.lf_line_endings"}));
  for (const auto& f : o.at("findings").as_array()) {
    const auto& finding = f.as_object();
    for (const char* key : {"code", "severity", "rfc", "message"}) {
      EXPECT_TRUE(finding.contains(key)) << key;
    }
  }
}

TEST(LintCliTest, HumanReportPutsVerdictFirst) {
  const ProcessResult r = Lint({"policy"}, "version: STSv1\r\nmode: Enforce\r\n");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.out, StartsWith("policy: INVALID ("));
  EXPECT_THAT(r.out, HasSubstr("policy.mode_invalid"));
  EXPECT_THAT(r.out, HasSubstr("RFC 8461 §3.2, line 2"));
  EXPECT_EQ(r.out.find('\033'), std::string::npos) << "no colour when not on a terminal";
}

TEST(LintCliTest, MxCoverage) {
  const ProcessResult r = Lint({"policy", "--json", "--mx", "mail.example.com",
                                "--mx=mx2.example.net.", "--mx", "a.b.example.net", "-"},
                               kGoodPolicy);
  EXPECT_EQ(r.exit_code, 1) << "an uncovered MX in enforce mode is an error";
  const boost::json::object o = Json(r);
  EXPECT_EQ(boost::json::serialize(o.at("mx_coverage")),
            R"([{"host":"mail.example.com","covered":true,"pattern":"mail.example.com"},)"
            R"({"host":"mx2.example.net.","covered":true,"pattern":"*.example.net"},)"
            R"({"host":"a.b.example.net","covered":false,"pattern":null}])");
  EXPECT_THAT(CodesOf(o), ::testing::ElementsAre("mx.not_covered"));
  EXPECT_EQ(o.at("findings").as_array()[0].at("host"), "a.b.example.net");

  const ProcessResult covered = Lint({"policy", "--mx", "mx.example.net", "-"}, kGoodPolicy);
  EXPECT_EQ(covered.exit_code, 0);
  EXPECT_THAT(covered.out, HasSubstr("mx.example.net -> covered by *.example.net"));
}

TEST(LintCliTest, HostileInputsAreCleanInvalidVerdicts) {
  const std::string huge = std::string(kGoodPolicy) + "x: " + std::string(100000, 'a') + "\r\n";
  struct Case {
    std::string input;
    std::string code;
  };
  const Case cases[] = {
      {"", "policy.empty"},
      {huge, "policy.too_large"},
      {std::string("\x7f"
                   "ELF\x02\x01\x01\0\0\0",
                   10),
       "policy.not_text"},
      {"version: STSv1\r\nmode: \xc3\x28\r\n", "policy.not_text"},
  };
  for (const Case& c : cases) {
    const ProcessResult r = Lint({"policy", "--json", "-"}, c.input);
    EXPECT_EQ(r.exit_code, 1) << c.code;
    EXPECT_THAT(CodesOf(Json(r)), ::testing::ElementsAre(c.code));
  }
}

TEST(LintCliTest, StsRecord) {
  const ProcessResult r =
      Lint({"sts-record", "--json", "v=spf1 -all", "v=STSv1; id=20160831085700Z; ext=1"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  const boost::json::object o = Json(r);
  EXPECT_EQ(o.at("valid"), true);
  EXPECT_EQ(boost::json::serialize(o.at("record")),
            R"({"id":"20160831085700Z","extensions":{"ext":"1"}})");
  EXPECT_THAT(CodesOf(o), ::testing::ElementsAre("sts_record.discarded", "sts_record.extension"));

  const ProcessResult two = Lint({"sts-record", "v=STSv1; id=1", "v=STSv1; id=2"});
  EXPECT_EQ(two.exit_code, 1);
  EXPECT_THAT(two.out, StartsWith("sts-record: INVALID"));
  EXPECT_THAT(two.out, HasSubstr("sts_record.multiple"));
}

TEST(LintCliTest, TlsRptRecord) {
  const ProcessResult r = Lint({"tlsrpt-record", "--json",
                                "v=TLSRPTv1; rua=mailto:tls@example.com,https://r.example.com/x"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(boost::json::serialize(Json(r).at("record")),
            R"({"rua":["mailto:tls@example.com","https://r.example.com/x"]})");
  const ProcessResult bad = Lint({"tlsrpt-record", "--json", "v=TLSRPTv1; rua=ftp://x.example/"});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_THAT(CodesOf(Json(bad)), ::testing::ElementsAre("tlsrpt_record.rua_unsupported_scheme"));
}

TEST(LintCliTest, DoubleDashEndsOptions) {
  const ProcessResult r = Lint({"sts-record", "--json", "--", "-v=STSv1", "v=STSv1; id=1"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(CodesOf(Json(r)), ::testing::ElementsAre("sts_record.discarded"));
  const ProcessResult option = Lint({"sts-record", "-v=STSv1"});
  EXPECT_EQ(option.exit_code, 2);
}

TEST(LintCliTest, UsageAndIoErrorsExitTwo) {
  const std::vector<std::vector<std::string>> cases = {
      {},
      {"nonsense"},
      {"policy", "--bogus"},
      {"policy", "a", "b"},
      {"policy", "--mx"},
      {"policy", "--mx", "not a host", "-"},
      {"sts-record"},
      {"tlsrpt-record", "--json"},
      {"policy", "/nonexistent/policy.txt"},
  };
  for (const auto& args : cases) {
    const ProcessResult r = Lint(args);
    EXPECT_EQ(r.exit_code, 2) << ::testing::PrintToString(args);
    EXPECT_THAT(r.err, HasSubstr("stswatch lint: ")) << ::testing::PrintToString(args);
    EXPECT_TRUE(r.out.empty());
  }
  const ProcessResult missing = Lint({"policy", "/nonexistent/policy.txt"});
  EXPECT_THAT(missing.err, HasSubstr("No such file or directory"));
  const ProcessResult directory = Lint({"policy", std::getenv("TEST_TMPDIR")});
  EXPECT_EQ(directory.exit_code, 2);
}

TEST(LintCliTest, HelpExitsZero) {
  const ProcessResult r = Lint({"--help"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_THAT(r.out, HasSubstr("stswatch lint policy [--mx HOST]... [--json] [FILE|-]"));
  const ProcessResult top = RunProcess({kBinary, "--help"});
  EXPECT_EQ(top.exit_code, 0);
  EXPECT_THAT(top.out, HasSubstr("lint"));
  EXPECT_EQ(RunProcess({kBinary, "frobnicate"}).exit_code, 2);
}

}  // namespace
}  // namespace stswatch
