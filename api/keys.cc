#include "api/keys.h"

#include "api/text.h"

namespace stswatch::api {

bool IsTenantId(std::string_view id) {
  if (id.size() != 18 || !id.starts_with("t-")) {
    return false;
  }
  for (const char c : id.substr(2)) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
      return false;
    }
  }
  return true;
}

absl::Status CheckTenantId(std::string_view id) {
  if (IsTenantId(id)) {
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(Quote(id, 40) +
                                    " is not a tenant id (\"t-\" and 16 hex digits)");
}

}  // namespace stswatch::api
