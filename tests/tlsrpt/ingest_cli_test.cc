// `stswatch ingest-report` as an MTA's pipe transport runs it: real report e-mails from the
// shared corpus on standard input, a real redis-server, the exit statuses an MTA acts on, and the
// aggregates the stored reports add up to.

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/api/api_test_util.h"
#include "tests/testing/subprocess.h"
#include "tlsrpt/report_store.h"

namespace stswatch::tlsrpt {
namespace {

using api::testing::Await;
using ::testing::HasSubstr;
using ::testing::Pair;
using ::testing::UnorderedElementsAre;

constexpr char kBinary[] = "cli/stswatch";
constexpr char kCorpus[] = "tests/tlsrpt/testdata/eml/";

std::string Read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  EXPECT_TRUE(in.good() || in.eof()) << path;
  return s.str();
}

class IngestCliTest : public api::testing::RedisFixture {
 protected:
  stswatch::testing::ProcessResult Ingest(const std::string& message,
                                          std::vector<std::string> extra = {}) {
    std::vector<std::string> argv = {kBinary,   "ingest-report",
                                     "--redis", "unix://" + redis_->endpoint().unix_path,
                                     "--dkim",  "off"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return stswatch::testing::RunProcess(argv, message);
  }
};

TEST_F(IngestCliTest, ReportsAreStoredOnceAndCountedPerDay) {
  const std::string microsoft = Read(std::string(kCorpus) + "mjl-mox/microsoft.eml");
  stswatch::testing::ProcessResult r = Ingest(microsoft);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("stored for test.xmox.nl"));
  // The same e-mail again (delivered twice): a success for the MTA, counted once.
  r = Ingest(microsoft);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("duplicate"));
  r = Ingest(Read(std::string(kCorpus) + "mjl-mox/example.eml"));
  ASSERT_EQ(r.exit_code, 0) << r.err;

  ReportStore store(*client_, store::KeySchema());
  const auto days = Await(io_, store.Days("test.xmox.nl", "2022-09-01", "2023-01-31"));
  ASSERT_TRUE(days.ok()) << days.status();
  ASSERT_EQ(days->size(), 2u);
  EXPECT_EQ((*days)[0].day, "2022-09-15");
  EXPECT_THAT((*days)[0].successful_by_organization, UnorderedElementsAre(Pair("Google Inc.", 3)));
  EXPECT_EQ((*days)[1].day, "2023-01-10");
  EXPECT_EQ((*days)[1].report_ids.size(), 1u);
}

TEST_F(IngestCliTest, WhatIsNoReportBouncesAndRedisTroubleIsRetried) {
  stswatch::testing::ProcessResult r = Ingest("From: a@b.example\r\nSubject: hi\r\n\r\nhello\r\n");
  EXPECT_EQ(r.exit_code, 65);
  EXPECT_THAT(r.err, HasSubstr("not a multipart/report"));
  // A truncated report e-mail.
  const std::string rpt = Read(std::string(kCorpus) + "stalwartlabs-mail-auth/rpt01.eml");
  r = Ingest(rpt.substr(0, rpt.size() * 2 / 3));
  EXPECT_EQ(r.exit_code, 65) << r.out;
  // Reports for domains nobody watches, when refused.
  r = Ingest(rpt, {"--unwatched", "refuse"});
  EXPECT_EQ(r.exit_code, 65);
  EXPECT_THAT(r.err, HasSubstr("nobody watches here: company-y.example"));
  Redis({"HSET", store::KeySchema().Watch(store::KeySchema().PartitionOf("company-y.example")),
         "company-y.example", "{\"interval_s\": 0}"});
  EXPECT_EQ(Ingest(rpt, {"--unwatched", "refuse"}).exit_code, 0);
  // DKIM required but not passing (the corpus e-mails' keys are not reachable here): refused,
  // for now (the key could not be fetched) rather than for good.
  r = Ingest(Read(std::string(kCorpus) + "mjl-mox/example.eml"),
             {"--dkim", "require", "--resolver", "127.0.0.1:9"});
  EXPECT_EQ(r.exit_code, 75) << r.err;
  // Redis away: the MTA keeps the message and retries.
  redis_->KillHard();
  EXPECT_EQ(Ingest(rpt).exit_code, 75);
  EXPECT_EQ(Ingest(rpt, {"--bogus"}).exit_code, 64);
}

}  // namespace
}  // namespace stswatch::tlsrpt
