#include "metrics/metrics.h"

#include <CivetServer.h>
#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <exception>
#include <utility>

#include <prometheus/exposer.h>
#include <prometheus/text_serializer.h>

#include "absl/status/status.h"
#include "mtasts/finding_codes.h"

namespace stswatch::metrics {
namespace {

template <std::size_t N>
prometheus::Histogram::BucketBoundaries Buckets(const std::array<double, N>& bounds) {
  return prometheus::Histogram::BucketBoundaries(bounds.begin(), bounds.end());
}

double NonNegative(double seconds) { return std::max(0.0, seconds); }

// civetweb reports why it cannot listen only through its log callback, and mg_start (inside the
// Exposer's constructor) runs on the calling thread: the messages logged while a server starts
// are collected here.
thread_local std::vector<std::string>* civet_messages = nullptr;

int CollectCivetMessage(const mg_connection* /*connection*/, const char* message) {
  if (civet_messages != nullptr && message != nullptr) {
    civet_messages->emplace_back(message);
  }
  return 1;  // Handled: civetweb writes nothing itself.
}

// "HOST:PORT" with an IPv4 HOST and a decimal PORT.
absl::Status CheckListen(std::string_view listen) {
  const std::size_t colon = listen.rfind(':');
  if (colon == std::string_view::npos) {
    return absl::InvalidArgumentError("metrics address \"" + std::string(listen) +
                                      "\" is not HOST:PORT");
  }
  const std::string host(listen.substr(0, colon));
  const std::string_view port = listen.substr(colon + 1);
  in_addr address{};
  if (inet_pton(AF_INET, host.c_str(), &address) != 1) {
    return absl::InvalidArgumentError("metrics address \"" + std::string(listen) + "\": \"" + host +
                                      "\" is not an IPv4 address");
  }
  int value = -1;
  const auto [end, error] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || port.size() > 5 || error != std::errc() || end != port.data() + port.size() ||
      value < 0 || value > 65535) {
    return absl::InvalidArgumentError("metrics address \"" + std::string(listen) +
                                      "\": the port is not 0 to 65535");
  }
  return absl::OkStatus();
}

}  // namespace

std::vector<std::string_view> ProbeErrors(const drift::Snapshot& snapshot) {
  std::vector<std::string_view> errors;
  errors.reserve(2 + snapshot.mx.size() * 2);
  if (std::find(snapshot.findings.begin(), snapshot.findings.end(), mtasts::kDnsLookupFailed.id) !=
      snapshot.findings.end()) {
    errors.push_back(kProbeErrorDns);
  }
  if (!snapshot.fetch.empty() && snapshot.fetch != "ok") {
    errors.push_back(kProbeErrorPolicyFetch);
  }
  for (const drift::MxSnapshot& mx : snapshot.mx) {
    switch (mx.starttls) {
      case drift::StartTls::kEstablished:
        break;
      case drift::StartTls::kUnreachable:
        errors.push_back(kProbeErrorSmtpConnect);
        break;
      case drift::StartTls::kNotOffered:
        errors.push_back(kProbeErrorStartTls);
        break;
      case drift::StartTls::kFailed:
        errors.push_back(kProbeErrorTlsHandshake);
        break;
    }
    if (mx.cert && !mx.cert->valid) {
      errors.push_back(kProbeErrorCertificate);
    }
  }
  return errors;
}

Metrics::Metrics()
    : registry_(std::make_shared<prometheus::Registry>()),
      checks_(prometheus::BuildCounter()
                  .Name(std::string(kChecksTotal))
                  .Help("Checks finished, by the domain's status (error: the check failed).")
                  .Register(*registry_)),
      check_duration_(prometheus::BuildHistogram()
                          .Name(std::string(kCheckDurationSeconds))
                          .Help("How long a check of one domain took, in seconds.")
                          .Register(*registry_)),
      probe_errors_(prometheus::BuildCounter()
                        .Name(std::string(kProbeErrorsTotal))
                        .Help("Probe errors seen by checks (per check, and per MX host for the "
                              "SMTP, STARTTLS, TLS and certificate kinds).")
                        .Register(*registry_)),
      events_(prometheus::BuildCounter()
                  .Name(std::string(kEventsTotal))
                  .Help("Drift events recorded, by kind and severity.")
                  .Register(*registry_)),
      queue_depth_(prometheus::BuildGauge()
                       .Name(std::string(kQueueDepth))
                       .Help("Domains scheduled for checking.")
                       .Register(*registry_)),
      in_flight_(prometheus::BuildGauge()
                     .Name(std::string(kChecksInFlight))
                     .Help("Checks running now.")
                     .Register(*registry_)),
      pending_writes_(prometheus::BuildGauge()
                          .Name(std::string(kPendingWrites))
                          .Help("Check results waiting to be written to Redis.")
                          .Register(*registry_)),
      api_calls_(prometheus::BuildCounter()
                     .Name(std::string(kApiCallsTotal))
                     .Help("API calls answered, by method and status code.")
                     .Register(*registry_)),
      api_call_duration_(prometheus::BuildHistogram()
                             .Name(std::string(kApiCallDurationSeconds))
                             .Help("How long an API call took, in seconds, by method.")
                             .Register(*registry_)),
      check_duration_all_(check_duration_.Add({}, Buckets(kCheckDurationBuckets))),
      queue_depth_all_(queue_depth_.Add({})),
      in_flight_all_(in_flight_.Add({})),
      pending_writes_all_(pending_writes_.Add({})),
      workers_(prometheus::BuildGauge()
                   .Name(std::string(kSchedulerWorkers))
                   .Help("Prober workers attached to the active scheduler.")
                   .Register(*registry_)
                   .Add({})),
      backlog_(prometheus::BuildGauge()
                   .Name(std::string(kDispatchBacklog))
                   .Help("Due checks waiting for their worker's credit (overload).")
                   .Register(*registry_)
                   .Add({})),
      alert_notifications_(prometheus::BuildCounter()
                               .Name(std::string(kAlertNotifications))
                               .Help("Alert notifications made, by state and severity.")
                               .Register(*registry_)),
      alert_deliveries_(prometheus::BuildCounter()
                            .Name(std::string(kAlertDeliveries))
                            .Help("Delivery attempts, by channel type and outcome.")
                            .Register(*registry_)),
      alert_pending_(prometheus::BuildGauge()
                         .Name(std::string(kAlertDeliveriesPending))
                         .Help("Notifications not yet delivered nor given up.")
                         .Register(*registry_)
                         .Add({})),
      tls_reports_(prometheus::BuildCounter()
                       .Name(std::string(kTlsReports))
                       .Help("TLS reports received, by channel and result.")
                       .Register(*registry_)) {
  for (const char* result :
       {"stored", "duplicate", "refused", "unavailable", "rejected", "timeout"}) {
    tls_reports_.Add({{"channel", "https"}, {"result", result}});
  }
  for (const char* channel : {"email", "webhook"}) {
    for (const char* outcome : {"delivered", "retry", "dead"}) {
      alert_deliveries_.Add({{"channel", channel}, {"outcome", outcome}});
    }
  }
  for (const std::string_view status : kCheckStatuses) {
    checks_.Add({{"status", std::string(status)}});
  }
  for (const std::string_view kind : kProbeErrorKinds) {
    probe_errors_.Add({{"kind", std::string(kind)}});
  }
}

Metrics::~Metrics() = default;

void Metrics::CheckDone(std::string_view status, double seconds, const drift::Snapshot& snapshot) {
  checks_.Add({{"status", std::string(status)}}).Increment();
  check_duration_all_.Observe(NonNegative(seconds));
  for (const std::string_view kind : ProbeErrors(snapshot)) {
    probe_errors_.Add({{"kind", std::string(kind)}}).Increment();
  }
}

void Metrics::CheckFailed(double seconds) {
  checks_.Add({{"status", std::string(kStatusError)}}).Increment();
  check_duration_all_.Observe(NonNegative(seconds));
}

void Metrics::Event(std::string_view kind, std::string_view severity) {
  events_.Add({{"kind", std::string(kind)}, {"severity", std::string(severity)}}).Increment();
}

void Metrics::SetQueue(std::size_t depth, std::size_t in_flight, std::size_t pending_writes) {
  queue_depth_all_.Set(static_cast<double>(depth));
  in_flight_all_.Set(static_cast<double>(in_flight));
  pending_writes_all_.Set(static_cast<double>(pending_writes));
}

void Metrics::SetDispatch(std::size_t workers, std::size_t backlog) {
  workers_.Set(static_cast<double>(workers));
  backlog_.Set(static_cast<double>(backlog));
}

void Metrics::AlertNotification(std::string_view state, std::string_view severity) {
  alert_notifications_.Add({{"state", std::string(state)}, {"severity", std::string(severity)}})
      .Increment();
}

void Metrics::AlertDelivery(std::string_view channel, std::string_view outcome) {
  alert_deliveries_.Add({{"channel", std::string(channel)}, {"outcome", std::string(outcome)}})
      .Increment();
}

void Metrics::TlsReport(std::string_view channel, std::string_view result) {
  tls_reports_.Add({{"channel", std::string(channel)}, {"result", std::string(result)}})
      .Increment();
}

void Metrics::SetAlertDeliveriesPending(std::size_t pending) {
  alert_pending_.Set(static_cast<double>(pending));
}

void Metrics::ApiCall(std::string_view method, std::string_view code, double seconds) {
  api_calls_.Add({{"method", std::string(method)}, {"code", std::string(code)}}).Increment();
  api_call_duration_.Add({{"method", std::string(method)}}, Buckets(kApiCallDurationBuckets))
      .Observe(NonNegative(seconds));
}

std::string Metrics::Render() const {
  return prometheus::TextSerializer().Serialize(registry_->Collect());
}

absl::StatusOr<std::unique_ptr<MetricsServer>> MetricsServer::Start(std::string_view listen,
                                                                    const Metrics& metrics) {
  if (absl::Status status = CheckListen(listen); !status.ok()) {
    return status;
  }
  CivetCallbacks callbacks;
  callbacks.log_message = &CollectCivetMessage;
  std::vector<std::string> messages;
  civet_messages = &messages;
  std::unique_ptr<prometheus::Exposer> exposer;
  try {
    // Two threads: Prometheus scrapes one at a time; the second answers a curl meanwhile.
    exposer = std::make_unique<prometheus::Exposer>(std::string(listen), 2, &callbacks);
  } catch (const std::exception& e) {
    civet_messages = nullptr;
    // The first message is the precise one ("cannot bind to 127.0.0.1:9464: 98 (Address already
    // in use)"); the exception only says that something went wrong.
    return absl::UnavailableError("cannot serve metrics on " + std::string(listen) + ": " +
                                  (messages.empty() ? std::string(e.what()) : messages.front()));
  }
  civet_messages = nullptr;
  exposer->RegisterCollectable(metrics.registry());
  const std::vector<int> ports = exposer->GetListeningPorts();
  if (ports.empty()) {
    return absl::InternalError("metrics server on " + std::string(listen) + " reports no port");
  }
  const std::string host(listen.substr(0, listen.rfind(':')));
  return std::unique_ptr<MetricsServer>(
      new MetricsServer(std::move(exposer), metrics.registry(),
                        host + ":" + std::to_string(ports.front()), ports.front()));
}

MetricsServer::MetricsServer(std::unique_ptr<prometheus::Exposer> exposer,
                             std::shared_ptr<prometheus::Registry> registry, std::string address,
                             int port)
    : registry_(std::move(registry)),
      exposer_(std::move(exposer)),
      address_(std::move(address)),
      port_(port) {}

MetricsServer::~MetricsServer() = default;

}  // namespace stswatch::metrics
