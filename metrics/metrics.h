#pragma once

// Prometheus metrics of stswatch: what the monitor checked and found, how full its queue is, and
// how the API is used, served over HTTP in the Prometheus text format.
//
// The metric names, label names and label values below are stable identifiers (dashboards and
// alerts use them): they are declared once, here, and documented in metrics/README.md. Never
// rename one; add a new one instead.
//
// Metrics owns a prometheus::Registry with every family registered at construction. Its methods
// are thread-safe and cheap (atomic updates, a mutex per family to find a labelled series), so
// any thread — the monitor's io_context, gRPC callback reactors — may call them. MetricsServer
// serves a Metrics' registry at /metrics from civetweb's own threads (prometheus-cpp's Exposer).

#include <array>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include "absl/status/statusor.h"
#include "drift/snapshot.h"

namespace prometheus {
class Exposer;
}  // namespace prometheus

namespace stswatch::metrics {

// Metric family names.
inline constexpr std::string_view kChecksTotal = "stswatch_checks_total";
inline constexpr std::string_view kCheckDurationSeconds = "stswatch_check_duration_seconds";
inline constexpr std::string_view kProbeErrorsTotal = "stswatch_probe_errors_total";
inline constexpr std::string_view kEventsTotal = "stswatch_events_total";
inline constexpr std::string_view kQueueDepth = "stswatch_queue_depth";
inline constexpr std::string_view kChecksInFlight = "stswatch_checks_in_flight";
inline constexpr std::string_view kPendingWrites = "stswatch_pending_writes";
inline constexpr std::string_view kSchedulerWorkers = "stswatch_scheduler_workers";
inline constexpr std::string_view kDispatchBacklog = "stswatch_dispatch_backlog";
inline constexpr std::string_view kAlertNotifications = "stswatch_alert_notifications_total";
inline constexpr std::string_view kAlertDeliveries = "stswatch_alert_deliveries_total";
inline constexpr std::string_view kAlertDeliveriesPending = "stswatch_alert_deliveries_pending";
inline constexpr std::string_view kTlsReports = "stswatch_tlsrpt_reports_total";
inline constexpr std::string_view kApiCallsTotal = "stswatch_api_calls_total";
inline constexpr std::string_view kApiCallDurationSeconds = "stswatch_api_call_duration_seconds";

// The status label of stswatch_checks_total: a verdict (mtasts::DomainStatusName), or "error"
// for a check that failed unexpectedly (the check threw: a bug, logged as check.error).
inline constexpr std::string_view kStatusError = "error";
inline constexpr std::array<std::string_view, 6> kCheckStatuses = {
    "ok", "warning", "failing", "broken", "none", kStatusError};

// The kind label of stswatch_probe_errors_total.
inline constexpr std::string_view kProbeErrorDns = "dns";
inline constexpr std::string_view kProbeErrorPolicyFetch = "policy_fetch";
inline constexpr std::string_view kProbeErrorSmtpConnect = "smtp_connect";
inline constexpr std::string_view kProbeErrorStartTls = "starttls";
inline constexpr std::string_view kProbeErrorTlsHandshake = "tls_handshake";
inline constexpr std::string_view kProbeErrorCertificate = "certificate";
inline constexpr std::array<std::string_view, 6> kProbeErrorKinds = {
    kProbeErrorDns,      kProbeErrorPolicyFetch,  kProbeErrorSmtpConnect,
    kProbeErrorStartTls, kProbeErrorTlsHandshake, kProbeErrorCertificate};

// Bucket upper bounds, in seconds.
inline constexpr std::array<double, 12> kCheckDurationBuckets = {0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                                                 1,    2.5,   5,    10,  30,   60};
inline constexpr std::array<double, 13> kApiCallDurationBuckets = {
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};

// The probe errors one check ran into, one entry per occurrence, derived from its snapshot:
//   - dns: a DNS lookup failed (finding dns.lookup_failed; once per check);
//   - policy_fetch: the policy fetch was attempted and did not end "ok" (once per check);
//   - per MX host, by its STARTTLS state: "unreachable" → smtp_connect, "not-offered" →
//     starttls, "failed" → tls_handshake; and a certificate that was presented but is not valid
//     (chain or name) → certificate.
// A snapshot of nothing (a check that threw) has none.
std::vector<std::string_view> ProbeErrors(const drift::Snapshot& snapshot);

class Metrics {
 public:
  // Registers every family; the series with known labels (each check status, each probe error
  // kind) start at 0 so that rate() and absent() work from the first scrape.
  Metrics();
  ~Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // A finished check: stswatch_checks_total{status}, stswatch_check_duration_seconds and the
  // snapshot's ProbeErrors in stswatch_probe_errors_total{kind}. Negative durations (the wall
  // clock stepped back) count as 0.
  void CheckDone(std::string_view status, double seconds, const drift::Snapshot& snapshot);
  // A check that failed unexpectedly: status "error", no probe errors.
  void CheckFailed(double seconds);
  // A drift event: stswatch_events_total{kind, severity} (drift::EventKindName,
  // drift::EventSeverityName).
  void Event(std::string_view kind, std::string_view severity);
  // The gauges: domains scheduled, checks running, results waiting to be written.
  void SetQueue(std::size_t depth, std::size_t in_flight, std::size_t pending_writes);
  // The distributed scheduler's gauges: workers attached, and due checks waiting because their
  // worker has no credit (overload). Its queue and outstanding assignments go to SetQueue.
  void SetDispatch(std::size_t workers, std::size_t backlog);

  // One API call: stswatch_api_calls_total{method, code} and
  // stswatch_api_call_duration_seconds{method}. `method` is the RPC name ("ListDomains"), `code`
  // the status code's name ("OK", "NOT_FOUND", ...).
  void ApiCall(std::string_view method, std::string_view code, double seconds);

  // Alerting: a notification made (state "opened", ..., severity), an attempt's outcome
  // ("email"/"webhook"; "delivered", "retry", "dead"), and the deliveries not done with.
  void AlertNotification(std::string_view state, std::string_view severity);
  void AlertDelivery(std::string_view channel, std::string_view outcome);
  void SetAlertDeliveriesPending(std::size_t pending);

  // A TLS report received (channel "https"): stored, duplicate, refused, unavailable, rejected
  // (malformed or over a limit) or timeout; stswatch_tlsrpt_reports_total{channel, result}.
  void TlsReport(std::string_view channel, std::string_view result);

  // The registry, for an exposer (MetricsServer) or another collector.
  const std::shared_ptr<prometheus::Registry>& registry() const { return registry_; }
  // Everything in the registry in the Prometheus text format (what /metrics serves, without the
  // exposer's own exposer_* metrics).
  std::string Render() const;

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>& checks_;
  prometheus::Family<prometheus::Histogram>& check_duration_;
  prometheus::Family<prometheus::Counter>& probe_errors_;
  prometheus::Family<prometheus::Counter>& events_;
  prometheus::Family<prometheus::Gauge>& queue_depth_;
  prometheus::Family<prometheus::Gauge>& in_flight_;
  prometheus::Family<prometheus::Gauge>& pending_writes_;
  prometheus::Family<prometheus::Counter>& api_calls_;
  prometheus::Family<prometheus::Histogram>& api_call_duration_;
  prometheus::Histogram& check_duration_all_;
  prometheus::Gauge& queue_depth_all_;
  prometheus::Gauge& in_flight_all_;
  prometheus::Gauge& pending_writes_all_;
  prometheus::Gauge& workers_;
  prometheus::Gauge& backlog_;
  prometheus::Family<prometheus::Counter>& alert_notifications_;
  prometheus::Family<prometheus::Counter>& alert_deliveries_;
  prometheus::Gauge& alert_pending_;
  prometheus::Family<prometheus::Counter>& tls_reports_;
};

// An HTTP server for /metrics.
//
// Lifetime: serves from Start until destroyed; the destructor stops listening and joins the
// server's threads (no request is served after it returns). It takes about 2 s: civetweb's
// listening thread notices the stop only when its poll (a fixed 2 s quantum) returns. The server
// keeps the registry alive itself, so the Metrics may go first (its later updates are then simply
// not seen).
class MetricsServer {
 public:
  // Listens on `listen`, "HOST:PORT" with HOST an IPv4 address (0.0.0.0 for every interface; the
  // civetweb of Debian 12 has no IPv6) and PORT 0 to 65535 (0: a free port, see port()).
  // InvalidArgumentError for a malformed address; UnavailableError naming the address and
  // civetweb's reason when it cannot listen there (the address is in use, not local, ...).
  static absl::StatusOr<std::unique_ptr<MetricsServer>> Start(std::string_view listen,
                                                              const Metrics& metrics);
  ~MetricsServer();
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  // The port listened on (the one chosen when asked for port 0).
  int port() const { return port_; }
  // "HOST:PORT" with that port.
  const std::string& address() const { return address_; }

 private:
  MetricsServer(std::unique_ptr<prometheus::Exposer> exposer,
                std::shared_ptr<prometheus::Registry> registry, std::string address, int port);

  // Declared first so that the exposer (which holds it weakly) is destroyed before it.
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<prometheus::Exposer> exposer_;
  std::string address_;
  int port_ = 0;
};

}  // namespace stswatch::metrics
