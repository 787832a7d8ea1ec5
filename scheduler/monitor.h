#pragma once

// Monitor: the single-process loop of `stswatch serve`. It takes due domains from the DueQueue,
// runs their checks (at most `concurrency` at once), hands each result to the SnapshotStore with
// a fresh fencing token, logs what drifted, and re-arms the domain.
//
// The check itself is injected (CheckFn) so the loop is tested with fakes; serve passes the real
// prober. Threading: one io_context thread; every method on it.

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include "common/log.h"
#include "common/time_source.h"
#include "drift/snapshot.h"
#include "scheduler/domain_list.h"
#include "scheduler/due_queue.h"
#include "store/snapshot_store.h"

namespace stswatch::metrics {
class Metrics;
}  // namespace stswatch::metrics

namespace stswatch::scheduler {

struct MonitorOptions {
  int concurrency = 64;
  DueQueueOptions queue;
  // How often a progress line is logged.
  std::chrono::seconds progress_every{60};
  // The loop wakes at least this often (the clock may be moved by tests).
  std::chrono::milliseconds max_sleep{1000};
};

struct MonitorCounters {
  std::uint64_t checks = 0;
  std::uint64_t unchanged = 0;
  std::uint64_t applied = 0;
  std::uint64_t refused = 0;
  std::uint64_t events = 0;
  std::uint64_t failed_checks = 0;  // The check threw: a bug, logged.
};

class Monitor {
 public:
  // Checks one domain and reduces it to its snapshot (with `now` of the snapshot's time).
  using CheckFn = std::function<boost::asio::awaitable<drift::Snapshot>(std::string domain)>;
  // The fencing token of the next write.
  using TokenFn = std::function<std::string()>;

  Monitor(const boost::asio::any_io_executor& executor, MonitorOptions options, CheckFn check,
          store::SnapshotStore& store, TokenFn token, const TimeSource& clock, Logger& log);
  ~Monitor();

  // Sets the domains to monitor (first call, and every reload). `last_checks` holds what the
  // store knows of the new ones' last check times; domains already known keep their schedule.
  void SetDomains(const std::vector<MonitoredDomain>& domains,
                  const std::map<std::string, std::chrono::system_clock::time_point>& last_checks);

  // Reports each finished check (status, duration by the injected clock, snapshot) and each
  // drift event to `metrics`; nullptr (the default) reports nothing. Not owned: it must outlive
  // the Monitor.
  void SetMetrics(metrics::Metrics* metrics) { metrics_ = metrics; }

  // Starts dispatching.
  void Start();

  // Stops dispatching new checks; `done` runs once the checks in flight have finished and their
  // results were handed to the store.
  void Drain(std::function<void()> done);

  std::size_t domains() const { return queue_.size(); }
  std::size_t in_flight() const { return static_cast<std::size_t>(running_); }
  const MonitorCounters& counters() const { return counters_; }
  const DueQueue& queue() const { return queue_; }

 private:
  void Wake();
  void Tick();
  boost::asio::awaitable<void> RunCheck(std::string domain);
  void Progress();

  boost::asio::any_io_executor executor_;
  MonitorOptions options_;
  CheckFn check_;
  store::SnapshotStore& store_;
  TokenFn token_;
  const TimeSource& clock_;
  Logger& log_;
  metrics::Metrics* metrics_ = nullptr;
  DueQueue queue_;
  boost::asio::steady_timer timer_;
  boost::asio::steady_timer progress_timer_;
  bool started_ = false;
  bool draining_ = false;
  bool tick_posted_ = false;
  int running_ = 0;
  std::function<void()> drained_;
  MonitorCounters counters_;
  MonitorCounters last_progress_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace stswatch::scheduler
