#pragma once

// TenantStore: the tenants of the public API and their bearer tokens, in Redis (TenantService
// in proto/stswatch/v1/api.proto; keys in api/keys.h and README.md).
//
// Tokens are "stsw_" and 43 characters: 32 bytes from OpenSSL's CSPRNG as unpadded base64url.
// A token is shown once, when issued. Redis holds only its SHA-256:
//   <prefix>:token:<sha256 hex>   -> "<tenant id>|<token id>"   (what Authenticate looks up)
//   <prefix>:tenant:<id>:tokens   hash token id -> sha256 hex   (what RevokeToken finds it by)
// so whoever reads Redis (a backup, MONITOR) learns no token.
//
// Errors: InvalidArgument for a bad name or a malformed id; NotFound for an unknown tenant or
// token; Unauthenticated for a token that is malformed, unknown or revoked (the message never
// quotes the token); Unavailable when Redis fails (a write may then be half done: a token whose
// SET did not land is never valid; a tenant record without a token can be given one with
// IssueToken); Internal when the CSPRNG fails.
//
// Threading: every method runs on the RedisClient's executor (one thread); the coroutines must be
// spawned there. Lifetime: the store must outlive the coroutines it returned, unless the client is
// destroyed first (it then destroys the suspended coroutines without resuming them).

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "absl/status/statusor.h"
#include "api/keys.h"
#include "common/time_source.h"
#include "store/redis_client.h"

namespace stswatch::api {

struct Tenant {
  // "t-" and 16 hex digits from the CSPRNG.
  std::string id;
  // 1-100 characters of UTF-8 without control characters, trimmed.
  std::string name;
  std::int64_t created_unix_ms = 0;
  // The number of domains the tenant watches (ListTenants only).
  std::uint32_t domains = 0;
};

struct IssuedToken {
  // "stsw_" and 43 characters. Not stored anywhere: hand it to the user once.
  std::string token;
  // "tk-" and 16 hex digits: what RevokeToken takes.
  std::string token_id;
};

struct CreatedTenant {
  Tenant tenant;
  IssuedToken token;
};

struct TenantStoreOptions {
  // The first part of every key ("stswatch:tenants", ...): store::KeySchema's prefix.
  std::string key_prefix = "stswatch";
  // How long a successful Authenticate is remembered in memory: a token revoked by another
  // process is refused here at most this long after. RevokeToken in this process takes effect at
  // once.
  std::chrono::milliseconds auth_cache_ttl{10000};
  // At most this many tokens are remembered (then the expired ones, or all, are forgotten).
  std::size_t auth_cache_entries = 10000;
};

class TenantStore {
 public:
  // `client` and `clock` must outlive the store. `clock` gives the creation times and the
  // authentication cache's expiry.
  TenantStore(store::RedisClient& client, const TimeSource& clock, TenantStoreOptions options = {});
  TenantStore(const TenantStore&) = delete;
  TenantStore& operator=(const TenantStore&) = delete;

  // Creates a tenant named `name` (trimmed; 1-100 characters, valid UTF-8, no control
  // characters) and its first token.
  boost::asio::awaitable<absl::StatusOr<CreatedTenant>> CreateTenant(std::string name);

  // Another token for the tenant (rotation): the earlier ones stay valid until revoked.
  // NotFound for an unknown tenant.
  boost::asio::awaitable<absl::StatusOr<IssuedToken>> IssueToken(std::string tenant_id);

  // Revokes one of the tenant's tokens: it is refused from the moment this returns (in this
  // process; elsewhere within auth_cache_ttl). NotFound when the tenant has no such token (also
  // when it belongs to another tenant).
  boost::asio::awaitable<absl::Status> RevokeToken(std::string tenant_id, std::string token_id);

  // Every tenant with its domain count, oldest first.
  boost::asio::awaitable<absl::StatusOr<std::vector<Tenant>>> ListTenants();

  // The tenant id the token belongs to. `bearer_token` is the token itself, without "Bearer ".
  // A malformed token is refused without asking Redis; a valid one is remembered for
  // auth_cache_ttl. Unauthenticated for a malformed, unknown or revoked token.
  boost::asio::awaitable<absl::StatusOr<std::string>> Authenticate(std::string bearer_token);

  // Whether `presented` is the admin token `configured` on the server, compared in constant time
  // (CRYPTO_memcmp of their SHA-256s, so neither the content nor the length leaks through
  // timing). Always false when no admin token is configured.
  static bool CheckAdminToken(std::string_view configured, std::string_view presented);

  // True if `token` has the shape of a token ("stsw_" and 43 base64url characters encoding 32
  // bytes). Says nothing about whether it is valid.
  static bool IsWellFormedToken(std::string_view token);

 private:
  struct CacheEntry {
    std::string tenant_id;
    std::chrono::system_clock::time_point expires;
  };

  boost::asio::awaitable<absl::StatusOr<IssuedToken>> IssueFor(std::string tenant_id);
  void Remember(const std::string& digest, const std::string& tenant_id);

  store::RedisClient& client_;
  const TimeSource& clock_;
  TenantStoreOptions options_;
  ApiKeys keys_;
  // Token SHA-256 (hex) -> what Authenticate found for it.
  std::unordered_map<std::string, CacheEntry> cache_;
  // Bumped by every revocation: an Authenticate whose lookup overlapped one does not cache.
  std::uint64_t revocations_ = 0;
};

}  // namespace stswatch::api
