#pragma once

// DomainRegistry: each tenant's domains, in Redis (DomainService's AddDomain, RemoveDomain,
// ListDomains, GetDomain, ImportDomains and UpdateDomainSettings in
// proto/stswatch/v1/api.proto; the keys in README.md).
//
// Two records are kept for every domain a tenant watches:
//   <prefix>:tenant:<id>:domains     hash: domain -> {"interval_s": N, "labels": {...}}
//                                    what the tenant sees (tenant_domains.lua)
//   stswatch:{pN}:watch              hash: domain -> {"interval_s": <smallest non-zero interval
//                                    of its tenants, or 0>, "tenants": {"t-...": N, ...}}
//                                    what serve and the scheduler monitor (watch.lua)
// Each is changed by a Lua script on that one key, so each stays consistent on its own, also on
// Redis Cluster. The two are not changed atomically together: adding writes the tenant's record
// first and removing removes it last, so after a failure (Unavailable) the tenant still sees the
// domain and repeating the call repairs the watch record.
//
// Domain names are taken as users type them and normalized (NormalizeDomainName): "Bücher.
// Example." and "xn--bcher-kva.example" are the same domain. Every method takes the tenant id that
// TenantStore::Authenticate returned; a tenant sees and changes only its own domains: another
// tenant's domain is NotFound, exactly like a domain no one watches.
//
// Errors: InvalidArgument (bad domain name, settings, page size, page token or filter),
// NotFound (not one of the tenant's domains), ResourceExhausted (the tenant's domain limit),
// Unavailable (Redis failed).
//
// Threading: every method runs on the RedisClient's executor (one thread); the coroutines must be
// spawned there. Lifetime: the registry must outlive the coroutines it returned, unless the client
// is destroyed first (it then destroys the suspended coroutines without resuming them).

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "absl/status/statusor.h"
#include "api/keys.h"
#include "store/keys.h"
#include "store/redis_client.h"

namespace stswatch::api {

struct DomainSettings {
  // How often the domain is checked; 0: the server's default.
  std::uint32_t interval_s = 0;
  // For the tenant's own use: at most 16, keys 1-64 and values 0-64 characters of UTF-8.
  std::map<std::string, std::string> labels;

  friend bool operator==(const DomainSettings&, const DomainSettings&) = default;
};

struct DomainSummary {
  // Lower-case A-labels, no trailing dot.
  std::string domain;
  // From the domain's state (store::KeySchema::Domain): "ok", "warning", "failing", "broken",
  // "none"; "pending" before the first check.
  std::string status;
  // "enforce", "testing", "none"; "" without a valid policy (and before the first check).
  std::string mode;
  // Unix ms; 0 before the first check.
  std::int64_t last_check_unix_ms = 0;
  std::int64_t last_change_unix_ms = 0;
  DomainSettings settings;
};

struct DomainPage {
  // Sorted by domain.
  std::vector<DomainSummary> domains;
  // Opaque; empty on the last page.
  std::string next_page_token;
  // How many of the tenant's domains match the filters (all pages).
  std::uint32_t total = 0;
};

struct AddResult {
  // The normalized name.
  std::string domain;
  // False when the tenant already watched it (its settings were replaced).
  bool added = false;
};

struct ImportError {
  // As given.
  std::string domain;
  std::string error;
};

struct ImportResult {
  std::uint32_t added = 0;
  // Already watched by the tenant (settings replaced), or given twice.
  std::uint32_t unchanged = 0;
  // In the order given.
  std::vector<ImportError> errors;
};

struct RegistryOptions {
  // The watch hashes' names and partitions: serve's --partitions.
  store::KeySchema keys;
  // The shortest interval a tenant may ask for (the longest is 30 days).
  std::chrono::seconds min_interval{60};
  // The most domains one tenant may watch.
  std::size_t max_domains_per_tenant = 100000;
};

class DomainRegistry {
 public:
  static constexpr std::uint32_t kMaxIntervalSeconds = 2592000;
  static constexpr std::size_t kMaxLabels = 16;
  static constexpr std::size_t kMaxLabelChars = 64;
  static constexpr std::uint32_t kDefaultPageSize = 100;
  static constexpr std::uint32_t kMaxPageSize = 1000;

  // `client` must outlive the registry.
  DomainRegistry(store::RedisClient& client, RegistryOptions options = {});
  DomainRegistry(const DomainRegistry&) = delete;
  DomainRegistry& operator=(const DomainRegistry&) = delete;

  // The tenant watches `domain` with `settings` from now on (replacing its settings if it did).
  // ResourceExhausted when it would exceed max_domains_per_tenant.
  boost::asio::awaitable<absl::StatusOr<AddResult>> Add(std::string tenant_id, std::string domain,
                                                        DomainSettings settings);

  // The tenant no longer watches `domain`; the domain leaves the watch hash when no tenant is
  // left. NotFound if the tenant did not watch it.
  boost::asio::awaitable<absl::Status> Remove(std::string tenant_id, std::string domain);

  // The tenant's settings for `domain`, or NotFound.
  boost::asio::awaitable<absl::StatusOr<DomainSettings>> Get(std::string tenant_id,
                                                             std::string domain);

  // The domain as ListDomains shows it (settings and state), or NotFound.
  boost::asio::awaitable<absl::StatusOr<DomainSummary>> Summary(std::string tenant_id,
                                                                std::string domain);

  // One page of the tenant's domains, sorted by name. `statuses` and `modes` keep only the
  // domains with one of these statuses ("ok", "warning", "failing", "broken", "none", "pending")
  // and modes ("enforce", "testing", "none"); empty: all. `page_size` 0 means 100, at most 1000.
  // `page_token` is empty or a next_page_token of an earlier page.
  boost::asio::awaitable<absl::StatusOr<DomainPage>> List(std::string tenant_id,
                                                          std::vector<std::string> statuses,
                                                          std::vector<std::string> modes,
                                                          std::uint32_t page_size,
                                                          std::string page_token);

  // Adds many domains with the same settings, as Add would one by one. The scripts take 1000
  // domains per call and all calls are pipelined: 10 000 domains are 10 calls on the tenant's
  // hash, then about one per partition on the watch hashes, two round trips in all. Invalid names
  // and the names past the tenant's limit become errors (in the order given); a name given twice
  // counts as unchanged the second time. InvalidArgument (nothing done) for bad settings.
  boost::asio::awaitable<absl::StatusOr<ImportResult>> Import(std::string tenant_id,
                                                              std::vector<std::string> domains,
                                                              DomainSettings settings);

  // Replaces the settings of one of the tenant's domains; NotFound if it does not watch it.
  boost::asio::awaitable<absl::Status> UpdateSettings(std::string tenant_id, std::string domain,
                                                      DomainSettings settings);

  // Whether the tenant watches `domain` (for the events and check-now calls: they answer
  // NotFound when it does not). InvalidArgument for a name that is not a domain name.
  boost::asio::awaitable<absl::StatusOr<bool>> Owns(std::string tenant_id, std::string domain);

  // InvalidArgument saying what is wrong with `settings`.
  absl::Status ValidateSettings(const DomainSettings& settings) const;

  // The stored form: {"interval_s":N,"labels":{...}}; parsing is lenient (what cannot be read is
  // left at its default).
  static std::string SettingsToJson(const DomainSettings& settings);
  static DomainSettings SettingsFromJson(std::string_view json);

 private:
  // Runs tenant_domains.lua for `domains` (normalized, distinct); one result per domain.
  boost::asio::awaitable<absl::StatusOr<std::vector<std::int64_t>>> ApplyToTenant(
      const std::string& tenant_id, const std::string& op, const std::string& settings_json,
      const std::vector<std::string>& domains);
  // Runs watch.lua for `domains`, grouped by partition.
  boost::asio::awaitable<absl::Status> ApplyToWatch(const std::string& tenant_id,
                                                    const std::string& op, std::uint32_t interval_s,
                                                    const std::vector<std::string>& domains);

  store::RedisClient& client_;
  RegistryOptions options_;
  ApiKeys keys_;
};

}  // namespace stswatch::api
