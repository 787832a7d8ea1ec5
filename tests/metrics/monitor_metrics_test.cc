// The serve loop reporting to Metrics: every finished check is counted by status with its
// duration (by the injected clock) and its probe errors, a check that throws counts as "error",
// and the drift events the store returns are counted by kind and severity.

#include <chrono>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/log.h"
#include "common/time_source.h"
#include "drift/events.h"
#include "metrics/metrics.h"
#include "scheduler/domain_list.h"
#include "scheduler/monitor.h"

namespace stswatch::metrics {
namespace {

namespace asio = boost::asio;

constexpr auto kT0 = std::chrono::system_clock::time_point(std::chrono::seconds(1'800'000'000));

// Applies every write; the first write of a domain yields a first_check event, and a failing
// domain a critical status_changed event too.
class FakeStore : public store::SnapshotStore {
 public:
  void Write(store::CheckResult result, Callback done) override {
    ++writes;
    store::WriteResult r;
    r.outcome = store::WriteOutcome::kApplied;
    drift::Event first;
    first.domain = result.snapshot.domain;
    first.kind = drift::EventKind::kFirstCheck;
    first.severity = drift::EventSeverity::kInfo;
    r.events.push_back(first);
    if (result.snapshot.status == "failing") {
      drift::Event changed;
      changed.domain = result.snapshot.domain;
      changed.kind = drift::EventKind::kStatusChanged;
      changed.severity = drift::EventSeverity::kCritical;
      r.events.push_back(changed);
    }
    done(r);
  }
  int writes = 0;
};

// Builds a check outside the coroutine (GCC 12 cannot build initializer lists of strings inside
// one).
drift::Snapshot SnapshotOf(const std::string& domain) {
  drift::Snapshot s;
  s.domain = domain;
  if (domain.starts_with("bad")) {
    s.status = "failing";
    s.fetch = "connect-failed";
    drift::MxSnapshot mx;
    mx.host = "mx." + domain;
    mx.starttls = drift::StartTls::kNotOffered;
    s.mx.push_back(mx);
  } else {
    s.status = "ok";
    s.fetch = "ok";
  }
  return s;
}

TEST(MonitorMetricsTest, ChecksAndEventsAreCounted) {
  asio::io_context io;
  FakeTimeSource clock(kT0);
  std::ostringstream log_text;
  Logger log(log_text, LogFormat::kText, clock, LogLevel::kDebug);
  FakeStore store;
  Metrics metrics;
  int tokens = 0;
  scheduler::MonitorOptions options;
  options.concurrency = 1;  // One check at a time: each moves the clock by its own duration.
  options.queue.default_interval = std::chrono::seconds(3600);
  options.max_sleep = std::chrono::milliseconds(1);
  scheduler::Monitor monitor(
      io.get_executor(), options,
      [&clock](std::string domain) -> asio::awaitable<drift::Snapshot> {
        clock.Advance(std::chrono::seconds(2));
        if (domain == "throws.test") {
          throw std::runtime_error("resolver exploded");
        }
        co_return SnapshotOf(domain);
      },
      store, [&tokens] { return std::to_string(++tokens); }, clock, log);
  monitor.SetMetrics(&metrics);

  const std::vector<scheduler::MonitoredDomain> domains = {
      {"ok1.test", std::chrono::seconds(0)},
      {"ok2.test", std::chrono::seconds(0)},
      {"bad1.test", std::chrono::seconds(0)},
      {"throws.test", std::chrono::seconds(0)},
  };
  // All due at once: last checked long ago.
  std::map<std::string, std::chrono::system_clock::time_point> last;
  for (const auto& d : domains) {
    last[d.name] = kT0 - std::chrono::hours(5);
  }
  monitor.SetDomains(domains, last);
  monitor.Start();
  for (int i = 0; i < 400 && monitor.counters().checks < 4; ++i) {
    io.run_for(std::chrono::milliseconds(5));
  }
  ASSERT_EQ(monitor.counters().checks, 4u);

  const std::string text = metrics.Render();
  EXPECT_THAT(text, ::testing::HasSubstr("stswatch_checks_total{status=\"ok\"} 2\n"));
  EXPECT_THAT(text, ::testing::HasSubstr("stswatch_checks_total{status=\"failing\"} 1\n"));
  EXPECT_THAT(text, ::testing::HasSubstr("stswatch_checks_total{status=\"error\"} 1\n"));
  // Each check took 2 s of the injected clock.
  EXPECT_THAT(text, ::testing::HasSubstr("stswatch_check_duration_seconds_count 4\n"));
  EXPECT_THAT(text, ::testing::HasSubstr("stswatch_check_duration_seconds_sum 8\n"));
  EXPECT_THAT(text, ::testing::HasSubstr("stswatch_check_duration_seconds_bucket{le=\"1\"} 0\n"));
  EXPECT_THAT(text, ::testing::HasSubstr("stswatch_check_duration_seconds_bucket{le=\"2.5\"} 4\n"));
  EXPECT_THAT(text, ::testing::HasSubstr("stswatch_probe_errors_total{kind=\"policy_fetch\"} 1\n"));
  EXPECT_THAT(text, ::testing::HasSubstr("stswatch_probe_errors_total{kind=\"starttls\"} 1\n"));
  EXPECT_THAT(text, ::testing::HasSubstr("stswatch_probe_errors_total{kind=\"smtp_connect\"} 0\n"));
  // Three written checks (the one that threw has no result), one of them failing.
  EXPECT_THAT(text, ::testing::HasSubstr(
                        "stswatch_events_total{kind=\"first_check\",severity=\"info\"} 3\n"));
  EXPECT_THAT(text,
              ::testing::HasSubstr(
                  "stswatch_events_total{kind=\"status_changed\",severity=\"critical\"} 1\n"));
}

}  // namespace
}  // namespace stswatch::metrics
