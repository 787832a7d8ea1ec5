// The state store against a real redis-server: what lands in the events stream, the domain's
// hash and history; fencing; the cost of a steady-state check in INFO commandstats; Redis Cluster
// slot rules; and nothing lost or emitted twice when Redis is killed and restarted.

#include <chrono>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/time_source.h"
#include "drift/events.h"
#include "drift/snapshot.h"
#include "store/keys.h"
#include "store/redis_state_store.h"
#include "tests/store/redis_test_util.h"

namespace stswatch::store {
namespace {

using testing::Call;
using ::testing::ElementsAre;
using testing::RunUntil;
using testing::TestRedis;
using ::testing::UnorderedElementsAre;

constexpr auto kT0 = std::chrono::system_clock::time_point(std::chrono::seconds(1'800'000'000));

drift::Snapshot Healthy(const std::string& domain) {
  drift::Snapshot s;
  s.domain = domain;
  s.status = "ok";
  s.sts_present = true;
  s.sts_id = "1";
  s.fetch = "ok";
  s.policy_sha256 = "aa";
  s.policy_body = "version: STSv1\r\nmode: enforce\r\nmx: mx.example.test\r\nmax_age: 2592000\r\n";
  s.mode = "enforce";
  s.max_age = 2592000;
  s.policy_mx = {"mx.example.test"};
  s.mx_hosts = {"mx.example.test"};
  drift::MxSnapshot mx;
  mx.host = "mx.example.test";
  mx.covered = true;
  mx.starttls = drift::StartTls::kEstablished;
  mx.tls_version = "TLSv1.3";
  mx.deliver = true;
  s.mx = {mx};
  return s;
}

drift::Snapshot StartTlsLost(const std::string& domain) {
  drift::Snapshot s = Healthy(domain);
  s.status = "failing";
  s.mx[0].starttls = drift::StartTls::kNotOffered;
  s.mx[0].tls_version.clear();
  s.mx[0].deliver = false;
  return s;
}

class StateStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(redis_.Start().ok()); }

  void Connect(const StateStoreOptions& options = {}) {
    options_ = options;
    client_ = std::make_unique<RedisClient>(io_.get_executor(), redis_.endpoint(),
                                            testing::FastOptions());
    store_ = std::make_unique<RedisStateStore>(io_.get_executor(), *client_, options, clock_);
    client_->SetConnectedCallback([this] { store_->Flush(); });
    client_->Start();
    ASSERT_TRUE(RunUntil(io_, [&] { return client_->connected(); }));
  }

  // Writes and waits for the outcome.
  WriteResult Write(const drift::Snapshot& s, std::uint64_t sequence,
                    std::chrono::system_clock::time_point at = kT0) {
    std::optional<WriteResult> result;
    store_->Write(CheckResult{s, FencingToken(1, sequence), at},
                  [&](const WriteResult& r) { result = r; });
    EXPECT_TRUE(RunUntil(io_, [&] { return result.has_value(); }));
    return result.value_or(WriteResult{});
  }

  RedisReply Redis(const std::vector<std::string>& args) {
    auto reply = Call(io_, *client_, args);
    EXPECT_TRUE(reply.ok()) << reply.status();
    return reply.value_or(RedisReply{});
  }

  // The kinds in the events streams of every partition, oldest first per partition.
  std::vector<std::string> StreamKinds() {
    std::vector<std::string> kinds;
    for (const auto& [id, kind] : StreamEvents()) {
      kinds.push_back(kind);
    }
    return kinds;
  }
  std::vector<std::pair<std::string, std::string>> StreamEvents() {
    std::vector<std::pair<std::string, std::string>> events;
    for (int p = 0; p < options_.keys.partitions(); ++p) {
      const RedisReply r = Redis({"XRANGE", options_.keys.Events(p), "-", "+"});
      for (const RedisReply& entry : r.elements) {
        std::map<std::string, std::string> fields;
        for (std::size_t i = 0; i + 1 < entry.elements[1].elements.size(); i += 2) {
          fields[entry.elements[1].elements[i].str] = entry.elements[1].elements[i + 1].str;
        }
        events.emplace_back(fields["id"], fields["kind"]);
      }
    }
    return events;
  }

  TestRedis redis_;
  boost::asio::io_context io_;
  FakeTimeSource clock_{kT0};
  StateStoreOptions options_;
  std::unique_ptr<RedisClient> client_;
  std::unique_ptr<RedisStateStore> store_;
};

TEST_F(StateStoreTest, FirstCheckThenUnchangedThenDrift) {
  Connect();
  WriteResult r = Write(Healthy("a.test"), 1);
  EXPECT_EQ(r.outcome, WriteOutcome::kApplied);
  ASSERT_EQ(r.events.size(), 1u);
  EXPECT_EQ(r.events[0].kind, drift::EventKind::kFirstCheck);
  EXPECT_EQ(r.version, 1u);

  r = Write(Healthy("a.test"), 2);
  EXPECT_EQ(r.outcome, WriteOutcome::kUnchanged);
  EXPECT_THAT(r.events, ::testing::IsEmpty());

  r = Write(StartTlsLost("a.test"), 3, kT0 + std::chrono::hours(1));
  EXPECT_EQ(r.outcome, WriteOutcome::kApplied);
  EXPECT_EQ(r.version, 2u);
  EXPECT_THAT(StreamKinds(), ElementsAre("first_check", "status_changed", "starttls_lost"));

  // The domain's hash holds the new state; the index and the history follow.
  const KeySchema& keys = options_.keys;
  const RedisReply state =
      Redis({"HMGET", keys.Domain("a.test"), "status", "mode", "version", "checked", "token"});
  EXPECT_EQ(state.elements[0].str, "failing");
  EXPECT_EQ(state.elements[1].str, "enforce");
  EXPECT_EQ(state.elements[2].str, "2");
  EXPECT_EQ(state.elements[3].str, std::to_string(1'800'003'600'000LL));
  EXPECT_EQ(state.elements[4].str, FencingToken(1, 3));
  const RedisReply index = Redis({"HGET", keys.Index(keys.PartitionOf("a.test")), "a.test"});
  EXPECT_EQ(index.str, "failing enforce");
  const RedisReply history = Redis({"XRANGE", keys.History("a.test"), "-", "+"});
  std::vector<std::string> types;
  for (const RedisReply& e : history.elements) {
    types.push_back(e.elements[1].elements[1].str);
  }
  EXPECT_THAT(types, ElementsAre("state", "event", "state", "event", "event"));
  const RedisReply stats = Redis({"HGET", keys.Stats(keys.PartitionOf("a.test")), "events"});
  EXPECT_EQ(stats.str, "3");
}

TEST_F(StateStoreTest, OlderTokenIsRefusedAndCounted) {
  Connect();
  EXPECT_EQ(Write(Healthy("b.test"), 10).outcome, WriteOutcome::kApplied);
  // A writer that lost its lease comes back with an older token and a different state.
  EXPECT_EQ(Write(StartTlsLost("b.test"), 9).outcome, WriteOutcome::kRefused);
  const KeySchema& keys = options_.keys;
  EXPECT_EQ(Redis({"HGET", keys.Domain("b.test"), "status"}).str, "ok");
  EXPECT_EQ(Redis({"HGET", keys.Stats(keys.PartitionOf("b.test")), "writes_refused"}).str, "1");
  EXPECT_THAT(StreamKinds(), ElementsAre("first_check"));
  // The same token again (a retried write) is accepted.
  EXPECT_EQ(Write(Healthy("b.test"), 10).outcome, WriteOutcome::kUnchanged);
}

TEST_F(StateStoreTest, SteadyStateCheckCostsThreeCommands) {
  Connect();
  for (int i = 0; i < 20; ++i) {
    ASSERT_EQ(Write(Healthy("d" + std::to_string(i) + ".test"), 1).outcome, WriteOutcome::kApplied);
  }
  Redis({"CONFIG", "RESETSTAT"});
  for (int i = 0; i < 20; ++i) {
    ASSERT_EQ(Write(Healthy("d" + std::to_string(i) + ".test"), 2).outcome,
              WriteOutcome::kUnchanged);
  }
  const std::string info = Redis({"INFO", "commandstats"}).str;
  // cmdstat_<name>:calls=N,...; CONFIG RESETSTAT counts itself, INFO does not (yet).
  std::map<std::string, long long> calls;  // NOLINT(google-runtime-int)
  std::size_t pos = 0;
  while ((pos = info.find("cmdstat_", pos)) != std::string::npos) {
    const std::size_t colon = info.find(':', pos);
    const std::size_t eq = info.find('=', colon);
    calls[info.substr(pos + 8, colon - pos - 8)] = std::atoll(info.c_str() + eq + 1);
    pos = colon;
  }
  calls.erase("info");
  calls.erase("config|resetstat");
  long long total = 0;  // NOLINT(google-runtime-int)
  for (const auto& [name, n] : calls) {
    total += n;
  }
  EXPECT_EQ(calls["evalsha"], 20);
  EXPECT_EQ(total, 60) << info;
}

TEST_F(StateStoreTest, HistoryIsBounded) {
  StateStoreOptions options;
  options.history_max = 10;
  Connect(options);
  for (int i = 0; i < 200; ++i) {
    Write(i % 2 == 0 ? Healthy("flap.test") : StartTlsLost("flap.test"), i + 1);
  }
  const long long length = Redis({"XLEN", options.keys.History("flap.test")}).integer;  // NOLINT
  // MAXLEN ~ trims whole macro nodes: bounded near the setting, far below the 600 entries written.
  EXPECT_LE(length, 120);
  // Each flap is a new transition: 200 state changes, every event id distinct.
  std::set<std::string> ids;
  for (const auto& [id, kind] : StreamEvents()) {
    EXPECT_TRUE(ids.insert(id).second) << "duplicate event id " << id;
  }
  EXPECT_EQ(ids.size(), 1u + 199u * 2u);
}

TEST_F(StateStoreTest, ScriptReloadedAfterFlush) {
  Connect();
  EXPECT_EQ(Write(Healthy("c.test"), 1).outcome, WriteOutcome::kApplied);
  Redis({"SCRIPT", "FLUSH"});
  EXPECT_EQ(Write(Healthy("c.test"), 2).outcome, WriteOutcome::kUnchanged);
}

TEST_F(StateStoreTest, NewerResultSupersedesAWaitingOne) {
  Connect();
  client_->Stop();  // Nothing can be written now.
  std::vector<WriteOutcome> outcomes;
  store_->Write(CheckResult{Healthy("e.test"), FencingToken(1, 1), kT0},
                [&](const WriteResult& r) { outcomes.push_back(r.outcome); });
  store_->Write(CheckResult{StartTlsLost("e.test"), FencingToken(1, 2), kT0},
                [&](const WriteResult& r) { outcomes.push_back(r.outcome); });
  EXPECT_EQ(store_->pending(), 1u);
  EXPECT_THAT(outcomes, ElementsAre(WriteOutcome::kSuperseded));
}

// A single-node Redis Cluster owning every slot: a script touching keys of two slots fails with
// CROSSSLOT there, so this proves every key of an update shares its partition's hash tag.
TEST(StateStoreClusterTest, UpdatesRunOnOneSlot) {
  TestRedis redis({"--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf"});
  ASSERT_TRUE(redis.Start().ok());
  boost::asio::io_context io;
  RedisClient client(io.get_executor(), redis.endpoint(), testing::FastOptions());
  client.Start();
  ASSERT_TRUE(RunUntil(io, [&] { return client.connected(); }));
  ASSERT_EQ(Call(io, client, {"CLUSTER", "ADDSLOTSRANGE", "0", "16383"})->str, "OK");
  ASSERT_TRUE(RunUntil(io, [&] {
    const auto info = Call(io, client, {"CLUSTER", "INFO"});
    return info.ok() && info->str.find("cluster_state:ok") != std::string::npos;
  }));
  // Sanity: the server does enforce slots.
  const auto cross = Call(io, client, {"EVAL", "return redis.call('GET', KEYS[1])", "2", "a", "b"});
  ASSERT_TRUE(cross.ok());
  EXPECT_THAT(cross->str, ::testing::HasSubstr("CROSSSLOT"));

  FakeTimeSource clock(kT0);
  std::vector<std::string> errors;
  RedisStateStore store(io.get_executor(), client, {}, clock);
  store.SetLogger([&](std::string_view m) { errors.emplace_back(m); });
  int applied = 0;
  for (int i = 0; i < 50; ++i) {
    store.Write(
        CheckResult{StartTlsLost("c" + std::to_string(i) + ".test"), FencingToken(1, 1), kT0},
        [&](const WriteResult& r) { applied += r.outcome == WriteOutcome::kApplied; });
  }
  EXPECT_TRUE(RunUntil(io, [&] { return applied == 50 || !errors.empty(); }));
  EXPECT_THAT(errors, ::testing::IsEmpty());
  EXPECT_EQ(applied, 50);
}

// Redis killed (-9) while results wait and restarted from its append-only file: every result is
// written once Redis is back, and no event id appears twice in the stream.
TEST(StateStoreFaultTest, RedisKilledAndRestarted) {
  TestRedis redis({"--appendfsync", "always"});
  ASSERT_TRUE(redis.Start().ok());
  boost::asio::io_context io;
  FakeTimeSource clock(kT0);
  RedisClient client(io.get_executor(), redis.endpoint(), testing::FastOptions());
  StateStoreOptions options;
  RedisStateStore store(io.get_executor(), client, options, clock);
  client.SetConnectedCallback([&] { store.Flush(); });
  client.Start();
  ASSERT_TRUE(RunUntil(io, [&] { return client.connected(); }));

  int done = 0;
  const auto write = [&](int round, bool broken) {
    for (int i = 0; i < 100; ++i) {
      const std::string d = "k" + std::to_string(i) + ".test";
      store.Write(CheckResult{broken ? StartTlsLost(d) : Healthy(d), FencingToken(1, round), kT0},
                  [&](const WriteResult&) { ++done; });
    }
  };
  write(1, false);
  ASSERT_TRUE(RunUntil(io, [&] { return done == 100; }));
  // The second round is in flight when Redis dies.
  write(2, true);
  redis.KillHard();
  ASSERT_TRUE(redis.Start().ok());
  ASSERT_TRUE(RunUntil(
      io, [&] { return done == 200; }, std::chrono::seconds(30)));
  EXPECT_EQ(store.pending(), 0u);

  // Every domain went healthy -> failing exactly once, with unique event ids.
  std::multiset<std::string> kinds;
  std::set<std::string> ids;
  for (int p = 0; p < options.keys.partitions(); ++p) {
    const auto r = Call(io, client, {"XRANGE", options.keys.Events(p), "-", "+"});
    ASSERT_TRUE(r.ok());
    for (const RedisReply& entry : r->elements) {
      const auto& f = entry.elements[1].elements;
      EXPECT_TRUE(ids.insert(f[1].str).second) << "event id twice: " << f[1].str;
      kinds.insert(f[5].str);
    }
  }
  EXPECT_EQ(kinds.count("first_check"), 100u);
  EXPECT_EQ(kinds.count("starttls_lost"), 100u);
  EXPECT_EQ(kinds.count("status_changed"), 100u);
}

}  // namespace
}  // namespace stswatch::store
