// `stswatch serve` with its own redis-server and the testbed: the world changes while serve runs,
// and the events that appear in the Redis streams are exactly the ones a mail operator expects —
// and an unchanged world produces none, cycle after cycle.

#include <csignal>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/e2e/serve_harness.h"

namespace stswatch {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using testing::ServeDomains;
using testing::ServeHarness;
using testing::StoredEvent;
using testing::Testbed;
using ::testing::UnorderedElementsAreArray;

constexpr char kNet[] = "127.43";

std::vector<std::string> Kinds(const std::vector<StoredEvent>& events) {
  std::vector<std::string> kinds;
  kinds.reserve(events.size());
  for (const StoredEvent& e : events) {
    kinds.push_back(e.kind);
  }
  return kinds;
}

const StoredEvent* Find(const std::vector<StoredEvent>& events, const std::string& kind) {
  for (const StoredEvent& e : events) {
    if (e.kind == kind) {
      return &e;
    }
  }
  return nullptr;
}

TEST(ServeDriftTest, EventsFollowTheWorld) {
  std::string error;
  auto testbed = Testbed::Start("testbed/scenarios/serve-before.yaml", kNet, error);
  ASSERT_NE(testbed, nullptr) << error;
  ServeHarness serve;
  ASSERT_TRUE(serve.Start(*testbed)) << serve.Log();
  ASSERT_TRUE(serve.Connect()) << serve.Log();

  // Every domain gets its first check, and nothing else happens.
  ASSERT_TRUE(ServeHarness::WaitFor([&] { return serve.Events().size() >= ServeDomains().size(); },
                                    std::chrono::seconds(60)))
      << serve.Log();
  for (const std::string& domain : ServeDomains()) {
    const auto events = serve.EventsOf(domain);
    ASSERT_EQ(Kinds(events), std::vector<std::string>{"first_check"}) << domain;
    EXPECT_THAT(events[0].json, HasSubstr(R"("status":"ok")")) << domain << ": " << events[0].json;
  }

  // Several cycles of an unchanged world: every domain is checked again, no event appears.
  std::map<std::string, std::int64_t> first;
  for (const std::string& domain : ServeDomains()) {
    first[domain] = serve.LastCheck(domain);
  }
  ASSERT_TRUE(ServeHarness::WaitFor(
      [&] {
        for (const std::string& domain : ServeDomains()) {
          if (serve.LastCheck(domain) < first[domain] + 5000) {
            return false;
          }
        }
        return true;
      },
      std::chrono::seconds(60)))
      << serve.Log();
  EXPECT_EQ(serve.Events().size(), ServeDomains().size()) << serve.Log();

  // The world changes, live.
  ASSERT_TRUE(testbed->Apply("testbed/scenarios/serve-after.yaml", error)) << error;
  const std::map<std::string, std::vector<std::string>> expected = {
      {"stable.test", {"first_check"}},
      {"policy.test", {"first_check", "policy_changed_without_id_change", "max_age_changed"}},
      {"uncovered.test", {"first_check", "status_changed", "mx_set_changed", "mx_not_covered"}},
      {"renew.test", {"first_check", "certificate_changed"}},
      {"expiring.test", {"first_check"}},
      {"starttls.test", {"first_check", "status_changed", "starttls_lost"}},
      {"gone.test", {"first_check", "status_changed", "sts_record_removed"}},
  };
  std::size_t want = 0;
  for (const auto& [domain, kinds] : expected) {
    want += kinds.size();
  }
  ASSERT_TRUE(ServeHarness::WaitFor([&] { return serve.Events().size() >= want; },
                                    std::chrono::seconds(60)))
      << serve.Log();
  // A few more cycles: nothing more arrives.
  std::this_thread::sleep_for(std::chrono::seconds(5));
  for (const auto& [domain, kinds] : expected) {
    EXPECT_THAT(Kinds(serve.EventsOf(domain)), UnorderedElementsAreArray(kinds)) << domain;
  }

  const auto policy = serve.EventsOf("policy.test");
  if (const StoredEvent* e = Find(policy, "policy_changed_without_id_change")) {
    EXPECT_EQ(e->severity, "warning");
    EXPECT_EQ(e->subject, "mta-sts.policy.test");
    EXPECT_THAT(e->json, HasSubstr("5184000"));
  }
  const auto uncovered = serve.EventsOf("uncovered.test");
  if (const StoredEvent* e = Find(uncovered, "status_changed")) {
    // The most important event stswatch emits: enforce mode, ok -> failing.
    EXPECT_EQ(e->severity, "critical");
    EXPECT_THAT(e->json, HasSubstr(R"("before":"ok","after":"failing")"));
  }
  if (const StoredEvent* e = Find(uncovered, "mx_not_covered")) {
    EXPECT_EQ(e->subject, "mx9.elsewhere.test");
    EXPECT_EQ(e->severity, "critical");
  }
  const auto renew = serve.EventsOf("renew.test");
  if (const StoredEvent* e = Find(renew, "certificate_changed")) {
    EXPECT_EQ(e->subject, "mx-renew.serve.test");
  }
  const auto starttls = serve.EventsOf("starttls.test");
  if (const StoredEvent* e = Find(starttls, "starttls_lost")) {
    EXPECT_EQ(e->subject, "mx-starttls.serve.test");
    EXPECT_EQ(e->severity, "critical");
  }
  const auto gone = serve.EventsOf("gone.test");
  if (const StoredEvent* e = Find(gone, "status_changed")) {
    EXPECT_THAT(e->json, HasSubstr(R"("before":"ok","after":"none")"));
  }

  // Eleven days later (the clock is injected), the 40-day certificate enters the 30-day window.
  const std::size_t before_clock = serve.Events().size();
  serve.SetClockOffset(std::chrono::hours(24 * 11));
  ASSERT_TRUE(ServeHarness::WaitFor(
      [&] { return Find(serve.EventsOf("expiring.test"), "certificate_expiring") != nullptr; },
      std::chrono::seconds(60)))
      << serve.Log();
  std::this_thread::sleep_for(std::chrono::seconds(5));
  const auto expiring = serve.EventsOf("expiring.test");
  EXPECT_THAT(Kinds(expiring), UnorderedElementsAreArray({"first_check", "certificate_expiring"}));
  if (const StoredEvent* e = Find(expiring, "certificate_expiring")) {
    EXPECT_EQ(e->subject, "mx-exp.serve.test");
    EXPECT_THAT(e->json, HasSubstr(R"("after":"30d")"));
  }
  EXPECT_EQ(serve.Events().size(), before_clock + 1) << "only the expiry window changed";

  // Every event id is unique.
  std::set<std::string> ids;
  for (const StoredEvent& e : serve.Events()) {
    EXPECT_TRUE(ids.insert(e.id).second) << "event id twice: " << e.id;
  }

  // SIGHUP re-reads the domains file and the domains added in Redis.
  {
    std::ofstream domains(serve.dir() + "/domains", std::ios::app);
    domains << "from-file.test 5s\n";
  }
  ASSERT_TRUE(serve.AddWatched("from-redis.test", R"({"interval_s": 5})"));
  serve.serve().Signal(SIGHUP);
  ASSERT_TRUE(ServeHarness::WaitFor(
      [&] {
        return !serve.EventsOf("from-file.test").empty() &&
               !serve.EventsOf("from-redis.test").empty();
      },
      std::chrono::seconds(60)))
      << serve.Log();
  EXPECT_THAT(serve.Log(), HasSubstr("event=serve.reloaded from_file=8 from_redis=1"));

  // SIGTERM: the checks in flight finish, the results are written, serve exits cleanly.
  serve.serve().Signal(SIGTERM);
  EXPECT_EQ(serve.serve().Wait(std::chrono::seconds(60)), 0) << serve.Log();
  EXPECT_THAT(serve.Log(), HasSubstr("event=serve.stopped"));
  EXPECT_THAT(serve.Log(), ::testing::Not(HasSubstr("event=serve.unwritten_results")));
}

}  // namespace
}  // namespace stswatch
