#include "cli/prober_cmd.h"

#include <unistd.h>

#include <csignal>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>

#include "cli/flags.h"
#include "cli/prober_setup.h"
#include "cli/redis_log.h"
#include "common/log.h"
#include "common/stable_hash.h"
#include "common/time_source.h"
#include "drift/snapshot.h"
#include "mtasts/verdict.h"
#include "prober/worker.h"
#include "store/command.h"
#include "store/keys.h"
#include "store/redis_client.h"
#include "store/redis_state_store.h"

namespace stswatch::cli {
namespace {

namespace asio = boost::asio;
using std::chrono::seconds;

constexpr int kExitOk = 0;
constexpr int kExitError = 3;
constexpr std::string_view kVersion = "0.1.0";

constexpr std::string_view kUsageHead =
    R"(usage: stswatch prober --scheduler HOST:PORT[,HOST:PORT...] --redis URL [OPTIONS]

A prober worker: attaches to the active scheduler ('stswatch scheduler'), runs the checks it is
assigned as a sending mail server would, and writes each result to Redis with the assignment's
fencing token (a stale write is refused there). Tries the scheduler addresses in turn and
re-attaches after a failover.

Options:
  --scheduler LIST     scheduler addresses, comma-separated (required)
  --redis URL          Redis: redis://[:PASSWORD@]HOST[:PORT][/DB] or unix:///PATH (required)
  --capacity N         checks run at once (default 64)
  --threads N          prober threads, each with its own resolver, TLS context and Redis
                       connection (default 1)
  --partitions N       logical partitions of the key space (default 64)
  --history-max N      about this many entries kept in the check history, stswatch:checks
                       (default 1000000)
  --id ID              this worker's id (default host:pid:random)
  --log-format FORMAT  text (default) or json
  --log-level LEVEL    debug, info (default), warning or error
)";

constexpr std::string_view kUsageTail = R"(  -h, --help           show this help

SIGTERM stops taking work, finishes and reports the checks running, and exits.
)";

std::int64_t UnixMs(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

std::string OutcomeName(store::WriteOutcome outcome) {
  return std::string(store::WriteOutcomeName(outcome));
}

// One prober thread: its own io_context, prober, Redis connection and store.
struct ProberThread {
  asio::io_context io;
  std::string history_key;
  std::string history_max;
  std::unique_ptr<ProberStack> prober;
  std::unique_ptr<store::RedisClient> client;
  std::unique_ptr<store::RedisStateStore> store;
  std::thread thread;
};

// The check history (stswatch:checks): one entry per check a worker ran, whether or not its
// scheduler heard of it, so that failover properties can be asserted from it.
void RecordCheck(ProberThread& t, const std::string& worker, const stswatch::v1::CheckAssignment& a,
                 const prober::CheckReport& report) {
  t.client->Command(
      store::Command("XADD", t.history_key, "MAXLEN", "~", t.history_max, "*", "domain", a.domain(),
                     "worker", worker, "token", a.token(), "outcome", report.outcome, "status",
                     report.status, "due", std::to_string(a.due_unix_ms()), "started",
                     std::to_string(report.started_ms), "finished",
                     std::to_string(report.finished_ms)),
      [](const absl::StatusOr<store::RedisReply>&) {});
}

asio::awaitable<void> RunCheck(ProberThread& t, const TimeSource& clock, std::string worker,
                               stswatch::v1::CheckAssignment a,
                               std::function<void(prober::CheckReport)> done) {
  const std::string domain = a.domain();
  const std::string token = a.token();
  prober::CheckReport report;
  report.started_ms = UnixMs(clock.Now());
  const mtasts::DomainObservation o = co_await t.prober->checker->Observe(domain);
  const auto now = clock.Now();
  const mtasts::Verdict v = mtasts::Judge(o, now);
  store::CheckResult result;
  result.snapshot = drift::TakeSnapshot(o, v, now);
  result.token = token;
  result.finished = now;
  report.status = result.snapshot.status;
  report.mx_hosts = result.snapshot.mx_hosts;
  report.finished_ms = UnixMs(now);
  t.store->Write(std::move(result), [&t, worker = std::move(worker), a = std::move(a), report,
                                     done](const store::WriteResult& r) mutable {
    report.outcome = OutcomeName(r.outcome);
    report.events = static_cast<std::uint32_t>(r.events.size());
    RecordCheck(t, worker, a, report);
    done(std::move(report));
  });
}

}  // namespace

int RunProber(Args args, CommandIo& io) {
  std::string schedulers;
  std::string redis;
  int capacity = 64;
  int threads = 1;
  int partitions = store::kDefaultPartitions;
  int history_max = 1000000;
  std::string id;
  std::string log_format = "text";
  std::string log_level = "info";
  ProberFlags prober_flags;
  Flags flags;
  flags.String("--scheduler", &schedulers);
  flags.String("--redis", &redis);
  flags.Int("--capacity", 1, 100000, &capacity);
  flags.Int("--threads", 1, 64, &threads);
  flags.Int("--partitions", 1, store::kMaxPartitions, &partitions);
  flags.Int("--history-max", 1000, 100000000, &history_max);
  flags.String("--id", &id);
  flags.String("--log-format", &log_format);
  flags.String("--log-level", &log_level);
  AddProberFlags(flags, &prober_flags);
  bool help = false;
  const auto usage = [&](const std::string& message) {
    io.err << "stswatch prober: " << message << "\nTry 'stswatch prober --help'.\n";
    return kExitError;
  };
  if (const auto error = flags.Parse(args, &help)) {
    return usage(*error);
  }
  if (help) {
    io.out << kUsageHead << kProberFlagsHelp << kUsageTail;
    return kExitOk;
  }
  if (schedulers.empty() || redis.empty()) {
    return usage("--scheduler and --redis are required");
  }
  prober::WorkerOptions options;
  for (std::size_t start = 0; start <= schedulers.size();) {
    const std::size_t comma = std::min(schedulers.find(',', start), schedulers.size());
    if (comma > start) {
      options.schedulers.push_back(schedulers.substr(start, comma - start));
    }
    start = comma + 1;
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
    char host[256] = {};
    gethostname(host, sizeof host - 1);
    id = std::string(host) + ":" + std::to_string(getpid()) + ":" +
         std::to_string(std::random_device{}() % 100000);
  }
  std::signal(SIGPIPE, SIG_IGN);
  const RealTimeSource clock;
  Logger log(io.err, *format, clock, *level);

  store::StateStoreOptions store_options;
  store_options.keys = store::KeySchema(partitions);
  std::vector<std::unique_ptr<ProberThread>> pool;
  for (int i = 0; i < threads; ++i) {
    auto t = std::make_unique<ProberThread>();
    auto stack = BuildProber(t->io, prober_flags);
    if (!stack.ok()) {
      return usage(std::string(stack.status().message()));
    }
    t->prober = std::move(*stack);
    t->history_key = store_options.keys.prefix() + ":checks";
    t->history_max = std::to_string(history_max);
    t->client = std::make_unique<store::RedisClient>(t->io.get_executor(), *endpoint);
    LogRedisConnection(*t->client, log);
    t->store = std::make_unique<store::RedisStateStore>(t->io.get_executor(), *t->client,
                                                        store_options, clock);
    t->store->SetLogger([&log](std::string_view message) {
      log.Error("store.error", {{"message", std::string(message)}});
    });
    store::RedisStateStore* store = t->store.get();
    t->client->SetConnectedCallback([store] { store->Flush(); });
    pool.push_back(std::move(t));
  }

  asio::io_context control;
  options.worker_id = id;
  options.version = std::string(kVersion);
  options.capacity = static_cast<std::uint32_t>(capacity);
  prober::Worker worker(
      control.get_executor(), options,
      [&pool, &clock, &id](const stswatch::v1::CheckAssignment& a,
                           const std::function<void(prober::CheckReport)>& done) {
        // Domains stay on one thread, where their shared MX probes are.
        ProberThread& t = *pool[StableHash(a.domain()) % pool.size()];
        asio::co_spawn(t.io, RunCheck(t, clock, id, a, done), [done](const std::exception_ptr& e) {
          if (e) {
            prober::CheckReport report;
            report.outcome = "failed";
            try {
              std::rethrow_exception(e);
            } catch (const std::exception& ex) {
              report.error = ex.what();
            }
            done(std::move(report));
          }
        });
      },
      clock, log);

  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards;
  for (auto& t : pool) {
    t->client->Start();
    guards.push_back(asio::make_work_guard(t->io));
    ProberThread* raw = t.get();
    t->thread = std::thread([raw] { raw->io.run(); });
  }
  worker.Start();
  log.Info("prober.started", {{"id", id},
                              {"schedulers", schedulers},
                              {"capacity", std::to_string(capacity)},
                              {"threads", std::to_string(threads)}});

  asio::signal_set stop(control, SIGTERM, SIGINT);
  stop.async_wait([&](const boost::system::error_code& ec, int signal) {
    if (ec) {
      return;
    }
    log.Info("prober.stopping",
             {{"signal", strsignal(signal)}, {"running", std::to_string(worker.running())}});
    worker.Drain([&] {
      // Give the last acknowledgements a moment to leave, then stop.
      auto timer = std::make_shared<asio::steady_timer>(control, std::chrono::milliseconds(200));
      timer->async_wait([&, timer](const boost::system::error_code&) { control.stop(); });
    });
    stop.async_wait([&](const boost::system::error_code& again, int) {
      if (!again) {
        control.stop();
      }
    });
  });
  control.run();
  // The checks have finished (drained) or are abandoned (second signal): stop the threads.
  for (auto& t : pool) {
    asio::post(t->io, [raw = t.get(), &log] {
      if (raw->store->pending() > 0) {
        log.Warn("prober.unwritten_results",
                 {{"pending_writes", std::to_string(raw->store->pending())}});
      }
      raw->client->Stop();
      raw->io.stop();
    });
  }
  guards.clear();
  for (auto& t : pool) {
    t->thread.join();
  }
  log.Info("prober.stopped", {{"checks", std::to_string(worker.checks_done())}});
  return kExitOk;
}

}  // namespace stswatch::cli
