// One report in, through the sink every channel uses, against a real redis-server: stored once,
// refused for unwatched domains when so configured, and cross-checked against the domain's own
// checks (the events it writes, where the alerter and the API read them).

#include "tlsrpt/ingest.h"

#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/time_source.h"
#include "drift/snapshot.h"
#include "tests/api/api_test_util.h"

namespace stswatch::tlsrpt {
namespace {

using api::testing::Await;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using Clock = std::chrono::system_clock;

std::string Report(const std::string& org, const std::string& id, const std::string& day, int ok,
                   int failed, const std::string& domain = "example.com") {
  std::string failures;
  if (failed > 0) {
    failures = R"(, "failure-details": [{"result-type": "certificate-expired",
        "receiving-mx-hostname": "mx1.example.com", "failed-session-count": )" +
               std::to_string(failed) + "}]";
  }
  return R"({"organization-name": ")" + org + R"(", "date-range": {"start-datetime": ")" + day +
         R"(T00:00:00Z", "end-datetime": ")" + day + R"(T23:59:59Z"}, "report-id": ")" + id +
         R"(", "policies": [{"policy": {"policy-type": "sts", "policy-domain": ")" + domain +
         R"("}, "summary": {"total-successful-session-count": )" + std::to_string(ok) +
         R"(, "total-failure-session-count": )" + std::to_string(failed) + "}" + failures + "}]}";
}

class IngestTest : public api::testing::RedisFixture {
 protected:
  IngestResult Ingest(const std::string& json, IngestOptions options = {}) {
    absl::StatusOr<tlsrpt::Report> report = ParseReport(json);
    EXPECT_TRUE(report.ok()) << report.status();
    RedisReportSink sink(*client_, keys_, options, clock_);
    ReportOrigin origin;
    origin.channel = "https";
    return Await(io_, sink.Ingest(report.ok() ? *report : tlsrpt::Report{}, origin));
  }
  // A stored check of the domain, as the state store writes it (store/update_state.lua).
  void Checked(const std::string& domain, const std::string& status, std::int64_t time_ms) {
    drift::Snapshot s;
    s.domain = domain;
    s.status = status;
    s.mode = "testing";
    if (status != "ok") {
      s.findings.push_back("mx.certificate_expired");
      drift::MxSnapshot mx;
      mx.host = "mx1." + domain;
      mx.result_type = "certificate-expired";
      s.mx.push_back(mx);
    }
    Redis({"HSET", keys_.Domain(domain), "snapshot", drift::ToJson(s), "status", status, "checked",
           std::to_string(time_ms)});
    Redis({"XADD", keys_.History(domain), "*", "type", "state", "status", status, "time",
           std::to_string(time_ms)});
  }
  std::vector<std::string> EventKinds(const std::string& domain) {
    std::vector<std::string> kinds;
    const store::RedisReply r =
        Redis({"XRANGE", keys_.Events(keys_.PartitionOf(domain)), "-", "+"});
    for (const store::RedisReply& e : r.elements) {
      const auto& f = e.elements[1].elements;
      for (std::size_t i = 0; i + 1 < f.size(); i += 2) {
        if (f[i].str == "kind") {
          kinds.push_back(f[i + 1].str);
        }
      }
    }
    return kinds;
  }
  static std::int64_t Ms(const std::string& day) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               ParseUtcDay(day)->time_since_epoch())
        .count();
  }
  store::KeySchema keys_;
  // "Today" for the cross-checks: reports of the week before are compared.
  FakeTimeSource clock_{*ParseUtcDay("2026-11-21") + std::chrono::hours(12)};
};

TEST_F(IngestTest, StoredOnceAndDuplicatesChangeNothing) {
  const IngestResult first = Ingest(Report("Google Inc.", "r1", "2026-11-20", 100, 0));
  EXPECT_EQ(first.status, IngestStatus::kStored);
  EXPECT_THAT(first.domains, ElementsAre("example.com"));
  const IngestResult again = Ingest(Report("Google Inc.", "r1", "2026-11-20", 100, 0));
  EXPECT_EQ(again.status, IngestStatus::kDuplicate);
  EXPECT_THAT(again.message, HasSubstr("duplicate"));
  ReportStore store(*client_, keys_);
  const auto days = Await(io_, store.Days("example.com", "2026-11-20", "2026-11-20"));
  ASSERT_TRUE(days.ok());
  ASSERT_EQ(days->size(), 1u);
  EXPECT_EQ(days->front().successful, 100u);
}

TEST_F(IngestTest, UnwatchedDomainsAreRefusedOnlyWhenConfigured) {
  IngestOptions refuse;
  refuse.refuse_unwatched = true;
  const IngestResult refused = Ingest(Report("Google Inc.", "r2", "2026-11-20", 5, 0), refuse);
  EXPECT_EQ(refused.status, IngestStatus::kRefused);
  EXPECT_THAT(refused.message, HasSubstr("nobody watches here: example.com"));
  // Watched once it has a state (or is in a watch hash).
  Checked("example.com", "ok", Ms("2026-11-19"));
  EXPECT_EQ(Ingest(Report("Google Inc.", "r2", "2026-11-20", 5, 0), refuse).status,
            IngestStatus::kStored);
  // Kept by default.
  EXPECT_EQ(Ingest(Report("Google Inc.", "r3", "2026-11-20", 5, 0, "nobody.example")).status,
            IngestStatus::kStored);
  // A report for a watched and an unwatched domain is taken.
  absl::StatusOr<tlsrpt::Report> both =
      ParseReport(Report("Google Inc.", "r8", "2026-11-20", 1, 0));
  ASSERT_TRUE(both.ok());
  both->policies.push_back(both->policies[0]);
  both->policies[1].policy.policy_domain = "nobody.example";
  RedisReportSink sink(*client_, keys_, refuse, clock_);
  EXPECT_EQ(Await(io_, sink.Ingest(*both, ReportOrigin{})).status, IngestStatus::kStored);
}

TEST_F(IngestTest, FailuresTheChecksDoNotSeeAreAnEvent) {
  Checked("example.com", "ok", Ms("2026-11-19"));
  const IngestResult r = Ingest(Report("Google Inc.", "r4", "2026-11-20", 90, 10));
  ASSERT_EQ(r.events.size(), 1u);
  EXPECT_EQ(r.events[0].kind, drift::EventKind::kReportFailuresUnseen);
  EXPECT_THAT(r.events[0].message, HasSubstr("10 failed sessions on 2026-11-20"));
  EXPECT_THAT(r.events[0].message, HasSubstr("certificate-expired (10)"));
  EXPECT_THAT(r.events[0].message, HasSubstr("mx1.example.com (10)"));
  EXPECT_THAT(EventKinds("example.com"), ElementsAre("report_failures_unseen"));
  // In the domain's history too (ListEvents reads it).
  const store::RedisReply h = Redis({"XRANGE", keys_.History("example.com"), "-", "+"});
  EXPECT_EQ(h.elements.size(), 2u);
}

TEST_F(IngestTest, ChecksFailingWhileReportsAreCleanIsAnEvent) {
  Checked("example.com", "failing", Ms("2026-11-19"));
  const IngestResult r = Ingest(Report("Google Inc.", "r5", "2026-11-20", 50, 0));
  ASSERT_EQ(r.events.size(), 1u);
  EXPECT_EQ(r.events[0].kind, drift::EventKind::kCheckFailuresUnreported);
  EXPECT_THAT(r.events[0].message, HasSubstr("mx.certificate_expired"));
  // Both sides agree (failing, and the report shows the same failures): nothing to say.
  EXPECT_TRUE(Ingest(Report("Google Inc.", "r6", "2026-11-21", 50, 5)).events.empty());
}

TEST_F(IngestTest, AReportIsComparedWithTheChecksOfItsOwnDay) {
  // Failing all of the 19th, fixed on the 20th; the 19th's reports arrive on the 20th and 21st.
  Checked("example.com", "failing", Ms("2026-11-18"));
  Checked("example.com", "ok", Ms("2026-11-20") + std::int64_t{3600} * 1000);
  // Failures the checks of that day saw too: no event, though the checks are clean now.
  EXPECT_TRUE(Ingest(Report("Google Inc.", "old-fail", "2026-11-19", 90, 10)).events.empty());
  // Only successful sessions while the checks failed all day: the reporters may not reach it.
  const IngestResult clean = Ingest(Report("Yahoo", "old-clean", "2026-11-19", 50, 0));
  ASSERT_EQ(clean.events.size(), 1u);
  EXPECT_EQ(clean.events[0].kind, drift::EventKind::kCheckFailuresUnreported);
  // A day of both states (the 20th) is neither clean nor failing: failures there say nothing.
  EXPECT_TRUE(Ingest(Report("Google Inc.", "mixed", "2026-11-20", 90, 10)).events.empty());
}

TEST_F(IngestTest, FailuresOfAnotherTypeThanTheChecksFoundAreUnseen) {
  Checked("example.com", "failing", Ms("2026-11-19"));  // certificate-expired on mx1
  std::string other = Report("Google Inc.", "r7", "2026-11-20", 90, 10);
  other.replace(other.find("certificate-expired"), std::string("certificate-expired").size(),
                "starttls-not-supported");
  const IngestResult r = Ingest(other);
  ASSERT_EQ(r.events.size(), 2u);
  EXPECT_EQ(r.events[0].kind, drift::EventKind::kReportFailuresUnseen);
  EXPECT_THAT(r.events[0].message, HasSubstr("not starttls-not-supported"));
  EXPECT_THAT(r.events[0].message, HasSubstr("they found certificate-expired"));
  EXPECT_EQ(r.events[1].kind, drift::EventKind::kCheckFailuresUnreported);
}

TEST_F(IngestTest, EventsAreWrittenOncePerDomainKindAndDay) {
  Checked("example.com", "ok", Ms("2026-11-19"));
  EXPECT_EQ(Ingest(Report("Google Inc.", "a", "2026-11-20", 90, 10)).events.size(), 1u);
  // The same report again, and another report of the same day with failures: no new event.
  EXPECT_EQ(Ingest(Report("Google Inc.", "a", "2026-11-20", 90, 10)).status,
            IngestStatus::kDuplicate);
  EXPECT_TRUE(Ingest(Report("Google Inc.", "a", "2026-11-20", 90, 10)).events.empty());
  EXPECT_TRUE(Ingest(Report("Microsoft", "b", "2026-11-20", 90, 3)).events.empty());
  EXPECT_THAT(EventKinds("example.com"), ElementsAre("report_failures_unseen"));
  // A retry after the events were lost writes them: the marker and the events go together.
  Redis({"FLUSHALL"});
  Checked("example.com", "ok", Ms("2026-11-19"));
  Ingest(Report("Google Inc.", "a", "2026-11-20", 90, 10));
  EXPECT_THAT(EventKinds("example.com"), ElementsAre("report_failures_unseen"));
}

TEST_F(IngestTest, OldReportsAndUnwatchedDomainsAreNotCrossChecked) {
  Checked("example.com", "ok", Ms("2026-11-01"));
  // Ten days before "today": stored, not compared with today's checks.
  EXPECT_TRUE(Ingest(Report("Google Inc.", "late", "2026-11-11", 90, 10)).events.empty());
  EXPECT_TRUE(Ingest(Report("Google Inc.", "nobody", "2026-11-20", 90, 10, "nobody.example"))
                  .events.empty());
  EXPECT_TRUE(EventKinds("nobody.example").empty());
}

TEST_F(IngestTest, ReportsNamingTooManyDomainsAreRefused) {
  IngestOptions options;
  options.max_domains = 1;
  absl::StatusOr<tlsrpt::Report> two =
      ParseReport(Report("Google Inc.", "two", "2026-11-20", 1, 0));
  ASSERT_TRUE(two.ok());
  two->policies.push_back(two->policies[0]);
  two->policies[1].policy.policy_domain = "other.example";
  RedisReportSink sink(*client_, keys_, options, clock_);
  const IngestResult r = Await(io_, sink.Ingest(*two, ReportOrigin{}));
  EXPECT_EQ(r.status, IngestStatus::kRefused);
  EXPECT_THAT(r.message, HasSubstr("names 2 policy domains; at most 1"));
}

TEST_F(IngestTest, AReportersSuddenDropIsAnEvent) {
  Checked("example.com", "ok", Ms("2026-11-01"));
  for (int d = 10; d < 17; ++d) {
    const std::string day = "2026-11-" + std::to_string(d);
    EXPECT_TRUE(Ingest(Report("Google Inc.", "g" + day, day, 1000, 0)).events.empty());
  }
  const IngestResult drop = Ingest(Report("Google Inc.", "g-drop", "2026-11-17", 40, 0));
  ASSERT_EQ(drop.events.size(), 1u);
  EXPECT_EQ(drop.events[0].kind, drift::EventKind::kReporterDrop);
  EXPECT_EQ(drop.events[0].subject, "Google Inc.");
  EXPECT_THAT(drop.events[0].message, HasSubstr("40 successful sessions"));
  EXPECT_THAT(drop.events[0].message, HasSubstr("usual 1000"));
  // Another organization's small count that day is not a drop of Google's.
  EXPECT_TRUE(Ingest(Report("Yahoo", "y1", "2026-11-17", 3, 0)).events.empty());
}

TEST_F(IngestTest, ProbeChecksComeFromTheHistory) {
  Checked("example.com", "failing", Ms("2026-11-01"));
  Checked("example.com", "ok", Ms("2026-11-10"));
  const auto checks =
      Await(io_, LoadProbeChecks(*client_, keys_, "example.com", *ParseUtcDay("2026-11-05")));
  ASSERT_TRUE(checks.ok()) << checks.status();
  // The state in effect at the window's start (failing, moved to the start), the change to ok,
  // and the latest check.
  ASSERT_EQ(checks->size(), 3u);
  EXPECT_EQ((*checks)[0].status, "failing");
  EXPECT_EQ((*checks)[0].time, *ParseUtcDay("2026-11-05"));
  EXPECT_EQ((*checks)[1].status, "ok");
  EXPECT_EQ((*checks)[2].status, "ok");
  const auto never =
      Await(io_, LoadProbeChecks(*client_, keys_, "never.example", *ParseUtcDay("2026-11-05")));
  ASSERT_TRUE(never.ok());
  EXPECT_TRUE(never->empty());
}

}  // namespace
}  // namespace stswatch::tlsrpt
