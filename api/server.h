#pragma once

// The public gRPC API (proto/stswatch/v1/api.proto): TenantService, DomainService, AlertService
// and ReportService, gRPC
// health checking and server reflection, optional TLS. Runs inside `stswatch serve` and as
// `stswatch api`.
//
// Threading: gRPC's synchronous server calls the handlers on its own threads; a handler hands
// its work to the io_context that owns the Redis connection (one coroutine per call) and waits
// for it, bounded by the call's deadline and cancellation. Watch streams read the events streams
// on a Redis connection of their own (blocking XREAD), at most `max_watches` at once.

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/io_context.hpp>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/log.h"
#include "common/time_source.h"
#include "drift/snapshot.h"
#include "prober/address_filter.h"
#include "store/keys.h"
#include "store/redis_client.h"

namespace stswatch::metrics {
class Metrics;
}  // namespace stswatch::metrics

namespace stswatch::api {

struct ApiOptions {
  std::string listen = "127.0.0.1:7400";
  // TLS when both are set (PEM files).
  std::string tls_cert_file;
  std::string tls_key_file;
  // The admin token (TenantService). Empty: TenantService refuses every call.
  std::string admin_token;
  store::KeySchema keys;
  // Intervals below this are refused (the default keeps tenants from hammering MX hosts).
  std::chrono::seconds min_interval{60};
  int max_watches = 256;
  // Longest a unary call may run, whatever deadline the client set (0: none).
  std::chrono::seconds max_call{120};
  std::size_t max_domains_per_tenant = 100000;
  // Where webhooks may point: a webhook URL with an IP literal it refuses is refused when set
  // (names are judged by the alerter after resolution). Unset: URLs are checked for syntax only.
  std::optional<prober::AddressFilter> webhook_filter;
  // The clock of readiness ("today") and promotions; nullptr: the real one. Not owned.
  const TimeSource* clock = nullptr;
};

// Checks a domain now and stores the result like a scheduled check; `done` gets the snapshot.
// Called on the io_context's thread.
using CheckNowFn = std::function<void(const std::string& domain,
                                      std::function<void(absl::StatusOr<drift::Snapshot>)> done)>;

// Waits (at most `limit`) until gRPC has freed its library state. It does so when its last object
// goes, and that need not be the grpc::Server: a connection a client closed just before the
// server stopped can outlive it, and when it goes last, on one of gRPC's threads, gRPC hands its
// clean-up to a detached thread that races the process's exit (OpenSSL's atexit clean-up,
// LeakSanitizer's check). Call before returning from main in a process whose only gRPC user was
// the stopped ApiServer.
void AwaitGrpcShutdown(std::chrono::milliseconds limit);

class ApiServer {
 public:
  // `client` (on `io`) serves the calls; watch streams open their own connections to `endpoint`.
  // `domains_changed` (on `io`) is called after a tenant added, removed or re-timed a domain, so
  // the scheduler picks it up at once.
  ApiServer(boost::asio::io_context& io, store::RedisClient& client, store::RedisEndpoint endpoint,
            ApiOptions options, CheckNowFn check_now, std::function<void()> domains_changed,
            Logger& log);
  ~ApiServer();
  ApiServer(const ApiServer&) = delete;
  ApiServer& operator=(const ApiServer&) = delete;

  // Counts every call in stswatch_api_calls_total{method,code} and its duration; nullptr (the
  // default): no metrics. Not owned; set before Start.
  void SetMetrics(metrics::Metrics* metrics);

  // Listens; an error says why (address in use, unreadable certificate).
  absl::Status Start();
  // The port listened on (useful with port 0).
  int port() const { return port_; }
  // Ends the watch streams and stops accepting calls (waits at most `grace`).
  void Shutdown(std::chrono::milliseconds grace);

  struct Impl;  // The services' shared state (server.cc).

 private:
  std::unique_ptr<Impl> impl_;
  int port_ = 0;
};

}  // namespace stswatch::api
