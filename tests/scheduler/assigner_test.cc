// Rendezvous assignment: an even spread, minimal movement when workers leave or join, the same
// worker for domains on the same MX hosts, and the same answer in every process and insertion
// order.

#include "scheduler/assigner.h"

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace stswatch::scheduler {
namespace {

constexpr int kKeys = 10000;

std::uint64_t KeyOf(int i) { return AffinityKey("d" + std::to_string(i) + ".test", {}); }

// The worker of each of the kKeys domains.
std::vector<std::string> Assign(const RendezvousAssigner& assigner) {
  std::vector<std::string> out;
  out.reserve(kKeys);
  for (int i = 0; i < kKeys; ++i) {
    const std::optional<std::string_view> w = assigner.Pick(KeyOf(i));
    out.emplace_back(w.value_or("<none>"));
  }
  return out;
}

RendezvousAssigner Make(const std::vector<std::string>& ids) {
  RendezvousAssigner assigner;
  for (const std::string& id : ids) {
    assigner.AddWorker(id);
  }
  return assigner;
}

TEST(AssignerTest, EmptyAssignerPicksNobody) {
  RendezvousAssigner assigner;
  EXPECT_EQ(assigner.workers(), 0u);
  EXPECT_EQ(assigner.Pick(42), std::nullopt);
  assigner.AddWorker("w1");
  assigner.RemoveWorker("w1");
  EXPECT_EQ(assigner.Pick(42), std::nullopt);
}

TEST(AssignerTest, DuplicatesAndUnknownRemovalsAreNoOps) {
  RendezvousAssigner assigner = Make({"w1", "w2", "w1"});
  EXPECT_EQ(assigner.workers(), 2u);
  assigner.RemoveWorker("w3");
  EXPECT_EQ(assigner.workers(), 2u);
}

TEST(AssignerTest, ThreeWorkersShareTheKeysEvenly) {
  const std::vector<std::string> picks = Assign(Make({"w1", "w2", "w3"}));
  std::map<std::string, int> counts;
  for (const std::string& w : picks) {
    ++counts[w];
  }
  ASSERT_EQ(counts.size(), 3u);
  for (const auto& [worker, n] : counts) {
    EXPECT_GE(n, kKeys * 25 / 100) << worker;
    EXPECT_LE(n, kKeys * 42 / 100) << worker;
  }
}

TEST(AssignerTest, RemovingAWorkerMovesOnlyItsKeys) {
  RendezvousAssigner assigner = Make({"w1", "w2", "w3"});
  const std::vector<std::string> before = Assign(assigner);
  assigner.RemoveWorker("w2");
  const std::vector<std::string> after = Assign(assigner);
  int moved = 0;
  for (int i = 0; i < kKeys; ++i) {
    if (before[i] == "w2") {
      EXPECT_NE(after[i], "w2");
      ++moved;
    } else {
      EXPECT_EQ(after[i], before[i]) << "key " << i << " moved off a worker that stayed";
    }
  }
  // About a third of all keys (w2's share) moved.
  EXPECT_GE(moved, kKeys * 25 / 100);
  EXPECT_LE(moved, kKeys * 42 / 100);
}

TEST(AssignerTest, AddingAWorkerMovesAboutAQuarterToIt) {
  RendezvousAssigner assigner = Make({"w1", "w2", "w3"});
  const std::vector<std::string> before = Assign(assigner);
  assigner.AddWorker("w4");
  const std::vector<std::string> after = Assign(assigner);
  int moved = 0;
  for (int i = 0; i < kKeys; ++i) {
    if (after[i] != before[i]) {
      EXPECT_EQ(after[i], "w4") << "key " << i << " moved between old workers";
      ++moved;
    }
  }
  EXPECT_GE(moved, kKeys * 20 / 100);
  EXPECT_LE(moved, kKeys * 30 / 100);
}

TEST(AssignerTest, SameMxSetSameWorker) {
  const RendezvousAssigner assigner = Make({"w1", "w2", "w3", "w4", "w5"});
  const std::uint64_t key = AffinityKey("a.test", {"mx1.mail.test", "mx2.mail.test"});
  EXPECT_EQ(AffinityKey("b.test", {"mx2.mail.test", "mx1.mail.test"}), key);
  EXPECT_EQ(AffinityKey("c.test", {"mx2.mail.test", "mx1.mail.test", "mx2.mail.test"}), key);
  EXPECT_EQ(AffinityKey("d.test", {"MX1.Mail.Test.", "mx2.mail.test."}), key);
  // A different set is (almost surely) another key.
  EXPECT_NE(AffinityKey("a.test", {"mx1.mail.test"}), key);
  EXPECT_NE(AffinityKey("a.test", {"mx1.mail.test", "mx3.mail.test"}), key);
  // Many domains on one MX set all land on one worker, whatever their names and MX order.
  const std::optional<std::string_view> worker = assigner.Pick(key);
  ASSERT_TRUE(worker.has_value());
  for (int i = 0; i < 1000; ++i) {
    std::vector<std::string> mx = {"mx1.mail.test", "mx2.mail.test"};
    if (i % 2 == 1) {
      std::swap(mx[0], mx[1]);
    }
    EXPECT_EQ(assigner.Pick(AffinityKey("d" + std::to_string(i) + ".test", mx)), worker);
  }
}

TEST(AssignerTest, WithoutMxTheDomainIsItsOwnMx) {
  EXPECT_EQ(AffinityKey("a.test", {}), AffinityKey("A.Test.", {}));
  EXPECT_NE(AffinityKey("a.test", {}), AffinityKey("b.test", {}));
  // RFC 5321 §5.1: no MX records means the domain itself receives the mail.
  EXPECT_EQ(AffinityKey("a.test", {}), AffinityKey("other.test", {"a.test"}));
  // Names that normalise to nothing are not hosts.
  EXPECT_EQ(AffinityKey("a.test", {"", "."}), AffinityKey("a.test", {}));
}

TEST(AssignerTest, DeterministicAcrossInstancesAndInsertionOrders) {
  const std::vector<std::string> a = Assign(Make({"w1", "w2", "w3", "w4"}));
  const std::vector<std::string> b = Assign(Make({"w4", "w2", "w3", "w1"}));
  RendezvousAssigner c = Make({"w3", "x", "w1", "w4", "w2"});
  c.RemoveWorker("x");
  EXPECT_EQ(a, b);
  EXPECT_EQ(a, Assign(c));
}

// Golden values (from an independent implementation of the formulas in assigner.h): the
// assignment is a function of ids and key only, the same in every build, so a scheduler taking
// over from one of another version assigns as it did.
TEST(AssignerTest, GoldenValues) {
  const std::uint64_t domain_key = AffinityKey("example.com", {});
  const std::uint64_t mx_key = AffinityKey("x.test", {"mx2.example.net", "mx1.example.net"});
  EXPECT_EQ(domain_key, 0xa948490ef19ac4a9ULL);
  EXPECT_EQ(mx_key, 0xcd3ae344010c2b1dULL);
  const RendezvousAssigner assigner = Make({"w1", "w2", "w3", "w4"});
  EXPECT_EQ(assigner.Pick(0), "w4");
  EXPECT_EQ(assigner.Pick(1), "w4");
  EXPECT_EQ(assigner.Pick(2), "w4");
  EXPECT_EQ(assigner.Pick(3), "w3");
  EXPECT_EQ(assigner.Pick(domain_key), "w3");
  EXPECT_EQ(assigner.Pick(mx_key), "w2");
}

}  // namespace
}  // namespace stswatch::scheduler
