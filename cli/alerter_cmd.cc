#include "cli/alerter_cmd.h"

#include <csignal>
#include <cstring>
#include <memory>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include "alerting/alerter.h"
#include "cli/alerter_setup.h"
#include "cli/flags.h"
#include "cli/redis_log.h"
#include "common/log.h"
#include "common/time_source.h"
#include "metrics/metrics.h"
#include "prober/cares_resolver.h"
#include "store/keys.h"
#include "store/redis_client.h"

namespace stswatch::cli {
namespace {

namespace asio = boost::asio;

constexpr int kExitOk = 0;
constexpr int kExitError = 3;

constexpr std::string_view kUsageHead =
    R"(usage: stswatch alerter --redis URL [OPTIONS]

The alerter as a process of its own, beside 'stswatch serve --no-alerter' or the distributed
scheduler: reads the drift events of every partition through the Redis consumer group
"alerter", keeps each tenant's alerts (opened, reminded, escalated, resolved) and delivers
them to the tenant's channels (set through the API: 'stswatch ctl alerts') and to the
operator's (--alert-email-to, --alert-webhook-url). Several may run: one holds the lease in
Redis and works, the others stand by. SIGTERM releases the lease; deliveries in flight stay
stored and are attempted again.

Options:
  --redis URL          Redis: redis://[:PASSWORD@]HOST[:PORT][/DB] or unix:///PATH (required)
  --partitions N       logical partitions of the key space (default 64)
  --resolver IP[:PORT] DNS server for webhook host names (default: the system's)
  --log-format FORMAT  text (default) or json
  --log-level LEVEL    debug, info (default), warning or error
  --metrics-listen HOST:PORT  serve Prometheus metrics (notifications, delivery outcomes,
                       deliveries pending) at http://HOST:PORT/metrics (IPv4 HOST; off by default)
)";

constexpr std::string_view kUsageTail = R"(  -h, --help           show this help

Logs go to standard error, one event per line: alerter.active, alert.notification,
delivery.sent, delivery.retry, delivery.dead_letter (cli/README.md).
)";

}  // namespace

int RunAlerter(Args args, CommandIo& io) {
  std::string redis;
  int partitions = store::kDefaultPartitions;
  std::string log_format = "text";
  std::string log_level = "info";
  std::string resolvers;
  std::string metrics_listen;
  AlerterFlags alerter_flags;
  Flags flags;
  flags.String("--redis", &redis);
  flags.Int("--partitions", 1, store::kMaxPartitions, &partitions);
  flags.String("--resolver", &resolvers);
  flags.String("--log-format", &log_format);
  flags.String("--log-level", &log_level);
  flags.String("--metrics-listen", &metrics_listen);
  AddAlerterFlags(flags, &alerter_flags);
  bool help = false;
  const auto usage = [&](const std::string& message) {
    io.err << "stswatch alerter: " << message << "\nTry 'stswatch alerter --help'.\n";
    return kExitError;
  };
  if (const auto error = flags.Parse(args, &help)) {
    return usage(*error);
  }
  if (help) {
    io.out << kUsageHead << kAlerterFlagsHelp << kUsageTail;
    return kExitOk;
  }
  if (redis.empty()) {
    return usage("--redis is required: the events, the settings and the alerts live there");
  }
  const auto format = ParseLogFormat(log_format);
  const auto level = ParseLogLevel(log_level);
  if (!format || !level) {
    return usage("--log-format takes text or json; --log-level debug, info, warning or error");
  }
  auto endpoint = store::RedisEndpoint::Parse(redis);
  if (!endpoint.ok()) {
    return usage("--redis: " + std::string(endpoint.status().message()));
  }
  absl::StatusOr<AlerterSetup> setup = BuildAlerter(alerter_flags);
  if (!setup.ok()) {
    return usage(std::string(setup.status().message()));
  }
  setup->options.keys = store::KeySchema(partitions);
  std::signal(SIGPIPE, SIG_IGN);
  const RealTimeSource clock;
  Logger log(io.err, *format, clock, *level);
  asio::io_context io_context;
  prober::CaresOptions cares;
  cares.servers = resolvers;
  auto resolver = prober::CaresResolver::Create(io_context, cares);
  if (!resolver.ok()) {
    return usage("--resolver: " + std::string(resolver.status().message()));
  }
  store::RedisClient client(io_context.get_executor(), *endpoint);
  LogRedisConnection(client, log);
  alerting::Alerter alerter(io_context, client, *endpoint, **resolver, *setup->tls,
                            *setup->webhook_filter, clock, log, setup->options);
  std::unique_ptr<metrics::Metrics> metrics;
  std::unique_ptr<metrics::MetricsServer> metrics_server;
  if (!metrics_listen.empty()) {
    metrics = std::make_unique<metrics::Metrics>();
    auto listening = metrics::MetricsServer::Start(metrics_listen, *metrics);
    if (!listening.ok()) {
      return usage("--metrics-listen: " + std::string(listening.status().message()));
    }
    metrics_server = std::move(*listening);
    alerter.SetMetrics(metrics.get());
    log.Info("metrics.listening", {{"address", metrics_server->address()}});
  }
  client.Start();
  alerter.Start();
  log.Info("alerter.started",
           {{"redis", endpoint->ToString()},
            {"smtp_relay", alerter_flags.smtp_relay.empty() ? "none" : alerter_flags.smtp_relay}});
  asio::signal_set stop(io_context, SIGTERM, SIGINT);
  stop.async_wait([&](const boost::system::error_code& ec, int signal) {
    if (ec) {
      return;
    }
    log.Info("alerter.stopping", {{"signal", strsignal(signal)}});
    alerter.Stop([&] {
      client.Stop();
      io_context.stop();
    });
  });
  io_context.run();
  return kExitOk;
}

}  // namespace stswatch::cli
