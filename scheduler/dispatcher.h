#pragma once

// Dispatcher: the active scheduler's state — which domain is due, which worker it goes to, how
// many assignments each worker may still take — for `stswatch scheduler`. Workers attach through
// the Work stream (work_service.h); the dispatcher sees each as a WorkerLink.
//
//   - Assignment: rendezvous hashing over the live workers (assigner.h), keyed by the domain's MX
//     host set once a check has reported it (by the domain name before), so domains on the same
//     MX hosts land on the same worker and share its SMTP probes. A worker that leaves moves only
//     its share.
//   - Flow control: never more assignments outstanding on a worker than the credits it granted.
//     Due domains whose worker has no credit wait in that worker's backlog (bounded by the number
//     of domains; its length is logged as overload).
//   - Failure: a worker that closes its stream, or is silent for the lease timeout, is dropped;
//     its in-flight and backlogged domains are due again at once.
//   - Fencing: every assignment carries FencingToken(epoch, sequence), the sequence growing with
//     every dispatch, so re-dispatches and later epochs always carry newer tokens.
//
// Threading: one io_context thread; every method on it.

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>

#include "absl/container/flat_hash_map.h"
#include "common/log.h"
#include "common/time_source.h"
#include "scheduler/assigner.h"
#include "scheduler/domain_list.h"
#include "scheduler/due_queue.h"
#include "stswatch/v1/worker.pb.h"

namespace stswatch::scheduler {

// One attached worker stream, as the dispatcher sees it. Implementations post nothing back
// synchronously: Send and Close may be called from inside the dispatcher's handlers.
class WorkerLink {
 public:
  virtual ~WorkerLink() = default;
  virtual void Send(const stswatch::v1::SchedulerMessage& message) = 0;
  // Ends the stream (UNAVAILABLE with `reason`). The dispatcher calls Detached itself.
  virtual void Close(const std::string& reason) = 0;
};

// One finished check, for the check history (store it, assert on it).
struct CheckRecord {
  std::string domain;
  std::string worker;
  std::string token;
  std::string outcome;
  std::int64_t due_ms = 0;
  std::int64_t dispatched_ms = 0;
  std::int64_t started_ms = 0;
  std::int64_t finished_ms = 0;
};

struct DispatcherOptions {
  DueQueueOptions queue;
  std::chrono::milliseconds heartbeat{1000};
  // A worker silent for this long is dropped.
  std::chrono::milliseconds lease_timeout{5000};
  // The deadline given with each assignment.
  std::chrono::seconds check_deadline{120};
  std::chrono::milliseconds max_sleep{250};
  std::chrono::seconds progress_every{60};
  std::string scheduler_id;
};

struct DispatcherCounters {
  std::uint64_t dispatched = 0;
  std::uint64_t completed = 0;
  std::uint64_t redispatched = 0;  // Domains due again because their worker left.
  std::uint64_t refused = 0;       // Completions whose write the store fenced off.
  std::uint64_t failed = 0;
  std::uint64_t workers_lost = 0;
};

class Dispatcher {
 public:
  using HistoryFn = std::function<void(const CheckRecord&)>;

  Dispatcher(const boost::asio::any_io_executor& executor, DispatcherOptions options,
             const TimeSource& clock, Logger& log, HistoryFn history);
  ~Dispatcher();

  // Becomes active with `epoch` over `domains` (last check times from the store). Workers that
  // attach while inactive are told to stand by.
  void Activate(std::uint32_t epoch, const std::vector<MonitoredDomain>& domains,
                const std::map<std::string, std::chrono::system_clock::time_point>& last_checks);
  // Stops being active: every worker is closed (they re-attach to the new active scheduler).
  void Deactivate(const std::string& reason);
  // A reload while active.
  void SetDomains(const std::vector<MonitoredDomain>& domains,
                  const std::map<std::string, std::chrono::system_clock::time_point>& last_checks);

  bool active() const { return active_; }

  // Stream events (the link stays valid until Detached returns).
  void Attached(WorkerLink* link);
  void Received(WorkerLink* link, const stswatch::v1::WorkerMessage& message);
  void Detached(WorkerLink* link);

  std::size_t workers() const { return workers_.size(); }
  const DispatcherCounters& counters() const { return counters_; }
  const DueQueue* queue() const { return queue_.get(); }
  // Assignments outstanding, in all.
  std::size_t outstanding() const;
  // Due domains waiting for their worker's credit, in all.
  std::size_t backlog() const;

 private:
  struct InFlight {
    std::string domain;
    std::string token;
    std::int64_t due_ms = 0;
    std::int64_t dispatched_ms = 0;
  };
  struct Worker {
    WorkerLink* link = nullptr;
    std::string id;  // Empty until the hello.
    std::uint32_t capacity = 0;
    std::uint32_t credits = 0;
    std::chrono::steady_clock::time_point last_heard;
    std::map<std::uint64_t, InFlight> in_flight;
    std::deque<std::pair<std::string, std::int64_t>> backlog;  // (domain, due ms)
  };

  void Hello(Worker& worker, const stswatch::v1::WorkerHello& hello);
  void Done(Worker& worker, const stswatch::v1::CheckDone& done);
  void Drop(WorkerLink* link, const std::string& reason, bool close);
  void Wake();
  void Tick();
  void Beat();
  void Progress();
  void Assign(Worker& worker, const std::string& domain, std::int64_t due_ms);
  void Drain(Worker& worker);
  std::uint64_t KeyOf(const std::string& domain) const;

  boost::asio::any_io_executor executor_;
  DispatcherOptions options_;
  const TimeSource& clock_;
  Logger& log_;
  HistoryFn history_;
  bool active_ = false;
  std::uint32_t epoch_ = 0;
  std::uint64_t sequence_ = 0;
  std::uint64_t next_dispatch_ = 0;
  std::unique_ptr<DueQueue> queue_;
  RendezvousAssigner assigner_;
  std::map<WorkerLink*, Worker> workers_;
  std::map<std::string, WorkerLink*, std::less<>> by_id_;
  // Affinity keys learned from checks (the MX host set); absent: the domain name's hash.
  absl::flat_hash_map<std::string, std::uint64_t> affinity_;
  boost::asio::steady_timer tick_timer_;
  boost::asio::steady_timer beat_timer_;
  boost::asio::steady_timer progress_timer_;
  bool tick_posted_ = false;
  DispatcherCounters counters_;
  DispatcherCounters last_progress_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace stswatch::scheduler
