#include "scheduler/monitor.h"

#include <exception>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>

#include "common/time_format.h"
#include "drift/events.h"
#include "metrics/metrics.h"

namespace stswatch::scheduler {
namespace {

namespace asio = boost::asio;

LogLevel LevelOf(drift::EventSeverity severity) {
  switch (severity) {
    case drift::EventSeverity::kInfo:
      return LogLevel::kInfo;
    case drift::EventSeverity::kWarning:
      return LogLevel::kWarning;
    case drift::EventSeverity::kCritical:
      return LogLevel::kError;
  }
  return LogLevel::kInfo;
}

}  // namespace

Monitor::Monitor(const asio::any_io_executor& executor, MonitorOptions options, CheckFn check,
                 store::SnapshotStore& store, TokenFn token, const TimeSource& clock, Logger& log)
    : executor_(executor),
      options_(options),
      check_(std::move(check)),
      store_(store),
      token_(std::move(token)),
      clock_(clock),
      log_(log),
      queue_(options_.queue),
      timer_(executor),
      progress_timer_(executor) {}

Monitor::~Monitor() { *alive_ = false; }

void Monitor::SetDomains(
    const std::vector<MonitoredDomain>& domains,
    const std::map<std::string, std::chrono::system_clock::time_point>& last_checks) {
  absl::flat_hash_set<std::string> keep;
  for (const MonitoredDomain& d : domains) {
    keep.insert(d.name);
  }
  const std::size_t removed = queue_.Retain(keep);
  const auto now = clock_.Now();
  std::size_t added = 0;
  for (const MonitoredDomain& d : domains) {
    std::optional<std::chrono::system_clock::time_point> last;
    if (const auto it = last_checks.find(d.name); it != last_checks.end()) {
      last = it->second;
    }
    if (queue_.Upsert(d.name, d.interval, last, now)) {
      ++added;
    }
  }
  log_.Info("serve.domains", {{"domains", std::to_string(queue_.size())},
                              {"added", std::to_string(added)},
                              {"removed", std::to_string(removed)}});
  Wake();
}

void Monitor::Start() {
  started_ = true;
  Wake();
  progress_timer_.expires_after(options_.progress_every);
  progress_timer_.async_wait([this, alive = alive_](const boost::system::error_code& ec) {
    if (*alive && !ec) {
      Progress();
    }
  });
}

void Monitor::Drain(std::function<void()> done) {
  draining_ = true;
  drained_ = std::move(done);
  timer_.cancel();
  progress_timer_.cancel();
  if (running_ == 0 && drained_) {
    asio::post(executor_, std::exchange(drained_, nullptr));
  }
}

void Monitor::Wake() {
  if (!started_ || draining_ || tick_posted_) {
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

void Monitor::Tick() {
  if (draining_) {
    return;
  }
  const auto now = clock_.Now();
  const int room = options_.concurrency - running_;
  if (room > 0) {
    for (Due& due : queue_.PopDue(now, static_cast<std::size_t>(room))) {
      ++running_;
      asio::co_spawn(executor_, RunCheck(std::move(due.domain)),
                     [this, alive = alive_](const std::exception_ptr& e) {
                       if (!*alive) {
                         return;
                       }
                       if (e) {
                         // RunCheck catches what the check throws; this is a bug in the loop.
                         try {
                           std::rethrow_exception(e);
                         } catch (const std::exception& ex) {
                           log_.Error("serve.internal_error", {{"error", ex.what()}});
                         }
                       }
                     });
    }
  }
  // Sleep until the next due time, but wake at least every max_sleep: the clock is wall time
  // (it can jump), the timer is steady.
  auto sleep = std::chrono::duration_cast<std::chrono::steady_clock::duration>(options_.max_sleep);
  if (const auto next = queue_.NextDue(); next && running_ < options_.concurrency) {
    sleep = std::min(sleep, std::max<std::chrono::steady_clock::duration>(
                                std::chrono::milliseconds(1), *next - now));
  }
  timer_.expires_after(sleep);
  timer_.async_wait([this, alive = alive_](const boost::system::error_code& ec) {
    if (*alive && !ec) {
      Tick();
    }
  });
}

asio::awaitable<void> Monitor::RunCheck(std::string domain) {
  const auto started = clock_.Now();
  std::optional<drift::Snapshot> snapshot;
  try {
    snapshot = co_await check_(domain);
  } catch (const std::exception& e) {
    ++counters_.failed_checks;
    log_.Error("check.error", {{"domain", domain}, {"error", e.what()}});
  }
  const auto finished = clock_.Now();
  ++counters_.checks;
  if (metrics_ != nullptr) {
    const double seconds = std::chrono::duration<double>(finished - started).count();
    if (snapshot) {
      metrics_->CheckDone(snapshot->status, seconds, *snapshot);
    } else {
      metrics_->CheckFailed(seconds);
    }
  }
  if (snapshot) {
    const auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(finished - started).count();
    log_.Log(LogLevel::kDebug, "check.done",
             {{"domain", domain}, {"status", snapshot->status}, {"ms", std::to_string(ms)}});
    store::CheckResult result;
    result.snapshot = std::move(*snapshot);
    result.token = token_();
    result.finished = finished;
    store_.Write(std::move(result), [this, alive = alive_, domain](const store::WriteResult& r) {
      if (!*alive) {
        return;
      }
      switch (r.outcome) {
        case store::WriteOutcome::kUnchanged:
          ++counters_.unchanged;
          break;
        case store::WriteOutcome::kApplied:
          ++counters_.applied;
          break;
        case store::WriteOutcome::kRefused:
          ++counters_.refused;
          log_.Warn("store.write_refused", {{"domain", domain}});
          break;
        default:
          break;
      }
      for (const drift::Event& e : r.events) {
        ++counters_.events;
        if (metrics_ != nullptr) {
          metrics_->Event(drift::EventKindName(e.kind), drift::EventSeverityName(e.severity));
        }
        log_.Log(LevelOf(e.severity), "drift.event",
                 {{"domain", e.domain},
                  {"kind", std::string(drift::EventKindName(e.kind))},
                  {"severity", std::string(drift::EventSeverityName(e.severity))},
                  {"subject", e.subject},
                  {"id", e.id},
                  {"message", e.message}});
      }
    });
  }
  queue_.Completed(domain, finished);
  --running_;
  if (draining_) {
    if (running_ == 0 && drained_) {
      asio::post(executor_, std::exchange(drained_, nullptr));
    }
  } else {
    Wake();
  }
}

void Monitor::Progress() {
  const auto now = clock_.Now();
  std::string lag = "0";
  if (const auto next = queue_.NextDue(); next && *next < now) {
    lag = std::to_string(std::chrono::duration_cast<std::chrono::seconds>(now - *next).count());
  }
  log_.Info("serve.progress",
            {{"domains", std::to_string(queue_.size())},
             {"in_flight", std::to_string(running_)},
             {"checks", std::to_string(counters_.checks - last_progress_.checks)},
             {"changed", std::to_string(counters_.applied - last_progress_.applied)},
             {"events", std::to_string(counters_.events - last_progress_.events)},
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
