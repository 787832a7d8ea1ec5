// Durations as people type them, log lines as grep and log shippers read them, and times as
// RFC 3339.

#include <sstream>

#include <boost/json/parse.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/duration.h"
#include "common/log.h"
#include "common/stable_hash.h"
#include "common/time_format.h"
#include "common/time_source.h"

namespace stswatch {
namespace {

using std::chrono::seconds;

TEST(DurationTest, ParsesWhatPeopleWrite) {
  EXPECT_EQ(ParseDuration("90"), seconds(90));
  EXPECT_EQ(ParseDuration("90s"), seconds(90));
  EXPECT_EQ(ParseDuration("15m"), seconds(900));
  EXPECT_EQ(ParseDuration("1h30m"), seconds(5400));
  EXPECT_EQ(ParseDuration("2d"), seconds(172800));
  for (const char* bad : {"", "h", "1x", "-1s", "1h30", "1.5h", "99999999999999d", " 1h"}) {
    EXPECT_EQ(ParseDuration(bad), std::nullopt) << bad;
  }
  EXPECT_EQ(FormatDuration(seconds(5400)), "1h30m");
  EXPECT_EQ(FormatDuration(seconds(0)), "0s");
  EXPECT_EQ(FormatDuration(seconds(86400 + 1)), "1d1s");
}

TEST(TimeFormatTest, Rfc3339) {
  const auto t =
      std::chrono::system_clock::time_point(std::chrono::milliseconds(1'800'000'000'123));
  EXPECT_EQ(FormatTime(t), "2027-01-15T08:00:00Z");
  EXPECT_EQ(FormatTime(t, /*millis=*/true), "2027-01-15T08:00:00.123Z");
}

TEST(TimeFormatTest, ParseReadsWhatFormatWrites) {
  const auto t =
      std::chrono::system_clock::time_point(std::chrono::milliseconds(1'800'000'000'123));
  EXPECT_EQ(ParseTime(FormatTime(t, /*millis=*/true)), t);
  EXPECT_EQ(ParseTime("2027-01-15T08:00:00Z"), t - std::chrono::milliseconds(123));
  EXPECT_EQ(ParseTime("2027-01-15T08:00:00.123456789Z"), t + std::chrono::nanoseconds(456789));
  for (const char* bad : {"", "2027-01-15", "2027-01-15T08:00:00", "2027-01-15T08:00:00+01:00",
                          "2027-13-15T08:00:00Z", "2027-01-15T25:00:00Z", "2027-01-15T08:00:00.Z",
                          "2027-01-15T08:00:00.1234567890Z", "1013-03-01T12:00:00Z",
                          "9999-03-01T12:00:00Z", "2027-01-15T08:00:00Zjunk"}) {
    EXPECT_EQ(ParseTime(bad), std::nullopt) << bad;
  }
}

TEST(LogTest, LogfmtQuotesWhatNeedsIt) {
  FakeTimeSource clock(std::chrono::system_clock::time_point(seconds(1'800'000'000)));
  std::ostringstream out;
  Logger log(out, LogFormat::kText, clock);
  log.Warn("drift.event",
           {{"domain", "example.com"}, {"message", "said \"no\"\nthen left"}, {"empty", ""}});
  log.Log(LogLevel::kDebug, "check.done", {});  // Below the threshold.
  EXPECT_EQ(out.str(),
            "ts=2027-01-15T08:00:00.000Z level=warning event=drift.event domain=example.com "
            "message=\"said \\\"no\\\"\\nthen left\" empty=\"\"\n");
}

TEST(LogTest, JsonLines) {
  FakeTimeSource clock(std::chrono::system_clock::time_point(seconds(1'800'000'000)));
  std::ostringstream out;
  Logger log(out, LogFormat::kJson, clock);
  log.Error("store.error", {{"message", "OOM \"x\""}});
  const auto v = boost::json::parse(out.str());
  EXPECT_EQ(v.at("event").as_string(), "store.error");
  EXPECT_EQ(v.at("level").as_string(), "error");
  EXPECT_EQ(v.at("message").as_string(), "OOM \"x\"");
}

TEST(StableHashTest, NeverChanges) {
  // Partitions in Redis are derived from it: these values are part of the data format.
  EXPECT_EQ(StableHash(""), Mix64(0xcbf29ce484222325ULL));
  EXPECT_EQ(StableHash("a"), Mix64(0xaf63dc4c8601ec8cULL));
  EXPECT_EQ(Mix64(0), 0u);
  EXPECT_EQ(Mix64(1), 0x5692161d100b05e5ULL);
  EXPECT_EQ(StableHash("example.com"), StableHash(std::string("example.com")));
}

}  // namespace
}  // namespace stswatch
