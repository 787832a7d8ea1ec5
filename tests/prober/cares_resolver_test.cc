// The c-ares resolver against a real DNS server (knotd, started by the testbed).

#include "prober/cares_resolver.h"

#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/testing/testbed.h"

namespace stswatch::prober {
namespace {

using ::testing::ElementsAre;
using ::testing::UnorderedElementsAre;

class CaresResolverTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    std::string error;
    shared_testbed =
        testing::Testbed::Start("tests/prober/dns_scenario.yaml", "127.41", error).release();
    ASSERT_NE(shared_testbed, nullptr) << error;
  }
  static void TearDownTestSuite() { delete shared_testbed; }

  DnsResult Resolve(const std::string& name, RrType type, const std::string& servers = "") {
    boost::asio::io_context io;
    CaresOptions options;
    options.servers = servers.empty() ? shared_testbed->resolver() : servers;
    options.timeout_ms = 500;
    options.tries = 1;
    auto resolver = CaresResolver::Create(io, options);
    EXPECT_TRUE(resolver.ok()) << resolver.status();
    DnsResult out;
    bool called = false;
    (*resolver)->Resolve(name, type, [&](DnsResult r) {
      out = std::move(r);
      called = true;
    });
    io.run();  // Returns when the query is done: the resolver keeps no work otherwise.
    EXPECT_TRUE(called);
    return out;
  }

  static std::vector<std::string> Values(const DnsResult& r) {
    std::vector<std::string> v;
    for (const DnsRecord& rec : r.records) {
      v.push_back(rec.value);
    }
    return v;
  }

  static testing::Testbed* shared_testbed;
};

testing::Testbed* CaresResolverTest::shared_testbed = nullptr;

TEST_F(CaresResolverTest, TxtStringsAreJoinedPerRecord) {
  const DnsResult r = Resolve("_mta-sts.dns.test", RrType::kTxt);
  ASSERT_EQ(r.outcome, mtasts::DnsOutcome::kOk) << r.error;
  ASSERT_EQ(r.records.size(), 1u);
  EXPECT_EQ(r.records[0].value, "v=STSv1; id=123;");
  EXPECT_THAT(r.records[0].strings, ElementsAre("v=STSv1; ", "id=123;"));
  EXPECT_THAT(Values(Resolve("_smtp._tls.dns.test", RrType::kTxt)),
              UnorderedElementsAre("v=TLSRPTv1; rua=mailto:a@dns.test", "v=spf1 -all"));
}

TEST_F(CaresResolverTest, CnamesAreFollowed) {
  const DnsResult delegated = Resolve("_mta-sts.delegated.test.", RrType::kTxt);
  ASSERT_EQ(delegated.outcome, mtasts::DnsOutcome::kOk) << delegated.error;
  EXPECT_THAT(Values(delegated), ElementsAre("v=STSv1; id=123;"));
  EXPECT_THAT(delegated.cnames, ElementsAre("_mta-sts.dns.test"));
  const DnsResult chain = Resolve("C1.Chain.Test", RrType::kTxt);
  EXPECT_THAT(Values(chain), ElementsAre("end of chain"));
  EXPECT_THAT(chain.cnames, ElementsAre("c2.chain.test", "c3.chain.test"));
}

TEST_F(CaresResolverTest, LongCnameChainsAreCut) {
  const DnsResult r = Resolve("l0.loop.test", RrType::kTxt);
  EXPECT_EQ(r.outcome, mtasts::DnsOutcome::kError);
  EXPECT_THAT(r.error, ::testing::HasSubstr("CNAME chain"));
}

TEST_F(CaresResolverTest, MxAndAddresses) {
  const DnsResult mx = Resolve("dns.test", RrType::kMx);
  ASSERT_EQ(mx.records.size(), 3u);
  EXPECT_EQ(mx.records[0].preference + mx.records[1].preference + mx.records[2].preference, 60);
  EXPECT_THAT(Values(mx), UnorderedElementsAre("mx1.dns.test", "mx2.dns.test", "alias.dns.test"));
  EXPECT_THAT(Values(Resolve("mx1.dns.test", RrType::kAaaa)), ElementsAre("2001:db8::25"));
  const DnsResult a = Resolve("mx1.dns.test", RrType::kA);
  ASSERT_EQ(a.records.size(), 1u);
  EXPECT_THAT(a.records[0].value, ::testing::StartsWith("127.41.1."));
  const DnsResult alias = Resolve("alias.dns.test", RrType::kA);
  EXPECT_EQ(alias.records.size(), 1u);
  EXPECT_THAT(alias.cnames, ElementsAre("mx2.dns.test"));
}

TEST_F(CaresResolverTest, MissingNamesAndTypes) {
  EXPECT_EQ(Resolve("nothing-here.test", RrType::kTxt).outcome, mtasts::DnsOutcome::kNxDomain);
  EXPECT_EQ(Resolve("dns.test", RrType::kTxt).outcome, mtasts::DnsOutcome::kNoData);
  EXPECT_EQ(Resolve("mx2.dns.test", RrType::kAaaa).outcome, mtasts::DnsOutcome::kNoData);
  EXPECT_EQ(Resolve("dangling.test", RrType::kTxt).outcome, mtasts::DnsOutcome::kNxDomain);
}

TEST_F(CaresResolverTest, DeadServerTimesOut) {
  // Nothing listens on this port of the testbed's network.
  const DnsResult r = Resolve("dns.test", RrType::kMx, "127.41.0.1:5353");
  EXPECT_EQ(r.outcome, mtasts::DnsOutcome::kError);
  EXPECT_FALSE(r.error.empty());
}

TEST_F(CaresResolverTest, DestroyingTheResolverCancelsCallbacks) {
  boost::asio::io_context io;
  CaresOptions options;
  options.servers = shared_testbed->resolver();
  bool called = false;
  {
    auto resolver = CaresResolver::Create(io, options);
    ASSERT_TRUE(resolver.ok());
    (*resolver)->Resolve("dns.test", RrType::kMx, [&](const DnsResult&) { called = true; });
  }
  io.run();
  EXPECT_FALSE(called);
}

TEST(CaresResolverOptionsTest, MalformedServerIsAnError) {
  boost::asio::io_context io;
  CaresOptions options;
  options.servers = "not an address";
  EXPECT_FALSE(CaresResolver::Create(io, options).ok());
}

}  // namespace
}  // namespace stswatch::prober
