// The active scheduler's dispatch rules with fake worker links: credits bound what is
// outstanding, domains on the same MX hosts go to the same worker, a worker that leaves (or goes
// silent) moves only its share and its checks are re-dispatched at once with newer tokens, and a
// scheduler standing by turns workers away.

#include "scheduler/dispatcher.h"

#include <chrono>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/log.h"
#include "common/time_source.h"

namespace stswatch::scheduler {
namespace {

namespace v1 = stswatch::v1;
using ::testing::HasSubstr;

constexpr auto kT0 = std::chrono::system_clock::time_point(std::chrono::seconds(1'800'000'000));

class FakeLink : public WorkerLink {
 public:
  void Send(const v1::SchedulerMessage& message) override { sent.push_back(message); }
  void Close(const std::string& reason) override { closed = reason; }

  std::vector<v1::CheckAssignment> Assignments() const {
    std::vector<v1::CheckAssignment> out;
    for (const auto& m : sent) {
      if (m.has_assign()) {
        out.push_back(m.assign());
      }
    }
    return out;
  }
  std::vector<v1::SchedulerMessage> sent;
  std::string closed;
};

class DispatcherTest : public ::testing::Test {
 protected:
  DispatcherTest() {
    options_.queue.default_interval = std::chrono::seconds(60);
    options_.queue.startup_spread = std::chrono::seconds(1);
    options_.heartbeat = std::chrono::milliseconds(20);
    options_.lease_timeout = std::chrono::milliseconds(200);
    options_.max_sleep = std::chrono::milliseconds(1);
    options_.scheduler_id = "s1";
    dispatcher_ =
        std::make_unique<Dispatcher>(io_.get_executor(), options_, clock_, log_,
                                     [this](const CheckRecord& r) { history_.push_back(r); });
  }

  void Run(int ms = 20) { io_.run_for(std::chrono::milliseconds(ms)); }

  void Attach(FakeLink& link, const std::string& id, std::uint32_t capacity,
              std::uint32_t credits) {
    dispatcher_->Attached(&link);
    v1::WorkerMessage hello;
    hello.mutable_hello()->set_worker_id(id);
    hello.mutable_hello()->set_capacity(capacity);
    dispatcher_->Received(&link, hello);
    Credit(link, credits);
  }
  void Credit(FakeLink& link, std::uint32_t credits) {
    v1::WorkerMessage m;
    m.mutable_credit()->set_credits(credits);
    dispatcher_->Received(&link, m);
  }
  void Done(FakeLink& link, const v1::CheckAssignment& a, const std::vector<std::string>& mx = {}) {
    v1::WorkerMessage m;
    v1::CheckDone* d = m.mutable_done();
    d->set_dispatch_id(a.dispatch_id());
    d->set_domain(a.domain());
    d->set_token(a.token());
    d->set_outcome("unchanged");
    for (const auto& h : mx) {
      d->add_mx_hosts(h);
    }
    dispatcher_->Received(&link, m);
  }

  std::vector<MonitoredDomain> Domains(int n) {
    std::vector<MonitoredDomain> d;
    d.reserve(n);
    for (int i = 0; i < n; ++i) {
      d.push_back({"d" + std::to_string(i) + ".test", std::chrono::seconds(0)});
    }
    return d;
  }

  // All due now: last checked long ago.
  std::map<std::string, std::chrono::system_clock::time_point> LongAgo(int n) {
    std::map<std::string, std::chrono::system_clock::time_point> m;
    for (const auto& d : Domains(n)) {
      m[d.name] = kT0 - std::chrono::hours(2);
    }
    return m;
  }

  boost::asio::io_context io_;
  FakeTimeSource clock_{kT0};
  std::ostringstream log_text_;
  Logger log_{log_text_, LogFormat::kText, clock_, LogLevel::kDebug};
  DispatcherOptions options_;
  std::vector<CheckRecord> history_;
  std::unique_ptr<Dispatcher> dispatcher_;
};

TEST_F(DispatcherTest, NeverMoreOutstandingThanCredits) {
  dispatcher_->Activate(7, Domains(100), LongAgo(100));
  FakeLink a;
  Attach(a, "w1", 10, 10);
  Run();
  auto assigned = a.Assignments();
  EXPECT_EQ(assigned.size(), 10u);
  EXPECT_EQ(dispatcher_->outstanding(), 10u);
  // Credits beyond the capacity are clipped.
  Credit(a, 1000);
  Run();
  EXPECT_EQ(a.Assignments().size(), 10u);
  // Each completion plus a credit lets one more through.
  Done(a, assigned[0]);
  Credit(a, 1);
  Run();
  EXPECT_EQ(a.Assignments().size(), 11u);
  ASSERT_EQ(history_.size(), 1u);
  EXPECT_EQ(history_[0].worker, "w1");
  EXPECT_EQ(history_[0].domain, assigned[0].domain());
  // Tokens carry the epoch and grow with every dispatch.
  std::set<std::string> tokens;
  for (const auto& x : a.Assignments()) {
    EXPECT_TRUE(x.token().starts_with("0000000007")) << x.token();
    tokens.insert(x.token());
  }
  EXPECT_EQ(tokens.size(), 11u);
}

TEST_F(DispatcherTest, SameMxHostsSameWorker) {
  dispatcher_->Activate(1, Domains(60), LongAgo(60));
  FakeLink a, b, c;
  Attach(a, "w1", 100, 100);
  Attach(b, "w2", 100, 100);
  Attach(c, "w3", 100, 100);
  Run();
  // First round: keyed by name. Report that every domain is on one of two MX sets.
  std::map<std::string, FakeLink*> first;
  for (FakeLink* l : {&a, &b, &c}) {
    for (const auto& x : l->Assignments()) {
      first[x.domain()] = l;
      const int n = std::stoi(x.domain().substr(1));
      Done(*l, x,
           n % 2 == 0 ? std::vector<std::string>{"mx1.shared.test", "mx2.shared.test"}
                      : std::vector<std::string>{"mx.other.test"});
    }
  }
  ASSERT_EQ(first.size(), 60u);
  for (FakeLink* l : {&a, &b, &c}) {
    l->sent.clear();
  }
  clock_.Advance(std::chrono::seconds(120));
  for (FakeLink* l : {&a, &b, &c}) {
    Credit(*l, 100);
  }
  Run();
  std::map<int, std::set<FakeLink*>> by_set;
  for (FakeLink* l : {&a, &b, &c}) {
    for (const auto& x : l->Assignments()) {
      by_set[std::stoi(x.domain().substr(1)) % 2].insert(l);
    }
  }
  EXPECT_EQ(by_set[0].size(), 1u);
  EXPECT_EQ(by_set[1].size(), 1u);
}

TEST_F(DispatcherTest, WorkerLeavingMovesOnlyItsShareAndRedispatchesAtOnce) {
  dispatcher_->Activate(3, Domains(300), LongAgo(300));
  FakeLink a, b, c;
  Attach(a, "w1", 1000, 1000);
  Attach(b, "w2", 1000, 1000);
  Attach(c, "w3", 1000, 1000);
  Run();
  std::map<std::string, std::string> owner;
  std::map<std::string, std::string> token;
  for (auto [l, id] : {std::pair{&a, "w1"}, std::pair{&b, "w2"}, std::pair{&c, "w3"}}) {
    for (const auto& x : l->Assignments()) {
      owner[x.domain()] = id;
      token[x.domain()] = x.token();
    }
  }
  ASSERT_EQ(owner.size(), 300u);
  const auto lost =
      std::count_if(owner.begin(), owner.end(), [](const auto& e) { return e.second == "w2"; });
  EXPECT_GT(lost, 60);
  EXPECT_LT(lost, 140);
  a.sent.clear();
  c.sent.clear();
  // w2's stream ends with its checks in flight: they go to the others at once, nothing else moves.
  dispatcher_->Detached(&b);
  Run();
  std::size_t moved = 0;
  for (FakeLink* l : {&a, &c}) {
    for (const auto& x : l->Assignments()) {
      EXPECT_EQ(owner[x.domain()], "w2") << x.domain() << " was not w2's";
      EXPECT_GT(x.token(), token[x.domain()]);
      ++moved;
    }
  }
  EXPECT_EQ(moved, static_cast<std::size_t>(lost));
  EXPECT_EQ(dispatcher_->counters().redispatched, static_cast<std::uint64_t>(lost));
  EXPECT_THAT(log_text_.str(), HasSubstr("event=scheduler.worker_lost worker=w2"));
}

TEST_F(DispatcherTest, SilentWorkerLosesItsAssignments) {
  dispatcher_->Activate(1, Domains(10), LongAgo(10));
  FakeLink a, b;
  Attach(a, "w1", 100, 100);
  Attach(b, "w2", 100, 100);
  Run();
  const std::size_t on_b = b.Assignments().size();
  // w1 keeps talking, w2 does not.
  for (int i = 0; i < 20; ++i) {
    v1::WorkerMessage beat;
    beat.mutable_heartbeat()->set_unix_ms(1);
    dispatcher_->Received(&a, beat);
    Run(20);
  }
  EXPECT_THAT(b.closed, HasSubstr("silent"));
  EXPECT_TRUE(a.closed.empty());
  EXPECT_EQ(a.Assignments().size(), 10u) << "w2's " << on_b << " checks moved to w1";
}

TEST_F(DispatcherTest, StandbyTurnsWorkersAway) {
  FakeLink a;
  dispatcher_->Attached(&a);
  v1::WorkerMessage hello;
  hello.mutable_hello()->set_worker_id("w1");
  hello.mutable_hello()->set_capacity(5);
  dispatcher_->Received(&a, hello);
  ASSERT_FALSE(a.sent.empty());
  EXPECT_TRUE(a.sent[0].has_standby());
  EXPECT_FALSE(a.closed.empty());
  // Once active, then deactivated (lease lost): every worker is closed.
  dispatcher_->Activate(2, Domains(3), LongAgo(3));
  FakeLink b;
  Attach(b, "w2", 5, 5);
  Run();
  EXPECT_TRUE(b.sent[0].has_welcome());
  EXPECT_EQ(b.sent[0].welcome().epoch(), 2u);
  dispatcher_->Deactivate("lease lost");
  EXPECT_THAT(b.closed, HasSubstr("lease lost"));
}

TEST_F(DispatcherTest, BadHelloIsRefused) {
  dispatcher_->Activate(1, Domains(3), LongAgo(3));
  FakeLink a;
  dispatcher_->Attached(&a);
  v1::WorkerMessage credit;
  credit.mutable_credit()->set_credits(5);
  dispatcher_->Received(&a, credit);
  EXPECT_THAT(a.closed, HasSubstr("first message must be a hello"));
  FakeLink b;
  dispatcher_->Attached(&b);
  v1::WorkerMessage hello;
  hello.mutable_hello()->set_worker_id("w");
  hello.mutable_hello()->set_capacity(0);
  dispatcher_->Received(&b, hello);
  EXPECT_THAT(b.closed, HasSubstr("capacity"));
}

}  // namespace
}  // namespace stswatch::scheduler
