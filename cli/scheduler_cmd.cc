#include "cli/scheduler_cmd.h"

#include <unistd.h>

#include <csignal>
#include <cstring>
#include <memory>
#include <random>
#include <string>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <grpcpp/grpcpp.h>

#include "cli/flags.h"
#include "cli/redis_log.h"
#include "common/duration.h"
#include "common/log.h"
#include "common/time_source.h"
#include "metrics/metrics.h"
#include "scheduler/dispatcher.h"
#include "scheduler/domain_source.h"
#include "scheduler/lease.h"
#include "scheduler/work_service.h"
#include "store/command.h"
#include "store/keys.h"
#include "store/redis_client.h"

namespace stswatch::cli {
namespace {

namespace asio = boost::asio;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr int kExitOk = 0;
constexpr int kExitError = 3;

constexpr std::string_view kUsage = R"(usage: stswatch scheduler --redis URL [OPTIONS]

The distributed scheduler: hands due checks to prober workers ('stswatch prober') over a gRPC
Work stream. Several schedulers may run; the one holding the Redis lease is active, the others
stand by and take over when the lease lapses. Workers write results to Redis themselves, fenced
by the token of each assignment.

Options:
  --redis URL           Redis: redis://[:PASSWORD@]HOST[:PORT][/DB] or unix:///PATH (required)
  --listen HOST:PORT    where workers attach (default 127.0.0.1:7411)
  --domains FILE        domains to monitor (as for serve), re-read on SIGHUP, plus those in Redis
  --interval DURATION   how often each domain is checked (default 1h)
  --startup-spread DURATION  domains never checked are spread over this (default the interval,
                        at most 10m)
  --lease DURATION      the scheduler lease's time to live (default 10s)
  --worker-timeout DURATION  a worker silent this long loses its assignments (default 5s)
  --heartbeat DURATION  heartbeat period on the Work stream (default 1s)
  --check-deadline DURATION  the deadline sent with each assignment (default 2m)
  --partitions N        logical partitions of the key space (default 64)
  --id ID               this scheduler's id (default host:pid:random)
  --log-format FORMAT   text (default) or json
  --log-level LEVEL     debug, info (default), warning or error
  --metrics-listen HOST:PORT  Prometheus metrics (queue, workers, outstanding, backlog) at
                        http://HOST:PORT/metrics (IPv4 HOST; off by default)
  -h, --help            show this help

SIGTERM releases the lease (a standby takes over at once) and exits.
)";

std::string DefaultId() {
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  std::random_device random;
  return std::string(host) + ":" + std::to_string(getpid()) + ":" +
         std::to_string(random() % 100000);
}

class SchedulerProcess {
 public:
  SchedulerProcess(asio::io_context& io, Logger& log, const TimeSource& clock, std::string id,
                   std::string domains_file, store::KeySchema keys)
      : io_(io),
        log_(log),
        clock_(clock),
        id_(std::move(id)),
        domains_file_(std::move(domains_file)),
        keys_(std::move(keys)) {}

  void Wire(store::RedisClient& client, scheduler::SchedulerLease& lease,
            scheduler::Dispatcher& dispatcher) {
    client_ = &client;
    lease_ = &lease;
    dispatcher_ = &dispatcher;
    lease.SetOnAcquired([this](std::uint32_t epoch) {
      log_.Info("scheduler.lease_acquired", {{"id", id_}, {"epoch", std::to_string(epoch)}});
      asio::co_spawn(io_, Activate(epoch), asio::detached);
    });
    lease.SetOnLost([this](const std::string& reason) {
      log_.Warn("scheduler.lease_lost", {{"id", id_}, {"reason", reason}});
      dispatcher_->Deactivate("lease lost: " + reason);
    });
    lease.SetLogger([this](std::string_view message) {
      log_.Log(LogLevel::kDebug, "scheduler.lease", {{"message", std::string(message)}});
    });
  }

  // The workers write the check history (stswatch:checks); the scheduler logs what it heard.
  void Record(const scheduler::CheckRecord& r) {
    log_.Log(
        LogLevel::kDebug, "scheduler.check_done",
        {{"domain", r.domain}, {"worker", r.worker}, {"token", r.token}, {"outcome", r.outcome}});
  }

  asio::awaitable<void> Reload() {
    absl::StatusOr<scheduler::LoadedDomains> loaded =
        co_await scheduler::LoadDomains(*client_, keys_, domains_file_, [this](std::string_view d) {
          return dispatcher_->queue() != nullptr && dispatcher_->queue()->Contains(d);
        });
    if (!loaded.ok()) {
      LogLoadFailed(loaded.status());
      co_return;
    }
    if (dispatcher_->active()) {
      dispatcher_->SetDomains(loaded->domains, loaded->last_checks);
    }
  }

 private:
  asio::awaitable<void> Activate(std::uint32_t epoch) {
    absl::StatusOr<scheduler::LoadedDomains> loaded = co_await scheduler::LoadDomains(
        *client_, keys_, domains_file_, [](std::string_view) { return false; });
    if (!loaded.ok()) {
      // Without domains there is nothing to schedule: give the lease up and contend again.
      LogLoadFailed(loaded.status());
      co_return;
    }
    if (!lease_->holding() || lease_->epoch() != epoch) {
      co_return;  // Lost while loading.
    }
    LogLoaded(*loaded);
    dispatcher_->Activate(epoch, loaded->domains, loaded->last_checks);
  }

  void LogLoadFailed(const absl::Status& status) {
    log_.Error("scheduler.domains_failed", {{"error", std::string(status.message())}});
  }
  void LogLoaded(const scheduler::LoadedDomains& loaded) {
    if (!loaded.file_unreadable.empty()) {
      log_.Error("scheduler.domains_unreadable",
                 {{"file", domains_file_}, {"error", loaded.file_unreadable}});
    }
    for (const std::string& error : loaded.file_errors) {
      log_.Warn("scheduler.domains_line_skipped", {{"file", domains_file_}, {"error", error}});
    }
    log_.Info("scheduler.loaded",
              {{"from_file", std::to_string(loaded.from_file)},
               {"from_redis", std::to_string(loaded.domains.size() - loaded.from_file)},
               {"known_last_check", std::to_string(loaded.last_checks.size())}});
  }

  asio::io_context& io_;
  Logger& log_;
  const TimeSource& clock_;
  std::string id_;
  std::string domains_file_;
  store::KeySchema keys_;
  store::RedisClient* client_ = nullptr;
  scheduler::SchedulerLease* lease_ = nullptr;
  scheduler::Dispatcher* dispatcher_ = nullptr;
};

}  // namespace

int RunScheduler(Args args, CommandIo& io) {
  std::string redis;
  std::string listen = "127.0.0.1:7411";
  std::string domains_file;
  seconds interval{3600};
  seconds startup_spread{0};
  seconds lease{10};
  seconds worker_timeout{5};
  seconds heartbeat{1};
  seconds check_deadline{120};
  int partitions = store::kDefaultPartitions;
  std::string id;
  std::string log_format = "text";
  std::string log_level = "info";
  std::string metrics_listen;
  Flags flags;
  flags.String("--redis", &redis);
  flags.String("--listen", &listen);
  flags.String("--domains", &domains_file);
  flags.Duration("--interval", seconds(1), seconds(30 * 86400), &interval);
  flags.Duration("--startup-spread", seconds(1), seconds(86400), &startup_spread);
  flags.Duration("--lease", seconds(1), seconds(600), &lease);
  flags.Duration("--worker-timeout", seconds(1), seconds(600), &worker_timeout);
  flags.Duration("--heartbeat", seconds(1), seconds(60), &heartbeat);
  flags.Duration("--check-deadline", seconds(1), seconds(3600), &check_deadline);
  flags.Int("--partitions", 1, store::kMaxPartitions, &partitions);
  flags.String("--id", &id);
  flags.String("--log-format", &log_format);
  flags.String("--log-level", &log_level);
  flags.String("--metrics-listen", &metrics_listen);
  bool help = false;
  const auto usage = [&](const std::string& message) {
    io.err << "stswatch scheduler: " << message << "\nTry 'stswatch scheduler --help'.\n";
    return kExitError;
  };
  if (const auto error = flags.Parse(args, &help)) {
    return usage(*error);
  }
  if (help) {
    io.out << kUsage;
    return kExitOk;
  }
  if (redis.empty()) {
    return usage("--redis is required: the lease, the domains and the results live there");
  }
  if (heartbeat >= worker_timeout) {
    return usage("--heartbeat must be shorter than --worker-timeout");
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
  if (id.empty()) {
    id = DefaultId();
  }
  std::signal(SIGPIPE, SIG_IGN);
  const RealTimeSource clock;
  Logger log(io.err, *format, clock, *level);
  asio::io_context io_context;
  const store::KeySchema keys(partitions);

  // A renewal stuck on a dead connection must fail, and be retried, well within the lease.
  store::RedisOptions redis_options;
  redis_options.command_timeout =
      std::max(milliseconds(200), std::chrono::duration_cast<milliseconds>(lease) / 4);
  redis_options.connect_timeout = redis_options.command_timeout;
  store::RedisClient client(io_context.get_executor(), *endpoint, redis_options);
  LogRedisConnection(client, log);
  scheduler::LeaseOptions lease_options;
  lease_options.key = keys.prefix() + ":lease:scheduler";
  lease_options.epoch_key = keys.Epoch("scheduler");
  lease_options.holder = id;
  lease_options.duration = std::chrono::duration_cast<milliseconds>(lease);
  scheduler::SchedulerLease scheduler_lease(io_context.get_executor(), client, lease_options);

  scheduler::DispatcherOptions options;
  options.queue.default_interval = interval;
  options.queue.startup_spread =
      startup_spread.count() > 0 ? startup_spread : std::min(interval, seconds(600));
  options.queue.seed = std::random_device{}();
  options.heartbeat = heartbeat;
  options.lease_timeout = worker_timeout;
  options.check_deadline = check_deadline;
  options.scheduler_id = id;
  SchedulerProcess process(io_context, log, clock, id, domains_file, keys);
  scheduler::Dispatcher dispatcher(
      io_context.get_executor(), options, clock, log,
      [&process](const scheduler::CheckRecord& r) { process.Record(r); });
  process.Wire(client, scheduler_lease, dispatcher);

  scheduler::WorkService service(io_context.get_executor(), dispatcher);
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(listen, grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&service);
  // Accept the workers' keepalive pings (every 20 s, also between calls) instead of answering
  // them with GOAWAY too_many_pings.
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 10000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, 20000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 10000);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server || port == 0) {
    log.Error("scheduler.listen_failed", {{"listen", listen}});
    return kExitError;
  }
  log.Info("scheduler.listening", {{"listen", listen}, {"port", std::to_string(port)}, {"id", id}});

  std::unique_ptr<metrics::Metrics> metrics;
  std::unique_ptr<metrics::MetricsServer> metrics_server;
  asio::steady_timer gauges(io_context);
  std::function<void()> update_gauges = [&] {
    const scheduler::DueQueue* queue = dispatcher.queue();
    metrics->SetQueue(queue == nullptr ? 0 : queue->size(), dispatcher.outstanding(), 0);
    metrics->SetDispatch(dispatcher.workers(), dispatcher.backlog());
    gauges.expires_after(std::chrono::seconds(5));
    gauges.async_wait([&](const boost::system::error_code& ec) {
      if (!ec) {
        update_gauges();
      }
    });
  };
  if (!metrics_listen.empty()) {
    metrics = std::make_unique<metrics::Metrics>();
    auto listening = metrics::MetricsServer::Start(metrics_listen, *metrics);
    if (!listening.ok()) {
      return usage("--metrics-listen: " + std::string(listening.status().message()));
    }
    metrics_server = std::move(*listening);
    update_gauges();
  }
  client.Start();
  scheduler_lease.Start();

  asio::signal_set stop(io_context, SIGTERM, SIGINT);
  asio::signal_set hup(io_context, SIGHUP);
  std::function<void()> wait_hup = [&] {
    hup.async_wait([&](const boost::system::error_code& ec, int) {
      if (!ec) {
        asio::co_spawn(io_context, process.Reload(), asio::detached);
        wait_hup();
      }
    });
  };
  wait_hup();
  stop.async_wait([&](const boost::system::error_code& ec, int signal) {
    if (ec) {
      return;
    }
    log.Info("scheduler.stopping", {{"signal", strsignal(signal)}});
    dispatcher.Deactivate("stopping");
    gauges.cancel();
    hup.cancel();
    // Release the lease so that a standby takes over at once, then stop.
    scheduler_lease.Stop([&] {
      client.Stop();
      io_context.stop();
    });
  });
  io_context.run();
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  log.Info("scheduler.stopped", {{"dispatched", std::to_string(dispatcher.counters().dispatched)},
                                 {"completed", std::to_string(dispatcher.counters().completed)}});
  return kExitOk;
}

}  // namespace stswatch::cli
