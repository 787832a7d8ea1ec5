#pragma once

// The prober worker of `stswatch prober`: attaches to the active scheduler over the Work stream
// (proto/stswatch/v1/worker.proto), grants credits up to its capacity, runs the checks it is
// assigned, writes each result with the assignment's fencing token (the store refuses a stale
// one), and acknowledges it. It walks its list of scheduler addresses until one accepts it,
// reconnects with backoff when the stream ends, and treats a scheduler silent for the lease
// timeout as gone.
//
// Threading: the stream is handled on the control executor given to the constructor; checks run
// wherever CheckFn runs them (serve-like wiring posts them to per-thread io_contexts). Every
// method on the control executor's thread.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include "common/log.h"
#include "common/time_source.h"
#include "stswatch/v1/worker.pb.h"

namespace stswatch::prober {

struct WorkerOptions {
  // "host:port" of every scheduler; the active one accepts the worker, the others stand by.
  std::vector<std::string> schedulers;
  std::string worker_id;
  std::string version;
  std::uint32_t capacity = 64;
  std::chrono::milliseconds backoff_min{200};
  std::chrono::milliseconds backoff_max{5000};
  // Every stream has a deadline; the worker opens a new one when it passes.
  std::chrono::seconds stream_deadline{3600};
  // Until the Welcome says otherwise.
  std::chrono::milliseconds heartbeat{1000};
  std::chrono::milliseconds lease_timeout{5000};
};

// What a check reports back.
struct CheckReport {
  std::string outcome;  // "unchanged", "applied", "refused", "superseded", "failed"
  std::string status;
  std::vector<std::string> mx_hosts;
  std::uint32_t events = 0;
  std::string error;
  std::int64_t started_ms = 0;
  std::int64_t finished_ms = 0;
};

class Worker {
 public:
  // Runs one assigned check and writes its result (with the assignment's token) and its entry in
  // the check history. Must call `done` exactly once, from any thread.
  using CheckFn = std::function<void(const stswatch::v1::CheckAssignment& assignment,
                                     std::function<void(CheckReport)> done)>;

  Worker(const boost::asio::any_io_executor& executor, WorkerOptions options, CheckFn check,
         const TimeSource& clock, Logger& log);
  ~Worker();

  void Start();
  // Stops taking work: no more credits; `done` runs once the checks running have finished and
  // been acknowledged (or their stream is gone), then the stream is closed.
  void Drain(std::function<void()> done);

  std::size_t running() const { return static_cast<std::size_t>(running_); }
  bool attached() const;
  std::uint64_t checks_done() const { return checks_done_; }

 private:
  class Stream;
  void Connect();
  void OnMessage(Stream* stream, const stswatch::v1::SchedulerMessage& message);
  void OnStreamDone(Stream* stream, const std::string& why, bool standby);
  void Finished(Stream* stream, std::uint64_t dispatch_id, const std::string& domain,
                const std::string& token, CheckReport report);
  void Beat();
  void GrantCredits();

  boost::asio::any_io_executor executor_;
  WorkerOptions options_;
  CheckFn check_;
  const TimeSource& clock_;
  Logger& log_;
  std::shared_ptr<Stream> stream_;  // The current stream, if any.
  bool welcomed_ = false;
  std::size_t next_address_ = 0;
  std::chrono::milliseconds backoff_;
  std::chrono::milliseconds heartbeat_;
  std::chrono::milliseconds lease_timeout_;
  std::chrono::steady_clock::time_point last_heard_;
  boost::asio::steady_timer retry_timer_;
  boost::asio::steady_timer beat_timer_;
  int running_ = 0;
  std::uint32_t granted_ = 0;  // Credits outstanding on the current stream.
  std::uint64_t checks_done_ = 0;
  bool draining_ = false;
  std::function<void()> drained_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace stswatch::prober
