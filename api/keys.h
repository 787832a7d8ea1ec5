#pragma once

// The API's Redis keys (README.md documents them for people), next to store::KeySchema's:
//
//   <prefix>:tenants                  hash   tenant id -> {"name": ..., "created_ms": ...}
//   <prefix>:token:<sha256 hex>       string "<tenant id>|<token id>"
//   <prefix>:tenant:<id>:tokens       hash   token id -> sha256 hex of the token
//   <prefix>:tenant:<id>:domains      hash   domain -> {"interval_s": N, "labels": {...}}
//
// None of these carries a hash tag: each command and script touches one of them at a time.

#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace stswatch::api {

class ApiKeys {
 public:
  explicit ApiKeys(std::string prefix = "stswatch") : prefix_(std::move(prefix)) {}

  std::string Tenants() const { return prefix_ + ":tenants"; }
  std::string Token(std::string_view sha256_hex) const {
    return prefix_ + ":token:" + std::string(sha256_hex);
  }
  std::string TenantTokens(std::string_view tenant_id) const {
    return prefix_ + ":tenant:" + std::string(tenant_id) + ":tokens";
  }
  std::string TenantDomains(std::string_view tenant_id) const {
    return prefix_ + ":tenant:" + std::string(tenant_id) + ":domains";
  }

 private:
  std::string prefix_;
};

// "t-" and 16 lower-case hex digits.
bool IsTenantId(std::string_view id);
// InvalidArgument unless IsTenantId(id).
absl::Status CheckTenantId(std::string_view id);

}  // namespace stswatch::api
