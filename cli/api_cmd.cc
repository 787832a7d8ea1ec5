#include "cli/api_cmd.h"

#include <csignal>
#include <cstring>
#include <memory>
#include <string>
#include <thread>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include "api/server.h"
#include "cli/api_options.h"
#include "cli/flags.h"
#include "cli/prober_setup.h"
#include "cli/redis_log.h"
#include "common/log.h"
#include "common/time_source.h"
#include "drift/snapshot.h"
#include "metrics/metrics.h"
#include "mtasts/verdict.h"
#include "store/command.h"
#include "store/keys.h"
#include "store/redis_client.h"
#include "store/redis_state_store.h"

namespace stswatch::cli {
namespace {

namespace asio = boost::asio;

constexpr int kExitOk = 0;
constexpr int kExitError = 3;

constexpr std::string_view kUsageHead =
    R"(usage: stswatch api --redis URL --listen HOST:PORT [OPTIONS]

The public gRPC API (stswatch.v1 TenantService and DomainService, health checking, reflection)
as a process of its own, beside 'stswatch serve' or the distributed scheduler that check the
domains. Domains tenants add go to Redis, where the schedulers pick them up. CheckNow runs a
check here, with the prober options below.

Options:
  --redis URL          Redis: redis://[:PASSWORD@]HOST[:PORT][/DB] or unix:///PATH (required)
  --listen HOST:PORT   where the API listens (required)
  --partitions N       logical partitions of the key space (default 64)
  --log-format FORMAT  text (default) or json
  --log-level LEVEL    debug, info (default), warning or error
  --metrics-listen HOST:PORT  serve Prometheus metrics (API calls by method and code) at
                       http://HOST:PORT/metrics (IPv4 HOST; off by default)
)";

constexpr std::string_view kUsageTail = R"(  -h, --help           show this help
)";

asio::awaitable<drift::Snapshot> ObserveSnapshot(prober::DomainChecker& checker,
                                                 const TimeSource& clock, std::string domain) {
  const mtasts::DomainObservation o = co_await checker.Observe(domain);
  const auto now = clock.Now();
  co_return drift::TakeSnapshot(o, mtasts::Judge(o, now), now);
}

}  // namespace

int RunApi(Args args, CommandIo& io) {
  std::string redis;
  int partitions = store::kDefaultPartitions;
  std::string log_format = "text";
  std::string log_level = "info";
  std::string metrics_listen;
  ApiFlags api_flags;
  ProberFlags prober_flags;
  Flags flags;
  flags.String("--redis", &redis);
  flags.Int("--partitions", 1, store::kMaxPartitions, &partitions);
  flags.String("--log-format", &log_format);
  flags.String("--log-level", &log_level);
  flags.String("--metrics-listen", &metrics_listen);
  AddApiFlags(flags, &api_flags, /*bare=*/true);
  AddProberFlags(flags, &prober_flags);
  bool help = false;
  const auto usage = [&](const std::string& message) {
    io.err << "stswatch api: " << message << "\nTry 'stswatch api --help'.\n";
    return kExitError;
  };
  if (const auto error = flags.Parse(args, &help)) {
    return usage(*error);
  }
  if (help) {
    io.out << kUsageHead << kApiFlagsHelp << kProberFlagsHelp << kUsageTail;
    return kExitOk;
  }
  if (redis.empty() || api_flags.listen.empty()) {
    return usage("--redis and --listen are required");
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
  auto options = MakeApiOptions(api_flags);
  if (!options.ok()) {
    return usage(std::string(options.status().message()));
  }
  options->keys = store::KeySchema(partitions);
  std::signal(SIGPIPE, SIG_IGN);
  const RealTimeSource clock;
  Logger log(io.err, *format, clock, *level);
  asio::io_context io_context;
  // Taken at once, so that a signal during start-up stops cleanly (once the loop runs).
  asio::signal_set stop(io_context, SIGTERM, SIGINT);
  auto prober = BuildProber(io_context, prober_flags);
  if (!prober.ok()) {
    return usage(std::string(prober.status().message()));
  }
  store::RedisClient client(io_context.get_executor(), *endpoint);
  LogRedisConnection(client, log);
  store::StateStoreOptions store_options;
  store_options.keys = options->keys;
  store::RedisStateStore state(io_context.get_executor(), client, store_options, clock);
  client.SetConnectedCallback([&state] { state.Flush(); });
  // Fencing tokens of on-demand checks: an epoch of their own, taken once Redis answers.
  std::uint32_t epoch = 0;
  std::uint64_t sequence = 0;

  api::ApiServer server(
      io_context, client, *endpoint, *options,
      [&](const std::string& domain,
          const std::function<void(absl::StatusOr<drift::Snapshot>)>& done) {
        asio::co_spawn(io_context, ObserveSnapshot(*(*prober)->checker, clock, domain),
                       [&, done](const std::exception_ptr& e, const drift::Snapshot& snapshot) {
                         if (e) {
                           done(absl::InternalError("the check failed unexpectedly"));
                           return;
                         }
                         store::CheckResult result{snapshot, store::FencingToken(epoch, ++sequence),
                                                   clock.Now()};
                         state.Write(
                             std::move(result),
                             [done, snapshot](const store::WriteResult&) { done(snapshot); });
                       });
      },
      nullptr, log);
  std::unique_ptr<metrics::Metrics> metrics;
  std::unique_ptr<metrics::MetricsServer> metrics_server;
  if (!metrics_listen.empty()) {
    metrics = std::make_unique<metrics::Metrics>();
    auto listening = metrics::MetricsServer::Start(metrics_listen, *metrics);
    if (!listening.ok()) {
      return usage("--metrics-listen: " + std::string(listening.status().message()));
    }
    metrics_server = std::move(*listening);
    server.SetMetrics(metrics.get());
  }
  const absl::Status started = server.Start();
  if (!started.ok()) {
    log.Error("api.listen_failed",
              {{"listen", api_flags.listen}, {"error", std::string(started.message())}});
    return kExitError;
  }
  log.Info("api.listening", {{"listen", api_flags.listen},
                             {"port", std::to_string(server.port())},
                             {"tls", api_flags.tls_cert.empty() ? "no" : "yes"}});
  client.SetConnectedCallback([&] {
    state.Flush();
    if (epoch == 0) {
      client.Command(store::Command("INCR", options->keys.Epoch("api")),
                     [&](const absl::StatusOr<store::RedisReply>& r) {
                       if (r.ok() && r->type == store::RedisReply::Type::kInteger) {
                         epoch = static_cast<std::uint32_t>(r->integer);
                       }
                     });
    }
  });
  client.Start();
  std::thread stopper;
  stop.async_wait([&](const boost::system::error_code& ec, int signal) {
    if (ec) {
      return;
    }
    log.Info("api.stopping", {{"signal", strsignal(signal)}});
    // The gRPC handlers wait on this io_context: shut the server down from another thread.
    stopper = std::thread([&] {
      server.Shutdown(std::chrono::seconds(5));
      asio::post(io_context, [&] {
        client.Stop();
        io_context.stop();
      });
    });
  });
  io_context.run();
  if (stopper.joinable()) {
    stopper.join();
    api::AwaitGrpcShutdown(std::chrono::seconds(10));
  }
  return kExitOk;
}

}  // namespace stswatch::cli
