// TLS reports in a real redis-server: stored once, counted per domain and day, read back with
// the evidence (report ids) and the breakdowns readiness needs.

#include "tlsrpt/report_store.h"

#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/api/api_test_util.h"

namespace stswatch::tlsrpt {
namespace {

using api::testing::Await;
using ::testing::ElementsAre;
using ::testing::Pair;
using ::testing::UnorderedElementsAre;

// Google-like: one day, example.com, two failure details.
constexpr char kGoogle[] = R"({
  "organization-name": "Google Inc.",
  "date-range": {"start-datetime": "2026-11-28T00:00:00Z", "end-datetime": "2026-11-28T23:59:59Z"},
  "contact-info": "smtp-tls-reporting@google.com",
  "report-id": "2026-11-28T00:00:00Z_example.com",
  "policies": [{
    "policy": {"policy-type": "sts", "policy-string": ["version: STSv1", "mode: testing",
               "mx: mx1.example.com", "max_age: 86400"], "policy-domain": "Example.COM",
               "mx-host": ["mx1.example.com"]},
    "summary": {"total-successful-session-count": 100, "total-failure-session-count": 3},
    "failure-details": [
      {"result-type": "certificate-expired", "receiving-mx-hostname": "mx1.example.com",
       "failed-session-count": 2},
      {"result-type": "starttls-not-supported", "receiving-mx-hostname": "MX2.example.com",
       "failed-session-count": 1}]}]})";

// Microsoft-like: the same day, two domains.
constexpr char kMicrosoft[] = R"({
  "organization-name": "Microsoft Corporation",
  "date-range": {"start-datetime": "2026-11-28T00:00:00", "end-datetime": "2026-11-28T23:59:59"},
  "report-id": "133456",
  "policies": [
    {"policy": {"policy-type": "sts", "policy-domain": "example.com"},
     "summary": {"total-successful-session-count": 40, "total-failure-session-count": 0}},
    {"policy": {"policy-type": "no-policy-found", "policy-domain": "other.example"},
     "summary": {"total-successful-session-count": 7, "total-failure-session-count": 0}}]})";

Report Parse(const char* json) {
  absl::StatusOr<Report> r = ParseReport(json);
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? *r : Report{};
}

TEST(Contributions, CountPerPolicyDomainOnTheDayTheRangeStarts) {
  const std::vector<DayAggregate> c = Contributions(Parse(kGoogle));
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].domain, "example.com");
  EXPECT_EQ(c[0].day, "2026-11-28");
  EXPECT_EQ(c[0].successful, 100u);
  EXPECT_EQ(c[0].failed, 3u);
  EXPECT_THAT(
      c[0].failures_by_result_type,
      UnorderedElementsAre(Pair("certificate-expired", 2), Pair("starttls-not-supported", 1)));
  EXPECT_THAT(c[0].failures_by_mx,
              UnorderedElementsAre(Pair("mx1.example.com", 2), Pair("mx2.example.com", 1)));
  EXPECT_THAT(c[0].report_ids, ElementsAre("Google Inc.: 2026-11-28T00:00:00Z_example.com"));
  EXPECT_EQ(Contributions(Parse(kMicrosoft)).size(), 2u);
}

class ReportStoreTest : public api::testing::RedisFixture {
 protected:
  void SetUp() override {
    RedisFixture::SetUp();
    store_ = std::make_unique<ReportStore>(*client_, store::KeySchema());
  }
  StoreResult Store(const char* json, std::int64_t received_ms) {
    ReportOrigin origin;
    origin.channel = "https";
    origin.received_ms = received_ms;
    absl::StatusOr<StoreResult> r = Await(io_, store_->Store(Parse(json), origin));
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : StoreResult{};
  }
  std::unique_ptr<ReportStore> store_;
};

TEST_F(ReportStoreTest, ReportsAreStoredOnceAndAddUp) {
  EXPECT_FALSE(Store(kGoogle, 1000).duplicate);
  EXPECT_FALSE(Store(kMicrosoft, 2000).duplicate);
  // The same report again (a sender retrying, the same e-mail delivered twice): counted once.
  const StoreResult again = Store(kGoogle, 3000);
  EXPECT_TRUE(again.duplicate);
  EXPECT_THAT(again.domains, ElementsAre("example.com"));

  const absl::StatusOr<std::vector<DayAggregate>> days =
      Await(io_, store_->Days("EXAMPLE.com", "2026-11-27", "2026-11-29"));
  ASSERT_TRUE(days.ok()) << days.status();
  ASSERT_EQ(days->size(), 1u);
  const DayAggregate& d = days->front();
  EXPECT_EQ(d.day, "2026-11-28");
  EXPECT_EQ(d.successful, 140u);
  EXPECT_EQ(d.failed, 3u);
  EXPECT_THAT(d.failures_by_result_type, UnorderedElementsAre(Pair("certificate-expired", 2),
                                                              Pair("starttls-not-supported", 1)));
  EXPECT_THAT(d.successful_by_organization,
              UnorderedElementsAre(Pair("Google Inc.", 100), Pair("Microsoft Corporation", 40)));
  EXPECT_THAT(d.report_ids, ElementsAre("Google Inc.: 2026-11-28T00:00:00Z_example.com",
                                        "Microsoft Corporation: 133456"));
  const auto other = Await(io_, store_->Days("other.example", "2026-11-28", "2026-11-28"));
  ASSERT_TRUE(other.ok());
  ASSERT_EQ(other->size(), 1u);
  EXPECT_EQ(other->front().successful, 7u);
  // The aggregate lives in its domain's partition, expiring with the report.
  EXPECT_GT(Redis({"TTL", store_->DayKey("example.com", "2026-11-28")}).integer, 86400 * 300);
}

TEST_F(ReportStoreTest, AHostileReportCannotGrowADayWithoutEnd) {
  // 2500 distinct MX host names in one report: the day's hash stops growing at 2000 fields, the
  // rest counted as "(other)", and every session still counted.
  std::string details;
  for (int i = 0; i < 2500; ++i) {
    details += std::string(i == 0 ? "" : ",") +
               R"({"result-type": "certificate-expired", "receiving-mx-hostname": "mx)" +
               std::to_string(i) + R"(.example.com", "failed-session-count": 1})";
  }
  const std::string json = R"({"organization-name": "Hostile", "date-range": {
      "start-datetime": "2026-11-28T00:00:00Z", "end-datetime": "2026-11-28T23:59:59Z"},
      "report-id": "h1", "policies": [{"policy": {"policy-type": "sts",
      "policy-domain": "example.com"}, "summary": {"total-successful-session-count": 0,
      "total-failure-session-count": 2500}, "failure-details": [)" +
                           details + "]}]}";
  EXPECT_FALSE(Store(json.c_str(), 1000).duplicate);
  EXPECT_LE(Redis({"HLEN", store_->DayKey("example.com", "2026-11-28")}).integer, 2010);
  const auto days = Await(io_, store_->Days("example.com", "2026-11-28", "2026-11-28"));
  ASSERT_TRUE(days.ok());
  ASSERT_EQ(days->size(), 1u);
  EXPECT_EQ(days->front().failed, 2500u);
  EXPECT_GT(days->front().failures_by_mx.at("(other)"), 400u);
  std::uint64_t sum = 0;
  for (const auto& [mx, n] : days->front().failures_by_mx) {
    sum += n;
  }
  EXPECT_EQ(sum, 2500u);
}

TEST_F(ReportStoreTest, DayRangesAreChecked) {
  EXPECT_EQ(Await(io_, store_->Days("example.com", "2026-11-29", "2026-11-28")).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Await(io_, store_->Days("example.com", "2025-01-01", "2026-11-28")).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Await(io_, store_->Days("example.com", "yesterday", "2026-11-28")).status().code(),
            absl::StatusCode::kInvalidArgument);
  const auto none = Await(io_, store_->Days("example.com", "2026-01-01", "2026-01-31"));
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

}  // namespace
}  // namespace stswatch::tlsrpt
