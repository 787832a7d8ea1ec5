// The key schema is a data format: partitions, key names and token layout must never change
// between releases, or a new stswatch would look for its data in the wrong place.

#include "store/keys.h"

#include <gtest/gtest.h>

#include "common/stable_hash.h"

namespace stswatch::store {
namespace {

TEST(KeySchemaTest, KeysCarryThePartitionTag) {
  const KeySchema keys;
  const int p = keys.PartitionOf("example.com");
  EXPECT_EQ(p, static_cast<int>(StableHash("example.com") % 64));
  const std::string tag = "{p" + std::to_string(p) + "}";
  EXPECT_EQ(keys.Domain("example.com"), "stswatch:" + tag + ":d:example.com");
  EXPECT_EQ(keys.History("example.com"), "stswatch:" + tag + ":h:example.com");
  EXPECT_EQ(keys.Events(p), "stswatch:" + tag + ":events");
  EXPECT_EQ(keys.Stats(p), "stswatch:" + tag + ":stats");
  EXPECT_EQ(keys.Index(p), "stswatch:" + tag + ":index");
  EXPECT_EQ(keys.Watch(p), "stswatch:" + tag + ":watch");
  EXPECT_EQ(keys.Meta(), "stswatch:meta");
  EXPECT_EQ(keys.Epoch("serve"), "stswatch:epoch:serve");
}

TEST(KeySchemaTest, PartitionsAreStableAndSpread) {
  // Golden values: changing the hash moves every domain to another partition.
  const KeySchema keys;
  EXPECT_EQ(StableHash("example.com"), 5550653309705616055ULL);
  EXPECT_EQ(keys.PartitionOf("example.com"), 55);
  EXPECT_EQ(keys.PartitionOf("mta-sts.example"), 44);
  int counts[64] = {};
  for (int i = 0; i < 64000; ++i) {
    ++counts[keys.PartitionOf("d" + std::to_string(i) + ".bench.test")];
  }
  for (const int n : counts) {
    EXPECT_GT(n, 800);
    EXPECT_LT(n, 1200);
  }
}

TEST(FencingTokenTest, StringOrderIsNumericOrder) {
  EXPECT_EQ(FencingToken(1, 2), "00000000010000000002");
  EXPECT_LT(FencingToken(1, 999), FencingToken(2, 0));
  EXPECT_LT(FencingToken(7, 9), FencingToken(7, 10));
  EXPECT_EQ(FencingToken(4294967295u, 9999999999ULL).size(), 20u);
}

}  // namespace
}  // namespace stswatch::store
