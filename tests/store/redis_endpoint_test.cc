// RedisEndpoint::Parse: every URL form it accepts, and the precise reason for every one it
// refuses. No server needed.

#include "store/redis_endpoint.h"

#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace stswatch::store {
namespace {

using ::testing::HasSubstr;

RedisEndpoint ParseOk(const std::string& url) {
  absl::StatusOr<RedisEndpoint> endpoint = RedisEndpoint::Parse(url);
  EXPECT_TRUE(endpoint.ok()) << url << ": " << endpoint.status();
  return endpoint.ok() ? *endpoint : RedisEndpoint{};
}

std::string ParseError(const std::string& url) {
  absl::StatusOr<RedisEndpoint> endpoint = RedisEndpoint::Parse(url);
  EXPECT_FALSE(endpoint.ok()) << url << " was accepted as " << endpoint->ToString();
  if (endpoint.ok()) {
    return "";
  }
  EXPECT_EQ(endpoint.status().code(), absl::StatusCode::kInvalidArgument) << url;
  return std::string(endpoint.status().message());
}

TEST(RedisEndpointTest, HostOnly) {
  const RedisEndpoint e = ParseOk("redis://localhost");
  EXPECT_EQ(e.host, "localhost");
  EXPECT_EQ(e.port, 6379);
  EXPECT_EQ(e.db, 0);
  EXPECT_TRUE(e.unix_path.empty());
  EXPECT_TRUE(e.password.empty());
  EXPECT_EQ(e.ToString(), "redis://localhost:6379");
}

TEST(RedisEndpointTest, HostPortDb) {
  const RedisEndpoint e = ParseOk("redis://10.0.0.7:6380/3");
  EXPECT_EQ(e.host, "10.0.0.7");
  EXPECT_EQ(e.port, 6380);
  EXPECT_EQ(e.db, 3);
  EXPECT_EQ(e.ToString(), "redis://10.0.0.7:6380/3");
  EXPECT_EQ(ParseOk("redis://h:1/").db, 0);
  EXPECT_EQ(ParseOk("REDIS://h").host, "h");  // Schemes are case-insensitive.
}

TEST(RedisEndpointTest, Ipv6) {
  const RedisEndpoint e = ParseOk("redis://[::1]:7000/1");
  EXPECT_EQ(e.host, "::1");
  EXPECT_EQ(e.port, 7000);
  EXPECT_EQ(e.db, 1);
  EXPECT_EQ(e.ToString(), "redis://[::1]:7000/1");
  EXPECT_EQ(ParseOk("redis://[fe80::2]").port, 6379);
}

TEST(RedisEndpointTest, Credentials) {
  RedisEndpoint e = ParseOk("redis://:s3cret@cache:6379/2");
  EXPECT_EQ(e.user, "");
  EXPECT_EQ(e.password, "s3cret");
  EXPECT_EQ(e.ToString(), "redis://:***@cache:6379/2");  // Never the password in clear.

  e = ParseOk("redis://alice:p%40ss%3Aword@cache");
  EXPECT_EQ(e.user, "alice");
  EXPECT_EQ(e.password, "p@ss:word");
  EXPECT_EQ(e.host, "cache");
  EXPECT_EQ(e.ToString(), "redis://alice:***@cache:6379");

  e = ParseOk("redis://lonepassword@cache");  // As redis-cli: a lone name is the password.
  EXPECT_EQ(e.user, "");
  EXPECT_EQ(e.password, "lonepassword");

  e = ParseOk("redis://a:b@c@host");  // The last '@' ends the credentials.
  EXPECT_EQ(e.password, "b@c");
  EXPECT_EQ(e.host, "host");
}

TEST(RedisEndpointTest, UnixUrls) {
  RedisEndpoint e = ParseOk("unix:///var/run/redis/redis.sock");
  EXPECT_EQ(e.unix_path, "/var/run/redis/redis.sock");
  EXPECT_EQ(e.db, 0);
  EXPECT_EQ(e.ToString(), "unix:///var/run/redis/redis.sock");

  e = ParseOk("unix:///tmp/r.sock?db=5");
  EXPECT_EQ(e.unix_path, "/tmp/r.sock");
  EXPECT_EQ(e.db, 5);
  EXPECT_EQ(e.ToString(), "unix:///tmp/r.sock?db=5");

  e = ParseOk("unix:///tmp/r.sock?db=1&password=x%26y");
  EXPECT_EQ(e.db, 1);
  EXPECT_EQ(e.password, "x&y");
  EXPECT_EQ(e.ToString(), "unix:///tmp/r.sock?db=1&password=***");
}

TEST(RedisEndpointTest, BarePath) {
  const RedisEndpoint e = ParseOk("/tmp/stswatch/redis.sock");
  EXPECT_EQ(e.unix_path, "/tmp/stswatch/redis.sock");
  EXPECT_EQ(e.ToString(), "unix:///tmp/stswatch/redis.sock");
  // The longest path the kernel takes: 107 bytes.
  EXPECT_EQ(ParseOk("/" + std::string(106, 'a')).unix_path.size(), 107u);
}

TEST(RedisEndpointTest, RoundTrip) {
  for (const std::string url :
       {"redis://h:1", "redis://h:6379/4", "unix:///a/b.sock", "unix:///a/b.sock?db=9"}) {
    EXPECT_EQ(ParseOk(url).ToString(), url);
  }
}

TEST(RedisEndpointTest, BadUrls) {
  EXPECT_EQ(ParseError(""), "empty Redis URL");
  EXPECT_THAT(ParseError("localhost:6379"), HasSubstr("must be redis://"));
  EXPECT_THAT(ParseError("http://localhost"), HasSubstr("unsupported Redis URL scheme \"http\""));
  EXPECT_THAT(ParseError("rediss://localhost"), HasSubstr("TLS"));
  EXPECT_EQ(ParseError("redis://"), "Redis URL has no host");
  EXPECT_EQ(ParseError("redis://:6379"), "Redis URL has no host");
  EXPECT_EQ(ParseError("redis://:pw@/1"), "Redis URL has no host");
  EXPECT_EQ(ParseError("redis://h:"), "Redis URL has an empty port after ':'");
  EXPECT_THAT(ParseError("redis://h:0"), HasSubstr("port \"0\""));
  EXPECT_THAT(ParseError("redis://h:65536"), HasSubstr("not a number from 1 to 65535"));
  EXPECT_THAT(ParseError("redis://h:63x"), HasSubstr("port \"63x\""));
  EXPECT_THAT(ParseError("redis://h:-1"), HasSubstr("port \"-1\""));
  EXPECT_THAT(ParseError("redis://h/x"), HasSubstr("database \"x\""));
  EXPECT_THAT(ParseError("redis://h/-1"), HasSubstr("database \"-1\""));
  EXPECT_THAT(ParseError("redis://h/1/2"), HasSubstr("database \"1/2\""));
  EXPECT_THAT(ParseError("redis://h/99999999999"), HasSubstr("database \"99999999999\""));
  EXPECT_THAT(ParseError("redis://h?db=1"), HasSubstr("takes no query"));
  EXPECT_THAT(ParseError("redis://[::1"), HasSubstr("unterminated [IPv6]"));
  EXPECT_THAT(ParseError("redis://[::1]x"), HasSubstr("after the ]"));
  EXPECT_THAT(ParseError("redis://[::1]:"), HasSubstr("empty port"));
  EXPECT_EQ(ParseError("redis://alice:@h"), "Redis URL names a user but no password");
  EXPECT_THAT(ParseError("redis://:p%4@h"), HasSubstr("percent-encoding in the password"));
  EXPECT_THAT(ParseError("redis://:p%zz@h"), HasSubstr("bad percent-encoding in the password"));
  EXPECT_THAT(ParseError("redis://u%G0:p@h"), HasSubstr("in the user name"));

  EXPECT_EQ(ParseError("unix://"), "unix:// Redis URL has no socket path");
  EXPECT_THAT(ParseError("unix://relative/r.sock"), HasSubstr("absolute socket path"));
  EXPECT_THAT(ParseError("unix:///r.sock?db=two"), HasSubstr("database \"two\""));
  EXPECT_THAT(ParseError("unix:///r.sock?timeout=1"), HasSubstr("unknown parameter \"timeout\""));
  EXPECT_THAT(ParseError("/" + std::string(107, 'a')), HasSubstr("108 bytes long"));
  EXPECT_THAT(ParseError("unix:///" + std::string(107, 'a')), HasSubstr("at most 107"));
}

TEST(RedisEndpointTest, ErrorsNeverQuoteThePassword) {
  absl::StatusOr<RedisEndpoint> e = RedisEndpoint::Parse("redis://:hunter2@h:99999");
  ASSERT_FALSE(e.ok());
  EXPECT_THAT(std::string(e.status().message()), ::testing::Not(HasSubstr("hunter2")));
}

}  // namespace
}  // namespace stswatch::store
