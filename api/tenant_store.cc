#include "api/tenant_store.h"

#include <algorithm>
#include <array>
#include <utility>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "api/redis_ops.h"
#include "api/text.h"
#include "store/command.h"

namespace stswatch::api {
namespace {

using store::Command;
using store::RedisReply;

constexpr std::string_view kTokenPrefix = "stsw_";
constexpr std::size_t kTokenBytes = 32;
// ceil(32 * 8 / 6): 42 characters of 6 bits and one carrying the last 4 bits.
constexpr std::size_t kTokenChars = 43;
constexpr std::size_t kMaxNameChars = 100;
constexpr int kIdAttempts = 3;

using Digest = std::array<unsigned char, SHA256_DIGEST_LENGTH>;

Digest Sha256(std::string_view data) {
  Digest digest;
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest.data());
  return digest;
}

std::string Hex(const unsigned char* data, std::size_t size) {
  constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * size);
  for (std::size_t i = 0; i < size; ++i) {
    out += kHex[data[i] >> 4];
    out += kHex[data[i] & 0xF];
  }
  return out;
}

std::string Sha256Hex(std::string_view data) {
  const Digest digest = Sha256(data);
  return Hex(digest.data(), digest.size());
}

absl::Status RandomBytes(unsigned char* out, std::size_t size) {
  if (RAND_bytes(out, static_cast<int>(size)) != 1) {
    return absl::InternalError("the random number generator failed (OpenSSL RAND_bytes)");
  }
  return absl::OkStatus();
}

// "<prefix>" and 16 hex digits.
absl::StatusOr<std::string> RandomId(std::string_view prefix) {
  std::array<unsigned char, 8> bytes{};
  if (absl::Status s = RandomBytes(bytes.data(), bytes.size()); !s.ok()) {
    return s;
  }
  return std::string(prefix) + Hex(bytes.data(), bytes.size());
}

absl::StatusOr<IssuedToken> NewToken() {
  std::array<unsigned char, kTokenBytes> secret{};
  if (absl::Status s = RandomBytes(secret.data(), secret.size()); !s.ok()) {
    return s;
  }
  absl::StatusOr<std::string> id = RandomId("tk-");
  if (!id.ok()) {
    return id.status();
  }
  IssuedToken token;
  token.token =
      std::string(kTokenPrefix) + Base64UrlEncode(std::string_view(
                                      reinterpret_cast<const char*>(secret.data()), secret.size()));
  token.token_id = *std::move(id);
  OPENSSL_cleanse(secret.data(), secret.size());
  return token;
}

bool IsTokenId(std::string_view id) {
  if (id.size() != 19 || !id.starts_with("tk-")) {
    return false;
  }
  return std::all_of(id.begin() + 3, id.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

absl::StatusOr<std::string> ValidateName(std::string_view raw) {
  std::string_view name = raw;
  while (!name.empty() && (name.front() == ' ' || name.front() == '\t')) {
    name.remove_prefix(1);
  }
  while (!name.empty() && (name.back() == ' ' || name.back() == '\t')) {
    name.remove_suffix(1);
  }
  const std::optional<std::size_t> length = Utf8Length(name);
  if (!length.has_value()) {
    return absl::InvalidArgumentError("the tenant name " + Quote(name, 40) + " is not valid UTF-8");
  }
  if (*length == 0) {
    return absl::InvalidArgumentError("the tenant name is empty (1 to 100 characters)");
  }
  if (*length > kMaxNameChars) {
    return absl::InvalidArgumentError("the tenant name has " + std::to_string(*length) +
                                      " characters, at most 100");
  }
  if (HasControlCharacter(name)) {
    return absl::InvalidArgumentError("the tenant name " + Quote(name, 40) +
                                      " contains a control character");
  }
  return std::string(name);
}

std::string TenantJson(const std::string& name, std::int64_t created_ms) {
  boost::json::object o;
  o["name"] = name;
  o["created_ms"] = created_ms;
  return boost::json::serialize(o);
}

Tenant ParseTenant(const std::string& id, const std::string& json) {
  Tenant t;
  t.id = id;
  boost::system::error_code ec;
  const boost::json::value v = boost::json::parse(json, ec);
  if (ec || !v.is_object()) {
    return t;
  }
  if (const auto* name = v.get_object().if_contains("name"); name != nullptr && name->is_string()) {
    t.name = std::string(name->get_string());
  }
  if (const auto* created = v.get_object().if_contains("created_ms");
      created != nullptr && created->is_int64()) {
    t.created_unix_ms = created->get_int64();
  }
  return t;
}

absl::Status NoTenant(const std::string& tenant_id) {
  return absl::NotFoundError("there is no tenant " + tenant_id);
}

absl::Status NoToken(const std::string& tenant_id, const std::string& token_id) {
  return absl::NotFoundError("tenant " + tenant_id + " has no token " + token_id);
}

absl::Status BadTokenId(const std::string& token_id) {
  return absl::InvalidArgumentError(Quote(token_id, 40) +
                                    " is not a token id (\"tk-\" and 16 hex digits)");
}

std::int64_t UnixMillis(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

}  // namespace

TenantStore::TenantStore(store::RedisClient& client, const TimeSource& clock,
                         TenantStoreOptions options)
    : client_(client), clock_(clock), options_(std::move(options)), keys_(options_.key_prefix) {}

bool TenantStore::IsWellFormedToken(std::string_view token) {
  if (token.size() != kTokenPrefix.size() + kTokenChars || !token.starts_with(kTokenPrefix)) {
    return false;
  }
  // Canonical: the last character carries 4 bits, and its 2 unused bits are 0.
  const std::optional<std::string> secret = Base64UrlDecode(token.substr(kTokenPrefix.size()));
  return secret.has_value() && secret->size() == kTokenBytes;
}

bool TenantStore::CheckAdminToken(std::string_view configured, std::string_view presented) {
  if (configured.empty()) {
    return false;
  }
  // Hashing first makes the comparison's length fixed, whatever the lengths of the inputs.
  const Digest want = Sha256(configured);
  const Digest got = Sha256(presented);
  return CRYPTO_memcmp(want.data(), got.data(), want.size()) == 0;
}

void TenantStore::Remember(const std::string& digest, const std::string& tenant_id) {
  const auto now = clock_.Now();
  if (cache_.size() >= options_.auth_cache_entries) {
    std::erase_if(cache_, [&](const auto& entry) { return entry.second.expires <= now; });
    if (cache_.size() >= options_.auth_cache_entries) {
      cache_.clear();
    }
  }
  if (options_.auth_cache_entries > 0) {
    cache_[digest] = CacheEntry{tenant_id, now + options_.auth_cache_ttl};
  }
}

boost::asio::awaitable<absl::StatusOr<IssuedToken>> TenantStore::IssueFor(std::string tenant_id) {
  absl::StatusOr<IssuedToken> token = NewToken();
  if (!token.ok()) {
    co_return token.status();
  }
  const std::string digest = Sha256Hex(token->token);
  // The revocation index first: a token that exists can always be revoked.
  std::vector<std::vector<std::string>> commands;
  commands.reserve(2);
  commands.push_back(Command("HSET", keys_.TenantTokens(tenant_id), token->token_id, digest));
  commands.push_back(Command("SET", keys_.Token(digest), tenant_id + "|" + token->token_id));
  absl::StatusOr<std::vector<RedisReply>> replies = co_await Pipeline(client_, std::move(commands));
  if (!replies.ok()) {
    co_return replies.status();
  }
  co_return token;
}

boost::asio::awaitable<absl::StatusOr<CreatedTenant>> TenantStore::CreateTenant(std::string name) {
  absl::StatusOr<std::string> valid = ValidateName(name);
  if (!valid.ok()) {
    co_return valid.status();
  }
  CreatedTenant created;
  created.tenant.name = *std::move(valid);
  created.tenant.created_unix_ms = UnixMillis(clock_.Now());
  const std::string record = TenantJson(created.tenant.name, created.tenant.created_unix_ms);
  for (int attempt = 0; attempt < kIdAttempts && created.tenant.id.empty(); ++attempt) {
    absl::StatusOr<std::string> id = RandomId("t-");
    if (!id.ok()) {
      co_return id.status();
    }
    // HSETNX: a 64-bit id drawn twice would otherwise take over a tenant.
    const absl::StatusOr<RedisReply> set =
        co_await Run(client_, Command("HSETNX", keys_.Tenants(), *id, record));
    if (!set.ok()) {
      co_return set.status();
    }
    if (set->integer == 1) {
      created.tenant.id = *std::move(id);
    }
  }
  if (created.tenant.id.empty()) {
    co_return absl::InternalError("no unused tenant id after 3 random draws");
  }
  absl::StatusOr<IssuedToken> token = co_await IssueFor(created.tenant.id);
  if (!token.ok()) {
    co_return token.status();
  }
  created.token = *std::move(token);
  co_return created;
}

boost::asio::awaitable<absl::StatusOr<IssuedToken>> TenantStore::IssueToken(std::string tenant_id) {
  if (absl::Status s = CheckTenantId(tenant_id); !s.ok()) {
    co_return s;
  }
  const absl::StatusOr<RedisReply> exists =
      co_await Run(client_, Command("HEXISTS", keys_.Tenants(), tenant_id));
  if (!exists.ok()) {
    co_return exists.status();
  }
  if (exists->integer != 1) {
    co_return NoTenant(tenant_id);
  }
  co_return co_await IssueFor(std::move(tenant_id));
}

boost::asio::awaitable<absl::Status> TenantStore::RevokeToken(std::string tenant_id,
                                                              std::string token_id) {
  if (absl::Status s = CheckTenantId(tenant_id); !s.ok()) {
    co_return s;
  }
  if (!IsTokenId(token_id)) {
    co_return BadTokenId(token_id);
  }
  const absl::StatusOr<RedisReply> digest =
      co_await Run(client_, Command("HGET", keys_.TenantTokens(tenant_id), token_id));
  if (!digest.ok()) {
    co_return digest.status();
  }
  if (digest->type != RedisReply::Type::kString) {
    co_return NoToken(tenant_id, token_id);
  }
  ++revocations_;
  cache_.erase(digest->str);
  // The token first: once it is gone the token is refused; the index entry only finds it.
  std::vector<std::vector<std::string>> commands;
  commands.reserve(2);
  commands.push_back(Command("DEL", keys_.Token(digest->str)));
  commands.push_back(Command("HDEL", keys_.TenantTokens(tenant_id), token_id));
  const absl::StatusOr<std::vector<RedisReply>> replies =
      co_await Pipeline(client_, std::move(commands));
  // An Authenticate that looked the token up while the DEL was on its way may have cached it.
  ++revocations_;
  cache_.erase(digest->str);
  if (!replies.ok()) {
    co_return replies.status();
  }
  co_return absl::OkStatus();
}

boost::asio::awaitable<absl::StatusOr<std::vector<Tenant>>> TenantStore::ListTenants() {
  const absl::StatusOr<RedisReply> all = co_await Run(client_, Command("HGETALL", keys_.Tenants()));
  if (!all.ok()) {
    co_return all.status();
  }
  std::vector<Tenant> tenants;
  tenants.reserve(all->elements.size() / 2);
  for (std::size_t i = 0; i + 1 < all->elements.size(); i += 2) {
    tenants.push_back(ParseTenant(all->elements[i].str, all->elements[i + 1].str));
  }
  std::sort(tenants.begin(), tenants.end(), [](const Tenant& a, const Tenant& b) {
    return a.created_unix_ms != b.created_unix_ms ? a.created_unix_ms < b.created_unix_ms
                                                  : a.id < b.id;
  });
  std::vector<std::vector<std::string>> counts;
  counts.reserve(tenants.size());
  for (const Tenant& t : tenants) {
    counts.push_back(Command("HLEN", keys_.TenantDomains(t.id)));
  }
  const absl::StatusOr<std::vector<RedisReply>> replies =
      co_await Pipeline(client_, std::move(counts));
  if (!replies.ok()) {
    co_return replies.status();
  }
  for (std::size_t i = 0; i < tenants.size(); ++i) {
    tenants[i].domains = static_cast<std::uint32_t>((*replies)[i].integer);
  }
  co_return tenants;
}

boost::asio::awaitable<absl::StatusOr<std::string>> TenantStore::Authenticate(
    std::string bearer_token) {
  if (!IsWellFormedToken(bearer_token)) {
    co_return absl::UnauthenticatedError(
        "malformed token: a stswatch token is \"stsw_\" and 43 characters of base64url");
  }
  const std::string digest = Sha256Hex(bearer_token);
  if (const auto it = cache_.find(digest); it != cache_.end()) {
    if (it->second.expires > clock_.Now()) {
      co_return it->second.tenant_id;
    }
    cache_.erase(it);
  }
  const std::uint64_t revocations = revocations_;
  const absl::StatusOr<RedisReply> found =
      co_await Run(client_, Command("GET", keys_.Token(digest)));
  if (!found.ok()) {
    co_return found.status();
  }
  if (found->type != RedisReply::Type::kString) {
    co_return absl::UnauthenticatedError("unknown or revoked token");
  }
  const std::size_t bar = found->str.find('|');
  const std::string tenant_id = found->str.substr(0, bar);
  if (bar == std::string::npos || !IsTenantId(tenant_id)) {
    co_return absl::InternalError("the stored record of this token is damaged");
  }
  if (revocations == revocations_) {
    Remember(digest, tenant_id);
  }
  co_return tenant_id;
}

}  // namespace stswatch::api
