// A tenant's alerting settings: what is refused (with the reason a person reads), and the JSON
// they are stored as.

#include "alerting/settings.h"

#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace stswatch::alerting {
namespace {

using ::testing::HasSubstr;

Channel Email(const std::string& id, const std::string& to) {
  Channel c;
  c.id = id;
  c.type = ChannelType::kEmail;
  c.email_to = {to};
  return c;
}

Channel Hook(const std::string& id, const std::string& url) {
  Channel c;
  c.id = id;
  c.type = ChannelType::kWebhook;
  c.webhook_url = url;
  c.webhook_secret = "s3cret";
  return c;
}

absl::Status RefuseHttpUrls(std::string_view url, bool allow_http) {
  if (url.starts_with("http://") && !allow_http) {
    return absl::InvalidArgumentError("http:// needs allow_http");
  }
  return absl::OkStatus();
}

TEST(AlertSettings, DefaultsTrackEverythingAndSendNowhere) {
  const AlertSettings s = DefaultSettings("t-1");
  EXPECT_EQ(s.policy.tenant, "t-1");
  EXPECT_EQ(s.policy.minimum_severity, Severity::kInfo);
  EXPECT_EQ(s.policy.reminder_interval, std::chrono::hours(24));
  EXPECT_TRUE(s.channels.empty());
  EXPECT_TRUE(ValidateSettings(s, nullptr).ok());
}

TEST(AlertSettings, RefusesWhatCannotWorkSayingWhich) {
  const auto refused = [](const AlertSettings& s) {
    const absl::Status status = ValidateSettings(s, &RefuseHttpUrls);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    return std::string(status.message());
  };
  AlertSettings s = DefaultSettings("t-1");
  s.channels = {Email("Ops Team", "ops@example.net")};
  EXPECT_THAT(refused(s), HasSubstr("channel id \"Ops Team\" is not"));
  s.channels = {Email("ops", "ops@example.net"), Hook("ops", "https://h.example/")};
  EXPECT_THAT(refused(s), HasSubstr("\"ops\" is used twice"));
  s.channels = {Email("ops", "not an address")};
  EXPECT_THAT(refused(s), HasSubstr("\"not an address\" is not an e-mail address"));
  s.channels = {Email("ops", "ops@example.net")};
  s.channels[0].email_to.clear();
  EXPECT_THAT(refused(s), HasSubstr("at least one recipient"));
  s.channels = {Hook("h", "")};
  EXPECT_THAT(refused(s), HasSubstr("needs a URL"));
  s.channels = {Hook("h", "http://h.example/")};
  EXPECT_THAT(refused(s), HasSubstr("channel \"h\": http:// needs allow_http"));
  s.channels[0].allow_http = true;
  EXPECT_TRUE(ValidateSettings(s, &RefuseHttpUrls).ok());
  s.channels[0].max_per_hour = 0;
  EXPECT_THAT(refused(s), HasSubstr("max_per_hour must be 1 to"));
  s.channels.assign(kMaxChannels + 1, Email("x", "a@b.example"));
  for (std::size_t i = 0; i < s.channels.size(); ++i) {
    s.channels[i].id = "c" + std::to_string(i);
  }
  EXPECT_THAT(refused(s), HasSubstr("at most 16 channels"));
  s.channels.clear();
  s.policy.reminder_interval = std::chrono::seconds(5);
  EXPECT_THAT(refused(s), HasSubstr("reminder interval"));
  s.policy.reminder_interval = std::chrono::hours(1);
  s.policy.quiet_hours = QuietHours{22, 24, 0};
  EXPECT_THAT(refused(s), HasSubstr("quiet hours"));
}

TEST(AlertSettings, EmailAddresses) {
  EXPECT_TRUE(IsEmailAddress("ops@example.net"));
  EXPECT_TRUE(IsEmailAddress("ops+alerts@mail.example.net"));
  for (const char* bad :
       {"", "ops", "@example.net", "ops@", "ops@localhost", "a b@example.net", "<ops@example.net>",
        "ops@example.net\r\nBcc: x@y.z", "ops@.example", "ops@example.", "a@b@example.net"}) {
    EXPECT_FALSE(IsEmailAddress(bad)) << bad;
  }
  EXPECT_EQ(AddrSpec("stswatch <alerts@example.org>"), "alerts@example.org");
  EXPECT_EQ(AddrSpec(" alerts@example.org "), "alerts@example.org");
}

TEST(AlertSettings, JsonRoundTripKeepsEveryMember) {
  AlertSettings s = DefaultSettings("t-1");
  s.policy.minimum_severity = Severity::kWarning;
  s.policy.muted_domains = {"quiet.example"};
  s.policy.quiet_hours = QuietHours{22, 7, 60};
  s.policy.reminder_interval = std::chrono::hours(6);
  Channel mail = Email("ops", "ops@example.net");
  mail.minimum_severity = Severity::kCritical;
  mail.max_per_hour = 30;
  Channel hook = Hook("hook", "https://h.example/x?y=1");
  hook.webhook_format = WebhookFormat::kSlack;
  s.channels = {mail, hook};
  const absl::StatusOr<AlertSettings> back = SettingsFromJson(SettingsToJson(s), "t-1");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, s);
  EXPECT_EQ(back->FindChannel("hook")->webhook_secret, "s3cret");
  EXPECT_EQ(back->FindChannel("nope"), nullptr);
}

TEST(AlertSettings, StoredJsonOfTheWrongShapeIsAnErrorNamingTheMember) {
  EXPECT_FALSE(SettingsFromJson("[]", "t").ok());
  EXPECT_FALSE(SettingsFromJson("{", "t").ok());
  const absl::StatusOr<AlertSettings> bad =
      SettingsFromJson(R"({"channels": [{"id": "x", "type": "pigeon"}]})", "t");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("settings.channels[0].type"));
  const absl::StatusOr<AlertSettings> sparse = SettingsFromJson(R"({"policy": {}})", "t");
  ASSERT_TRUE(sparse.ok());
  EXPECT_EQ(sparse->policy.reminder_interval, std::chrono::hours(24));
  EXPECT_EQ(sparse->policy.tenant, "t");
}

}  // namespace
}  // namespace stswatch::alerting
