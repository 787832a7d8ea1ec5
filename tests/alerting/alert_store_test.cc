// AlertStore against a real redis-server: a commit is all or nothing and only under the lease;
// a delivery's outcome is recorded once; dead letters and sent deliveries are kept per tenant;
// settings changes move the version the alerter watches.

#include "alerting/alert_store.h"

#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/api/api_test_util.h"

namespace stswatch::alerting {
namespace {

using api::testing::Await;
using store::RedisReply;

constexpr char kLease[] = "alerter-1|7";

Delivery Planned(const std::string& id, std::int64_t next_ms) {
  Delivery d;
  d.id = "t-1/" + id;
  d.tenant = "t-1";
  d.channel = "hook";
  d.type = ChannelType::kWebhook;
  d.alert_id = "a";
  d.payload = "{\"x\":1}";
  d.created_ms = next_ms;
  d.next_ms = next_ms;
  return d;
}

class AlertStoreTest : public api::testing::RedisFixture {
 protected:
  void SetUp() override {
    RedisFixture::SetUp();
    store_ = std::make_unique<AlertStore>(*client_, AlertKeys());
  }

  // One pending entry in a stream's consumer group, read but not acknowledged.
  std::string PendingEntry(const std::string& stream) {
    Redis({"XGROUP", "CREATE", stream, "alerter", "0", "MKSTREAM"});
    std::string id = Redis({"XADD", stream, "*", "event", "{}"}).str;
    Redis({"XREADGROUP", "GROUP", "alerter", "c1", "COUNT", "10", "STREAMS", stream, ">"});
    return id;
  }

  long long Pending(const std::string& stream) {
    return Redis({"XPENDING", stream, "alerter"}).elements.at(0).integer;
  }

  std::unique_ptr<AlertStore> store_;
};

TEST_F(AlertStoreTest, CommitIsAllOrNothingAndOnlyUnderTheLease) {
  const std::string entry = PendingEntry("s0");
  CommitBatch batch;
  batch.books["t-1"] = "{\"book\":1}";
  batch.deliveries.push_back(Planned("d1", 1000));
  batch.acks.emplace_back("s0", entry);

  // Not our lease (none at all, then another holder's): nothing is written.
  absl::Status lost = Await(io_, store_->Commit(kLease, "alerter", batch));
  EXPECT_EQ(lost.code(), absl::StatusCode::kFailedPrecondition) << lost;
  Redis({"SET", "stswatch:lease:alerter", "alerter-2|8"});
  EXPECT_EQ(Await(io_, store_->Commit(kLease, "alerter", batch)).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(Redis({"EXISTS", "stswatch:alert:books", "stswatch:alert:deliveries"}).integer, 0);
  EXPECT_EQ(Pending("s0"), 1);

  Redis({"SET", "stswatch:lease:alerter", kLease});
  ASSERT_TRUE(Await(io_, store_->Commit(kLease, "alerter", batch)).ok());
  EXPECT_EQ(Redis({"HGET", "stswatch:alert:books", "t-1"}).str, "{\"book\":1}");
  EXPECT_EQ(Redis({"ZSCORE", "stswatch:alert:queue", "t-1/d1"}).str, "1000");
  EXPECT_EQ(Pending("s0"), 0);

  // The same delivery planned again (events processed twice) is not reset.
  Delivery again = Planned("d1", 5000);
  again.attempts = 0;
  CommitBatch second;
  second.deliveries.push_back(again);
  ASSERT_TRUE(Await(io_, store_->Commit(kLease, "alerter", second)).ok());
  EXPECT_EQ(Redis({"ZSCORE", "stswatch:alert:queue", "t-1/d1"}).str, "1000");
  const absl::StatusOr<std::vector<Delivery>> pending =
      Await(io_, store_->PendingDeliveries(nullptr));
  ASSERT_TRUE(pending.ok());
  ASSERT_EQ(pending->size(), 1u);
  EXPECT_EQ(pending->front().next_ms, 1000);
}

TEST_F(AlertStoreTest, OutcomesAreRecordedOnceAndKeptPerTenant) {
  Redis({"SET", "stswatch:lease:alerter", kLease});
  CommitBatch batch;
  batch.deliveries = {Planned("ok", 1), Planned("retry", 1), Planned("dead", 1)};
  ASSERT_TRUE(Await(io_, store_->Commit(kLease, "alerter", batch)).ok());

  Delivery ok = Planned("ok", 1);
  ok.attempts = 1;
  EXPECT_TRUE(*Await(io_, store_->RecordOutcome(kLease, ok, Outcome::kDelivered, 2, "HTTP 200")));
  // Recorded already (a second attempt after a restart would find it gone).
  EXPECT_FALSE(*Await(io_, store_->RecordOutcome(kLease, ok, Outcome::kDelivered, 3, "HTTP 200")));

  Delivery retry = Planned("retry", 1);
  retry.attempts = 1;
  retry.next_ms = 9000;
  retry.last_error = "HTTP 500";
  EXPECT_TRUE(*Await(io_, store_->RecordOutcome(kLease, retry, Outcome::kRetry, 2, "HTTP 500")));
  EXPECT_EQ(Redis({"ZSCORE", "stswatch:alert:queue", "t-1/retry"}).str, "9000");

  Delivery dead = Planned("dead", 1);
  dead.attempts = 30;
  dead.last_error = "refused";
  EXPECT_TRUE(*Await(io_, store_->RecordOutcome(kLease, dead, Outcome::kDead, 4, "gave up")));

  // A lost lease records nothing.
  EXPECT_EQ(
      Await(io_, store_->RecordOutcome("other|1", retry, Outcome::kDead, 5, "x")).status().code(),
      absl::StatusCode::kFailedPrecondition);

  const auto dead_letters = Await(io_, store_->DeadLetters("t-1", 10));
  ASSERT_TRUE(dead_letters.ok());
  ASSERT_EQ(dead_letters->size(), 1u);
  EXPECT_EQ((*dead_letters)[0].delivery.id, "t-1/dead");
  EXPECT_EQ((*dead_letters)[0].delivery.attempts, 30u);
  EXPECT_EQ((*dead_letters)[0].reason, "gave up");
  EXPECT_EQ((*dead_letters)[0].time_ms, 4);
  const auto sent = Await(io_, store_->Sent("t-1", 10));
  ASSERT_TRUE(sent.ok());
  ASSERT_EQ(sent->size(), 1u);
  EXPECT_EQ((*sent)[0].delivery.id, "t-1/ok");
  EXPECT_EQ((*sent)[0].delivery.payload, "");  // The log keeps the facts, not the bytes.
  EXPECT_TRUE(Await(io_, store_->DeadLetters("t-2", 10))->empty());

  const auto left = Await(io_, store_->PendingDeliveries(nullptr));
  ASSERT_EQ(left->size(), 1u);
  EXPECT_EQ(left->front().id, "t-1/retry");
  EXPECT_EQ(Redis({"HGET", "stswatch:alert:stats", "delivered"}).str, "1");
  EXPECT_EQ(Redis({"HGET", "stswatch:alert:stats", "dead"}).str, "1");
}

TEST_F(AlertStoreTest, SettingsAndTheirVersion) {
  const auto none = Await(io_, store_->GetSettings("t-1"));
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(*none, DefaultSettings("t-1"));
  EXPECT_EQ(*Await(io_, store_->SettingsVersion()), "");
  AlertSettings s = DefaultSettings("t-1");
  s.policy.minimum_severity = Severity::kCritical;
  ASSERT_TRUE(Await(io_, store_->SetSettings(s)).ok());
  EXPECT_EQ(*Await(io_, store_->SettingsVersion()), "1");
  EXPECT_EQ(*Await(io_, store_->GetSettings("t-1")), s);
  Redis({"HSET", "stswatch:alert:settings", "t-bad", "not json"});
  std::vector<std::string> errors;
  const auto all = Await(io_, store_->AllSettings(&errors));
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), 1u);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_THAT(errors[0], ::testing::HasSubstr("tenant t-bad"));
}

}  // namespace
}  // namespace stswatch::alerting
