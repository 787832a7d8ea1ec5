#include "cli/serve.h"

#include <unistd.h>

#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "alerting/alerter.h"
#include "api/server.h"
#include "cli/alerter_setup.h"
#include "cli/api_options.h"
#include "cli/flags.h"
#include "cli/prober_setup.h"
#include "cli/redis_log.h"
#include "common/duration.h"
#include "common/log.h"
#include "common/time_source.h"
#include "drift/snapshot.h"
#include "metrics/metrics.h"
#include "mtasts/verdict.h"
#include "scheduler/domain_source.h"
#include "scheduler/monitor.h"
#include "store/command.h"
#include "store/keys.h"
#include "store/redis_client.h"
#include "store/redis_process.h"
#include "store/redis_state_store.h"
#include "tlsrpt/ingest.h"
#include "tlsrpt/receiver.h"

namespace stswatch::cli {
namespace {

namespace asio = boost::asio;
using std::chrono::seconds;

constexpr int kExitOk = 0;
constexpr int kExitError = 3;
// How often the domains added in Redis are re-read (besides SIGHUP and the API's own changes).
constexpr std::chrono::seconds kReloadEvery{30};

// How often the queue gauges of --metrics-listen are refreshed.
constexpr std::chrono::seconds kMetricsGaugesEvery{5};

constexpr std::string_view kUsageHead =
    R"(usage: stswatch serve [OPTIONS]

Monitors domains continuously: checks each one every --interval as a sending mail server
would, keeps its last state in Redis, and records what drifted (policy, id, mode, MX set,
certificates, TLS, STARTTLS, records, status) as events in Redis streams and in the log.

Domains come from --domains FILE (re-read on SIGHUP) and from Redis (domains tenants added
through the API, re-read every 30 s). Without --redis, serve runs its own redis-server
(append-only file on) in --data-dir. With --api-listen it also serves the public gRPC API.
SIGTERM or SIGINT finishes the checks in flight, writes their results and exits.

Options:
  --domains FILE       domains to monitor: one per line, optionally followed by an interval
                       ("example.org 15m"); # starts a comment
  --interval DURATION  how often each domain is checked (default 1h; 30s, 15m, 1h, 1d)
  --redis URL          use this Redis: redis://[:PASSWORD@]HOST[:PORT][/DB] or unix:///PATH
  --data-dir DIR       where the own redis-server keeps its data (default ./stswatch-data)
  --redis-server PATH  the redis-server binary to run (default: redis-server on the PATH)
  --concurrency N      domains checked at the same time (default 64)
  --partitions N       logical partitions of the key space (default 64; fixed once data exists)
  --history-retention DURATION  per-domain history kept (default 90d)
  --history-max N      at most this many history entries per domain (default 1000)
  --events-max N       about this many events kept per partition stream (default 100000)
  --drain-timeout DURATION  on SIGTERM, wait this long for checks and writes (default 60s)
  --log-format FORMAT  text (logfmt, default) or json
  --log-level LEVEL    debug (every check), info (default), warning or error
  --metrics-listen HOST:PORT  serve Prometheus metrics at http://HOST:PORT/metrics (off by
                       default; HOST an IPv4 address, port 0 picks a free port)
  --clock-offset-file FILE  for tests: add the seconds written in FILE to the clock
  --api-listen HOST:PORT  serve the public gRPC API here (off by default)
  --no-alerter         do not run the alerter (alerts then wait in Redis for 'stswatch alerter')
  --report-listen HOST:PORT  receive TLS reports here (RFC 8460 section 5.4): POST of
                       application/tlsrpt+gzip or +json, answered 201 stored, 200 duplicate,
                       4xx with the reason (off by default; the rua=https://... of _smtp._tls)
  --report-tls-cert PEM, --report-tls-key PEM  the receiver's certificate chain and key (HTTPS;
                       without them plain HTTP, for behind a TLS-terminating proxy)
  --report-path PATH   accept reports only at this path (default: any)
  --report-unwatched MODE  keep (default) or refuse (HTTP 403) reports none of whose domains
                       anybody watches (as 'stswatch ingest-report --unwatched' for e-mail)
)";

constexpr std::string_view kUsageProber =
    R"(The --share-window of serve defaults to half the interval, at most 300 seconds.
)";

constexpr std::string_view kUsageTail = R"(  -h, --help           show this help

Logs go to standard error, one event per line (event names: cli/README.md).
Inspect the state with 'stswatch status'.
)";

struct ServeArgs {
  std::string domains_file;
  seconds interval{3600};
  std::string redis;
  std::string data_dir = "stswatch-data";
  std::string redis_server = "redis-server";
  int concurrency = 64;
  int partitions = store::kDefaultPartitions;
  seconds history_retention{90 * 86400};
  int history_max = 1000;
  int events_max = 100000;
  seconds drain_timeout{60};
  std::string log_format = "text";
  std::string log_level = "info";
  std::string metrics_listen;
  std::string clock_offset_file;
  ProberFlags prober;
  ApiFlags api;
  AlerterFlags alerter;
  bool no_alerter = false;
  std::string report_listen;
  std::string report_tls_cert;
  std::string report_tls_key;
  std::string report_path;
  std::string report_unwatched = "keep";
};

int Usage(CommandIo& io, const std::string& message) {
  io.err << "stswatch serve: " << message << "\nTry 'stswatch serve --help'.\n";
  return kExitError;
}

// Everything serve runs, on one io_context.
class Service {
 public:
  Service(asio::io_context& io, ServeArgs args, const TimeSource& clock, Logger& log)
      : io_(io),
        args_(std::move(args)),
        clock_(clock),
        log_(log),
        keys_(args_.partitions),
        signals_(io, SIGTERM, SIGINT),
        hup_(io, SIGHUP),
        drain_timer_(io),
        reload_timer_(io),
        gauges_timer_(io) {}

  bool Init(ProberStack& prober, const store::RedisEndpoint& endpoint) {
    prober_ = &prober;
    client_ = std::make_unique<store::RedisClient>(io_.get_executor(), endpoint);
    LogRedisConnection(*client_, log_);
    store::StateStoreOptions options;
    options.keys = keys_;
    options.history_max = args_.history_max;
    options.history_retention =
        std::chrono::duration_cast<std::chrono::hours>(args_.history_retention);
    options.events_max = args_.events_max;
    store_ =
        std::make_unique<store::RedisStateStore>(io_.get_executor(), *client_, options, clock_);
    store_->SetLogger([this](std::string_view message) {
      log_.Error("store.error", {{"message", std::string(message)}});
    });
    client_->SetConnectedCallback([this] {
      log_.Info("redis.connected", {{"redis", client_->endpoint().ToString()}});
      store_->Flush();
    });
    scheduler::MonitorOptions monitor;
    monitor.concurrency = args_.concurrency;
    monitor.queue.default_interval = args_.interval;
    monitor.queue.startup_spread = std::min(args_.interval, seconds(600));
    monitor.queue.seed = std::random_device{}();
    monitor_ = std::make_unique<scheduler::Monitor>(
        io_.get_executor(), monitor,
        [this](std::string domain) { return CheckDomain(std::move(domain)); }, *store_,
        [this] { return store::FencingToken(epoch_, ++sequence_); }, clock_, log_);
    return true;
  }

  // The public API inside serve (--api-listen); its CheckNow runs this process's prober.
  absl::Status StartApi(api::ApiOptions options, const store::RedisEndpoint& endpoint) {
    options.clock = &clock_;  // Readiness judges "today" on serve's clock.
    api_ = std::make_unique<api::ApiServer>(
        io_, *client_, endpoint, std::move(options),
        [this](const std::string& domain,
               const std::function<void(absl::StatusOr<drift::Snapshot>)>& done) {
          asio::co_spawn(
              io_, CheckDomain(domain),
              [this, done](const std::exception_ptr& e, const drift::Snapshot& snapshot) {
                if (e) {
                  done(absl::InternalError("the check failed unexpectedly"));
                  return;
                }
                store::CheckResult result{snapshot, store::FencingToken(epoch_, ++sequence_),
                                          clock_.Now()};
                store_->Write(std::move(result),
                              [done, snapshot](const store::WriteResult&) { done(snapshot); });
              });
        },
        [this] { asio::co_spawn(io_, Reload(), asio::detached); }, log_);
    api_->SetMetrics(metrics_);
    return api_->Start();
  }
  int ApiPort() const { return api_ ? api_->port() : 0; }

  // The TLS report receiver (--report-listen): reports stored in this Redis, cross-checked
  // against the checks.
  absl::Status StartReceiver(tlsrpt::ReceiverOptions options, bool refuse_unwatched) {
    tlsrpt::IngestOptions ingest;
    ingest.refuse_unwatched = refuse_unwatched;
    report_sink_ = std::make_unique<tlsrpt::RedisReportSink>(*client_, keys_, ingest, clock_);
    receiver_ = std::make_unique<tlsrpt::ReportReceiver>(io_, *report_sink_, clock_, log_,
                                                         std::move(options));
    return receiver_->Start();
  }
  const std::string& ReceiverAddress() const { return receiver_->address(); }

  // The alerter inside serve (unless --no-alerter): tenants' channels and the operator's.
  void StartAlerter(AlerterSetup setup, const store::RedisEndpoint& endpoint) {
    alerter_setup_ = std::move(setup);
    alerter_setup_.options.keys = keys_;
    alerter_ = std::make_unique<alerting::Alerter>(
        io_, *client_, endpoint, *prober_->resolver, *alerter_setup_.tls,
        *alerter_setup_.webhook_filter, clock_, log_, alerter_setup_.options);
    alerter_->SetMetrics(metrics_);
  }
  void JoinApi() {
    if (api_stopper_.joinable()) {
      api_stopper_.join();
    }
  }

  // What a sending MTA sees of `domain`, reduced to its snapshot.
  asio::awaitable<drift::Snapshot> CheckDomain(std::string domain) {
    const mtasts::DomainObservation o = co_await prober_->checker->Observe(domain);
    const auto now = clock_.Now();
    const mtasts::Verdict v = mtasts::Judge(o, now);
    co_return drift::TakeSnapshot(o, v, now);
  }

  void Start() {
    client_->Start();
    if (alerter_) {
      alerter_->Start();
    }
    ReloadPeriodically();
    if (metrics_ != nullptr) {
      UpdateGauges();
    }
    signals_.async_wait([this](const boost::system::error_code& ec, int signal) {
      if (!ec) {
        Shutdown(signal);
      }
    });
    WaitHup();
    asio::co_spawn(io_, Startup(), [this](const std::exception_ptr& e) {
      if (e) {
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& ex) {
          log_.Error("serve.internal_error", {{"error", ex.what()}});
        }
        exit_status_ = kExitError;
        Stop();
      }
    });
  }

  void SetSupervisor(store::RedisSupervisor* supervisor) { supervisor_ = supervisor; }
  // After Init; nullptr: no metrics. Not owned.
  void SetMetrics(metrics::Metrics* metrics) {
    metrics_ = metrics;
    monitor_->SetMetrics(metrics);
  }
  int ExitStatus() const { return exit_status_; }

 private:
  // Waits for Redis, checks the partition count, takes an epoch, loads the domains and starts.
  asio::awaitable<void> Startup() {
    asio::steady_timer timer(io_);
    auto waited = std::chrono::steady_clock::now();
    while (!client_->connected()) {
      if (stopping_) {
        co_return;
      }
      if (std::chrono::steady_clock::now() - waited > std::chrono::seconds(10)) {
        LogWaiting();
        waited = std::chrono::steady_clock::now();
      }
      timer.expires_after(std::chrono::milliseconds(50));
      co_await timer.async_wait(asio::use_awaitable);
    }
    const std::string partitions = std::to_string(keys_.partitions());
    co_await Call(store::Command("HSETNX", keys_.Meta(), "partitions", partitions));
    const store::RedisReply stored =
        co_await Call(store::Command("HGET", keys_.Meta(), "partitions"));
    if (stored.str != partitions) {
      LogPartitionsMismatch(stored.str);
      exit_status_ = kExitError;
      Stop();
      co_return;
    }
    const store::RedisReply epoch = co_await Call(store::Command("INCR", keys_.Epoch("serve")));
    epoch_ = static_cast<std::uint32_t>(epoch.integer);
    co_await Reload();
    monitor_->Start();
    started_ = true;
    LogStarted();
  }

  // Logging lives outside the coroutines: GCC 12 cannot build the log fields' initializer lists
  // inside a coroutine body.
  void LogWaiting() {
    log_.Warn("serve.waiting_for_redis", {{"redis", client_->endpoint().ToString()}});
  }
  void LogPartitionsMismatch(const std::string& stored) {
    log_.Error("serve.partitions_mismatch",
               {{"stored", stored},
                {"configured", std::to_string(keys_.partitions())},
                {"message", "this Redis holds data for " + stored +
                                " partitions: start with --partitions " + stored}});
  }
  void LogStarted() {
    log_.Info("serve.started", {{"domains", std::to_string(monitor_->domains())},
                                {"interval", FormatDuration(args_.interval)},
                                {"epoch", std::to_string(epoch_)},
                                {"redis", client_->endpoint().ToString()}});
  }
  void LogRetry(const std::string& command, const absl::StatusOr<store::RedisReply>& reply) {
    LogRetry(command, reply.ok() ? absl::UnavailableError(reply->str) : reply.status());
  }
  void LogRetry(const std::string& what, const absl::Status& status) {
    log_.Warn("redis.retry", {{"command", what}, {"error", std::string(status.message())}});
  }

  // A command that must succeed: retried until Redis answers (serve cannot start without it).
  asio::awaitable<store::RedisReply> Call(std::vector<std::string> args) {
    asio::steady_timer timer(io_);
    for (;;) {
      absl::StatusOr<store::RedisReply> reply = co_await client_->Await(args);
      if (reply.ok() && reply->type != store::RedisReply::Type::kError) {
        co_return *reply;
      }
      LogRetry(args[0], reply);
      timer.expires_after(std::chrono::seconds(1));
      co_await timer.async_wait(asio::use_awaitable);
    }
  }

  // Reads the domains file and the domains added in Redis, and the last check times of new ones;
  // retried until Redis answers.
  asio::awaitable<void> Reload() {
    asio::steady_timer timer(io_);
    for (;;) {
      absl::StatusOr<scheduler::LoadedDomains> loaded = co_await scheduler::LoadDomains(
          *client_, keys_, args_.domains_file,
          [this](std::string_view d) { return monitor_->queue().Contains(d); });
      if (loaded.ok()) {
        Apply(*loaded);
        co_return;
      }
      LogRetry("domains", loaded.status());
      timer.expires_after(std::chrono::seconds(1));
      co_await timer.async_wait(asio::use_awaitable);
    }
  }

  void Apply(const scheduler::LoadedDomains& loaded) {
    if (!loaded.file_unreadable.empty()) {
      log_.Error("serve.domains_unreadable",
                 {{"file", args_.domains_file}, {"error", loaded.file_unreadable}});
    }
    for (const std::string& error : loaded.file_errors) {
      log_.Warn("serve.domains_line_skipped", {{"file", args_.domains_file}, {"error", error}});
    }
    monitor_->SetDomains(loaded.domains, loaded.last_checks);
    log_.Info("serve.reloaded",
              {{"from_file", std::to_string(loaded.from_file)},
               {"from_redis", std::to_string(loaded.domains.size() - loaded.from_file)},
               {"known_last_check", std::to_string(loaded.last_checks.size())}});
  }

  void UpdateGauges() {
    metrics_->SetQueue(monitor_->domains(), monitor_->in_flight(), store_->pending());
    gauges_timer_.expires_after(kMetricsGaugesEvery);
    gauges_timer_.async_wait([this](const boost::system::error_code& ec) {
      if (!ec) {
        UpdateGauges();
      }
    });
  }

  void WaitHup() {
    hup_.async_wait([this](const boost::system::error_code& ec, int) {
      if (ec || stopping_) {
        return;
      }
      log_.Info("serve.sighup", {});
      asio::co_spawn(io_, Reload(), asio::detached);
      WaitHup();
    });
  }

  void Shutdown(int signal) {
    if (stopping_) {
      return;
    }
    stopping_ = true;
    log_.Info("serve.stopping", {{"signal", strsignal(signal)},
                                 {"in_flight", std::to_string(monitor_->in_flight())},
                                 {"pending_writes", std::to_string(store_->pending())}});
    // A second signal stops at once.
    signals_.async_wait([this](const boost::system::error_code& ec, int) {
      if (!ec) {
        log_.Warn("serve.forced_stop", {{"pending_writes", std::to_string(store_->pending())}});
        Stop();
      }
    });
    if (api_) {
      // The API's handlers wait on this io_context: stop it from another thread.
      api_stopper_ = std::thread([api = api_.get()] { api->Shutdown(std::chrono::seconds(2)); });
    }
    if (alerter_) {
      // Deliveries in flight stay stored and are attempted again by the next alerter.
      alerter_->Stop();
    }
    if (receiver_) {
      // Reports being received are not acknowledged: their senders try again.
      receiver_->Stop();
    }
    drain_deadline_ = std::chrono::steady_clock::now() + args_.drain_timeout;
    monitor_->Drain([this] { WaitForWrites(); });
  }

  void WaitForWrites() {
    if (store_->pending() == 0 || std::chrono::steady_clock::now() >= drain_deadline_) {
      if (store_->pending() != 0) {
        log_.Error("serve.unwritten_results",
                   {{"pending_writes", std::to_string(store_->pending())},
                    {"message",
                     "Redis did not take them in time; "
                     "the next run checks these domains "
                     "again"}});
      }
      const store::StateStoreCounters& c = store_->counters();
      log_.Info("serve.stopped", {{"checks", std::to_string(monitor_->counters().checks)},
                                  {"changed", std::to_string(c.applied)},
                                  {"unchanged", std::to_string(c.unchanged)},
                                  {"events", std::to_string(c.events)},
                                  {"refused", std::to_string(c.refused)}});
      Stop();
      return;
    }
    drain_timer_.expires_after(std::chrono::milliseconds(50));
    drain_timer_.async_wait([this](const boost::system::error_code& ec) {
      if (!ec) {
        WaitForWrites();
      }
    });
  }

  // Domains added in Redis by another process (`stswatch api`) are picked up within this.
  void ReloadPeriodically() {
    reload_timer_.expires_after(kReloadEvery);
    reload_timer_.async_wait([this](const boost::system::error_code& ec) {
      if (ec || stopping_) {
        return;
      }
      if (started_) {
        asio::co_spawn(io_, Reload(), asio::detached);
      }
      ReloadPeriodically();
    });
  }

  void Stop() {
    stopping_ = true;
    reload_timer_.cancel();
    client_->Stop();
    if (supervisor_ != nullptr) {
      const absl::Status status = supervisor_->Stop();
      if (!status.ok()) {
        log_.Warn("redis.stop_failed", {{"error", std::string(status.message())}});
      }
    }
    io_.stop();
  }

  asio::io_context& io_;
  ServeArgs args_;
  const TimeSource& clock_;
  Logger& log_;
  store::KeySchema keys_;
  ProberStack* prober_ = nullptr;
  store::RedisSupervisor* supervisor_ = nullptr;
  metrics::Metrics* metrics_ = nullptr;
  std::unique_ptr<store::RedisClient> client_;
  std::unique_ptr<api::ApiServer> api_;
  AlerterSetup alerter_setup_;
  std::unique_ptr<alerting::Alerter> alerter_;
  std::unique_ptr<tlsrpt::RedisReportSink> report_sink_;
  std::unique_ptr<tlsrpt::ReportReceiver> receiver_;
  std::thread api_stopper_;
  asio::steady_timer reload_timer_;
  bool started_ = false;
  std::unique_ptr<store::RedisStateStore> store_;
  std::unique_ptr<scheduler::Monitor> monitor_;
  asio::signal_set signals_;
  asio::signal_set hup_;
  asio::steady_timer drain_timer_;
  asio::steady_timer gauges_timer_;
  std::chrono::steady_clock::time_point drain_deadline_;
  std::uint32_t epoch_ = 0;
  std::uint64_t sequence_ = 0;
  bool stopping_ = false;
  int exit_status_ = kExitOk;
};

}  // namespace

int RunServe(Args args, CommandIo& io) {
  ServeArgs a;
  Flags flags;
  flags.String("--domains", &a.domains_file);
  flags.Duration("--interval", seconds(1), seconds(30 * 86400), &a.interval);
  flags.String("--redis", &a.redis);
  flags.String("--data-dir", &a.data_dir);
  flags.String("--redis-server", &a.redis_server);
  flags.Int("--concurrency", 1, 10000, &a.concurrency);
  flags.Int("--partitions", 1, store::kMaxPartitions, &a.partitions);
  flags.Duration("--history-retention", seconds(3600), seconds(3650 * 86400), &a.history_retention);
  flags.Int("--history-max", 10, 1000000, &a.history_max);
  flags.Int("--events-max", 100, 100000000, &a.events_max);
  flags.Duration("--drain-timeout", seconds(1), seconds(3600), &a.drain_timeout);
  flags.String("--log-format", &a.log_format);
  flags.String("--log-level", &a.log_level);
  flags.String("--metrics-listen", &a.metrics_listen);
  AddApiFlags(flags, &a.api, /*bare=*/false);
  AddAlerterFlags(flags, &a.alerter);
  flags.Switch("--no-alerter", &a.no_alerter);
  flags.String("--clock-offset-file", &a.clock_offset_file);
  flags.String("--report-listen", &a.report_listen);
  flags.String("--report-tls-cert", &a.report_tls_cert);
  flags.String("--report-tls-key", &a.report_tls_key);
  flags.String("--report-path", &a.report_path);
  flags.String("--report-unwatched", &a.report_unwatched);
  AddProberFlags(flags, &a.prober);
  a.prober.share_window_seconds = -1;  // Unset: derived from the interval below.
  bool help = false;
  if (const auto error = flags.Parse(args, &help)) {
    return Usage(io, *error);
  }
  if (a.prober.share_window_seconds < 0) {
    // A probe shared for longer than half an interval would hide changes from the next check.
    a.prober.share_window_seconds =
        static_cast<int>(std::min<std::int64_t>(300, a.interval.count() / 2));
  }
  if (help) {
    io.out << kUsageHead << kApiFlagsHelp << kProberFlagsHelp << kUsageProber << kAlerterFlagsHelp
           << kUsageTail;
    return kExitOk;
  }
  const auto format = ParseLogFormat(a.log_format);
  if (!format) {
    return Usage(io, "--log-format takes text or json");
  }
  const auto level = ParseLogLevel(a.log_level);
  if (!level) {
    return Usage(io, "--log-level takes debug, info, warning or error");
  }
  if (a.report_unwatched != "keep" && a.report_unwatched != "refuse") {
    return Usage(io, "--report-unwatched takes keep or refuse");
  }
  if (a.report_listen.empty() &&
      !(a.report_tls_cert.empty() && a.report_tls_key.empty() && a.report_path.empty())) {
    return Usage(io, "--report-tls-cert, --report-tls-key and --report-path need --report-listen");
  }
  if (!a.domains_file.empty() && access(a.domains_file.c_str(), R_OK) != 0) {
    return Usage(io, "cannot read --domains " + a.domains_file + ": " + std::strerror(errno));
  }
  std::unique_ptr<TimeSource> clock;
  if (a.clock_offset_file.empty()) {
    clock = std::make_unique<RealTimeSource>();
  } else {
    clock = std::make_unique<OffsetFileTimeSource>(a.clock_offset_file);
  }
  Logger log(io.err, *format, *clock, *level);

  // Block the signals serve handles before any thread (redis-server child, c-ares) starts.
  std::signal(SIGPIPE, SIG_IGN);
  asio::io_context io_context;
  auto prober = BuildProber(io_context, a.prober);
  if (!prober.ok()) {
    return Usage(io, std::string(prober.status().message()));
  }
  absl::StatusOr<AlerterSetup> alerter = BuildAlerter(a.alerter);
  if (!alerter.ok()) {
    return Usage(io, std::string(alerter.status().message()));
  }

  std::unique_ptr<metrics::Metrics> metrics;
  std::unique_ptr<metrics::MetricsServer> metrics_server;
  if (!a.metrics_listen.empty()) {
    metrics = std::make_unique<metrics::Metrics>();
    auto server = metrics::MetricsServer::Start(a.metrics_listen, *metrics);
    if (absl::IsInvalidArgument(server.status())) {
      return Usage(io, "--metrics-listen: " + std::string(server.status().message()));
    }
    if (!server.ok()) {
      log.Error("metrics.listen_failed",
                {{"listen", a.metrics_listen}, {"error", std::string(server.status().message())}});
      return kExitError;
    }
    metrics_server = std::move(*server);
    log.Info("metrics.listening", {{"address", metrics_server->address()}});
  }

  std::unique_ptr<store::RedisSupervisor> supervisor;
  store::RedisEndpoint endpoint;
  if (a.redis.empty()) {
    store::RedisProcessOptions process;
    process.binary = a.redis_server;
    process.data_dir = std::filesystem::absolute(a.data_dir).lexically_normal().string();
    supervisor = std::make_unique<store::RedisSupervisor>(io_context.get_executor(), process);
    supervisor->SetLogger([&log](std::string_view message) {
      log.Log(
          message.find("ready") != std::string_view::npos ? LogLevel::kInfo : LogLevel::kWarning,
          "redis.supervisor", {{"message", std::string(message)}});
    });
    const absl::Status started = supervisor->Start();
    if (!started.ok()) {
      log.Error("redis.start_failed", {{"error", std::string(started.message())}});
      return kExitError;
    }
    endpoint = supervisor->endpoint();
    log.Info("redis.started", {{"redis", endpoint.ToString()},
                               {"pid", std::to_string(supervisor->process().pid())},
                               {"data_dir", a.data_dir}});
  } else {
    auto parsed = store::RedisEndpoint::Parse(a.redis);
    if (!parsed.ok()) {
      return Usage(io, "--redis: " + std::string(parsed.status().message()));
    }
    endpoint = *parsed;
  }

  Service service(io_context, a, *clock, log);
  service.Init(**prober, endpoint);
  service.SetSupervisor(supervisor.get());
  service.SetMetrics(metrics.get());
  if (!a.api.listen.empty()) {
    auto api_options = MakeApiOptions(a.api);
    if (!api_options.ok()) {
      return Usage(io, std::string(api_options.status().message()));
    }
    api_options->keys = store::KeySchema(a.partitions);
    api_options->webhook_filter = *alerter->webhook_filter;
    const absl::Status started = service.StartApi(*api_options, endpoint);
    if (!started.ok()) {
      log.Error("api.listen_failed",
                {{"listen", a.api.listen}, {"error", std::string(started.message())}});
      return kExitError;
    }
    log.Info("api.listening", {{"listen", a.api.listen},
                               {"port", std::to_string(service.ApiPort())},
                               {"tls", a.api.tls_cert.empty() ? "no" : "yes"}});
  }
  if (!a.report_listen.empty()) {
    tlsrpt::ReceiverOptions receiver;
    receiver.listen = a.report_listen;
    receiver.tls_cert_file = a.report_tls_cert;
    receiver.tls_key_file = a.report_tls_key;
    receiver.path = a.report_path;
    if (metrics) {
      receiver.on_reply = [m = metrics.get()](int, std::string_view result) {
        m->TlsReport("https", result);
      };
    }
    const absl::Status started =
        service.StartReceiver(std::move(receiver), a.report_unwatched == "refuse");
    if (absl::IsInvalidArgument(started)) {
      return Usage(io, "--report-listen: " + std::string(started.message()));
    }
    if (!started.ok()) {
      log.Error("receiver.listen_failed",
                {{"listen", a.report_listen}, {"error", std::string(started.message())}});
      return kExitError;
    }
    log.Info("receiver.listening", {{"address", service.ReceiverAddress()},
                                    {"tls", a.report_tls_cert.empty() ? "no" : "yes"}});
  }
  if (!a.no_alerter) {
    log.Info("alerter.configured",
             {{"smtp_relay", a.alerter.smtp_relay.empty() ? "none" : a.alerter.smtp_relay},
              {"operator_channels",
               alerter->options.operator_settings
                   ? std::to_string(alerter->options.operator_settings->channels.size())
                   : "0"}});
    service.StartAlerter(std::move(*alerter), endpoint);
  }
  service.Start();
  io_context.run();
  service.JoinApi();
  if (!a.api.listen.empty()) {
    api::AwaitGrpcShutdown(std::chrono::seconds(10));
  }
  return service.ExitStatus();
}

}  // namespace stswatch::cli
