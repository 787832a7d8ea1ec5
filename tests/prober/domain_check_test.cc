// DomainChecker's logic with fakes behind its seams (DNS, policy fetch, STARTTLS probe): what is
// looked up, what is fetched, what is probed, what is shared, and the caps.

#include "prober/domain_check.h"

#include <map>
#include <set>
#include <string>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace stswatch::prober {
namespace {

namespace asio = boost::asio;
using ::testing::ElementsAre;

class FakeResolver final : public DnsResolver {
 public:
  explicit FakeResolver(asio::io_context& io) : io_(io) {}
  void Add(const std::string& name, RrType type, const std::string& value, int preference = 0) {
    DnsResult& r = answers_[{name, type}];
    r.outcome = mtasts::DnsOutcome::kOk;
    DnsRecord rec;
    rec.name = name;
    rec.type = static_cast<std::uint16_t>(type);
    rec.value = value;
    rec.preference = static_cast<std::uint16_t>(preference);
    r.records.push_back(rec);
  }
  void Fail(const std::string& name, RrType type, const std::string& error) {
    answers_[{name, type}] = DnsResult{mtasts::DnsOutcome::kError, {}, {}, error};
  }
  void Resolve(const std::string& name, RrType type, Callback callback) override {
    auto it = answers_.find({name, type});
    DnsResult result;
    result.outcome = mtasts::DnsOutcome::kNxDomain;
    if (it != answers_.end()) {
      result = it->second;
    }
    // Like the real resolver: never call back inside Resolve.
    asio::post(io_, [callback = std::move(callback), result]() { callback(result); });
  }

 private:
  asio::io_context& io_;
  std::map<std::pair<std::string, RrType>, DnsResult> answers_;
};

class FakeFetcher final : public PolicyFetcher {
 public:
  asio::awaitable<mtasts::PolicyFetch> Fetch(std::string domain) override {
    fetched.push_back(domain);
    mtasts::PolicyFetch f;
    f.http_status = 200;
    f.body = "version: STSv1\r\nmode: enforce\r\nmx: *.shared.test\r\nmax_age: 2592000\r\n";
    co_return f;
  }
  std::vector<std::string> fetched;
};

// Takes `delay` (10 ms) per probe, so concurrent probes overlap, and records how many ran at once.
class FakeProber final : public StartTlsProber {
 public:
  std::chrono::milliseconds delay{10};
  asio::awaitable<mtasts::SmtpProbe> Probe(std::string host, asio::ip::address address) override {
    ++probes[host + "|" + address.to_string()];
    const int at_once = ++in_flight_[address.to_string()];
    max_per_address[address.to_string()] = std::max(max_per_address[address.to_string()], at_once);
    max_in_flight = std::max(max_in_flight, ++total_in_flight_);
    asio::steady_timer timer(co_await asio::this_coro::executor, delay);
    co_await timer.async_wait(asio::use_awaitable);
    --total_in_flight_;
    --in_flight_[address.to_string()];
    mtasts::SmtpProbe p;
    p.address = address.to_string();
    p.starttls_offered = true;
    p.tls_established = true;
    co_return p;
  }
  std::map<std::string, int> probes;
  std::map<std::string, int> max_per_address;
  int max_in_flight = 0;

 private:
  std::map<std::string, int> in_flight_;
  int total_in_flight_ = 0;
};

class DomainCheckTest : public ::testing::Test {
 protected:
  DomainCheckTest() : resolver_(io_) {}

  std::vector<mtasts::DomainObservation> Observe(const std::vector<std::string>& domains,
                                                 bool concurrently = true,
                                                 bool allow_private = true) {
    auto filter = AddressFilter::Create(allow_private, {});
    checker_ = std::make_unique<DomainChecker>(io_.get_executor(), resolver_, fetcher_, prober_,
                                               *filter, options_);
    std::vector<mtasts::DomainObservation> out(domains.size());
    if (concurrently) {
      for (std::size_t i = 0; i < domains.size(); ++i) {
        asio::co_spawn(io_, checker_->Observe(domains[i]),
                       [&out, i](const std::exception_ptr& e, mtasts::DomainObservation o) {
                         ASSERT_FALSE(e);
                         out[i] = std::move(o);
                       });
      }
      io_.run();
    } else {
      for (std::size_t i = 0; i < domains.size(); ++i) {
        asio::co_spawn(io_, checker_->Observe(domains[i]),
                       [&out, i](const std::exception_ptr& e, mtasts::DomainObservation o) {
                         ASSERT_FALSE(e);
                         out[i] = std::move(o);
                       });
        io_.run();
        io_.restart();
      }
    }
    return out;
  }

  void Domain(const std::string& name, const std::string& mx, bool sts = true) {
    if (sts) {
      resolver_.Add("_mta-sts." + name, RrType::kTxt, "v=STSv1; id=1;");
    }
    resolver_.Add(name, RrType::kMx, mx, 10);
  }

  asio::io_context io_;
  FakeResolver resolver_;
  FakeFetcher fetcher_;
  FakeProber prober_;
  CheckOptions options_;
  std::unique_ptr<DomainChecker> checker_;
};

TEST_F(DomainCheckTest, DomainsOnOneMxShareItsProbe) {
  Domain("a.test", "mx.shared.test");
  Domain("b.test", "mx.shared.test");
  Domain("c.test", "mx.shared.test");
  resolver_.Add("mx.shared.test", RrType::kA, "192.0.2.1");
  const auto obs = Observe({"a.test", "b.test", "c.test"});
  EXPECT_EQ(prober_.probes["mx.shared.test|192.0.2.1"], 1);
  EXPECT_EQ(checker_->probes_run(), 1);
  EXPECT_EQ(checker_->probes_shared(), 2);
  for (const auto& o : obs) {
    ASSERT_EQ(o.mx.size(), 1u);
    ASSERT_EQ(o.mx[0].probes.size(), 1u);
    EXPECT_TRUE(o.mx[0].probes[0].tls_established);
  }
}

TEST_F(DomainCheckTest, ShareWindowZeroProbesForEveryDomain) {
  options_.share_window = std::chrono::seconds(0);
  Domain("a.test", "mx.shared.test");
  Domain("b.test", "mx.shared.test");
  resolver_.Add("mx.shared.test", RrType::kA, "192.0.2.1");
  Observe({"a.test", "b.test"}, /*concurrently=*/false);
  EXPECT_EQ(prober_.probes["mx.shared.test|192.0.2.1"], 2);
}

TEST_F(DomainCheckTest, ExpiredSharedProbesAreDropped) {
  // A long-running checker (serve) sees ever new MX hosts; it must not keep every probe.
  options_.share_window = std::chrono::seconds(0);
  prober_.delay = std::chrono::milliseconds(0);
  std::vector<std::string> domains;
  for (int i = 0; i < 3000; ++i) {
    const std::string n = std::to_string(i);
    Domain("d" + n + ".test", "mx" + n + ".test");
    resolver_.Add("mx" + n + ".test", RrType::kA,
                  "192.0." + std::to_string(i / 250) + "." + std::to_string(i % 250 + 1));
    domains.push_back("d" + n + ".test");
  }
  Observe(domains, /*concurrently=*/false);
  EXPECT_EQ(checker_->probes_run(), 3000);
  EXPECT_LE(checker_->probes_held(), 1024u);
}

TEST_F(DomainCheckTest, PrivateAddressesAreNeverProbedUnlessAllowed) {
  Domain("a.test", "mx.a.test");
  resolver_.Add("mx.a.test", RrType::kA, "10.0.0.5");
  resolver_.Add("mx.a.test", RrType::kA, "169.254.169.254");
  const auto obs = Observe({"a.test"}, true, /*allow_private=*/false);
  EXPECT_TRUE(prober_.probes.empty());
  ASSERT_EQ(obs[0].mx[0].probes.size(), 2u);
  EXPECT_TRUE(obs[0].mx[0].probes[0].refused_by_filter);
  EXPECT_EQ(obs[0].mx[0].probes[0].error, "private address");
  EXPECT_EQ(obs[0].mx[0].probes[1].error, "link-local address");
}

TEST_F(DomainCheckTest, PolicyIsFetchedOnlyWhenARecordExists) {
  Domain("sts.test", "mx.shared.test");
  Domain("plain.test", "mx.shared.test", /*sts=*/false);
  resolver_.Add("mx.shared.test", RrType::kA, "192.0.2.1");
  const auto obs = Observe({"sts.test", "plain.test"});
  EXPECT_THAT(fetcher_.fetched, ElementsAre("sts.test"));
  EXPECT_TRUE(obs[0].policy.has_value());
  EXPECT_FALSE(obs[1].policy.has_value());
  EXPECT_EQ(obs[1].sts.outcome, mtasts::DnsOutcome::kNxDomain);
}

TEST_F(DomainCheckTest, AddressesPerMxAreCapped) {
  options_.max_addresses_per_mx = 4;
  Domain("a.test", "mx.a.test");
  for (int i = 1; i <= 10; ++i) {
    resolver_.Add("mx.a.test", RrType::kA, "192.0.2." + std::to_string(i));
  }
  const auto obs = Observe({"a.test"});
  EXPECT_EQ(obs[0].mx[0].addresses.size(), 4u);
  EXPECT_EQ(prober_.probes.size(), 4u);
}

TEST_F(DomainCheckTest, ConcurrencyIsCappedGloballyAndPerAddress) {
  options_.max_smtp_in_flight = 3;
  options_.max_per_destination = 2;
  std::vector<std::string> domains;
  for (int i = 0; i < 12; ++i) {
    const std::string d = "d" + std::to_string(i) + ".test";
    const std::string mx = "mx" + std::to_string(i) + ".test";
    Domain(d, mx);
    // Half the MX hosts share one address.
    resolver_.Add(mx, RrType::kA, i % 2 == 0 ? "192.0.2.99" : "192.0.2." + std::to_string(i));
    domains.push_back(d);
  }
  Observe(domains);
  EXPECT_EQ(prober_.probes.size(), 12u);
  EXPECT_LE(prober_.max_in_flight, 3);
  EXPECT_GE(prober_.max_in_flight, 2);
  EXPECT_LE(prober_.max_per_address["192.0.2.99"], 2);
}

TEST_F(DomainCheckTest, MxHostsInPriorityOrderAndNullMxSkipped) {
  resolver_.Add("a.test", RrType::kMx, "backup.a.test", 20);
  resolver_.Add("a.test", RrType::kMx, "primary.a.test", 10);
  resolver_.Add("primary.a.test", RrType::kA, "192.0.2.1");
  resolver_.Add("backup.a.test", RrType::kA, "192.0.2.2");
  resolver_.Add("null.test", RrType::kMx, "", 0);  // RFC 7505 "MX 0 ."
  const auto obs = Observe({"a.test", "null.test"});
  ASSERT_EQ(obs[0].mx.size(), 2u);
  EXPECT_EQ(obs[0].mx[0].host, "primary.a.test");
  EXPECT_EQ(obs[0].mx[1].host, "backup.a.test");
  EXPECT_TRUE(obs[1].mx.empty());
}

TEST_F(DomainCheckTest, DnsFailuresAreReported) {
  resolver_.Fail("a.test", RrType::kMx, "SERVFAIL");
  resolver_.Add("b.test", RrType::kMx, "gone.b.test", 10);
  const auto obs = Observe({"a.test", "b.test"});
  EXPECT_EQ(obs[0].mx_outcome, mtasts::DnsOutcome::kError);
  EXPECT_EQ(obs[0].mx_error, "SERVFAIL");
  ASSERT_EQ(obs[1].mx.size(), 1u);
  EXPECT_EQ(obs[1].mx[0].resolve_outcome, mtasts::DnsOutcome::kNxDomain);
  EXPECT_TRUE(obs[1].mx[0].probes.empty());
}

}  // namespace
}  // namespace stswatch::prober
