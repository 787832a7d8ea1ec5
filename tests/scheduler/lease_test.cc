// The scheduler lease against a real redis-server: one holder at a time, a standby that sees it,
// a prompt handover on Stop(), a holder that declares the lease lost (SIGSTOPped Redis) before
// anyone else can take it, takeover after a holder dies, and an epoch that only grows.
//
// Real time with short leases (600-3000 ms); every wait polls with a deadline.

#include "scheduler/lease.h"

#include <signal.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

#include "store/redis_client.h"
#include "tests/store/redis_test_util.h"

namespace stswatch::scheduler {
namespace {

using std::chrono::milliseconds;
using store::RedisClient;
using store::testing::Call;
using store::testing::RunFor;
using store::testing::RunUntil;
using store::testing::TestRedis;
using Clock = std::chrono::steady_clock;

LeaseOptions Options(const std::string& holder, milliseconds duration) {
  LeaseOptions options;
  options.holder = holder;
  options.duration = duration;  // Renewals every duration / 3; lost at send + duration * 4/5.
  return options;
}

// One scheduler: its own connection and lease, and what its callbacks reported.
struct Contender {
  Contender(boost::asio::io_context& io, const store::RedisEndpoint& endpoint,
            const LeaseOptions& options)
      : client(std::make_unique<RedisClient>(io.get_executor(), endpoint,
                                             store::testing::FastOptions())),
        lease(std::make_unique<SchedulerLease>(io.get_executor(), *client, options)) {
    lease->SetOnAcquired([this](std::uint32_t epoch) {
      acquired.push_back(epoch);
      acquired_at = Clock::now();
    });
    lease->SetOnLost([this](const std::string& reason) {
      lost.push_back(reason);
      lost_at = Clock::now();
    });
    lease->SetLogger(log.Logger());
    client->Start();
  }
  ~Contender() { Crash(); }
  Contender(const Contender&) = delete;
  Contender& operator=(const Contender&) = delete;

  // Gone without releasing, as a crashed process: the lease, then its connection.
  void Crash() {
    lease.reset();
    client.reset();
  }

  std::unique_ptr<RedisClient> client;
  std::unique_ptr<SchedulerLease> lease;
  std::vector<std::uint32_t> acquired;
  std::vector<std::string> lost;
  Clock::time_point acquired_at;
  Clock::time_point lost_at;
  store::testing::LogSink log;
};

class LeaseTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(redis_.Start().ok());
    observer_ = std::make_unique<RedisClient>(io_.get_executor(), redis_.endpoint(),
                                              store::testing::FastOptions());
    observer_->Start();
    ASSERT_TRUE(RunUntil(io_, [&] { return observer_->connected(); }));
  }

  std::unique_ptr<Contender> Make(const std::string& holder, milliseconds duration) {
    auto c = std::make_unique<Contender>(io_, redis_.endpoint(), Options(holder, duration));
    EXPECT_TRUE(RunUntil(io_, [&] { return c->client->connected(); }));
    return c;
  }

  // Starts `c` and waits until it holds the lease.
  void Acquire(Contender& c, milliseconds timeout = milliseconds(5000)) {
    const std::size_t before = c.acquired.size();
    c.lease->Start();
    ASSERT_TRUE(RunUntil(
        io_, [&] { return c.acquired.size() > before; }, timeout))
        << c.log.All();
  }

  std::string Get(const std::string& key) {
    const auto reply = Call(io_, *observer_, {"GET", key});
    EXPECT_TRUE(reply.ok()) << reply.status();
    return reply.ok() ? reply->str : "";
  }

  TestRedis redis_;
  boost::asio::io_context io_;
  std::unique_ptr<RedisClient> observer_;
};

TEST_F(LeaseTest, FirstAcquiresSecondStandsBy) {
  auto a = Make("sched-a", milliseconds(1500));
  Acquire(*a);
  EXPECT_EQ(a->acquired, std::vector<std::uint32_t>{1});
  EXPECT_TRUE(a->lease->holding());
  EXPECT_EQ(a->lease->epoch(), 1u);
  EXPECT_EQ(Get("stswatch:lease:scheduler"), "sched-a|1");
  EXPECT_EQ(Get("stswatch:epoch:scheduler"), "1");

  auto b = Make("sched-b", milliseconds(1500));
  b->lease->Start();
  ASSERT_TRUE(RunUntil(io_, [&] { return b->lease->other_holder().has_value(); }));
  const LeaseHolder& seen = *b->lease->other_holder();
  EXPECT_EQ(seen.id, "sched-a");
  EXPECT_EQ(seen.epoch, 1u);
  EXPECT_GT(seen.ttl, milliseconds(0));
  EXPECT_LE(seen.ttl, milliseconds(1500));
  EXPECT_FALSE(b->lease->holding());
  EXPECT_TRUE(b->log.Contains("held by sched-a (epoch 1)")) << b->log.All();

  // Well past one lease duration: the holder keeps renewing, the standby keeps waiting.
  RunFor(io_, milliseconds(2000));
  EXPECT_TRUE(a->lease->holding());
  EXPECT_TRUE(a->lost.empty()) << a->lost.front();
  EXPECT_TRUE(b->acquired.empty());
  EXPECT_EQ(b->lease->other_holder()->id, "sched-a");
}

TEST_F(LeaseTest, StopHandsOverAtOnce) {
  // Long enough that waiting for the key to expire would show.
  auto a = Make("sched-a", milliseconds(3000));
  auto b = Make("sched-b", milliseconds(3000));
  Acquire(*a);
  b->lease->Start();
  ASSERT_TRUE(RunUntil(io_, [&] { return b->lease->other_holder().has_value(); }));

  bool released = false;
  const Clock::time_point stopped = Clock::now();
  a->lease->Stop([&] { released = true; });
  EXPECT_FALSE(a->lease->holding());
  ASSERT_TRUE(RunUntil(
      io_, [&] { return !b->acquired.empty(); }, milliseconds(5000)));
  // At the standby's next attempt (every 1000 ms), not when the key would have expired (3000).
  EXPECT_LT(Clock::now() - stopped, milliseconds(2000));
  EXPECT_TRUE(released);
  EXPECT_EQ(b->acquired, std::vector<std::uint32_t>{2});
  EXPECT_TRUE(b->lease->holding());
  EXPECT_TRUE(a->lost.empty()) << "Stop() must not call OnLost";
  EXPECT_EQ(Get("stswatch:lease:scheduler"), "sched-b|2");
}

// The holder's Redis freezes (SIGSTOP): no renewal can be answered. The holder declares the lease
// lost by its own clock, while Redis still has the key as its; a second scheduler, connecting
// once Redis runs again, sees the old holder and acquires only after the key expired.
TEST_F(LeaseTest, FrozenRedisHolderLosesBeforeTheKeyExpires) {
  constexpr milliseconds kDuration(1500);
  auto a = Make("sched-a", kDuration);
  const Clock::time_point started = Clock::now();  // Before the acquisition is sent.
  Acquire(*a);
  ASSERT_TRUE(redis_.process().Kill(SIGSTOP).ok());
  ASSERT_TRUE(RunUntil(
      io_, [&] { return !a->lost.empty(); }, milliseconds(4000)))
      << a->log.All();
  const Clock::time_point lost_at = a->lost_at;
  EXPECT_FALSE(a->lease->holding());
  // Redis expires the key no sooner than (its receipt of the acquisition >= started) + duration.
  EXPECT_LT(lost_at - started, kDuration) << a->log.All();
  EXPECT_GE(lost_at - started, kDuration * 4 / 5 - milliseconds(20));
  // This holder leaves the contest; its connection stays (its renewal, stuck in Redis' socket,
  // is still executed when Redis resumes).
  a->lease.reset();

  ASSERT_TRUE(redis_.process().Kill(SIGCONT).ok());
  auto b = Make("sched-b", kDuration);
  b->lease->Start();
  ASSERT_TRUE(RunUntil(io_, [&] { return b->lease->other_holder() || !b->acquired.empty(); }));
  // After the old holder had given up, Redis still held the key for it.
  ASSERT_TRUE(b->lease->other_holder().has_value()) << b->log.All();
  EXPECT_EQ(b->lease->other_holder()->id, "sched-a");
  EXPECT_EQ(b->lease->other_holder()->epoch, 1u);

  ASSERT_TRUE(RunUntil(
      io_, [&] { return !b->acquired.empty(); }, milliseconds(5000)))
      << b->log.All();
  EXPECT_LT(lost_at, b->acquired_at);
  EXPECT_EQ(b->acquired, std::vector<std::uint32_t>{2});
}

// A holder that loses the lease and takes it again gets a new epoch, even though the key in
// Redis still carried its old one.
TEST_F(LeaseTest, ReacquisitionAfterALossTakesANewEpoch) {
  auto a = Make("sched-a", milliseconds(1500));
  Acquire(*a);
  ASSERT_TRUE(redis_.process().Kill(SIGSTOP).ok());
  ASSERT_TRUE(RunUntil(
      io_, [&] { return !a->lost.empty(); }, milliseconds(4000)));
  // Redis resumes before the key expires: it is still "sched-a|1".
  ASSERT_TRUE(redis_.process().Kill(SIGCONT).ok());
  ASSERT_TRUE(RunUntil(
      io_, [&] { return a->acquired.size() == 2; }, milliseconds(5000)))
      << a->log.All();
  EXPECT_EQ(a->acquired, (std::vector<std::uint32_t>{1, 2}));
  EXPECT_EQ(a->lease->epoch(), 2u);
  EXPECT_TRUE(a->lease->holding());
  EXPECT_EQ(Get("stswatch:lease:scheduler"), "sched-a|2");
}

TEST_F(LeaseTest, DeadHolderIsTakenOverAfterExpiry) {
  constexpr milliseconds kDuration(1500);
  auto a = Make("sched-a", kDuration);
  auto b = Make("sched-b", kDuration);
  Acquire(*a);
  b->lease->Start();
  ASSERT_TRUE(RunUntil(io_, [&] { return b->lease->other_holder().has_value(); }));
  RunFor(io_, milliseconds(700));  // At least one renewal.
  ASSERT_TRUE(a->lease->holding());

  const Clock::time_point died = Clock::now();
  a->Crash();
  ASSERT_TRUE(RunUntil(
      io_, [&] { return !b->acquired.empty(); }, milliseconds(5000)))
      << b->log.All();
  // The key lived on for a duration after the last renewal (at most duration / 3 before death).
  EXPECT_GE(Clock::now() - died, kDuration * 2 / 3 - milliseconds(50));
  EXPECT_EQ(b->acquired, std::vector<std::uint32_t>{2});
  EXPECT_EQ(Get("stswatch:lease:scheduler"), "sched-b|2");
}

// Twenty handovers, most by Stop() and every fifth by a crash: each new holder's epoch is above
// every earlier one, and no two schedulers ever held the lease at once.
TEST_F(LeaseTest, EpochNeverDecreasesOverHandovers) {
  constexpr milliseconds kDuration(600);
  std::unique_ptr<Contender> holder = Make("h0", kDuration);
  Acquire(*holder);
  std::uint32_t last = holder->lease->epoch();
  for (int i = 1; i <= 20; ++i) {
    std::unique_ptr<Contender> next = Make("h" + std::to_string(i), kDuration);
    next->lease->Start();
    if (i % 5 == 0) {
      holder->Crash();
    } else {
      holder->lease->Stop();
    }
    ASSERT_TRUE(RunUntil(
        io_,
        [&] {
          EXPECT_FALSE(holder->lease && holder->lease->holding() && next->lease->holding());
          return !next->acquired.empty();
        },
        milliseconds(3000)))
        << "handover " << i << "\n"
        << next->log.All();
    ASSERT_EQ(next->acquired.size(), 1u);
    EXPECT_GT(next->acquired[0], last) << "handover " << i;
    EXPECT_TRUE(holder->lost.empty()) << "handover " << i << ": " << holder->lost.front();
    last = next->acquired[0];
    holder = std::move(next);
  }
  EXPECT_EQ(Get("stswatch:epoch:scheduler"), std::to_string(last));
  EXPECT_EQ(Get("stswatch:lease:scheduler"), "h20|" + std::to_string(last));
}

}  // namespace
}  // namespace stswatch::scheduler
