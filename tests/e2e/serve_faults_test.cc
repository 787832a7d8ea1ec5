// `stswatch serve` when Redis fails: its own redis-server killed with SIGKILL mid-run, and an
// external Redis frozen (SIGSTOP) for a minute. serve keeps running, catches up, loses no event
// and emits none twice.

#include <csignal>
#include <map>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "store/redis_process.h"
#include "tests/e2e/serve_harness.h"

namespace stswatch {
namespace {

using ::testing::HasSubstr;
using testing::ServeHarness;
using testing::StoredEvent;
using testing::Testbed;
using ::testing::UnorderedElementsAreArray;

constexpr char kNet[] = "127.44";

// What serve-before.yaml -> serve-after.yaml produces, with the first checks.
const std::map<std::string, std::vector<std::string>>& Expected() {
  static const std::map<std::string, std::vector<std::string>> expected = {
      {"stable.test", {"first_check"}},
      {"policy.test", {"first_check", "policy_changed_without_id_change", "max_age_changed"}},
      {"uncovered.test", {"first_check", "status_changed", "mx_set_changed", "mx_not_covered"}},
      {"renew.test", {"first_check", "certificate_changed"}},
      {"expiring.test", {"first_check"}},
      {"starttls.test", {"first_check", "status_changed", "starttls_lost"}},
      {"gone.test", {"first_check", "status_changed", "sts_record_removed"}},
  };
  return expected;
}

std::size_t ExpectedCount() {
  std::size_t n = 0;
  for (const auto& [domain, kinds] : Expected()) {
    n += kinds.size();
  }
  return n;
}

// Each expected event exactly once, and no event id twice.
void ExpectExactlyOnce(ServeHarness& serve) {
  std::map<std::string, std::vector<std::string>> kinds;
  std::set<std::string> ids;
  for (const StoredEvent& e : serve.Events()) {
    kinds[e.domain].push_back(e.kind);
    EXPECT_TRUE(ids.insert(e.id).second) << "event id twice: " << e.id << " " << e.kind;
  }
  for (const auto& [domain, want] : Expected()) {
    EXPECT_THAT(kinds[domain], UnorderedElementsAreArray(want)) << domain;
  }
}

pid_t RedisPid(const std::string& log) {
  // The supervisor logs "redis-server (pid N) ready" at start.
  static const std::regex ready(R"(redis-server \(pid ([0-9]+)\) ready)");
  std::smatch m;
  if (!std::regex_search(log, m, ready)) {
    return -1;
  }
  return static_cast<pid_t>(std::stoi(m[1]));
}

TEST(ServeFaultsTest, OwnRedisKilledMidRun) {
  std::string error;
  auto testbed = Testbed::Start("testbed/scenarios/serve-before.yaml", kNet, error);
  ASSERT_NE(testbed, nullptr) << error;
  ServeHarness serve;
  ASSERT_TRUE(serve.Start(*testbed)) << serve.Log();
  ASSERT_TRUE(serve.Connect()) << serve.Log();
  ASSERT_TRUE(
      ServeHarness::WaitFor([&] { return serve.Events().size() >= 7; }, std::chrono::seconds(60)))
      << serve.Log();

  // The world changes and Redis dies at the same moment; serve restarts it and catches up.
  ASSERT_TRUE(testbed->Apply("testbed/scenarios/serve-after.yaml", error)) << error;
  const pid_t redis = RedisPid(serve.Log());
  ASSERT_GT(redis, 0) << serve.Log();
  ASSERT_EQ(kill(redis, SIGKILL), 0);
  ASSERT_TRUE(ServeHarness::WaitFor([&] { return serve.Events().size() >= ExpectedCount(); },
                                    std::chrono::seconds(90)))
      << serve.Log();
  std::this_thread::sleep_for(std::chrono::seconds(5));
  ExpectExactlyOnce(serve);
  EXPECT_THAT(serve.Log(), HasSubstr("restarted redis-server"));
  EXPECT_TRUE(serve.serve().running());

  serve.serve().Signal(SIGTERM);
  EXPECT_EQ(serve.serve().Wait(std::chrono::seconds(60)), 0) << serve.Log();
}

TEST(ServeFaultsTest, ExternalRedisUnreachableForAMinute) {
  std::string error;
  auto testbed = Testbed::Start("testbed/scenarios/serve-before.yaml", kNet, error);
  ASSERT_NE(testbed, nullptr) << error;
  store::testing::TestRedis redis;
  ASSERT_TRUE(redis.Start().ok());
  const std::string url = "unix://" + redis.process().socket_path();
  ServeHarness serve;
  ASSERT_TRUE(serve.Start(*testbed, {"--redis", url})) << serve.Log();
  ASSERT_TRUE(serve.Connect(url)) << serve.Log();
  ASSERT_TRUE(
      ServeHarness::WaitFor([&] { return serve.Events().size() >= 7; }, std::chrono::seconds(60)))
      << serve.Log();

  // Redis freezes: commands time out, connections hang. The world changes meanwhile.
  ASSERT_EQ(redis.process().Kill(SIGSTOP).code(), absl::StatusCode::kOk);
  ASSERT_TRUE(testbed->Apply("testbed/scenarios/serve-after.yaml", error)) << error;
  std::this_thread::sleep_for(std::chrono::seconds(60));
  EXPECT_TRUE(serve.serve().running()) << serve.Log();
  EXPECT_THAT(serve.Log(), HasSubstr("event=redis.connection"));
  ASSERT_EQ(redis.process().Kill(SIGCONT).code(), absl::StatusCode::kOk);

  // Back: the changes seen during the outage are written, once.
  ASSERT_TRUE(ServeHarness::WaitFor([&] { return serve.Events().size() >= ExpectedCount(); },
                                    std::chrono::seconds(60)))
      << serve.Log();
  std::this_thread::sleep_for(std::chrono::seconds(5));
  ExpectExactlyOnce(serve);

  serve.serve().Signal(SIGTERM);
  EXPECT_EQ(serve.serve().Wait(std::chrono::seconds(60)), 0) << serve.Log();
}

}  // namespace
}  // namespace stswatch
