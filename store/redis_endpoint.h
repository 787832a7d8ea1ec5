#pragma once

// Where Redis listens, and the URLs people write for it. Pure: no I/O (the fuzzers hit Parse).

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace stswatch::store {

// Where Redis listens: TCP (host, port) or a unix socket (unix_path non-empty).
struct RedisEndpoint {
  std::string host;
  int port = 6379;
  std::string unix_path;  // Non-empty: connect to this unix socket, host and port unused.
  int db = 0;             // SELECTed on connect when not 0.
  std::string user;       // AUTH user password (Redis 6 ACL) when both are set.
  std::string password;   // AUTH password when non-empty.

  // For logs: "redis://host:port/db" or "unix:///path?db=N" (db left out when 0); a password is
  // shown as "***", never in clear.
  std::string ToString() const;

  // Accepts
  //   redis://[[user]:password@]host[:port][/db]   host may be [IPv6]; user and password are
  //                                                 percent-decoded
  //   unix:///path/to.sock[?db=N][&password=P]
  //   /path/to.sock                                 a bare absolute path
  // and refuses anything else with InvalidArgument saying what is wrong (rediss:// too: no TLS).
  static absl::StatusOr<RedisEndpoint> Parse(std::string_view url);
};

// A unix socket path the kernel can take (at most 107 bytes); InvalidArgument naming the limit.
absl::Status CheckUnixSocketPath(std::string_view path);

}  // namespace stswatch::store
