// The serve loop with a fake check and a fake store: every domain is checked and written with a
// growing fencing token, concurrency is capped, a reload adds and removes domains, a failing
// check is logged and does not stop the loop, and a drain waits for the checks in flight.

#include "scheduler/monitor.h"

#include <chrono>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/log.h"
#include "common/time_source.h"
#include "scheduler/domain_list.h"

namespace stswatch::scheduler {
namespace {

namespace asio = boost::asio;
using ::testing::HasSubstr;

constexpr auto kT0 = std::chrono::system_clock::time_point(std::chrono::seconds(1'800'000'000));

class FakeStore : public store::SnapshotStore {
 public:
  void Write(store::CheckResult result, Callback done) override {
    writes.push_back(result);
    done(store::WriteResult{store::WriteOutcome::kUnchanged, {}, 1});
  }
  std::vector<store::CheckResult> writes;
};

class MonitorTest : public ::testing::Test {
 protected:
  std::unique_ptr<Monitor> Make(int concurrency, std::chrono::milliseconds check_time,
                                const std::string& failing = "") {
    MonitorOptions options;
    options.concurrency = concurrency;
    options.queue.default_interval = std::chrono::seconds(60);
    options.queue.startup_spread = std::chrono::seconds(10);
    options.max_sleep = std::chrono::milliseconds(1);
    return std::make_unique<Monitor>(
        io_.get_executor(), options,
        [this, check_time, failing](std::string domain) -> asio::awaitable<drift::Snapshot> {
          ++running_;
          max_running_ = std::max(max_running_, running_);
          asio::steady_timer timer(io_);
          timer.expires_after(check_time);
          co_await timer.async_wait(asio::use_awaitable);
          --running_;
          if (domain == failing) {
            throw std::runtime_error("resolver exploded");
          }
          drift::Snapshot s;
          s.domain = domain;
          s.status = "ok";
          co_return s;
        },
        store_, [this] { return std::to_string(1000 + ++tokens_); }, clock_, log_);
  }

  // Moves the clock `seconds` on, a second at a time, letting the loop run.
  void Advance(int seconds) {
    for (int i = 0; i < seconds; ++i) {
      clock_.Advance(std::chrono::seconds(1));
      io_.run_for(std::chrono::milliseconds(5));
    }
  }

  std::map<std::string, int> Counts() const {
    std::map<std::string, int> n;
    for (const auto& w : store_.writes) {
      ++n[w.snapshot.domain];
    }
    return n;
  }

  asio::io_context io_;
  FakeTimeSource clock_{kT0};
  std::ostringstream log_text_;
  Logger log_{log_text_, LogFormat::kText, clock_, LogLevel::kDebug};
  FakeStore store_;
  int tokens_ = 0;
  int running_ = 0;
  int max_running_ = 0;
};

std::vector<MonitoredDomain> Domains(int n) {
  std::vector<MonitoredDomain> d;
  d.reserve(n);
  for (int i = 0; i < n; ++i) {
    d.push_back({"d" + std::to_string(i) + ".test", std::chrono::seconds(0)});
  }
  return d;
}

TEST_F(MonitorTest, ChecksEveryDomainEachIntervalWithGrowingTokens) {
  auto monitor = Make(4, std::chrono::milliseconds(1));
  monitor->SetDomains(Domains(20), {});
  monitor->Start();
  Advance(10 + 3 * 60);
  for (const auto& [domain, n] : Counts()) {
    EXPECT_GE(n, 3) << domain;
    EXPECT_LE(n, 5) << domain;
  }
  EXPECT_EQ(Counts().size(), 20u);
  for (std::size_t i = 1; i < store_.writes.size(); ++i) {
    EXPECT_LT(store_.writes[i - 1].token, store_.writes[i].token);
  }
}

TEST_F(MonitorTest, ConcurrencyIsCapped) {
  auto monitor = Make(3, std::chrono::milliseconds(2));
  // All due at once: known last checks long ago.
  std::map<std::string, std::chrono::system_clock::time_point> last;
  for (const auto& d : Domains(30)) {
    last[d.name] = kT0 - std::chrono::hours(5);
  }
  monitor->SetDomains(Domains(30), last);
  monitor->Start();
  for (int i = 0; i < 200 && store_.writes.size() < 30; ++i) {
    io_.run_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(store_.writes.size(), 30u);
  EXPECT_EQ(max_running_, 3);
}

TEST_F(MonitorTest, ReloadAddsAndRemoves) {
  auto monitor = Make(4, std::chrono::milliseconds(1));
  monitor->SetDomains(Domains(3), {});
  monitor->Start();
  Advance(70);
  monitor->SetDomains({{"d1.test", std::chrono::seconds(0)}, {"new.test", std::chrono::seconds(0)}},
                      {});
  store_.writes.clear();
  Advance(130);
  const auto counts = Counts();
  EXPECT_EQ(counts.count("d0.test"), 0u);
  EXPECT_EQ(counts.count("d2.test"), 0u);
  EXPECT_GE(counts.at("d1.test"), 2);
  EXPECT_GE(counts.at("new.test"), 2);
  EXPECT_THAT(log_text_.str(), HasSubstr("event=serve.domains domains=2 added=1 removed=2"));
}

TEST_F(MonitorTest, FailingCheckIsLoggedAndRetriedNextInterval) {
  auto monitor = Make(4, std::chrono::milliseconds(1), "d0.test");
  monitor->SetDomains(Domains(2), {});
  monitor->Start();
  Advance(10 + 2 * 60);
  EXPECT_THAT(log_text_.str(), HasSubstr("event=check.error domain=d0.test"));
  EXPECT_THAT(log_text_.str(), HasSubstr("resolver exploded"));
  EXPECT_EQ(Counts().count("d0.test"), 0u);
  EXPECT_GE(Counts().at("d1.test"), 2);
  EXPECT_GE(monitor->counters().failed_checks, 2u);
}

TEST_F(MonitorTest, DrainWaitsForChecksInFlight) {
  auto monitor = Make(8, std::chrono::milliseconds(50));
  std::map<std::string, std::chrono::system_clock::time_point> last;
  for (const auto& d : Domains(5)) {
    last[d.name] = kT0 - std::chrono::hours(1);
  }
  monitor->SetDomains(Domains(5), last);
  monitor->Start();
  io_.run_for(std::chrono::milliseconds(10));
  ASSERT_EQ(monitor->in_flight(), 5u);
  bool drained = false;
  monitor->Drain([&] { drained = true; });
  io_.run_for(std::chrono::milliseconds(10));
  EXPECT_FALSE(drained);
  for (int i = 0; i < 100 && !drained; ++i) {
    io_.run_for(std::chrono::milliseconds(5));
  }
  EXPECT_TRUE(drained);
  EXPECT_EQ(store_.writes.size(), 5u);
  // Nothing new starts after a drain.
  Advance(120);
  EXPECT_EQ(store_.writes.size(), 5u);
}

TEST(DomainListTest, ParsesIntervalsCommentsAndReportsBadLines) {
  std::istringstream in(
      "# monitored\n"
      "Example.COM.\n"
      "example.org   15m   # often\n"
      "\n"
      "bad..name\n"
      "example.net 2x\n"
      "example.edu 1s\n"
      "example.org 1h\n");
  const DomainListResult r = ParseDomainList(in, std::chrono::seconds(10));
  ASSERT_EQ(r.domains.size(), 2u);
  EXPECT_EQ(r.domains[0].name, "example.com");
  EXPECT_EQ(r.domains[0].interval, std::chrono::seconds(0));
  EXPECT_EQ(r.domains[1].name, "example.org");
  EXPECT_EQ(r.domains[1].interval, std::chrono::hours(1));  // The last line for it wins.
  ASSERT_EQ(r.errors.size(), 3u);
  EXPECT_THAT(r.errors[0], HasSubstr("line 5: \"bad..name\" is not a domain name"));
  EXPECT_THAT(r.errors[1], HasSubstr("line 6: \"2x\" is not an interval"));
  EXPECT_THAT(r.errors[2], HasSubstr("line 7: interval 1s is shorter than the minimum 10s"));
}

}  // namespace
}  // namespace stswatch::scheduler
