// The enforce policy and record printed for a promoted domain: valid, from the testing policy's
// mx lines, max_age at least 30 days, a new id, and the publishing order of RFC 8461 §8.1.

#include "tlsrpt/promote.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "mtasts/policy.h"

namespace stswatch::tlsrpt {
namespace {

using ::testing::HasSubstr;

drift::Snapshot Testing() {
  drift::Snapshot s;
  s.domain = "example.com";
  s.mode = "testing";
  s.max_age = 604800;
  s.sts_id = "20261101000000";
  s.policy_mx = {"mx1.example.com", "*.backup.example.net"};
  return s;
}

std::chrono::system_clock::time_point At(const char* iso) {
  std::tm tm{};
  strptime(iso, "%Y-%m-%dT%H:%M:%S", &tm);
  return std::chrono::system_clock::from_time_t(timegm(&tm));
}

TEST(Promote, EnforcePolicyFromTheTestingPolicy) {
  const absl::StatusOr<Promotion> p = MakePromotion(Testing(), At("2026-11-30T08:15:00"));
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->policy_file,
            "version: STSv1\r\nmode: enforce\r\nmx: mx1.example.com\r\n"
            "mx: *.backup.example.net\r\nmax_age: 2592000\r\n");
  const mtasts::PolicyResult parsed = mtasts::ParsePolicy(p->policy_file);
  ASSERT_TRUE(parsed.valid());
  EXPECT_EQ(parsed.policy->mode, mtasts::PolicyMode::kEnforce);
  EXPECT_EQ(p->id, "20261130081500");
  EXPECT_EQ(p->sts_record, "v=STSv1; id=20261130081500;");
  EXPECT_EQ(p->sts_record_name, "_mta-sts.example.com");
  EXPECT_EQ(p->policy_url, "https://mta-sts.example.com/.well-known/mta-sts.txt");
  ASSERT_GE(p->steps.size(), 3u);
  EXPECT_THAT(p->steps[0], HasSubstr("policy file"));
  EXPECT_THAT(p->steps[2], HasSubstr("Only then publish the new TXT record"));
  EXPECT_THAT(p->steps[2], HasSubstr("RFC 8461 section 8.1"));
}

TEST(Promote, MaxAgeNeverBelowThirtyDaysNorTheCurrentOne) {
  drift::Snapshot s = Testing();
  EXPECT_EQ(MakePromotion(s, At("2026-11-30T08:15:00"), 86400)->max_age, 2592000u);
  EXPECT_EQ(MakePromotion(s, At("2026-11-30T08:15:00"), 5000000)->max_age, 5000000u);
  s.max_age = 31557600;
  EXPECT_EQ(MakePromotion(s, At("2026-11-30T08:15:00"))->max_age, 31557600u);
  EXPECT_EQ(MakePromotion(s, At("2026-11-30T08:15:00"), 31557601).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(Promote, TheIdAlwaysChanges) {
  drift::Snapshot s = Testing();
  s.sts_id = "20261130081500";
  EXPECT_EQ(MakePromotion(s, At("2026-11-30T08:15:00"))->id, "202611300815001");
}

TEST(Promote, WithoutAValidPolicyThereIsNothingToPromote) {
  drift::Snapshot s = Testing();
  s.mode = "";
  s.policy_mx.clear();
  const absl::StatusOr<Promotion> p = MakePromotion(s, At("2026-11-30T08:15:00"));
  EXPECT_EQ(p.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(p.status().message(), HasSubstr("stswatch policy init"));
}

}  // namespace
}  // namespace stswatch::tlsrpt
