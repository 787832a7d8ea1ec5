#include "mtasts/mx_pattern.h"

#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "mtasts/hostname.h"

namespace stswatch::mtasts {
namespace {

TEST(MxPatternTest, ExactNamesMatchIgnoringCaseAndTrailingDot) {
  EXPECT_TRUE(MxPatternMatches("mail.example.com", "mail.example.com"));
  EXPECT_TRUE(MxPatternMatches("mail.example.com", "MAIL.Example.Com"));
  EXPECT_TRUE(MxPatternMatches("mail.example.com", "mail.example.com."));
  EXPECT_FALSE(MxPatternMatches("mail.example.com", "mail2.example.com"));
  EXPECT_FALSE(MxPatternMatches("mail.example.com", "example.com"));
  EXPECT_FALSE(MxPatternMatches("example.com", "mail.example.com"));
}

// RFC 8461 §4.1: "*.example.com" matches "mail.example.com" but not "example.com" or
// "foo.bar.example.com".
TEST(MxPatternTest, WildcardCoversExactlyOneLeftMostLabel) {
  EXPECT_TRUE(MxPatternMatches("*.example.com", "mail.example.com"));
  EXPECT_TRUE(MxPatternMatches("*.Example.COM", "MX1.example.com."));
  EXPECT_FALSE(MxPatternMatches("*.example.com", "example.com"));
  EXPECT_FALSE(MxPatternMatches("*.example.com", "foo.bar.example.com"));
  EXPECT_FALSE(MxPatternMatches("*.example.com", ".example.com"));
  EXPECT_FALSE(MxPatternMatches("*.example.com", "mailexample.com"));
  EXPECT_FALSE(MxPatternMatches("*.example.com", "mail.example.com.evil"));
}

TEST(MxPatternTest, MalformedInputNeverMatches) {
  EXPECT_FALSE(MxPatternMatches("", ""));
  EXPECT_FALSE(MxPatternMatches("*.", "a."));
  EXPECT_FALSE(MxPatternMatches("*", "example"));
  EXPECT_FALSE(MxPatternMatches("mail.example.com", ""));
}

TEST(MxPatternTest, FindCoveringPatternKeepsPolicyOrder) {
  const std::vector<std::string> patterns = {"*.example.net", "mx.example.net", "mx.example.com"};
  EXPECT_EQ(FindCoveringPattern(patterns, "mx.example.net"), "*.example.net");
  EXPECT_EQ(FindCoveringPattern(patterns, "mx.example.com"), "mx.example.com");
  EXPECT_EQ(FindCoveringPattern(patterns, "mx.example.org"), std::nullopt);
}

TEST(HostnameTest, Rfc5321Domain) {
  EXPECT_EQ(CheckHostname("mail.example.com"), std::nullopt);
  EXPECT_EQ(CheckHostname("xn--80ak6aa92e.com"), std::nullopt);
  EXPECT_EQ(CheckHostname("a"), std::nullopt);
  EXPECT_EQ(CheckHostname("1.2.3.4"), std::nullopt);
  EXPECT_EQ(CheckHostname(std::string(63, 'a') + ".b"), std::nullopt);
  EXPECT_NE(CheckHostname(std::string(64, 'a') + ".b"), std::nullopt);
  std::string long_name;
  while (long_name.size() < 251) {
    long_name += "abcdefghi.";
  }
  long_name += "com";
  EXPECT_NE(CheckHostname(long_name), std::nullopt);
  for (const char* bad : {"", ".", "a..b", ".a", "a.", "a_b.example", "-a.example", "a-.example",
                          "a b.example", "b\u00fccher.example"}) {
    EXPECT_NE(CheckHostname(bad), std::nullopt) << bad;
  }
}

TEST(HostnameTest, Ipv4Detection) {
  EXPECT_TRUE(LooksLikeIpv4Address("192.0.2.1"));
  EXPECT_TRUE(LooksLikeIpv4Address("0.0.0.0"));
  EXPECT_FALSE(LooksLikeIpv4Address("256.0.2.1"));
  EXPECT_FALSE(LooksLikeIpv4Address("192.0.2"));
  EXPECT_FALSE(LooksLikeIpv4Address("192.0.2.1.5"));
  EXPECT_FALSE(LooksLikeIpv4Address("mx1.example"));
}

}  // namespace
}  // namespace stswatch::mtasts
