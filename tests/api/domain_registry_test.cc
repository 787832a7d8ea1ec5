// DomainRegistry against a real redis-server: what the monitor sees in the watch hashes when
// tenants share a domain, that a tenant never reaches another's domains, listing with filters and
// pages, imports of 10 000 names, limits, and Redis Cluster's one-slot rule.

#include "api/domain_registry.h"

#include <chrono>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <boost/json/parse.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "api/text.h"
#include "scheduler/domain_source.h"
#include "store/keys.h"
#include "tests/api/api_test_util.h"

namespace stswatch::api {
namespace {

using testing::Await;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using Code = absl::StatusCode;

constexpr char kA[] = "t-00000000000000aa";
constexpr char kB[] = "t-00000000000000bb";

DomainSettings Every(std::uint32_t seconds) {
  DomainSettings s;
  s.interval_s = seconds;
  return s;
}

class DomainRegistryTest : public testing::RedisFixture {
 protected:
  void SetUp() override {
    RedisFixture::SetUp();
    registry_ = std::make_unique<DomainRegistry>(*client_, options_);
  }

  void Reconfigure(const RegistryOptions& options) {
    options_ = options;
    registry_ = std::make_unique<DomainRegistry>(*client_, options_);
  }

  AddResult Add(const std::string& tenant, const std::string& domain,
                const DomainSettings& settings = {}) {
    absl::StatusOr<AddResult> r = Await(io_, registry_->Add(tenant, domain, settings));
    EXPECT_TRUE(r.ok()) << domain << ": " << r.status();
    return r.value_or(AddResult{});
  }

  absl::StatusOr<DomainPage> List(const std::string& tenant, std::uint32_t page_size,
                                  const std::string& token = "",
                                  const std::vector<std::string>& statuses = {},
                                  const std::vector<std::string>& modes = {}) {
    return Await(io_, registry_->List(tenant, statuses, modes, page_size, token));
  }

  // The watch hash's value for `domain`, parsed; null when the domain is not there.
  boost::json::value Watch(const std::string& domain) {
    const store::RedisReply r =
        Redis({"HGET", options_.keys.Watch(options_.keys.PartitionOf(domain)), domain});
    if (r.type != store::RedisReply::Type::kString) {
      return nullptr;
    }
    return boost::json::parse(r.str);
  }

  // What the scheduler and serve would monitor, as they read it (scheduler/domain_source.h).
  std::map<std::string, std::int64_t> Monitored() {
    const absl::StatusOr<scheduler::LoadedDomains> loaded = Await(
        io_,
        scheduler::LoadDomains(*client_, options_.keys, "", [](std::string_view) { return true; }));
    EXPECT_TRUE(loaded.ok()) << loaded.status();
    std::map<std::string, std::int64_t> out;
    for (const scheduler::MonitoredDomain& d :
         loaded.value_or(scheduler::LoadedDomains{}).domains) {
      out[d.name] = d.interval.count();
    }
    return out;
  }

  // A domain's state as the state store writes it (store/README.md): its hash and the index.
  struct State {
    std::string domain;
    std::string status;
    std::string mode;
    std::int64_t checked = 0;
  };
  void SetStates(const std::vector<State>& states) {
    std::vector<std::vector<std::string>> commands;
    commands.reserve(2 * states.size());
    for (const State& s : states) {
      commands.push_back({"HSET", options_.keys.Domain(s.domain), "status", s.status, "mode",
                          s.mode, "checked", std::to_string(s.checked), "changed",
                          std::to_string(s.checked - 1000)});
      commands.push_back({"HSET", options_.keys.Index(options_.keys.PartitionOf(s.domain)),
                          s.domain, s.status + " " + s.mode});
    }
    RedisAll(commands);
  }

  RegistryOptions options_;
  std::unique_ptr<DomainRegistry> registry_;
};

TEST_F(DomainRegistryTest, TwoTenantsWatchingOneDomainShareTheSmallerInterval) {
  EXPECT_TRUE(Add(kA, "Example.COM.", Every(3600)).added);
  EXPECT_TRUE(Add(kB, "example.com", Every(600)).added);
  boost::json::value w = Watch("example.com");
  ASSERT_TRUE(w.is_object()) << w;
  EXPECT_EQ(w.at("interval_s").as_int64(), 600);
  EXPECT_EQ(w.at("tenants").at(kA).as_int64(), 3600);
  EXPECT_EQ(w.at("tenants").at(kB).as_int64(), 600);
  EXPECT_EQ(Monitored(), (std::map<std::string, std::int64_t>{{"example.com", 600}}));

  // 0 is "the server's default": it never wins over a tenant's interval.
  ASSERT_TRUE(Await(io_, registry_->UpdateSettings(kB, "example.com", Every(0))).ok());
  EXPECT_EQ(Watch("example.com").at("interval_s").as_int64(), 3600);
  ASSERT_TRUE(Await(io_, registry_->UpdateSettings(kB, "example.com", Every(120))).ok());
  EXPECT_EQ(Watch("example.com").at("interval_s").as_int64(), 120);

  // One leaves: the other's interval; both leave: no longer monitored.
  ASSERT_TRUE(Await(io_, registry_->Remove(kB, "EXAMPLE.com")).ok());
  w = Watch("example.com");
  EXPECT_EQ(w.at("interval_s").as_int64(), 3600);
  EXPECT_EQ(w.at("tenants").as_object().size(), 1u);
  EXPECT_EQ(Monitored(), (std::map<std::string, std::int64_t>{{"example.com", 3600}}));
  ASSERT_TRUE(Await(io_, registry_->Remove(kA, "example.com")).ok());
  EXPECT_TRUE(Watch("example.com").is_null());
  EXPECT_TRUE(Monitored().empty());
  EXPECT_EQ(Await(io_, registry_->Remove(kA, "example.com")).code(), Code::kNotFound);

  // Both with the default: 0.
  Add(kA, "example.org");
  Add(kB, "example.org");
  EXPECT_EQ(Watch("example.org").at("interval_s").as_int64(), 0);
}

TEST_F(DomainRegistryTest, ATenantNeverReachesAnotherTenantsDomain) {
  Add(kA, "secret.example", Every(900));
  const absl::Status unknown = Await(io_, registry_->Remove(kB, "nobody-watches.example"));
  const absl::Status other = Await(io_, registry_->Remove(kB, "secret.example"));
  EXPECT_EQ(other.code(), Code::kNotFound);
  // Exactly what a domain nobody watches gets: nothing tells B that A has it.
  EXPECT_EQ(unknown.code(), Code::kNotFound);
  EXPECT_EQ(unknown.message(), "\"nobody-watches.example\" is not one of this tenant's domains");
  EXPECT_EQ(other.message(), "\"secret.example\" is not one of this tenant's domains");
  EXPECT_EQ(Await(io_, registry_->Get(kB, "secret.example")).status().code(), Code::kNotFound);
  EXPECT_EQ(Await(io_, registry_->Summary(kB, "secret.example")).status().code(), Code::kNotFound);
  EXPECT_EQ(Await(io_, registry_->UpdateSettings(kB, "secret.example", Every(60))).code(),
            Code::kNotFound);
  EXPECT_EQ(Await(io_, registry_->Owns(kB, "secret.example")).value_or(true), false);
  EXPECT_EQ(Await(io_, registry_->Owns(kA, "SECRET.example.")).value_or(false), true);
  const absl::StatusOr<DomainPage> page = List(kB, 0);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->total, 0u);
  EXPECT_TRUE(page->domains.empty());

  // A's domain and its watch record are untouched.
  const absl::StatusOr<DomainSettings> a = Await(io_, registry_->Get(kA, "secret.example"));
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->interval_s, 900u);
  EXPECT_EQ(Watch("secret.example").at("tenants").as_object().size(), 1u);
  EXPECT_EQ(Watch("secret.example").at("interval_s").as_int64(), 900);
}

TEST_F(DomainRegistryTest, AddGetUpdateAndSummary) {
  DomainSettings settings = Every(3600);
  settings.labels = {{"team", "mail"}, {"env", "prod"}};
  const AddResult first = Add(kA, "Bücher.Example", settings);
  EXPECT_EQ(first.domain, "xn--bcher-kva.example");
  EXPECT_TRUE(first.added);
  const AddResult again = Add(kA, "xn--bcher-kva.example", Every(7200));
  EXPECT_EQ(again.domain, "xn--bcher-kva.example");
  EXPECT_FALSE(again.added);
  absl::StatusOr<DomainSettings> got = Await(io_, registry_->Get(kA, "bücher.example"));
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, Every(7200));

  ASSERT_TRUE(Await(io_, registry_->UpdateSettings(kA, "bücher.example", settings)).ok());
  got = Await(io_, registry_->Get(kA, "xn--bcher-kva.example"));
  EXPECT_EQ(*got, settings);
  EXPECT_EQ(Watch("xn--bcher-kva.example").at("interval_s").as_int64(), 3600);

  absl::StatusOr<DomainSummary> summary = Await(io_, registry_->Summary(kA, "bücher.example"));
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->domain, "xn--bcher-kva.example");
  EXPECT_EQ(summary->status, "pending");
  EXPECT_EQ(summary->mode, "");
  EXPECT_EQ(summary->last_check_unix_ms, 0);
  EXPECT_EQ(summary->settings, settings);
  SetStates({{"xn--bcher-kva.example", "failing", "enforce", 1'800'000'000'000}});
  summary = Await(io_, registry_->Summary(kA, "bücher.example"));
  EXPECT_EQ(summary->status, "failing");
  EXPECT_EQ(summary->mode, "enforce");
  EXPECT_EQ(summary->last_check_unix_ms, 1'800'000'000'000);
  EXPECT_EQ(summary->last_change_unix_ms, 1'799'999'999'000);

  // Bad names and tenant ids.
  const absl::StatusOr<AddResult> bad = Await(io_, registry_->Add(kA, "bad..name", {}));
  EXPECT_EQ(bad.status().code(), Code::kInvalidArgument);
  EXPECT_EQ(bad.status().message(), "\"bad..name\" is not a domain name: empty label");
  EXPECT_EQ(Await(io_, registry_->Owns(kA, "xn--zz.example")).status().code(),
            Code::kInvalidArgument);
  EXPECT_EQ(Await(io_, registry_->Add("t-1", "a.example", {})).status().code(),
            Code::kInvalidArgument);
  EXPECT_EQ(Await(io_, registry_->Add("t-00000000000000aa:x", "a.example", {})).status().code(),
            Code::kInvalidArgument);
}

TEST_F(DomainRegistryTest, SettingsAreValidated) {
  const auto error = [&](const DomainSettings& s) {
    const absl::StatusOr<AddResult> r = Await(io_, registry_->Add(kA, "a.example", s));
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
    return std::string(r.status().message());
  };
  EXPECT_THAT(error(Every(59)),
              HasSubstr("interval_seconds must be 0 (the server's default) or from 60 to 2592000"));
  EXPECT_THAT(error(Every(2592001)), HasSubstr("not 2592001"));
  DomainSettings many;
  for (int i = 0; i < 17; ++i) {
    many.labels["k" + std::to_string(i)] = "v";
  }
  EXPECT_THAT(error(many), HasSubstr("at most 16 labels, not 17"));
  DomainSettings long_key;
  long_key.labels[std::string(65, 'k')] = "v";
  EXPECT_THAT(error(long_key), HasSubstr("has 65 characters, at most 64"));
  DomainSettings long_value;
  long_value.labels["k"] = std::string(65, 'v');
  EXPECT_THAT(error(long_value), HasSubstr("the value of label \"k\" has 65 characters"));
  DomainSettings empty_key;
  empty_key.labels[""] = "v";
  EXPECT_THAT(error(empty_key), HasSubstr("empty"));
  // Nothing was stored by the refused calls.
  EXPECT_EQ(Await(io_, registry_->Owns(kA, "a.example")).value_or(true), false);

  // The limits themselves are fine: 16 labels of 64 characters (of 2 bytes each), 60 s, 30 days.
  DomainSettings full = Every(60);
  for (int i = 0; i < 16; ++i) {
    std::string key;
    for (int j = 0; j < 62; ++j) {
      key += "\xc3\xa9";
    }
    key += std::to_string(10 + i);
    full.labels[key] = std::string(64, 'v');
  }
  Add(kA, "a.example", full);
  EXPECT_EQ(*Await(io_, registry_->Get(kA, "a.example")), full);
  Add(kA, "b.example", Every(2592000));

  // Tests and small deployments may allow shorter intervals.
  RegistryOptions fast;
  fast.min_interval = std::chrono::seconds(1);
  Reconfigure(fast);
  Add(kA, "c.example", Every(1));
  EXPECT_EQ(Watch("c.example").at("interval_s").as_int64(), 1);
}

TEST_F(DomainRegistryTest, ListFiltersAndPagesThrough2500Domains) {
  std::vector<std::string> names;
  names.reserve(2500);
  for (int i = 0; i < 2500; ++i) {
    char name[32];
    std::snprintf(name, sizeof name, "d%04d.example", i);
    names.emplace_back(name);
  }
  const absl::StatusOr<ImportResult> imported =
      Await(io_, registry_->Import(kA, names, Every(3600)));
  ASSERT_TRUE(imported.ok()) << imported.status();
  ASSERT_EQ(imported->added, 2500u);
  Add(kB, "b-only.example");
  // Every fifth failing in enforce mode, every fifth ok in testing mode, the rest never checked.
  std::vector<State> states;
  states.reserve(1000);
  for (int i = 0; i < 2500; i += 5) {
    states.push_back({names[i], "failing", "enforce", 1'800'000'000'000 + i});
    states.push_back({names[i + 1], "ok", "testing", 1'800'000'000'000 + i});
  }
  SetStates(states);

  // All of them, 1000 at a time, in order, each once.
  std::vector<std::string> seen;
  std::string token;
  int pages = 0;
  do {
    const absl::StatusOr<DomainPage> page = List(kA, 1000, token);
    ASSERT_TRUE(page.ok()) << page.status();
    EXPECT_EQ(page->total, 2500u);
    EXPECT_LE(page->domains.size(), 1000u);
    for (const DomainSummary& d : page->domains) {
      seen.push_back(d.domain);
    }
    token = page->next_page_token;
    ++pages;
  } while (!token.empty() && pages < 10);
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(seen, names);

  // Each entry carries its state and settings.
  absl::StatusOr<DomainPage> page = List(kA, 3);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->domains.size(), 3u);
  EXPECT_EQ(page->domains[0].domain, "d0000.example");
  EXPECT_EQ(page->domains[0].status, "failing");
  EXPECT_EQ(page->domains[0].mode, "enforce");
  EXPECT_EQ(page->domains[0].last_check_unix_ms, 1'800'000'000'000);
  EXPECT_EQ(page->domains[0].settings.interval_s, 3600u);
  EXPECT_EQ(page->domains[1].status, "ok");
  EXPECT_EQ(page->domains[1].mode, "testing");
  EXPECT_EQ(page->domains[2].status, "pending");
  EXPECT_EQ(page->domains[2].mode, "");
  EXPECT_EQ(page->domains[2].last_check_unix_ms, 0);

  // Page size 0 is 100.
  page = List(kA, 0);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->domains.size(), 100u);
  EXPECT_EQ(page->domains.back().domain, "d0099.example");

  // Filters: the total counts the matches; pages go through the matches only.
  const auto collect = [&](const std::vector<std::string>& statuses,
                           const std::vector<std::string>& modes, std::uint32_t* total) {
    std::vector<std::string> out;
    std::string next;
    int n = 0;
    do {
      const absl::StatusOr<DomainPage> p = List(kA, 1000, next, statuses, modes);
      EXPECT_TRUE(p.ok()) << p.status();
      if (!p.ok()) {
        break;
      }
      *total = p->total;
      for (const DomainSummary& d : p->domains) {
        out.push_back(d.domain + " " + d.status);
      }
      next = p->next_page_token;
    } while (!next.empty() && ++n < 10);
    return out;
  };
  std::uint32_t total = 0;
  std::vector<std::string> failing = collect({"failing"}, {}, &total);
  EXPECT_EQ(total, 500u);
  ASSERT_EQ(failing.size(), 500u);
  EXPECT_EQ(failing[0], "d0000.example failing");
  EXPECT_EQ(failing[499], "d2495.example failing");
  EXPECT_EQ(collect({"pending"}, {}, &total).size(), 1500u);
  EXPECT_EQ(total, 1500u);
  EXPECT_EQ(collect({"ok", "failing"}, {}, &total).size(), 1000u);
  EXPECT_EQ(collect({}, {"testing"}, &total).size(), 500u);
  EXPECT_EQ(collect({"failing"}, {"testing"}, &total).size(), 0u);
  EXPECT_EQ(total, 0u);
  EXPECT_EQ(collect({"warning"}, {}, &total).size(), 0u);
}

TEST_F(DomainRegistryTest, BadPageSizesTokensAndFilters) {
  Add(kA, "a.example");
  Add(kA, "b.example");
  const absl::StatusOr<DomainPage> big = List(kA, 1001);
  EXPECT_EQ(big.status().code(), Code::kInvalidArgument);
  EXPECT_EQ(big.status().message(), "page_size is at most 1000");
  EXPECT_TRUE(List(kA, 1000).ok());

  const absl::StatusOr<DomainPage> first = List(kA, 1);
  ASSERT_TRUE(first.ok());
  ASSERT_FALSE(first->next_page_token.empty());
  const absl::StatusOr<DomainPage> second = List(kA, 1, first->next_page_token);
  ASSERT_TRUE(second.ok());
  ASSERT_EQ(second->domains.size(), 1u);
  EXPECT_EQ(second->domains[0].domain, "b.example");
  EXPECT_TRUE(second->next_page_token.empty());

  for (const std::string& token :
       {std::string("garbage!"), std::string("a"), first->next_page_token + "=",
        first->next_page_token.substr(1), Base64UrlEncode("not a domain"),
        Base64UrlEncode("UPPER.example"), Base64UrlEncode(std::string("a.example\0", 10)),
        std::string("YS5leGFtcGxl\n")}) {
    const absl::StatusOr<DomainPage> page = List(kA, 1, token);
    EXPECT_EQ(page.status().code(), Code::kInvalidArgument) << token;
    EXPECT_THAT(page.status().message(), HasSubstr("page_token"));
  }
  const absl::StatusOr<DomainPage> bad_status = List(kA, 1, "", {"great"});
  EXPECT_EQ(bad_status.status().code(), Code::kInvalidArgument);
  EXPECT_THAT(bad_status.status().message(), HasSubstr("\"great\" is not a status"));
  EXPECT_EQ(List(kA, 1, "", {}, {"strict"}).status().code(), Code::kInvalidArgument);
}

TEST_F(DomainRegistryTest, ImportTenThousandNamesWithFiveInvalidOnes) {
  std::vector<std::string> names;
  names.reserve(10001);
  for (int i = 0; i < 10000; ++i) {
    names.push_back("host" + std::to_string(i) + ".example.net");
  }
  const std::vector<std::pair<int, std::string>> invalid = {{17, "bad..name"},
                                                            {404, "-dash.example"},
                                                            {5000, "xn--zz.example"},
                                                            {7777, "under_score.example"},
                                                            {9999, "localhost"}};
  for (const auto& [index, name] : invalid) {
    names[index] = name;
  }
  const auto start = std::chrono::steady_clock::now();
  const absl::StatusOr<ImportResult> result = Await(io_, registry_->Import(kA, names, Every(600)));
  const auto took = std::chrono::steady_clock::now() - start;
  ASSERT_TRUE(result.ok()) << result.status();
  // For the record, not asserted (bench/ measures performance).
  std::cout << "import of 10000 names took "
            << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms\n";
  EXPECT_EQ(result->added, 9995u);
  EXPECT_EQ(result->unchanged, 0u);
  ASSERT_EQ(result->errors.size(), 5u);
  for (std::size_t i = 0; i < invalid.size(); ++i) {
    EXPECT_EQ(result->errors[i].domain, invalid[i].second);
    EXPECT_THAT(result->errors[i].error, HasSubstr("\"" + invalid[i].second.substr(0, 6)));
  }
  EXPECT_THAT(result->errors[2].error, HasSubstr("\"xn--zz\" is not a valid A-label"));

  // Every valid one is the tenant's and is monitored.
  EXPECT_EQ(Redis({"HLEN", "stswatch:tenant:" + std::string(kA) + ":domains"}).integer, 9995);
  long long watched = 0;  // NOLINT(google-runtime-int)
  for (int p = 0; p < options_.keys.partitions(); ++p) {
    watched += Redis({"HLEN", options_.keys.Watch(p)}).integer;
  }
  EXPECT_EQ(watched, 9995);
  EXPECT_EQ(Watch("host1.example.net").at("interval_s").as_int64(), 600);

  // Again, with new settings and a few names spelled differently: nothing new, settings updated.
  names.push_back("HOST1.example.net.");
  const absl::StatusOr<ImportResult> again = Await(io_, registry_->Import(kA, names, Every(900)));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->added, 0u);
  EXPECT_EQ(again->unchanged, 9996u);
  EXPECT_EQ(again->errors.size(), 5u);
  EXPECT_EQ(Watch("host1.example.net").at("interval_s").as_int64(), 900);
  EXPECT_EQ(Await(io_, registry_->Get(kA, "host9998.example.net"))->interval_s, 900u);
}

TEST_F(DomainRegistryTest, PerTenantDomainLimit) {
  RegistryOptions small;
  small.max_domains_per_tenant = 10;
  Reconfigure(small);
  for (int i = 0; i < 10; ++i) {
    Add(kA, "d" + std::to_string(i) + ".example");
  }
  const absl::StatusOr<AddResult> over = Await(io_, registry_->Add(kA, "d10.example", {}));
  EXPECT_EQ(over.status().code(), Code::kResourceExhausted);
  EXPECT_THAT(over.status().message(), HasSubstr("already watches 10 domains, the most allowed"));
  EXPECT_TRUE(Watch("d10.example").is_null());
  // Updating one it has is fine; another tenant has its own limit.
  EXPECT_FALSE(Add(kA, "d3.example", Every(600)).added);
  EXPECT_TRUE(Add(kB, "d10.example").added);

  const std::vector<std::string> more = {"d1.example", "n1.example", "n2.example", "bad..name"};
  const absl::StatusOr<ImportResult> imported = Await(io_, registry_->Import(kA, more, {}));
  ASSERT_TRUE(imported.ok());
  EXPECT_EQ(imported->added, 0u);
  EXPECT_EQ(imported->unchanged, 1u);
  ASSERT_EQ(imported->errors.size(), 3u);
  EXPECT_EQ(imported->errors[0].domain, "n1.example");
  EXPECT_THAT(imported->errors[0].error, HasSubstr("not added"));
  EXPECT_EQ(imported->errors[1].domain, "n2.example");
  EXPECT_EQ(imported->errors[2].domain, "bad..name");

  // Room again after a removal.
  ASSERT_TRUE(Await(io_, registry_->Remove(kA, "d0.example")).ok());
  EXPECT_TRUE(Add(kA, "d10.example").added);
  EXPECT_EQ(Watch("d10.example").at("tenants").as_object().size(), 2u);
}

// A domain someone wrote into the watch hash by hand ({"interval_s": 900}) stays monitored when
// tenants come and go.
TEST_F(DomainRegistryTest, HandWrittenWatchEntriesAreKept) {
  const std::string key = options_.keys.Watch(options_.keys.PartitionOf("manual.example"));
  Redis({"HSET", key, "manual.example", "{\"interval_s\": 900}"});
  Add(kA, "manual.example", Every(3600));
  EXPECT_EQ(Watch("manual.example").at("interval_s").as_int64(), 900);
  Add(kA, "manual.example", Every(300));
  EXPECT_EQ(Watch("manual.example").at("interval_s").as_int64(), 300);
  ASSERT_TRUE(Await(io_, registry_->Remove(kA, "manual.example")).ok());
  EXPECT_EQ(Monitored(), (std::map<std::string, std::int64_t>{{"manual.example", 900}}));
}

TEST_F(DomainRegistryTest, ScriptsFlushedOrRedisDown) {
  Add(kA, "a.example", Every(600));
  Redis({"SCRIPT", "FLUSH"});
  Add(kB, "a.example", Every(300));
  EXPECT_EQ(Watch("a.example").at("interval_s").as_int64(), 300);

  redis_->KillHard();
  const absl::StatusOr<AddResult> down = Await(io_, registry_->Add(kA, "b.example", {}));
  EXPECT_EQ(down.status().code(), Code::kUnavailable);
  EXPECT_THAT(down.status().message(), HasSubstr("Redis"));
  EXPECT_EQ(List(kA, 10).status().code(), Code::kUnavailable);
  EXPECT_EQ(Await(io_, registry_->Owns(kA, "a.example")).status().code(), Code::kUnavailable);
}

// A single-node Redis Cluster owning every slot refuses a script touching two slots
// (CROSSSLOT): every script here takes one key.
TEST(DomainRegistryClusterTest, WorksOnRedisCluster) {
  store::testing::TestRedis redis(
      {"--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf"});
  ASSERT_TRUE(redis.Start().ok());
  boost::asio::io_context io;
  store::RedisClient client(io.get_executor(), redis.endpoint(), store::testing::FastOptions());
  client.Start();
  ASSERT_TRUE(store::testing::RunUntil(io, [&] { return client.connected(); }));
  ASSERT_EQ(store::testing::Call(io, client, {"CLUSTER", "ADDSLOTSRANGE", "0", "16383"})->str,
            "OK");
  ASSERT_TRUE(store::testing::RunUntil(io, [&] {
    const auto info = store::testing::Call(io, client, {"CLUSTER", "INFO"});
    return info.ok() && info->str.find("cluster_state:ok") != std::string::npos;
  }));
  DomainRegistry registry(client);
  std::vector<std::string> names;
  names.reserve(300);
  for (int i = 0; i < 300; ++i) {
    names.push_back("c" + std::to_string(i) + ".example");
  }
  const absl::StatusOr<ImportResult> imported = Await(io, registry.Import(kA, names, Every(600)));
  ASSERT_TRUE(imported.ok()) << imported.status();
  EXPECT_EQ(imported->added, 300u);
  ASSERT_TRUE(Await(io, registry.Add(kB, "c1.example", Every(120))).ok());
  ASSERT_TRUE(Await(io, registry.Remove(kA, "c2.example")).ok());
  const absl::StatusOr<DomainPage> page = Await(io, registry.List(kA, {"pending"}, {}, 1000, ""));
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_EQ(page->total, 299u);
}

}  // namespace
}  // namespace stswatch::api
