// AlertService's messages ↔ alerting's settings: secrets are write-only and kept when omitted,
// webhook literals the operator does not allow are refused, malformed settings say what is
// wrong.

#include "api/alert_convert.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace stswatch::api {
namespace {

using ::testing::HasSubstr;

v1::AlertSettings WithHook(const std::string& url, const std::string& secret) {
  v1::AlertSettings in;
  in.set_minimum_severity("warning");
  in.add_muted_domains("Quiet.Example.");
  v1::AlertChannel* c = in.add_channels();
  c->set_id("hook");
  c->mutable_webhook()->set_url(url);
  c->mutable_webhook()->set_secret(secret);
  return in;
}

TEST(AlertConvert, SecretsAreWriteOnlyAndKeptWhenOmitted) {
  const alerting::AlertSettings none = alerting::DefaultSettings("t-1");
  auto first =
      AlertSettingsFromProto(WithHook("https://h.example/x", "s3cret"), "t-1", none, nullptr);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->policy.minimum_severity, alerting::Severity::kWarning);
  EXPECT_EQ(first->policy.muted_domains, std::vector<std::string>{"quiet.example"});
  const v1::AlertSettings shown = AlertSettingsToProto(*first);
  EXPECT_TRUE(shown.channels(0).webhook().has_secret());
  EXPECT_EQ(shown.channels(0).webhook().secret(), "");
  EXPECT_EQ(shown.channels(0).max_per_hour(), alerting::kDefaultMaxPerHour);
  // Sent back as shown (no secret): the stored secret stays.
  auto again = AlertSettingsFromProto(shown, "t-1", *first, nullptr);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->channels[0].webhook_secret, "s3cret");
}

TEST(AlertConvert, RefusesWhatTheOperatorDoesNotAllowAndWhatIsMalformed) {
  const alerting::AlertSettings none = alerting::DefaultSettings("t-1");
  const absl::StatusOr<prober::AddressFilter> filter =
      prober::AddressFilter::Create(true, {"127.9.0.0/16"});
  ASSERT_TRUE(filter.ok());
  auto literal =
      AlertSettingsFromProto(WithHook("https://127.0.0.1:8443/x", ""), "t-1", none, &*filter);
  ASSERT_FALSE(literal.ok());
  EXPECT_THAT(literal.status().message(), HasSubstr("127.0.0.1 is refused"));
  EXPECT_TRUE(
      AlertSettingsFromProto(WithHook("https://127.9.0.1/x", ""), "t-1", none, &*filter).ok());
  // A name is judged at delivery, after resolution.
  EXPECT_TRUE(
      AlertSettingsFromProto(WithHook("https://intranet.example/x", ""), "t-1", none, &*filter)
          .ok());
  EXPECT_THAT(AlertSettingsFromProto(WithHook("http://h.example/", ""), "t-1", none, nullptr)
                  .status()
                  .message(),
              HasSubstr("channel \"hook\""));
  v1::AlertSettings neither;
  neither.add_channels()->set_id("x");
  EXPECT_THAT(AlertSettingsFromProto(neither, "t-1", none, nullptr).status().message(),
              HasSubstr("set email or webhook"));
  v1::AlertSettings loud;
  loud.set_minimum_severity("loud");
  EXPECT_EQ(AlertSettingsFromProto(loud, "t-1", none, nullptr).status().code(),
            absl::StatusCode::kInvalidArgument);
  v1::AlertSettings bad_domain;
  bad_domain.add_muted_domains("bad..name");
  EXPECT_THAT(AlertSettingsFromProto(bad_domain, "t-1", none, nullptr).status().message(),
              HasSubstr("muted_domains"));
}

}  // namespace
}  // namespace stswatch::api
