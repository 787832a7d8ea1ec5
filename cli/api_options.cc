#include "cli/api_options.h"

#include <cstdlib>
#include <fstream>

namespace stswatch::cli {

const char kApiFlagsHelp[] =
    R"(  --api-tls-cert PEM   serve the API over TLS with this certificate chain (and --api-tls-key)
  --api-tls-key PEM    the certificate's private key
  --admin-token-file FILE  the admin token (TenantService); default: $STSWATCH_ADMIN_TOKEN
  --api-min-interval DURATION  shortest check interval a tenant may set (default 1m)
  --api-max-watches N  WatchEvents streams at once (default 256)
)";

void AddApiFlags(Flags& flags, ApiFlags* target, bool bare) {
  flags.String(bare ? "--listen" : "--api-listen", &target->listen);
  flags.String("--api-tls-cert", &target->tls_cert);
  flags.String("--api-tls-key", &target->tls_key);
  flags.String("--admin-token-file", &target->admin_token_file);
  flags.Duration("--api-min-interval", std::chrono::seconds(1), std::chrono::seconds(86400),
                 &target->min_interval);
  flags.Int("--api-max-watches", 1, 100000, &target->max_watches);
}

absl::StatusOr<api::ApiOptions> MakeApiOptions(const ApiFlags& flags) {
  api::ApiOptions o;
  o.listen = flags.listen;
  o.tls_cert_file = flags.tls_cert;
  o.tls_key_file = flags.tls_key;
  if (flags.tls_cert.empty() != flags.tls_key.empty()) {
    return absl::InvalidArgumentError("--api-tls-cert and --api-tls-key go together");
  }
  o.min_interval = flags.min_interval;
  o.max_watches = flags.max_watches;
  if (!flags.admin_token_file.empty()) {
    std::ifstream in(flags.admin_token_file);
    if (!in) {
      return absl::InvalidArgumentError("cannot read --admin-token-file " + flags.admin_token_file);
    }
    std::getline(in, o.admin_token);
    while (!o.admin_token.empty() &&
           (o.admin_token.back() == '\r' || o.admin_token.back() == ' ')) {
      o.admin_token.pop_back();
    }
  } else if (const char* env = std::getenv("STSWATCH_ADMIN_TOKEN"); env != nullptr) {
    o.admin_token = env;
  }
  if (!o.admin_token.empty() && o.admin_token.size() < 16) {
    return absl::InvalidArgumentError("the admin token must be at least 16 characters long");
  }
  return o;
}

}  // namespace stswatch::cli
