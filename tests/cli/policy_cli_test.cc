// `stswatch policy init` as a user runs it: what it writes passes `stswatch lint` (the same
// parsers `check` and `serve` use), and bad input is refused with the reason.

#include <string>
#include <vector>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/testing/subprocess.h"

namespace stswatch {
namespace {

using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using testing::ProcessResult;
using testing::RunProcess;

constexpr char kBinary[] = "cli/stswatch";

ProcessResult Stswatch(std::vector<std::string> args, const std::string& input = "") {
  args.insert(args.begin(), kBinary);
  return RunProcess(args, input);
}

TEST(PolicyCliTest, InitWritesWhatLintAccepts) {
  const ProcessResult r =
      Stswatch({"policy", "init", "--domain", "Example.COM.", "--mx", "mx1.example.net", "--mx",
                "*.mail.example.org", "--rua", "mailto:reports@example.net", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const boost::json::object o = boost::json::parse(r.out).as_object();
  EXPECT_EQ(o.at("domain"), "example.com");
  EXPECT_EQ(o.at("policy_url"), "https://mta-sts.example.com/.well-known/mta-sts.txt");
  const std::string policy(o.at("policy").as_string());
  EXPECT_EQ(policy,
            "version: STSv1\r\nmode: testing\r\nmx: mx1.example.net\r\nmx: *.mail.example.org\r\n"
            "max_age: 604800\r\n");
  const boost::json::array& records = o.at("records").as_array();
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].at("name"), "_mta-sts.example.com");
  const std::string sts(records[0].at("value").as_string());
  EXPECT_THAT(sts, MatchesRegex("v=STSv1; id=[0-9]{14};"));
  EXPECT_EQ(records[1].at("name"), "_smtp._tls.example.com");
  const std::string tlsrpt(records[1].at("value").as_string());
  EXPECT_EQ(tlsrpt, "v=TLSRPTv1; rua=mailto:reports@example.net");
  EXPECT_THAT(std::string(o.at("nginx").as_string()), HasSubstr("default_type text/plain;"));

  // Everything it wrote is valid for the parsers senders' behaviour is judged by, and the
  // policy covers the MX hosts given.
  const ProcessResult lint_policy = Stswatch(
      {"lint", "policy", "--mx", "mx1.example.net", "--mx", "a.mail.example.org", "-"}, policy);
  EXPECT_EQ(lint_policy.exit_code, 0) << lint_policy.out;
  EXPECT_EQ(Stswatch({"lint", "sts-record", sts}).exit_code, 0);
  EXPECT_EQ(Stswatch({"lint", "tlsrpt-record", tlsrpt}).exit_code, 0);
}

TEST(PolicyCliTest, TextOutputHasThePolicyTheRecordsAndTheOrder) {
  const ProcessResult r =
      Stswatch({"policy", "init", "--domain", "example.com", "--mx", "mx1.example.net"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("mode: testing\r\nmx: mx1.example.net\r\n"));
  EXPECT_THAT(r.out, HasSubstr("_mta-sts.example.com.    IN TXT \"v=STSv1; id="));
  EXPECT_THAT(r.out, HasSubstr("IN TXT \"v=TLSRPTv1; rua=mailto:tlsrpt@example.com\""));
  EXPECT_THAT(r.out, HasSubstr("Publish it first"));
}

TEST(PolicyCliTest, RefusesBadInputSayingWhy) {
  ProcessResult r = Stswatch({"policy", "init", "--domain", "example.com"});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_THAT(r.err, HasSubstr("at least one --mx"));
  r = Stswatch({"policy", "init", "--domain", "example.com", "--mx", "bad_host"});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_THAT(r.err, HasSubstr("\"bad_host\""));
  r = Stswatch(
      {"policy", "init", "--domain", "example.com", "--mx", "mx.example.net", "--rua", "ftp://x"});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_THAT(r.err, HasSubstr("ftp"));
  r = Stswatch({"policy", "init", "--domain", "not a domain", "--mx", "mx.example.net"});
  EXPECT_EQ(r.exit_code, 3);
  r = Stswatch({"policy", "frobnicate"});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(Stswatch({"policy", "--help"}).exit_code, 0);
}

}  // namespace
}  // namespace stswatch
