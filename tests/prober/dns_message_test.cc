#include "prober/dns_message.h"

#include <cstdint>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace stswatch::prober {
namespace {

using ::testing::ElementsAre;

std::vector<std::uint8_t> Name(const std::string& name) {
  std::vector<std::uint8_t> out;
  std::size_t start = 0;
  while (start <= name.size()) {
    const std::size_t dot = name.find('.', start);
    const std::string label = name.substr(start, dot - start);
    out.push_back(static_cast<std::uint8_t>(label.size()));
    out.insert(out.end(), label.begin(), label.end());
    if (dot == std::string::npos) {
      break;
    }
    start = dot + 1;
  }
  out.push_back(0);
  return out;
}

// A response with one question (`qname`) and the given answer records.
struct Builder {
  std::vector<std::uint8_t> bytes;
  int answers = 0;

  explicit Builder(const std::string& qname, int rcode = 0) {
    bytes = {0x12, 0x34, 0x81, static_cast<std::uint8_t>(0x80 | rcode), 0, 1, 0, 0, 0, 0, 0, 0};
    const auto q = Name(qname);
    bytes.insert(bytes.end(), q.begin(), q.end());
    bytes.insert(bytes.end(), {0, 16, 0, 1});
  }
  Builder& Answer(std::vector<std::uint8_t> owner, std::uint16_t type,
                  std::vector<std::uint8_t> rdata) {
    bytes.insert(bytes.end(), owner.begin(), owner.end());
    bytes.insert(
        bytes.end(),
        {static_cast<std::uint8_t>(type >> 8), static_cast<std::uint8_t>(type), 0, 1, 0, 0, 1, 44,
         static_cast<std::uint8_t>(rdata.size() >> 8), static_cast<std::uint8_t>(rdata.size())});
    bytes.insert(bytes.end(), rdata.begin(), rdata.end());
    bytes[7] = static_cast<std::uint8_t>(++answers);
    return *this;
  }
};

std::vector<std::uint8_t> PointerToQuestion() { return {0xC0, 0x0C}; }

TEST(DnsMessageTest, TxtKeepsStringsAndJoinsThem) {
  Builder b("_mta-sts.example.test");
  b.Answer(PointerToQuestion(), 16,
           {9, 'v', '=', 'S', 'T', 'S', 'v', '1', ';', ' ', 7, 'i', 'd', '=', '1', '2', '3', ';'});
  const auto m = ParseDnsMessage(b.bytes);
  ASSERT_TRUE(m.ok()) << m.status();
  ASSERT_EQ(m->answers.size(), 1u);
  EXPECT_EQ(m->answers[0].name, "_mta-sts.example.test");
  EXPECT_EQ(m->answers[0].value, "v=STSv1; id=123;");
  EXPECT_THAT(m->answers[0].strings, ElementsAre("v=STSv1; ", "id=123;"));
}

TEST(DnsMessageTest, CompressedNamesAndCnameChains) {
  Builder b("A.Example.Test");
  auto target = Name("b.example.test");
  b.Answer(PointerToQuestion(), 5, target);
  b.Answer(Name("b.example.test"), 16, {3, 'e', 'n', 'd'});
  const auto m = ParseDnsMessage(b.bytes);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->answers[0].name, "a.example.test");  // Lower-cased.
  EXPECT_EQ(m->answers[0].value, "b.example.test");
  EXPECT_EQ(FollowCnames(m->answers, "a.example.test", 8), "b.example.test");
}

TEST(DnsMessageTest, RcodeAndFlags) {
  const auto m = ParseDnsMessage(Builder("nope.test", 3).bytes);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->rcode, 3);
  EXPECT_TRUE(m->answers.empty());
}

TEST(DnsMessageTest, HostileMessagesAreErrors) {
  EXPECT_FALSE(ParseDnsMessage(std::vector<std::uint8_t>{1, 2, 3}).ok());
  // A query, not a response.
  auto query = Builder("x.test").bytes;
  query[2] = 0x01;
  EXPECT_FALSE(ParseDnsMessage(query).ok());
  // A compression pointer to itself (a loop) and one pointing forward.
  Builder loop("x.test");
  loop.Answer({0xC0, 0x1C}, 5, {0xC0, 0x1C});
  EXPECT_FALSE(ParseDnsMessage(loop.bytes).ok());
  // A record longer than the message.
  Builder truncated("x.test");
  truncated.Answer(PointerToQuestion(), 16, {5, 'a', 'b'});
  truncated.bytes.resize(truncated.bytes.size() - 1);
  EXPECT_FALSE(ParseDnsMessage(truncated.bytes).ok());
  // A TXT string running past its record.
  Builder txt("x.test");
  txt.Answer(PointerToQuestion(), 16, {9, 'a'});
  EXPECT_FALSE(ParseDnsMessage(txt.bytes).ok());
  // An A record of the wrong length.
  Builder a("x.test");
  a.Answer(PointerToQuestion(), 1, {1, 2, 3});
  EXPECT_FALSE(ParseDnsMessage(a.bytes).ok());
}

TEST(DnsMessageTest, CnameLoopsStopAtTheHopLimit) {
  std::vector<DnsRecord> answers(2);
  answers[0] = {"a.test", 5, 0, "b.test", {}, 0};
  answers[1] = {"b.test", 5, 0, "a.test", {}, 0};
  EXPECT_EQ(FollowCnames(answers, "a.test", 8), "a.test");
  EXPECT_EQ(FollowCnames(answers, "a.test", 3), "b.test");
}

}  // namespace
}  // namespace stswatch::prober
