// Tests of the due queue as the service's scheduling loop sees it: a fake `now` advances in steps,
// everything due is dispatched, each check completes a little later, and the tests look at when
// each domain was checked — once per interval, spread over the hour, once after an outage.

#include "scheduler/due_queue.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <deque>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <absl/container/flat_hash_set.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace stswatch::scheduler {
namespace {

using namespace std::chrono_literals;
using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::IsEmpty;
using ::testing::Optional;
using TimePoint = DueQueue::TimePoint;
using Duration = TimePoint::duration;

// 2026-01-01T00:00:00Z, plus an odd offset so that nothing lines up with the hour by accident.
constexpr TimePoint kStart = TimePoint(std::chrono::seconds(1767225600)) + 1234567ms;
constexpr auto kHour = std::chrono::duration_cast<Duration>(1h);
// Default jitter of a 1 h interval: 1 % = 36 s (under the 60 s cap).
constexpr auto kHourJitter = std::chrono::duration_cast<Duration>(36s);
// The simulated loop wakes up once per second, so a check starts up to 1 s after it is due.
constexpr auto kStep = std::chrono::duration_cast<Duration>(1s);
constexpr size_t kUnlimited = std::numeric_limits<size_t>::max();

std::string DomainName(int i) { return "customer-" + std::to_string(i) + ".example.com"; }

std::vector<std::string> Domains(int count, int first = 0) {
  std::vector<std::string> names;
  names.reserve(count);
  for (int i = first; i < first + count; ++i) {
    names.push_back(DomainName(i));
  }
  return names;
}

// The service's scheduling loop: at every step, completes the checks that have finished, then
// dispatches everything due; a check takes `check_duration`. Records when each domain was checked.
class Simulation {
 public:
  explicit Simulation(DueQueue& queue, TimePoint now, Duration check_duration = 2s)
      : queue_(queue), now_(now), check_duration_(check_duration) {}

  // Runs the loop at now, now + step, ... up to and including `end`.
  void RunUntil(TimePoint end) {
    while (true) {
      while (!running_.empty() && running_.front().first <= now_) {
        queue_.Completed(running_.front().second, running_.front().first);
        running_.pop_front();
      }
      for (Due& due : queue_.PopDue(now_, kUnlimited)) {
        EXPECT_LE(due.due, now_) << due.domain;
        checks_[due.domain].push_back(now_);
        running_.emplace_back(now_ + check_duration_, std::move(due.domain));
      }
      if (now_ + kStep > end) {
        return;
      }
      now_ += kStep;
    }
  }

  TimePoint Now() const { return now_; }

  // When each domain was checked, in order.
  const std::map<std::string, std::vector<TimePoint>>& Checks() const { return checks_; }

  std::vector<TimePoint> ChecksOf(const std::string& domain) const {
    const auto it = checks_.find(domain);
    return it == checks_.end() ? std::vector<TimePoint>{} : it->second;
  }

  // Checks of all domains in [from, to).
  std::vector<TimePoint> ChecksBetween(TimePoint from, TimePoint to) const {
    std::vector<TimePoint> all;
    for (const auto& [domain, times] : checks_) {
      for (const TimePoint t : times) {
        if (t >= from && t < to) {
          all.push_back(t);
        }
      }
    }
    return all;
  }

 private:
  DueQueue& queue_;
  TimePoint now_;
  Duration check_duration_;
  std::deque<std::pair<TimePoint, std::string>> running_;
  std::map<std::string, std::vector<TimePoint>> checks_;
};

// Counts of `times` in consecutive buckets of `width` from `from`; times outside are ignored.
std::vector<int> Histogram(const std::vector<TimePoint>& times, TimePoint from, Duration width,
                           int buckets) {
  std::vector<int> counts(buckets, 0);
  for (const TimePoint t : times) {
    if (t < from) {
      continue;
    }
    const auto bucket = static_cast<size_t>((t - from) / width);
    if (bucket < counts.size()) {
      ++counts[bucket];
    }
  }
  return counts;
}

// Where `t` falls within its interval (its phase plus jitter), as an offset from the epoch modulo
// the interval.
Duration OffsetInInterval(TimePoint t, Duration interval) {
  return t.time_since_epoch() % interval;
}

// Distance between two offsets within an interval, going round the end.
Duration CircularDistance(Duration a, Duration b, Duration interval) {
  const Duration d = a > b ? a - b : b - a;
  return std::min(d, interval - d);
}

TEST(StableDomainHashTest, IsFnv1aWithSplitMixAndNeverChanges) {
  // Pinned: a different value would move every domain's phase after an upgrade.
  EXPECT_EQ(StableDomainHash(""), 0xf52a15e9a9b5e89bULL);
  EXPECT_EQ(StableDomainHash("example.com"), 0x4d07e1c6cc597ab7ULL);
  EXPECT_EQ(StableDomainHash("mail.example-hosting7.com"), 0x1883d0951b1e199eULL);
}

TEST(DueQueueTest, DomainIsCheckedAtTheSameMinutePastEveryHour) {
  // StableDomainHash("example.com") % 1 h = 3 216 055 ms: 53 min 36.055 s past each UTC hour.
  DueQueue queue(DueQueueOptions{.jitter_fraction = 0});
  queue.Upsert("example.com", 0s, kStart, kStart);
  for (int hour = 0; hour < 3; ++hour) {
    const std::optional<TimePoint> due = queue.DueOf("example.com");
    ASSERT_TRUE(due.has_value());
    EXPECT_EQ(OffsetInInterval(*due, kHour), std::chrono::duration_cast<Duration>(3216055ms));
    ASSERT_EQ(queue.PopDue(*due, 10).size(), 1u);
    queue.Completed("example.com", *due + 5s);
  }
}

TEST(DueQueueTest, EveryDomainIsCheckedOncePerIntervalOver24Hours) {
  DueQueue queue;
  const std::vector<std::string> domains = Domains(1000);
  for (const std::string& domain : domains) {
    EXPECT_TRUE(queue.Upsert(domain, 0s, std::nullopt, kStart));
  }
  Simulation sim(queue, kStart);
  sim.RunUntil(kStart + 24h);

  for (const std::string& domain : domains) {
    const std::vector<TimePoint> checks = sim.ChecksOf(domain);
    ASSERT_GE(checks.size(), 2u) << domain;
    // 24 h: the start-up check, then one per hour (23 or 24 phase slots are left in the day).
    EXPECT_GE(checks.size(), 23u) << domain;
    EXPECT_LE(checks.size(), 25u) << domain;
    EXPECT_LE(checks.front(), kStart + 10min + kStep) << domain;
    // Never longer apart than interval + jitter; after the return to phase, an interval apart.
    EXPECT_LE(checks[1] - checks[0], kHour + kHourJitter + kStep) << domain;
    for (size_t i = 2; i < checks.size(); ++i) {
      EXPECT_GE(checks[i] - checks[i - 1], kHour - kHourJitter - kStep) << domain << " #" << i;
      EXPECT_LE(checks[i] - checks[i - 1], kHour + kHourJitter + kStep) << domain << " #" << i;
    }
  }
  EXPECT_EQ(queue.size(), 1000u);
}

TEST(DueQueueTest, TenThousandDomainsAreSpreadEvenlyOverTheHour) {
  // All checked just before a restart: each is next due at its phase within the coming hour.
  DueQueue queue;
  for (const std::string& domain : Domains(10000)) {
    queue.Upsert(domain, 0s, kStart, kStart);
  }
  Simulation sim(queue, kStart);
  sim.RunUntil(kStart + 1h + kHourJitter + kStep);

  // Every domain is checked within the hour (+ jitter); those whose phase comes in the first
  // seconds are checked again at its end.
  ASSERT_EQ(sim.Checks().size(), 10000u);
  std::vector<TimePoint> checks;
  for (const auto& [domain, times] : sim.Checks()) {
    EXPECT_LE(times.front(), kStart + 1h + kHourJitter + kStep) << domain;
    checks.push_back(times.front());
  }
  const std::vector<int> per_minute = Histogram(checks, kStart, 1min, 60);
  const double average = 10000.0 / 60;
  for (size_t minute = 0; minute < per_minute.size(); ++minute) {
    EXPECT_LE(per_minute[minute], 2 * average) << "minute " << minute;
    EXPECT_GE(per_minute[minute], average / 2) << "minute " << minute;
  }
}

TEST(DueQueueTest, SteadyStateAfterAFirstStartIsSpreadEvenly) {
  DueQueue queue;
  for (const std::string& domain : Domains(10000)) {
    queue.Upsert(domain, 0s, std::nullopt, kStart);
  }
  Simulation sim(queue, kStart);
  sim.RunUntil(kStart + 3h);

  const TimePoint third_hour = kStart + 2h;
  const std::vector<TimePoint> checks = sim.ChecksBetween(third_hour, third_hour + 1h);
  EXPECT_NEAR(checks.size(), 10000, 50);  // those at the hour's edges may jitter across
  const double average = 10000.0 / 60;
  for (const int count : Histogram(checks, third_hour, 1min, 60)) {
    EXPECT_LE(count, 2 * average);
  }
}

TEST(DueQueueTest, NeverCheckedDomainsAreSpreadOverTheStartupSpread) {
  DueQueue queue;  // startup_spread 10 min
  for (const std::string& domain : Domains(10000)) {
    queue.Upsert(domain, 0s, std::nullopt, kStart);
  }
  Simulation sim(queue, kStart);
  sim.RunUntil(kStart + 10min);

  std::vector<TimePoint> first_checks;
  for (const auto& [domain, times] : sim.Checks()) {
    EXPECT_LE(times.front(), kStart + 10min) << domain;
    first_checks.push_back(times.front());
  }
  // All of them within the 10 minutes, none in a rush at the start.
  ASSERT_EQ(first_checks.size(), 10000u);
  const std::vector<int> per_minute = Histogram(first_checks, kStart, 1min, 10);
  for (const int count : per_minute) {
    EXPECT_LE(count, 2 * 1000);
    EXPECT_GE(count, 1000 / 2);
  }
  EXPECT_LT(Histogram(first_checks, kStart, 10s, 1)[0], 2 * 10000 / 60);  // 167 expected
}

TEST(DueQueueTest, StartupSpreadIsNoLongerThanTheInterval) {
  DueQueue queue;
  for (const std::string& domain : Domains(1000)) {
    queue.Upsert(domain, 2min, std::nullopt, kStart);
  }
  Simulation sim(queue, kStart);
  sim.RunUntil(kStart + 2min);
  EXPECT_EQ(sim.Checks().size(), 1000u);
}

TEST(DueQueueTest, OutageCollapsesMissedCyclesIntoOneImmediateCheck) {
  const std::vector<std::string> domains = Domains(1000);
  DueQueue before(DueQueueOptions{.seed = 1});
  for (const std::string& domain : domains) {
    before.Upsert(domain, 0s, std::nullopt, kStart);
  }
  Simulation first_run(before, kStart);
  first_run.RunUntil(kStart + 2h);

  // Down for 5 hours; the new process learns the last checks from the store.
  const TimePoint restart = first_run.Now() + 5h;
  DueQueue after(DueQueueOptions{.seed = 2});
  for (const std::string& domain : domains) {
    const TimePoint last_check = first_run.ChecksOf(domain).back();
    EXPECT_TRUE(after.Upsert(domain, 0s, last_check, restart));
  }
  std::vector<Due> immediate = after.PopDue(restart, kUnlimited);
  EXPECT_EQ(immediate.size(), 1000u);  // once each, not five times
  absl::flat_hash_set<std::string> seen;
  for (const Due& due : immediate) {
    EXPECT_EQ(due.due, restart);
    EXPECT_TRUE(seen.insert(due.domain).second) << due.domain;
  }
  EXPECT_EQ(after.NextDue(), std::nullopt);  // everything is in flight
  for (const Due& due : immediate) {
    after.Completed(due.domain, restart + 2s);
  }

  // Then regular again, at the phases of before the outage.
  Simulation second_run(after, restart + 1s);
  second_run.RunUntil(restart + 3h);
  for (const std::string& domain : domains) {
    const std::vector<TimePoint> checks = second_run.ChecksOf(domain);
    // Three phase slots in three hours (the last may jitter past the end).
    ASSERT_GE(checks.size(), 2u) << domain;
    EXPECT_LE(checks.size(), 3u) << domain;
    EXPECT_LE(checks[0] - restart, kHour + kHourJitter + kStep) << domain;
    for (size_t i = 1; i < checks.size(); ++i) {
      EXPECT_GE(checks[i] - checks[i - 1], kHour - kHourJitter - kStep) << domain;
      EXPECT_LE(checks[i] - checks[i - 1], kHour + kHourJitter + kStep) << domain;
    }
    const Duration phase_before = OffsetInInterval(first_run.ChecksOf(domain).back(), kHour);
    EXPECT_LE(CircularDistance(OffsetInInterval(checks.back(), kHour), phase_before, kHour),
              kHourJitter + kStep)
        << domain;
  }
}

TEST(DueQueueTest, OverloadCollapsesMissedCyclesIntoOneCheck) {
  DueQueue queue;
  queue.Upsert("example.com", 0s, kStart, kStart);
  // Nobody dispatched for five hours.
  const TimePoint late = kStart + 5h;
  EXPECT_THAT(queue.PopDue(late, kUnlimited), ElementsAre(Field(&Due::domain, "example.com")));
  EXPECT_THAT(queue.PopDue(late, kUnlimited), IsEmpty());
  EXPECT_TRUE(queue.Completed("example.com", late));
  EXPECT_THAT(queue.PopDue(late, kUnlimited), IsEmpty());
  const std::optional<TimePoint> next = queue.NextDue();
  ASSERT_TRUE(next.has_value());
  EXPECT_GT(*next, late);
  EXPECT_LE(*next, late + kHour + kHourJitter);
}

TEST(DueQueueTest, PhasesAreTheSameInEveryProcess) {
  // Two processes (different seeds, domains added in another order) check each domain at the
  // same point of the hour.
  const std::vector<std::string> domains = Domains(500);
  DueQueue one(DueQueueOptions{.seed = 7});
  DueQueue two(DueQueueOptions{.seed = 8});
  for (size_t i = 0; i < domains.size(); ++i) {
    one.Upsert(domains[i], 0s, std::nullopt, kStart);
    two.Upsert(domains[domains.size() - 1 - i], 0s, std::nullopt, kStart + 17min);
  }
  Simulation sim_one(one, kStart);
  sim_one.RunUntil(kStart + 3h);
  Simulation sim_two(two, kStart + 17min);
  sim_two.RunUntil(kStart + 17min + 3h);
  for (const std::string& domain : domains) {
    EXPECT_LE(CircularDistance(OffsetInInterval(sim_one.ChecksOf(domain).back(), kHour),
                               OffsetInInterval(sim_two.ChecksOf(domain).back(), kHour), kHour),
              kHourJitter + kStep)
        << domain;
  }
}

TEST(DueQueueTest, QuickRestartKeepsTheSchedule) {
  const std::vector<std::string> domains = Domains(1000);
  DueQueue before(DueQueueOptions{.jitter_fraction = 0});
  for (const std::string& domain : domains) {
    before.Upsert(domain, 0s, std::nullopt, kStart);
  }
  Simulation run(before, kStart);
  run.RunUntil(kStart + 2h);

  // A restart 1 s later: no domain is checked early, each is due when it would have been.
  const TimePoint restart = run.Now() + 1s;
  DueQueue after(DueQueueOptions{.jitter_fraction = 0});
  int immediate = 0;
  for (const std::string& domain : domains) {
    after.Upsert(domain, 0s, run.ChecksOf(domain).back(), restart);
    const std::optional<TimePoint> due_before = before.DueOf(domain);
    if (!due_before.has_value()) {
      continue;  // in flight at the restart: its check had just started
    }
    if (*due_before <= restart) {
      ++immediate;
      EXPECT_THAT(after.DueOf(domain), Optional(restart)) << domain;
    } else {
      EXPECT_THAT(after.DueOf(domain), Optional(*due_before)) << domain;
    }
  }
  EXPECT_LE(immediate, 5);  // only those due in the second the process was down
}

TEST(DueQueueTest, IntervalChangeTakesEffectAtTheNextScheduling) {
  DueQueue queue;
  queue.Upsert("example.com", 1h, kStart, kStart);
  const std::optional<TimePoint> first_due = queue.DueOf("example.com");
  ASSERT_TRUE(first_due.has_value());
  Simulation sim(queue, kStart);
  sim.RunUntil(*first_due + 5s);
  ASSERT_EQ(sim.ChecksOf("example.com").size(), 1u);

  const std::optional<TimePoint> due = queue.DueOf("example.com");
  EXPECT_FALSE(queue.Upsert("example.com", 2h, std::nullopt, sim.Now()));
  EXPECT_EQ(queue.IntervalOf("example.com"), 2h);
  EXPECT_EQ(queue.DueOf("example.com"), due);  // the pending check stays

  sim.RunUntil(kStart + 10h);
  const std::vector<TimePoint> checks = sim.ChecksOf("example.com");
  ASSERT_GE(checks.size(), 4u);
  EXPECT_LE(checks[1], *due + kStep);
  // checks[2] is at the first slot of the 2 h phase; from there on, 2 h apart (jitter 1 %).
  EXPECT_LE(checks[2] - checks[1], 2h + 72s + kStep);
  for (size_t i = 3; i < checks.size(); ++i) {
    EXPECT_GE(checks[i] - checks[i - 1], 2h - 72s - kStep);
    EXPECT_LE(checks[i] - checks[i - 1], 2h + 72s + kStep);
  }
}

TEST(DueQueueTest, ShorterIntervalBringsAPendingCheckForward) {
  DueQueue queue;
  const TimePoint now = kStart + 1h;  // 01:20 UTC
  queue.Upsert("example.com", 24h, now, now);
  EXPECT_EQ(queue.IntervalOf("example.com"), 24h);
  ASSERT_GT(queue.DueOf("example.com"), now + 20h);  // example.com's phase: 00:53:36 UTC
  queue.Upsert("example.com", 15min, std::nullopt, now + 10min);
  const std::optional<TimePoint> due = queue.DueOf("example.com");
  ASSERT_TRUE(due.has_value());
  EXPECT_GT(*due, now + 10min);
  EXPECT_LE(*due, now + 10min + 15min + 9s);  // jitter: 1 % of 15 min
}

TEST(DueQueueTest, RemovedWhileInFlightIsNotRescheduled) {
  DueQueue queue;
  queue.Upsert("example.com", 0s, kStart - 2h, kStart);
  queue.Upsert("example.net", 0s, kStart, kStart);
  ASSERT_THAT(queue.PopDue(kStart, kUnlimited), ElementsAre(Field(&Due::domain, "example.com")));
  EXPECT_EQ(queue.in_flight(), 1u);
  EXPECT_TRUE(queue.InFlight("example.com"));

  EXPECT_TRUE(queue.Remove("example.com"));
  EXPECT_FALSE(queue.Remove("example.com"));
  EXPECT_FALSE(queue.Contains("example.com"));
  EXPECT_EQ(queue.size(), 1u);
  EXPECT_EQ(queue.in_flight(), 0u);
  EXPECT_FALSE(queue.Completed("example.com", kStart + 2s));
  EXPECT_EQ(queue.size(), 1u);
  EXPECT_THAT(queue.PopDue(kStart + 48h, kUnlimited),
              ElementsAre(Field(&Due::domain, "example.net")));
}

TEST(DueQueueTest, ReaddedWhileTheOldCheckIsInFlightIsScheduledOnce) {
  DueQueue queue;
  queue.Upsert("example.com", 0s, kStart - 2h, kStart);
  ASSERT_EQ(queue.PopDue(kStart, kUnlimited).size(), 1u);
  queue.Remove("example.com");
  EXPECT_TRUE(queue.Upsert("example.com", 0s, std::nullopt, kStart + 1s));
  const std::optional<TimePoint> due = queue.DueOf("example.com");
  ASSERT_TRUE(due.has_value());

  // The old check finishing does not schedule a second one.
  EXPECT_FALSE(queue.Completed("example.com", kStart + 2s));
  EXPECT_EQ(queue.DueOf("example.com"), due);
  EXPECT_THAT(queue.PopDue(kStart + 1h, kUnlimited),
              ElementsAre(Field(&Due::domain, "example.com")));
}

TEST(DueQueueTest, CompletedWithoutPopIsIgnored) {
  DueQueue queue;
  queue.Upsert("example.com", 0s, kStart, kStart);
  const std::optional<TimePoint> due = queue.DueOf("example.com");
  EXPECT_FALSE(queue.Completed("example.com", kStart + 5min));
  EXPECT_FALSE(queue.Completed("unknown.example", kStart + 5min));
  EXPECT_EQ(queue.DueOf("example.com"), due);
}

TEST(DueQueueTest, ReloadKeepsExistingDomainsDueTimes) {
  DueQueue queue;
  for (const std::string& domain : Domains(100)) {
    queue.Upsert(domain, 0s, std::nullopt, kStart);
  }
  Simulation sim(queue, kStart);
  sim.RunUntil(kStart + 90min);
  // Two checks are running when the domains file is re-read: one that stays, one that vanishes.
  std::vector<Due> running = queue.PopDue(kStart + 3h, 2);
  ASSERT_EQ(running.size(), 2u);
  std::map<std::string, std::optional<TimePoint>> due_before;
  for (const std::string& domain : Domains(100)) {
    due_before[domain] = queue.DueOf(domain);
  }

  // The new file: customer-0..9 are gone, customer-100..109 are new, plus one in flight.
  std::vector<std::string> file = Domains(100, 10);
  file.push_back(running[0].domain);
  const absl::flat_hash_set<std::string> keep(file.begin(), file.end());
  const bool vanished_in_flight = !keep.contains(running[1].domain);
  const TimePoint reload = sim.Now();
  EXPECT_EQ(queue.Retain(keep), 10u);
  for (const std::string& domain : file) {
    queue.Upsert(domain, 0s, std::nullopt, reload);
  }

  EXPECT_EQ(queue.size(), keep.size());
  for (int i = 0; i < 10; ++i) {
    if (DomainName(i) != running[0].domain) {
      EXPECT_FALSE(queue.Contains(DomainName(i)));
    }
  }
  for (int i = 10; i < 100; ++i) {
    EXPECT_EQ(queue.DueOf(DomainName(i)), due_before[DomainName(i)]) << DomainName(i);
  }
  for (int i = 100; i < 110; ++i) {
    const std::optional<TimePoint> due = queue.DueOf(DomainName(i));
    ASSERT_TRUE(due.has_value());
    EXPECT_GE(*due, reload);
    EXPECT_LE(*due, reload + 10min);
  }
  EXPECT_TRUE(queue.InFlight(running[0].domain));
  EXPECT_TRUE(queue.Completed(running[0].domain, reload));
  EXPECT_FALSE(queue.InFlight(running[0].domain));
  EXPECT_EQ(queue.Completed(running[1].domain, reload), !vanished_in_flight);
}

TEST(DueQueueTest, ReloadOfALargeFileRemovesVanishedDomains) {
  DueQueue queue;
  for (const std::string& domain : Domains(20000)) {
    queue.Upsert(domain, 0s, kStart, kStart);
  }
  const std::vector<std::string> kept = Domains(5000, 15000);
  EXPECT_EQ(queue.Retain(absl::flat_hash_set<std::string>(kept.begin(), kept.end())), 15000u);
  EXPECT_EQ(queue.size(), 5000u);
  for (const std::string& domain : Domains(100)) {
    EXPECT_FALSE(queue.Contains(domain));
  }
  // Every kept domain is still handed out exactly once per hour, earliest first.
  std::vector<Due> due = queue.PopDue(kStart + 2h, kUnlimited);
  ASSERT_EQ(due.size(), 5000u);
  EXPECT_TRUE(std::is_sorted(due.begin(), due.end(),
                             [](const Due& a, const Due& b) { return a.due < b.due; }));
  for (const Due& d : due) {
    EXPECT_TRUE(queue.InFlight(d.domain)) << d.domain;
  }
}

TEST(DueQueueTest, PerDomainIntervalsAreHonoured) {
  struct Group {
    std::chrono::seconds interval;
    Duration expected;
    int first;
  };
  const std::vector<Group> groups = {
      {15min, 15min, 0}, {1h, 1h, 100}, {6h, 6h, 200}, {0s, 1h, 300}};  // 0: the default
  DueQueue queue;
  for (const Group& group : groups) {
    for (const std::string& domain : Domains(100, group.first)) {
      queue.Upsert(domain, group.interval, std::nullopt, kStart);
    }
  }
  Simulation sim(queue, kStart);
  sim.RunUntil(kStart + 12h);
  for (const Group& group : groups) {
    const Duration jitter =
        std::min<Duration>(group.expected / 100, std::chrono::duration_cast<Duration>(60s));
    for (const std::string& domain : Domains(100, group.first)) {
      EXPECT_EQ(queue.IntervalOf(domain), group.expected);
      const std::vector<TimePoint> checks = sim.ChecksOf(domain);
      const auto cycles = static_cast<size_t>(12h / group.expected);
      EXPECT_GE(checks.size(), cycles - 1) << domain;
      EXPECT_LE(checks.size(), cycles + 1) << domain;
      for (size_t i = 1; i < checks.size(); ++i) {
        EXPECT_LE(checks[i] - checks[i - 1], group.expected + jitter + kStep) << domain;
        if (i >= 2) {
          EXPECT_GE(checks[i] - checks[i - 1], group.expected - jitter - kStep) << domain;
        }
      }
    }
  }
  EXPECT_EQ(queue.IntervalOf("unknown.example"), 0s);
}

TEST(DueQueueTest, JitterIsCappedAtMaxJitter) {
  // 1 % of 24 h would be 14.4 min; the cap keeps it at 60 s.
  DueQueue queue;
  for (const std::string& domain : Domains(200)) {
    queue.Upsert(domain, 24h, kStart, kStart);
  }
  Simulation sim(queue, kStart);
  sim.RunUntil(kStart + 5 * 24h);
  Duration shortest = Duration::max();
  Duration longest = Duration::min();
  for (const auto& [domain, checks] : sim.Checks()) {
    ASSERT_GE(checks.size(), 4u) << domain;
    for (size_t i = 1; i < checks.size(); ++i) {
      shortest = std::min(shortest, checks[i] - checks[i - 1]);
      longest = std::max(longest, checks[i] - checks[i - 1]);
    }
  }
  EXPECT_GE(shortest, 24h - 60s - kStep);
  EXPECT_LE(longest, 24h + 60s + kStep);
  EXPECT_GT(longest - shortest, 60s);  // there is jitter
}

TEST(DueQueueTest, WithoutJitterChecksAreExactlyAnIntervalApart) {
  DueQueue queue(DueQueueOptions{.jitter_fraction = 0});
  queue.Upsert("example.com", 0s, kStart, kStart);
  std::vector<TimePoint> due_times;
  for (int i = 0; i < 5; ++i) {
    const std::optional<TimePoint> next = queue.NextDue();
    ASSERT_TRUE(next.has_value());
    due_times.push_back(*next);
    ASSERT_EQ(queue.PopDue(*next, kUnlimited).size(), 1u);
    queue.Completed("example.com", *next + 30s);
  }
  for (size_t i = 1; i < due_times.size(); ++i) {
    EXPECT_EQ(due_times[i] - due_times[i - 1], kHour);
  }
}

TEST(DueQueueTest, SameSeedGivesTheSameSchedule) {
  const std::vector<std::string> domains = Domains(300);
  DueQueue one(DueQueueOptions{.seed = 42});
  DueQueue two(DueQueueOptions{.seed = 42});
  DueQueue other(DueQueueOptions{.seed = 43});
  for (DueQueue* queue : {&one, &two, &other}) {
    for (const std::string& domain : domains) {
      queue->Upsert(domain, 0s, kStart, kStart);
    }
  }
  int differ = 0;
  for (const std::string& domain : domains) {
    EXPECT_EQ(one.DueOf(domain), two.DueOf(domain));
    differ += one.DueOf(domain) != other.DueOf(domain) ? 1 : 0;
  }
  EXPECT_GT(differ, 290);
}

TEST(DueQueueTest, PopDueHandsOutEarliestFirstUpToMax) {
  DueQueue queue(DueQueueOptions{.jitter_fraction = 0});
  for (const std::string& domain : Domains(50)) {
    queue.Upsert(domain, 0s, kStart, kStart);
  }
  EXPECT_THAT(queue.PopDue(kStart, kUnlimited), IsEmpty());
  const std::optional<TimePoint> next = queue.NextDue();
  ASSERT_TRUE(next.has_value());

  std::vector<TimePoint> handed_out;
  while (queue.in_flight() < 50) {
    const std::vector<Due> batch = queue.PopDue(kStart + 1h, 7);
    ASSERT_FALSE(batch.empty());
    EXPECT_LE(batch.size(), 7u);
    for (const Due& due : batch) {
      handed_out.push_back(due.due);
    }
  }
  EXPECT_TRUE(std::is_sorted(handed_out.begin(), handed_out.end()));
  EXPECT_EQ(handed_out.front(), *next);
  EXPECT_EQ(queue.NextDue(), std::nullopt);
  EXPECT_EQ(queue.size(), 50u);
  EXPECT_THAT(queue.PopDue(kStart + 10h, 0), IsEmpty());
}

TEST(DueQueueTest, ManyRemovalsAndAdditionsKeepNamesIntact) {
  // Removed names are compacted away; the remaining ones must still be found and handed out.
  DueQueue queue;
  std::vector<std::string> live;
  for (int round = 0; round < 20; ++round) {
    for (const std::string& domain : Domains(1000, round * 1000)) {
      queue.Upsert(domain, 0s, kStart, kStart);
    }
    for (const std::string& domain : Domains(900, round * 1000)) {
      EXPECT_TRUE(queue.Remove(domain));
    }
    for (const std::string& domain : Domains(100, round * 1000 + 900)) {
      live.push_back(domain);
    }
  }
  EXPECT_EQ(queue.size(), live.size());
  for (const std::string& domain : live) {
    EXPECT_TRUE(queue.Contains(domain)) << domain;
  }
  std::vector<std::string> handed_out;
  for (Due& due : queue.PopDue(kStart + 2h, kUnlimited)) {
    handed_out.push_back(std::move(due.domain));
  }
  std::sort(handed_out.begin(), handed_out.end());
  std::sort(live.begin(), live.end());
  EXPECT_EQ(handed_out, live);
}

}  // namespace
}  // namespace stswatch::scheduler
