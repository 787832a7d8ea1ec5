// Distributed mode with real processes: Redis, two schedulers, three prober workers and a testbed
// of 2 000 domains (a tenth of them with silent MX hosts, so checks are in flight at any time).
// Faults are injected one after the other and every property is asserted from the check history
// (stswatch:checks) and the workers' logs, not eyeballed:
//   - kill -9 of a worker: its domains are checked again within one interval plus the lease
//     timeout, by the others; only its share (about a third) moves;
//   - SIGSTOP of a worker past its lease, then SIGCONT: every write it then attempts for a domain
//     re-dispatched meanwhile is refused by the store, and counted;
//   - kill -9 of the active scheduler: the standby takes over within the lease time, the workers
//     re-attach, no domain goes unchecked for more than twice its interval;
//   - the snapshots in Redis equal those a single `serve` produces for the same testbed.

#include <sys/stat.h>

#include <csignal>
#include <ctime>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "store/keys.h"
#include "store/redis_client.h"
#include "tests/store/redis_test_util.h"
#include "tests/testing/subprocess.h"
#include "tests/testing/testbed.h"

namespace stswatch {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::BackgroundProcess;
using testing::ProcessResult;
using testing::RunProcess;
using testing::Testbed;

constexpr char kNet[] = "127.46";
constexpr int kDomains = 2000;
constexpr seconds kInterval{20};
constexpr seconds kLease{3};
constexpr seconds kWorkerTimeout{3};
// Scheduling jitter, the checks' own time and a loaded machine.
constexpr seconds kSlack{8};

std::int64_t NowMs() {
  return std::chrono::duration_cast<milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

struct Check {
  std::string domain;
  std::string worker;
  std::string token;
  std::string outcome;
  std::int64_t finished = 0;
};

class Cluster {
 public:
  Cluster() : redis_() {}

  void SetUp() {
    ASSERT_TRUE(redis_.Start().ok());
    url_ = "unix://" + redis_.process().socket_path();
    auto endpoint = store::RedisEndpoint::Parse(url_);
    client_ = std::make_unique<store::RedisClient>(io_.get_executor(), *endpoint,
                                                   store::testing::FastOptions());
    client_->Start();
    ASSERT_TRUE(store::testing::RunUntil(io_, [&] { return client_->connected(); }));
  }

  std::vector<Check> Checks() {
    std::vector<Check> out;
    const auto r = store::testing::Call(io_, *client_, {"XRANGE", "stswatch:checks", "-", "+"});
    if (!r.ok()) {
      return out;
    }
    for (const store::RedisReply& e : r->elements) {
      std::map<std::string, std::string> f;
      const auto& fields = e.elements[1].elements;
      for (std::size_t i = 0; i + 1 < fields.size(); i += 2) {
        f[fields[i].str] = fields[i + 1].str;
      }
      out.push_back(
          {f["domain"], f["worker"], f["token"], f["outcome"], std::atoll(f["finished"].c_str())});
    }
    return out;
  }

  std::int64_t RefusedWrites() {
    const store::KeySchema keys;
    std::int64_t n = 0;
    for (int p = 0; p < keys.partitions(); ++p) {
      const auto r = store::testing::Call(io_, *client_, {"HGET", keys.Stats(p), "writes_refused"});
      if (r.ok() && r->type == store::RedisReply::Type::kString) {
        n += std::atoll(r->str.c_str());
      }
    }
    return n;
  }

  std::map<std::string, std::string> StateHashes(store::RedisClient& client) {
    std::map<std::string, std::string> out;
    const store::KeySchema keys;
    for (int p = 0; p < keys.partitions(); ++p) {
      const auto index = store::testing::Call(io_, client, {"HKEYS", keys.Index(p)});
      for (const store::RedisReply& d : index->elements) {
        const auto h = store::testing::Call(io_, client, {"HGET", keys.Domain(d.str), "hash"});
        out[d.str] = h->str;
      }
    }
    return out;
  }

  const std::string& Url() const { return url_; }
  store::RedisClient& Client() { return *client_; }
  boost::asio::io_context& Io() { return io_; }

 private:
  store::testing::TestRedis redis_;
  std::string url_;
  boost::asio::io_context io_;
  std::unique_ptr<store::RedisClient> client_;
};

bool WaitFor(const std::function<bool()>& done, seconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) {
      return false;
    }
    std::this_thread::sleep_for(milliseconds(250));
  }
  return true;
}

// "ts=2026-11-30T02:19:25.233Z" -> Unix ms.
std::int64_t LogTime(const std::string& line) {
  std::tm tm{};
  int ms = 0;
  if (std::sscanf(line.c_str(), "ts=%d-%d-%dT%d:%d:%d.%dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                  &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms) != 7) {
    return 0;
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return static_cast<std::int64_t>(timegm(&tm)) * 1000 + ms;
}

TEST(DistributedTest, SurvivesWorkerAndSchedulerFailures) {
  store::testing::TempDir dir;
  const std::string stswatch = Testbed::Runfile("cli/stswatch");
  // 2 000 domains on 60 MX hosts (60 affinity keys), a tenth on silent MX hosts.
  const ProcessResult generated = RunProcess({Testbed::Runfile("testbed/testbed"), "generate",
                                              "--domains", std::to_string(kDomains), "--mx-hosts",
                                              "60", "--faults", "mx-silent=0.1", "--seed", "7"});
  ASSERT_EQ(generated.exit_code, 0) << generated.err;
  chmod(dir.path().c_str(), 0755);
  { std::ofstream(dir.path() + "/scenario.yaml") << generated.out; }
  {
    std::ofstream domains(dir.path() + "/domains");
    for (int i = 0; i < kDomains; ++i) {
      domains << "d" << i << ".bench.test\n";
    }
  }
  std::string error;
  auto testbed = Testbed::Start(dir.path() + "/scenario.yaml", kNet, error);
  ASSERT_NE(testbed, nullptr) << error;
  Cluster cluster;
  cluster.SetUp();
  if (::testing::Test::HasFatalFailure()) {
    return;
  }

  const std::string s1_addr = std::string(kNet) + ".200.1:7411";
  const std::string s2_addr = std::string(kNet) + ".200.2:7411";
  const auto scheduler = [&](const std::string& id, const std::string& addr) {
    return std::make_unique<BackgroundProcess>(
        std::vector<std::string>{stswatch, "scheduler", "--redis", cluster.Url(), "--listen", addr,
                                 "--domains", dir.path() + "/domains", "--interval", "20s",
                                 "--lease", "3s", "--worker-timeout", "3s", "--heartbeat", "1s",
                                 "--id", id},
        dir.path() + "/" + id + ".log");
  };
  const auto worker = [&](const std::string& id) {
    return std::make_unique<BackgroundProcess>(
        std::vector<std::string>{stswatch, "prober", "--scheduler", s1_addr + "," + s2_addr,
                                 "--redis", cluster.Url(), "--id", id, "--capacity", "64",
                                 "--timeout", "3", "--resolver", testbed->resolver(), "--ca-file",
                                 testbed->ca_file(), "--allow-private", "--log-level", "debug"},
        dir.path() + "/" + id + ".log");
  };
  auto s1 = scheduler("s1", s1_addr);
  ASSERT_TRUE(WaitFor([&] { return s1->Log().find("event=scheduler.active") != std::string::npos; },
                      seconds(30)))
      << s1->Log();
  auto s2 = scheduler("s2", s2_addr);
  auto w1 = worker("w1");
  auto w2 = worker("w2");
  auto w3 = worker("w3");

  // Every domain checked once.
  ASSERT_TRUE(WaitFor(
      [&] {
        std::set<std::string> seen;
        for (const Check& c : cluster.Checks()) {
          seen.insert(c.domain);
        }
        return seen.size() == static_cast<std::size_t>(kDomains);
      },
      seconds(120)))
      << s1->Log();
  const std::int64_t warm = NowMs();

  // --- A worker is killed: its domains move, the others stay. ---
  std::this_thread::sleep_for(kInterval);  // A full round with three workers first.
  const std::int64_t killed = NowMs();
  w2->Signal(SIGKILL);
  w2->Wait(seconds(10));
  std::this_thread::sleep_for(kInterval + kWorkerTimeout + kSlack);
  {
    const std::vector<Check> checks = cluster.Checks();
    std::map<std::string, std::string> before;
    std::map<std::string, std::int64_t> rechecked;
    std::map<std::string, std::string> after;
    for (const Check& c : checks) {
      if (c.finished <= killed) {
        before[c.domain] = c.worker;
      } else {
        if (!rechecked.contains(c.domain)) {
          rechecked[c.domain] = c.finished;
        }
        if (c.finished > killed + 1000 * (kWorkerTimeout.count() + 2)) {
          after[c.domain] = c.worker;
        }
      }
    }
    int on_w2 = 0;
    int moved = 0;
    for (const auto& [domain, worker] : before) {
      ASSERT_TRUE(rechecked.contains(domain)) << domain << " was not checked after the kill";
      const std::int64_t within = killed + 1000 * (kInterval + kWorkerTimeout + kSlack).count();
      EXPECT_LE(rechecked[domain], within) << domain;
      if (worker == "w2") {
        ++on_w2;
      }
      if (after.contains(domain) && after[domain] != worker) {
        ++moved;
        EXPECT_EQ(worker, "w2") << domain << " moved from " << worker << " to " << after[domain];
      }
    }
    EXPECT_GT(on_w2, kDomains / 6) << "w2 held too few domains for the test to mean anything";
    EXPECT_EQ(moved, on_w2);
    EXPECT_GT(moved, kDomains * 15 / 100);
    EXPECT_LT(moved, kDomains * 50 / 100);
    std::cout << "worker kill: " << moved << " of " << kDomains << " domains moved ("
              << 100 * moved / kDomains << " %)\n";
  }

  // --- A worker is paused past its lease, then resumes: its stale writes are refused. ---
  // The experiment needs checks in flight on w3 when it is paused; a pause that caught it idle
  // proves nothing and is repeated (at most three times), after w3 has had time to take work.
  const std::int64_t refused_before = cluster.RefusedWrites();
  int stale = 0;
  for (int round = 1; round <= 3 && stale == 0; ++round) {
    w3->Signal(SIGSTOP);
    std::this_thread::sleep_for(kWorkerTimeout + seconds(3) + kSlack);
    const std::int64_t resumed = NowMs();
    w3->Signal(SIGCONT);
    std::this_thread::sleep_for(kSlack);
    // From the check history (the workers write it, also for checks no scheduler heard of).
    const std::vector<Check> checks = cluster.Checks();
    for (const Check& mine : checks) {
      if (mine.worker != "w3" || mine.finished < resumed) {
        continue;
      }
      // Re-dispatched meanwhile: another worker wrote it with a newer token before.
      const bool redispatched = std::any_of(checks.begin(), checks.end(), [&](const Check& c) {
        return c.domain == mine.domain && c.worker != "w3" && c.token > mine.token &&
               c.finished < mine.finished && c.outcome != "refused";
      });
      if (redispatched) {
        ++stale;
        EXPECT_EQ(mine.outcome, "refused") << mine.domain << " token " << mine.token;
      }
    }
    if (stale == 0) {
      std::cout << "worker pause " << round << ": w3 had no check in flight; again\n";
      std::this_thread::sleep_for(seconds(5));
    }
  }
  EXPECT_GT(stale, 0) << "w3 attempted no stale write in three pauses; the test proves nothing";
  EXPECT_GE(cluster.RefusedWrites() - refused_before, stale);
  std::cout << "worker pause: " << stale << " stale writes, all refused\n";

  // --- The active scheduler is killed: the standby takes over. ---
  const std::int64_t crashed = NowMs();
  s1->Signal(SIGKILL);
  ASSERT_TRUE(WaitFor([&] { return s2->Log().find("event=scheduler.active") != std::string::npos; },
                      kLease + kSlack))
      << s2->Log();
  std::int64_t took_over = 0;
  {
    std::istringstream log(s2->Log());
    for (std::string line; std::getline(log, line);) {
      if (line.find("event=scheduler.active") != std::string::npos) {
        took_over = LogTime(line);
      }
    }
  }
  EXPECT_LE(took_over - crashed, 1000 * (kLease.count() + 1)) << "takeover in ms";
  std::cout << "scheduler kill: standby active after " << took_over - crashed << " ms\n";
  ASSERT_TRUE(WaitFor(
      [&] {
        const std::string log = s2->Log();
        return log.find("worker=w1") != std::string::npos &&
               log.find("worker=w3") != std::string::npos;
      },
      seconds(30)))
      << s2->Log();
  std::this_thread::sleep_for(2 * kInterval);
  {
    // No domain went unchecked for more than twice its interval, from warm-up on.
    std::map<std::string, std::int64_t> last;
    std::int64_t worst = 0;
    const std::int64_t end = NowMs();
    for (const Check& c : cluster.Checks()) {
      if (c.finished < warm) {
        last[c.domain] = c.finished;
        continue;
      }
      worst = std::max(worst, c.finished - last[c.domain]);
      last[c.domain] = c.finished;
    }
    for (const auto& [domain, t] : last) {
      worst = std::max(worst, end - t);
    }
    EXPECT_LE(worst, std::int64_t{2000} * kInterval.count() + std::int64_t{1000} * kSlack.count())
        << "longest time a domain went unchecked, ms";
    std::cout << "longest gap between two checks of a domain: " << worst << " ms\n";
  }

  // Clean stops.
  for (BackgroundProcess* p : {s2.get(), w1.get(), w3.get()}) {
    p->Signal(SIGTERM);
  }
  EXPECT_EQ(s2->Wait(seconds(30)), 0) << s2->Log();
  EXPECT_EQ(w1->Wait(seconds(30)), 0);
  EXPECT_EQ(w3->Wait(seconds(30)), 0);

  // --- The same testbed through one `serve`: the same snapshots. ---
  store::testing::TestRedis alone;
  ASSERT_TRUE(alone.Start().ok());
  const std::string alone_url = "unix://" + alone.process().socket_path();
  BackgroundProcess serve(
      {stswatch, "serve", "--redis", alone_url, "--domains", dir.path() + "/domains", "--interval",
       "20s", "--timeout", "3", "--resolver", testbed->resolver(), "--ca-file", testbed->ca_file(),
       "--allow-private", "--concurrency", "256"},
      dir.path() + "/serve.log");
  store::RedisClient alone_client(cluster.Io().get_executor(), alone.endpoint(),
                                  store::testing::FastOptions());
  alone_client.Start();
  ASSERT_TRUE(store::testing::RunUntil(cluster.Io(), [&] { return alone_client.connected(); }));
  ASSERT_TRUE(WaitFor(
      [&] {
        return cluster.StateHashes(alone_client).size() == static_cast<std::size_t>(kDomains);
      },
      seconds(120)))
      << serve.Log();
  serve.Signal(SIGTERM);
  EXPECT_EQ(serve.Wait(seconds(30)), 0);
  const auto distributed = cluster.StateHashes(cluster.Client());
  const auto single = cluster.StateHashes(alone_client);
  ASSERT_EQ(distributed.size(), single.size());
  int differ = 0;
  for (const auto& [domain, hash] : single) {
    if (distributed.at(domain) != hash) {
      ++differ;
      ADD_FAILURE() << domain << " differs between the distributed run and serve";
      if (differ > 5) {
        break;
      }
    }
  }
  alone_client.Stop();
}

}  // namespace
}  // namespace stswatch
