#pragma once

// The API options `serve` and `api` share: where to listen, TLS, the admin token, limits.

#include <chrono>
#include <string>

#include "absl/status/statusor.h"
#include "api/server.h"
#include "cli/flags.h"

namespace stswatch::cli {

struct ApiFlags {
  std::string listen;  // Empty: no API (serve); required for `api`.
  std::string tls_cert;
  std::string tls_key;
  std::string admin_token_file;
  std::chrono::seconds min_interval{60};
  int max_watches = 256;
};

// Registers --api-listen (or --listen with `bare`), --api-tls-cert, --api-tls-key,
// --admin-token-file, --api-min-interval and --api-max-watches.
void AddApiFlags(Flags& flags, ApiFlags* target, bool bare);
extern const char kApiFlagsHelp[];

// The server options from the flags: the admin token from --admin-token-file, else from the
// environment (STSWATCH_ADMIN_TOKEN). Errors say what to fix.
absl::StatusOr<api::ApiOptions> MakeApiOptions(const ApiFlags& flags);

}  // namespace stswatch::cli
