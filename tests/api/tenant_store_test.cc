// TenantStore against a real redis-server: tenants, their tokens, authentication (and what it
// refuses without asking Redis), revocation and rotation, the cache's 10 s, and that Redis never
// holds a token in clear.

#include "api/tenant_store.h"

#include <chrono>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "api/domain_registry.h"
#include "common/time_source.h"
#include "tests/api/api_test_util.h"

namespace stswatch::api {
namespace {

using testing::Await;
using ::testing::HasSubstr;
using Code = absl::StatusCode;

constexpr auto kT0 = std::chrono::system_clock::time_point(std::chrono::seconds(1'800'000'000));

class TenantStoreTest : public testing::RedisFixture {
 protected:
  void SetUp() override {
    RedisFixture::SetUp();
    tenants_ = std::make_unique<TenantStore>(*client_, clock_);
  }

  CreatedTenant Create(const std::string& name) {
    absl::StatusOr<CreatedTenant> created = Await(io_, tenants_->CreateTenant(name));
    EXPECT_TRUE(created.ok()) << created.status();
    return created.value_or(CreatedTenant{});
  }

  absl::StatusOr<std::string> Authenticate(const std::string& token) {
    return Await(io_, tenants_->Authenticate(token));
  }

  // Every key in Redis and everything stored under it, flattened to strings.
  std::vector<std::string> EverythingInRedis() {
    std::vector<std::string> out;
    for (const store::RedisReply& key : Redis({"KEYS", "*"}).elements) {
      out.push_back(key.str);
      const std::string type = Redis({"TYPE", key.str}).str;
      if (type == "string") {
        out.push_back(Redis({"GET", key.str}).str);
      } else if (type == "hash") {
        for (const store::RedisReply& e : Redis({"HGETALL", key.str}).elements) {
          out.push_back(e.str);
        }
      } else {
        ADD_FAILURE() << "unexpected key type " << type << " of " << key.str;
      }
    }
    return out;
  }

  FakeTimeSource clock_{kT0};
  std::unique_ptr<TenantStore> tenants_;
};

TEST_F(TenantStoreTest, CreateTenantGivesAnIdAndATokenThatAuthenticates) {
  const CreatedTenant acme = Create("  Acme Mail  ");
  EXPECT_TRUE(std::regex_match(acme.tenant.id, std::regex("t-[0-9a-f]{16}"))) << acme.tenant.id;
  EXPECT_EQ(acme.tenant.name, "Acme Mail");
  EXPECT_EQ(acme.tenant.created_unix_ms, 1'800'000'000'000);
  EXPECT_TRUE(std::regex_match(acme.token.token, std::regex("stsw_[A-Za-z0-9_-]{43}")))
      << acme.token.token;
  EXPECT_TRUE(std::regex_match(acme.token.token_id, std::regex("tk-[0-9a-f]{16}")));
  EXPECT_TRUE(TenantStore::IsWellFormedToken(acme.token.token));

  const absl::StatusOr<std::string> who = Authenticate(acme.token.token);
  ASSERT_TRUE(who.ok()) << who.status();
  EXPECT_EQ(*who, acme.tenant.id);

  // Two tenants, two different ids and tokens.
  const CreatedTenant other = Create("Other");
  EXPECT_NE(other.tenant.id, acme.tenant.id);
  EXPECT_NE(other.token.token, acme.token.token);
  EXPECT_EQ(Authenticate(other.token.token).value_or(""), other.tenant.id);
}

TEST_F(TenantStoreTest, TenantNamesAreValidated) {
  const auto error = [&](const std::string& name) {
    const absl::StatusOr<CreatedTenant> created = Await(io_, tenants_->CreateTenant(name));
    EXPECT_EQ(created.status().code(), Code::kInvalidArgument) << name;
    return std::string(created.status().message());
  };
  EXPECT_THAT(error(""), HasSubstr("empty"));
  EXPECT_THAT(error("   "), HasSubstr("empty"));
  EXPECT_THAT(error(std::string(101, 'x')), HasSubstr("101 characters, at most 100"));
  EXPECT_THAT(error("a\nb"), HasSubstr("control character"));
  EXPECT_THAT(error("\xff\xfe"), HasSubstr("not valid UTF-8"));
  // 100 characters, 200 bytes.
  std::string umlauts;
  for (int i = 0; i < 100; ++i) {
    umlauts += "\xc3\xbc";
  }
  EXPECT_EQ(Create(umlauts).tenant.name, umlauts);
  EXPECT_EQ(Create(std::string(100, 'x')).tenant.name, std::string(100, 'x'));
}

TEST_F(TenantStoreTest, WrongForgedAndMalformedTokensAreRefused) {
  const CreatedTenant acme = Create("Acme");
  // Well-formed but unknown: a token nobody issued, and the real one with a character changed.
  std::string forged = acme.token.token;
  forged[10] = forged[10] == 'A' ? 'B' : 'A';
  for (const std::string& token : {forged, std::string("stsw_") + std::string(43, 'A')}) {
    ASSERT_TRUE(TenantStore::IsWellFormedToken(token)) << token;
    const absl::StatusOr<std::string> who = Authenticate(token);
    EXPECT_EQ(who.status().code(), Code::kUnauthenticated) << token;
    EXPECT_THAT(who.status().message(), HasSubstr("unknown or revoked token"));
    EXPECT_THAT(who.status().message(), ::testing::Not(HasSubstr(token)));
  }

  const std::string body = acme.token.token.substr(5);
  const std::vector<std::string> malformed = {
      "",
      "Bearer " + acme.token.token,
      acme.token.token + " ",
      acme.token.token + "A",
      acme.token.token.substr(0, 47),
      "stsw-" + body,
      "STSW_" + body,
      "stsw_" + body.substr(0, 42) + "B",  // 2 unused bits set: not the encoding of 32 bytes.
      "stsw_" + body.substr(0, 42) + "=",
      "stsw_" + body.substr(0, 41) + "+/",
      std::string("stsw_") + std::string(42, 'A') + std::string(1, '\0'),
  };
  // A store whose client never connects: anything that reached Redis would be Unavailable.
  store::RedisClient offline(io_.get_executor(), redis_->endpoint());
  TenantStore offline_tenants(offline, clock_);
  for (const std::string& token : malformed) {
    EXPECT_FALSE(TenantStore::IsWellFormedToken(token)) << token;
    for (TenantStore* store : {tenants_.get(), &offline_tenants}) {
      const absl::StatusOr<std::string> who = Await(io_, store->Authenticate(token));
      EXPECT_EQ(who.status().code(), Code::kUnauthenticated) << token << ": " << who.status();
      EXPECT_THAT(who.status().message(), HasSubstr("malformed token"));
    }
  }
  // A well-formed token does go to Redis.
  EXPECT_EQ(Await(io_, offline_tenants.Authenticate(forged)).status().code(), Code::kUnavailable);
}

TEST_F(TenantStoreTest, RotationAndRevocation) {
  const CreatedTenant acme = Create("Acme");
  const CreatedTenant other = Create("Other");
  const absl::StatusOr<IssuedToken> second = Await(io_, tenants_->IssueToken(acme.tenant.id));
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_NE(second->token, acme.token.token);
  EXPECT_NE(second->token_id, acme.token.token_id);
  // Both are valid (and now cached).
  EXPECT_EQ(Authenticate(acme.token.token).value_or(""), acme.tenant.id);
  EXPECT_EQ(Authenticate(second->token).value_or(""), acme.tenant.id);

  // Another tenant cannot revoke Acme's token, even knowing its id.
  EXPECT_EQ(Await(io_, tenants_->RevokeToken(other.tenant.id, acme.token.token_id)).code(),
            Code::kNotFound);
  EXPECT_EQ(Authenticate(acme.token.token).value_or(""), acme.tenant.id);

  // Revoked: refused at once, although it was cached a moment ago; the other token lives on.
  ASSERT_TRUE(Await(io_, tenants_->RevokeToken(acme.tenant.id, acme.token.token_id)).ok());
  EXPECT_EQ(Authenticate(acme.token.token).status().code(), Code::kUnauthenticated);
  EXPECT_EQ(Authenticate(second->token).value_or(""), acme.tenant.id);
  EXPECT_EQ(Authenticate(other.token.token).value_or(""), other.tenant.id);

  const absl::Status again = Await(io_, tenants_->RevokeToken(acme.tenant.id, acme.token.token_id));
  EXPECT_EQ(again.code(), Code::kNotFound);
  EXPECT_THAT(again.message(), HasSubstr("has no token " + acme.token.token_id));

  EXPECT_EQ(Await(io_, tenants_->RevokeToken(acme.tenant.id, "tk-1")).code(),
            Code::kInvalidArgument);
  EXPECT_EQ(Await(io_, tenants_->RevokeToken("acme", acme.token.token_id)).code(),
            Code::kInvalidArgument);
  EXPECT_EQ(Await(io_, tenants_->IssueToken("t-0123456789abcdef")).status().code(),
            Code::kNotFound);
  EXPECT_EQ(Await(io_, tenants_->IssueToken("t-0123")).status().code(), Code::kInvalidArgument);
}

// Another process revokes (deletes the token's key): this one keeps accepting the token for at
// most 10 s; and within those 10 s, a known token is accepted even when Redis is down.
TEST_F(TenantStoreTest, SuccessfulLookupsAreCachedForTenSeconds) {
  const CreatedTenant acme = Create("Acme");
  ASSERT_EQ(Authenticate(acme.token.token).value_or(""), acme.tenant.id);
  for (const store::RedisReply& key : Redis({"KEYS", "stswatch:token:*"}).elements) {
    Redis({"DEL", key.str});
  }
  clock_.Advance(std::chrono::seconds(9));
  EXPECT_EQ(Authenticate(acme.token.token).value_or(""), acme.tenant.id);
  clock_.Advance(std::chrono::seconds(2));
  EXPECT_EQ(Authenticate(acme.token.token).status().code(), Code::kUnauthenticated);

  const absl::StatusOr<IssuedToken> fresh = Await(io_, tenants_->IssueToken(acme.tenant.id));
  ASSERT_TRUE(fresh.ok());
  ASSERT_EQ(Authenticate(fresh->token).value_or(""), acme.tenant.id);
  redis_->KillHard();
  EXPECT_EQ(Authenticate(fresh->token).value_or(""), acme.tenant.id);
  clock_.Advance(std::chrono::seconds(11));
  EXPECT_EQ(Authenticate(fresh->token).status().code(), Code::kUnavailable);
}

TEST_F(TenantStoreTest, TokensAreNeverStoredInClear) {
  std::vector<std::string> tokens;
  std::vector<CreatedTenant> created;
  for (int i = 0; i < 3; ++i) {
    created.push_back(Create("Tenant " + std::to_string(i)));
    tokens.push_back(created.back().token.token);
    const absl::StatusOr<IssuedToken> more =
        Await(io_, tenants_->IssueToken(created.back().tenant.id));
    ASSERT_TRUE(more.ok());
    tokens.push_back(more->token);
  }
  ASSERT_TRUE(
      Await(io_, tenants_->RevokeToken(created[0].tenant.id, created[0].token.token_id)).ok());
  const std::vector<std::string> stored = EverythingInRedis();
  ASSERT_GT(stored.size(), 10u);
  for (const std::string& token : tokens) {
    const std::string secret = token.substr(5);
    for (const std::string& s : stored) {
      EXPECT_THAT(s, ::testing::Not(HasSubstr(secret)));
      // Not even a good part of it.
      EXPECT_THAT(s, ::testing::Not(HasSubstr(secret.substr(0, 16))));
      EXPECT_THAT(s, ::testing::Not(HasSubstr(secret.substr(27))));
    }
  }
  // What is stored: five token hashes (one revoked), as keys.
  EXPECT_EQ(Redis({"KEYS", "stswatch:token:*"}).elements.size(), 5u);
  for (const store::RedisReply& key : Redis({"KEYS", "stswatch:token:*"}).elements) {
    EXPECT_TRUE(std::regex_match(key.str, std::regex("stswatch:token:[0-9a-f]{64}"))) << key.str;
  }
}

TEST_F(TenantStoreTest, ListTenantsWithDomainCounts) {
  const CreatedTenant a = Create("Alpha");
  clock_.Advance(std::chrono::seconds(1));
  const CreatedTenant b = Create("Beta");
  clock_.Advance(std::chrono::seconds(1));
  const CreatedTenant c = Create("Gamma");
  DomainRegistry registry(*client_);
  for (const char* d : {"a.example", "b.example", "c.example"}) {
    ASSERT_TRUE(Await(io_, registry.Add(a.tenant.id, d, {})).ok());
  }
  ASSERT_TRUE(Await(io_, registry.Add(c.tenant.id, "a.example", {})).ok());

  const absl::StatusOr<std::vector<Tenant>> list = Await(io_, tenants_->ListTenants());
  ASSERT_TRUE(list.ok()) << list.status();
  ASSERT_EQ(list->size(), 3u);
  EXPECT_EQ((*list)[0].id, a.tenant.id);
  EXPECT_EQ((*list)[0].name, "Alpha");
  EXPECT_EQ((*list)[0].created_unix_ms, 1'800'000'000'000);
  EXPECT_EQ((*list)[0].domains, 3u);
  EXPECT_EQ((*list)[1].id, b.tenant.id);
  EXPECT_EQ((*list)[1].domains, 0u);
  EXPECT_EQ((*list)[2].id, c.tenant.id);
  EXPECT_EQ((*list)[2].name, "Gamma");
  EXPECT_EQ((*list)[2].created_unix_ms, 1'800'000'002'000);
  EXPECT_EQ((*list)[2].domains, 1u);
}

TEST_F(TenantStoreTest, RedisDownIsUnavailable) {
  redis_->KillHard();
  EXPECT_EQ(Await(io_, tenants_->CreateTenant("Acme")).status().code(), Code::kUnavailable);
  EXPECT_EQ(Await(io_, tenants_->ListTenants()).status().code(), Code::kUnavailable);
}

TEST(CheckAdminTokenTest, ComparesInConstantTimeAndRefusesWhenUnset) {
  const std::string admin = "correct horse battery staple";
  EXPECT_TRUE(TenantStore::CheckAdminToken(admin, admin));
  EXPECT_FALSE(TenantStore::CheckAdminToken(admin, "correct horse battery stapl"));
  EXPECT_FALSE(TenantStore::CheckAdminToken(admin, admin + " "));
  EXPECT_FALSE(TenantStore::CheckAdminToken(admin, ""));
  EXPECT_FALSE(TenantStore::CheckAdminToken("", ""));
  EXPECT_FALSE(TenantStore::CheckAdminToken("", "anything"));
}

}  // namespace
}  // namespace stswatch::api
