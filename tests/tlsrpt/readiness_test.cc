// Readiness for enforce: from "not ready: 3 days of reports" to ready as days of clean reports
// and checks accumulate, and back when a failing report arrives; the cross-checks; reporter drops.

#include "tlsrpt/readiness.h"

#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace stswatch::tlsrpt {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using namespace std::chrono_literals;

std::chrono::sys_days Day(const std::string& d) { return *ParseUtcDay(d); }

DayAggregate Clean(const std::string& day, std::uint64_t google = 100, std::uint64_t ms = 50) {
  DayAggregate a;
  a.domain = "example.com";
  a.day = day;
  a.successful = google + ms;
  a.successful_by_organization = {{"Google Inc.", google}, {"Microsoft Corporation", ms}};
  a.report_ids = {"Google Inc.: g-" + day, "Microsoft Corporation: m-" + day};
  return a;
}

std::vector<ProbeCheck> HourlyOk(const std::string& from, int days) {
  std::vector<ProbeCheck> out;
  for (int h = 0; h < days * 24; h += 6) {
    out.push_back(ProbeCheck{Day(from) + std::chrono::hours(h), "ok", {}, {}});
  }
  return out;
}

std::vector<std::string> Codes(const std::vector<Reason>& reasons) {
  std::vector<std::string> out;
  out.reserve(reasons.size());
  for (const Reason& r : reasons) {
    out.push_back(r.code);
  }
  return out;
}

TEST(Readiness, BecomesReadyAsCleanDaysPassAndNotWhenAFailureArrives) {
  std::vector<DayAggregate> days;
  std::vector<ProbeCheck> checks = HourlyOk("2026-11-01", 30);
  for (const char* d : {"2026-11-01", "2026-11-02", "2026-11-03"}) {
    days.push_back(Clean(d));
  }
  Readiness r = JudgeReadiness(days, checks, "2026-11-04");
  EXPECT_FALSE(r.ready);
  ASSERT_THAT(Codes(r.reasons), ElementsAre("too_few_days"));
  EXPECT_THAT(r.reasons[0].message, HasSubstr("3 days of reports"));
  EXPECT_THAT(r.reasons[0].evidence,
              ElementsAre("day 2026-11-01", "day 2026-11-02", "day 2026-11-03"));

  // Simulated days pass, each with clean reports.
  for (int i = 4; i <= 14; ++i) {
    days.push_back(Clean(UtcDay(Day("2026-11-01") + std::chrono::days(i - 1))));
  }
  r = JudgeReadiness(days, checks, "2026-11-15");
  EXPECT_TRUE(r.ready) << (r.reasons.empty() ? "" : r.reasons[0].message);
  EXPECT_EQ(r.days_with_reports, 14);
  EXPECT_EQ(r.organizations, 2);

  // A failing report arrives for the last day: not ready, with the evidence.
  DayAggregate bad = Clean("2026-11-15");
  bad.failed = 4;
  bad.failures_by_result_type = {{"certificate-expired", 4}};
  bad.failures_by_mx = {{"mx2.example.com", 4}};
  bad.failed_by_organization = {{"Google Inc.", 4}};
  days.push_back(bad);
  r = JudgeReadiness(days, checks, "2026-11-16");
  EXPECT_FALSE(r.ready);
  ASSERT_THAT(Codes(r.reasons), ElementsAre("failures"));
  EXPECT_THAT(r.reasons[0].message, HasSubstr("4 of "));
  EXPECT_THAT(r.reasons[0].evidence, Contains("result-type certificate-expired (4)"));
  EXPECT_THAT(r.reasons[0].evidence, Contains("mx mx2.example.com (4)"));
  EXPECT_THAT(r.reasons[0].evidence, Contains("report 2026-11-15 Google Inc.: g-2026-11-15"));
  // The checks saw nothing of it: a cross-check note says so.
  EXPECT_THAT(Codes(r.notes), ElementsAre("reports_show_unseen_failures"));

  // A tolerated rate lets it through.
  ReadinessOptions lenient;
  lenient.max_failure_rate = 0.01;
  EXPECT_TRUE(JudgeReadiness(days, checks, "2026-11-16", lenient).ready);
}

TEST(Readiness, OneReporterAndUncleanOrMissingChecksAreReasons) {
  std::vector<DayAggregate> days;
  for (int i = 0; i < 20; ++i) {
    DayAggregate a = Clean(UtcDay(Day("2026-11-01") + std::chrono::days(i)), 100, 0);
    a.successful_by_organization.erase("Microsoft Corporation");
    days.push_back(a);
  }
  std::vector<ProbeCheck> checks = HourlyOk("2026-11-01", 25);
  checks.push_back(
      ProbeCheck{Day("2026-11-20") + 3h, "warning", {"mx.not_covered"}, {"mx9.example.net"}});
  Readiness r = JudgeReadiness(days, checks, "2026-11-25");
  EXPECT_FALSE(r.ready);
  EXPECT_THAT(Codes(r.reasons), ElementsAre("too_few_organizations", "checks_not_clean"));
  EXPECT_THAT(r.reasons[1].evidence, Contains("check 2026-11-20T03:00:00Z warning"));
  EXPECT_THAT(r.reasons[1].evidence, Contains("mx mx9.example.net"));
  EXPECT_THAT(Codes(r.notes), ElementsAre("checks_fail_unreported"));
  EXPECT_THAT(Codes(JudgeReadiness(days, {}, "2026-11-25").reasons), Contains("no_checks"));
  // Days outside the window (and today, not complete) do not count.
  EXPECT_EQ(JudgeReadiness(days, checks, "2027-01-30").days_with_reports, 0);
}

TEST(Readiness, PolicyFetchFailuresAreANoteNotAReason) {
  // Senders that could not fetch the policy deliver anyway under enforce: not refused mail.
  std::vector<DayAggregate> days;
  for (int d = 1; d <= 14; ++d) {
    days.push_back(Clean("2026-11-" + std::string(d < 10 ? "0" : "") + std::to_string(d)));
  }
  days[3].failed = 4;
  days[3].failures_by_result_type = {{"sts-policy-fetch-error", 3}, {"sts-webpki-invalid", 1}};
  Readiness r = JudgeReadiness(days, HourlyOk("2026-11-01", 15), "2026-11-15");
  EXPECT_TRUE(r.ready);
  ASSERT_THAT(Codes(r.notes), Contains("policy_fetch_failures"));
  // One refusing failure among them is a reason, counted alone.
  days[4].failed = 2;
  days[4].failures_by_result_type = {{"certificate-expired", 2}};
  r = JudgeReadiness(days, HourlyOk("2026-11-01", 15), "2026-11-15");
  ASSERT_THAT(Codes(r.reasons), ElementsAre("failures"));
  EXPECT_THAT(r.reasons[0].message, HasSubstr("2 of "));
  EXPECT_THAT(r.reasons[0].evidence, Contains("result-type certificate-expired (2)"));
  EXPECT_THAT(r.reasons[0].evidence, Not(Contains("result-type sts-policy-fetch-error (3)")));
}

TEST(ReporterDrops, ASharpFallIsNoticedOnce) {
  std::vector<DayAggregate> days;
  days.reserve(9);
  for (int i = 0; i < 8; ++i) {
    days.push_back(Clean(UtcDay(Day("2026-11-01") + std::chrono::days(i)), 100 + i, 50));
  }
  days.push_back(Clean("2026-11-09", 10, 49));
  const std::vector<ReporterDrop> drops = DetectReporterDrops(days);
  ASSERT_EQ(drops.size(), 1u);
  EXPECT_EQ(drops[0].organization, "Google Inc.");
  EXPECT_EQ(drops[0].day, "2026-11-09");
  EXPECT_EQ(drops[0].successful, 10u);
  EXPECT_GE(drops[0].usual, 100u);
  EXPECT_THAT(DetectReporterDrops({Clean("2026-11-01", 5, 5), Clean("2026-11-02", 0, 0)}),
              IsEmpty());
}

}  // namespace
}  // namespace stswatch::tlsrpt
