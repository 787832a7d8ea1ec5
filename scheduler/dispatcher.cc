#include "scheduler/dispatcher.h"

#include <boost/asio/post.hpp>

#include "common/stable_hash.h"
#include "store/keys.h"

namespace stswatch::scheduler {
namespace {

namespace asio = boost::asio;
namespace v1 = stswatch::v1;

std::int64_t UnixMs(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

// A worker may not announce more than this.
constexpr std::uint32_t kMaxCapacity = 100000;

}  // namespace

Dispatcher::Dispatcher(const asio::any_io_executor& executor, DispatcherOptions options,
                       const TimeSource& clock, Logger& log, HistoryFn history)
    : executor_(executor),
      options_(std::move(options)),
      clock_(clock),
      log_(log),
      history_(std::move(history)),
      tick_timer_(executor),
      beat_timer_(executor),
      progress_timer_(executor) {}

Dispatcher::~Dispatcher() { *alive_ = false; }

std::size_t Dispatcher::outstanding() const {
  std::size_t n = 0;
  for (const auto& [link, w] : workers_) {
    n += w.in_flight.size();
  }
  return n;
}

std::size_t Dispatcher::backlog() const {
  std::size_t n = 0;
  for (const auto& [link, w] : workers_) {
    n += w.backlog.size();
  }
  return n;
}

void Dispatcher::Activate(
    std::uint32_t epoch, const std::vector<MonitoredDomain>& domains,
    const std::map<std::string, std::chrono::system_clock::time_point>& last_checks) {
  active_ = true;
  epoch_ = epoch;
  sequence_ = 0;
  queue_ = std::make_unique<DueQueue>(options_.queue);
  affinity_.clear();
  SetDomains(domains, last_checks);
  // Workers attached while we stood by were told to go; new ones come with their hello.
  Beat();
  progress_timer_.expires_after(options_.progress_every);
  progress_timer_.async_wait([this, alive = alive_](const boost::system::error_code& ec) {
    if (*alive && !ec) {
      Progress();
    }
  });
  log_.Info("scheduler.active",
            {{"epoch", std::to_string(epoch)}, {"domains", std::to_string(queue_->size())}});
}

void Dispatcher::Deactivate(const std::string& reason) {
  if (!active_) {
    return;
  }
  active_ = false;
  tick_timer_.cancel();
  beat_timer_.cancel();
  progress_timer_.cancel();
  std::vector<WorkerLink*> links;
  for (const auto& [link, w] : workers_) {
    links.push_back(link);
  }
  for (WorkerLink* link : links) {
    link->Close("the scheduler is no longer active: " + reason);
  }
  workers_.clear();
  by_id_.clear();
  assigner_ = RendezvousAssigner();
  queue_.reset();
  log_.Warn("scheduler.standby", {{"reason", reason}});
}

void Dispatcher::SetDomains(
    const std::vector<MonitoredDomain>& domains,
    const std::map<std::string, std::chrono::system_clock::time_point>& last_checks) {
  if (!queue_) {
    return;
  }
  absl::flat_hash_set<std::string> keep;
  for (const MonitoredDomain& d : domains) {
    keep.insert(d.name);
  }
  const std::size_t removed = queue_->Retain(keep);
  const auto now = clock_.Now();
  std::size_t added = 0;
  for (const MonitoredDomain& d : domains) {
    std::optional<std::chrono::system_clock::time_point> last;
    if (const auto it = last_checks.find(d.name); it != last_checks.end()) {
      last = it->second;
    }
    added += queue_->Upsert(d.name, d.interval, last, now) ? 1 : 0;
  }
  log_.Info("scheduler.domains", {{"domains", std::to_string(queue_->size())},
                                  {"added", std::to_string(added)},
                                  {"removed", std::to_string(removed)}});
  Wake();
}

void Dispatcher::Attached(WorkerLink* link) {
  Worker& w = workers_[link];
  w.link = link;
  w.last_heard = std::chrono::steady_clock::now();
}

void Dispatcher::Received(WorkerLink* link, const v1::WorkerMessage& message) {
  const auto it = workers_.find(link);
  if (it == workers_.end()) {
    return;
  }
  Worker& w = it->second;
  w.last_heard = std::chrono::steady_clock::now();
  if (message.has_hello()) {
    Hello(w, message.hello());
    return;
  }
  if (w.id.empty()) {
    Drop(link, "the first message must be a hello", true);
    return;
  }
  if (message.has_credit()) {
    // Credits never exceed the capacity the worker announced.
    const std::uint64_t credits = std::min<std::uint64_t>(
        static_cast<std::uint64_t>(w.credits) + message.credit().credits(),
        w.capacity > w.in_flight.size() ? w.capacity - w.in_flight.size() : 0);
    w.credits = static_cast<std::uint32_t>(credits);
    Drain(w);
    Wake();
  } else if (message.has_done()) {
    Done(w, message.done());
  }
}

void Dispatcher::Hello(Worker& w, const v1::WorkerHello& hello) {
  if (!w.id.empty()) {
    Drop(w.link, "a second hello", true);
    return;
  }
  if (!active_) {
    v1::SchedulerMessage standby;
    standby.mutable_standby()->set_scheduler_id(options_.scheduler_id);
    w.link->Send(standby);
    Drop(w.link, "standing by", true);
    return;
  }
  if (hello.worker_id().empty() || hello.worker_id().size() > 256 || hello.capacity() == 0 ||
      hello.capacity() > kMaxCapacity) {
    Drop(w.link, "a hello needs a worker id (at most 256 bytes) and a capacity of 1 to 100000",
         true);
    return;
  }
  if (const auto old = by_id_.find(hello.worker_id()); old != by_id_.end()) {
    // The same worker re-attached before its old stream was noticed gone.
    Drop(old->second, "replaced by a new stream of the same worker", true);
  }
  w.id = hello.worker_id();
  w.capacity = hello.capacity();
  by_id_[w.id] = w.link;
  assigner_.AddWorker(w.id);
  v1::SchedulerMessage welcome;
  v1::Welcome* body = welcome.mutable_welcome();
  body->set_scheduler_id(options_.scheduler_id);
  body->set_epoch(epoch_);
  body->set_heartbeat_ms(static_cast<std::uint32_t>(options_.heartbeat.count()));
  body->set_lease_timeout_ms(static_cast<std::uint32_t>(options_.lease_timeout.count()));
  w.link->Send(welcome);
  log_.Info("scheduler.worker_attached", {{"worker", w.id},
                                          {"version", hello.version()},
                                          {"capacity", std::to_string(w.capacity)},
                                          {"workers", std::to_string(by_id_.size())}});
}

void Dispatcher::Done(Worker& w, const v1::CheckDone& done) {
  const auto it = w.in_flight.find(done.dispatch_id());
  if (it == w.in_flight.end()) {
    return;  // Not ours (or answered twice): nothing to re-arm.
  }
  InFlight job = std::move(it->second);
  w.in_flight.erase(it);
  ++counters_.completed;
  if (done.outcome() == "refused") {
    ++counters_.refused;
  } else if (done.outcome() == "failed") {
    ++counters_.failed;
  }
  std::vector<std::string> hosts(done.mx_hosts().begin(), done.mx_hosts().end());
  if (!hosts.empty()) {
    affinity_[job.domain] = AffinityKey(job.domain, hosts);
  }
  const auto finished = clock_.Now();
  if (queue_) {
    queue_->Completed(job.domain, finished);
  }
  if (history_) {
    history_(CheckRecord{job.domain, w.id, job.token, done.outcome(), job.due_ms, job.dispatched_ms,
                         done.started_unix_ms(), done.finished_unix_ms()});
  }
  Wake();
}

void Dispatcher::Detached(WorkerLink* link) { Drop(link, "stream ended", false); }

void Dispatcher::Drop(WorkerLink* link, const std::string& reason, bool close) {
  const auto it = workers_.find(link);
  if (it == workers_.end()) {
    return;
  }
  Worker w = std::move(it->second);
  workers_.erase(it);
  if (!w.id.empty()) {
    if (const auto id = by_id_.find(w.id); id != by_id_.end() && id->second == link) {
      by_id_.erase(id);
      assigner_.RemoveWorker(w.id);
    }
    ++counters_.workers_lost;
    log_.Warn("scheduler.worker_lost",
              {{"worker", w.id},
               {"reason", reason},
               {"redispatched", std::to_string(w.in_flight.size() + w.backlog.size())},
               {"workers", std::to_string(by_id_.size())}});
  }
  if (close) {
    link->Close(reason);
  }
  // Its checks are due again at once, on the workers that remain.
  if (queue_) {
    const auto now = clock_.Now();
    for (const auto& [id, job] : w.in_flight) {
      counters_.redispatched += queue_->Requeue(job.domain, now) ? 1 : 0;
    }
    for (const auto& [domain, due] : w.backlog) {
      counters_.redispatched += queue_->Requeue(domain, now) ? 1 : 0;
    }
  }
  Wake();
}

std::uint64_t Dispatcher::KeyOf(const std::string& domain) const {
  if (const auto it = affinity_.find(domain); it != affinity_.end()) {
    return it->second;
  }
  return AffinityKey(domain, {});
}

void Dispatcher::Assign(Worker& w, const std::string& domain, std::int64_t due_ms) {
  const std::uint64_t id = ++next_dispatch_;
  const auto now = clock_.Now();
  InFlight job{domain, store::FencingToken(epoch_, ++sequence_), due_ms, UnixMs(now)};
  v1::SchedulerMessage message;
  v1::CheckAssignment* a = message.mutable_assign();
  a->set_dispatch_id(id);
  a->set_domain(domain);
  a->set_token(job.token);
  a->set_due_unix_ms(due_ms);
  a->set_deadline_unix_ms(UnixMs(now + options_.check_deadline));
  w.in_flight.emplace(id, std::move(job));
  --w.credits;
  ++counters_.dispatched;
  w.link->Send(message);
}

void Dispatcher::Drain(Worker& w) {
  while (w.credits > 0 && !w.backlog.empty()) {
    auto [domain, due] = std::move(w.backlog.front());
    w.backlog.pop_front();
    Assign(w, domain, due);
  }
}

void Dispatcher::Wake() {
  if (!active_ || tick_posted_) {
    return;
  }
  tick_posted_ = true;
  asio::post(executor_, [this, alive = alive_] {
    if (*alive) {
      tick_posted_ = false;
      Tick();
    }
  });
}

void Dispatcher::Tick() {
  if (!active_ || !queue_) {
    return;
  }
  std::size_t free = 0;
  for (auto& [link, w] : workers_) {
    if (!w.id.empty()) {
      Drain(w);
      free += w.credits;
    }
  }
  const auto now = clock_.Now();
  if (free > 0) {
    for (Due& due : queue_->PopDue(now, free)) {
      const auto picked = assigner_.Pick(KeyOf(due.domain));
      if (!picked) {
        queue_->Requeue(due.domain, now);  // No worker left: cannot happen with credits.
        continue;
      }
      Worker& w = workers_.at(by_id_.at(std::string(*picked)));
      if (w.credits > 0) {
        Assign(w, due.domain, UnixMs(due.due));
      } else {
        // Its worker is busy: it waits there rather than on another worker, so that domains
        // sharing MX hosts stay together.
        w.backlog.emplace_back(std::move(due.domain), UnixMs(due.due));
      }
    }
  }
  auto sleep = std::chrono::duration_cast<std::chrono::steady_clock::duration>(options_.max_sleep);
  if (const auto next = queue_->NextDue(); next && free > 0) {
    sleep = std::min(sleep, std::max<std::chrono::steady_clock::duration>(
                                std::chrono::milliseconds(1), *next - now));
  }
  tick_timer_.expires_after(sleep);
  tick_timer_.async_wait([this, alive = alive_](const boost::system::error_code& ec) {
    if (*alive && !ec) {
      Tick();
    }
  });
}

void Dispatcher::Beat() {
  if (!active_) {
    return;
  }
  const auto now = std::chrono::steady_clock::now();
  std::vector<WorkerLink*> silent;
  v1::SchedulerMessage beat;
  beat.mutable_heartbeat()->set_unix_ms(UnixMs(clock_.Now()));
  for (auto& [link, w] : workers_) {
    if (now - w.last_heard > options_.lease_timeout) {
      silent.push_back(link);
    } else if (!w.id.empty()) {
      link->Send(beat);
    }
  }
  for (WorkerLink* link : silent) {
    Drop(link, "silent for longer than the lease timeout", true);
  }
  beat_timer_.expires_after(options_.heartbeat);
  beat_timer_.async_wait([this, alive = alive_](const boost::system::error_code& ec) {
    if (*alive && !ec) {
      Beat();
    }
  });
}

void Dispatcher::Progress() {
  const std::size_t backlog = this->backlog();
  const auto now = clock_.Now();
  std::string lag = "0";
  if (const auto next = queue_->NextDue(); next && *next < now) {
    lag = std::to_string(std::chrono::duration_cast<std::chrono::seconds>(now - *next).count());
  }
  log_.Log(backlog > 0 ? LogLevel::kWarning : LogLevel::kInfo, "scheduler.progress",
           {{"domains", std::to_string(queue_->size())},
            {"workers", std::to_string(by_id_.size())},
            {"outstanding", std::to_string(outstanding())},
            {"backlog", std::to_string(backlog)},
            {"dispatched", std::to_string(counters_.dispatched - last_progress_.dispatched)},
            {"completed", std::to_string(counters_.completed - last_progress_.completed)},
            {"refused", std::to_string(counters_.refused - last_progress_.refused)},
            {"lag_s", lag}});
  last_progress_ = counters_;
  progress_timer_.expires_after(options_.progress_every);
  progress_timer_.async_wait([this, alive = alive_](const boost::system::error_code& ec) {
    if (*alive && !ec) {
      Progress();
    }
  });
}

}  // namespace stswatch::scheduler
