#include "prober/worker.h"

#include <condition_variable>
#include <deque>
#include <mutex>
#include <random>
#include <thread>

#include <boost/asio/post.hpp>
#include <grpcpp/grpcpp.h>

#include "stswatch/v1/worker.grpc.pb.h"

namespace stswatch::prober {
namespace {

namespace asio = boost::asio;
namespace v1 = stswatch::v1;

std::int64_t UnixMs(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

}  // namespace

// One Work stream on gRPC's synchronous API: a reader thread and a writer thread per stream
// (the synchronous API allows one Read and one Write at a time, from different threads), both
// detached and both holding the stream alive; everything the worker must know is posted to the
// control executor. TryCancel (from any thread) unblocks both.
class Worker::Stream final : public std::enable_shared_from_this<Worker::Stream> {
 public:
  Stream(Worker& worker, std::string address)
      : worker_(worker),
        executor_(worker.executor_),
        alive_(worker.alive_),
        address_(std::move(address)) {}

  void Begin(std::chrono::seconds deadline) {
    grpc::ChannelArguments args;
    // Keepalive that the scheduler's server accepts (see scheduler's GRPC_ARG_HTTP2_MIN_*): a
    // ping every 20 s, even without calls; answered within 10 s or the connection is dead.
    args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 20000);
    args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 10000);
    args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
    args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
    channel_ = grpc::CreateCustomChannel(address_, grpc::InsecureChannelCredentials(), args);
    stub_ = v1::WorkerService::NewStub(channel_);
    context_.set_deadline(std::chrono::system_clock::now() + deadline);
    // Fail fast when the address does not answer, so the next one is tried.
    context_.set_wait_for_ready(false);
    call_ = stub_->Work(&context_);
    std::thread([self = shared_from_this()] { self->WriteLoop(); }).detach();
    std::thread([self = shared_from_this()] { self->ReadLoop(); }).detach();
  }

  void Send(const v1::WorkerMessage& message) {
    const std::lock_guard<std::mutex> lock(mutex_);
    if (closing_ || ended_) {
      return;
    }
    queue_.push_back(message);
    wake_.notify_one();
  }

  // Half-closes once the queued messages are written.
  void Close() {
    const std::lock_guard<std::mutex> lock(mutex_);
    closing_ = true;
    wake_.notify_one();
  }

  void Cancel() { context_.TryCancel(); }

  const std::string& Address() const { return address_; }

 private:
  void WriteLoop() {
    for (;;) {
      v1::WorkerMessage message;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [&] { return !queue_.empty() || closing_ || ended_; });
        if (ended_) {
          break;
        }
        if (queue_.empty()) {
          call_->WritesDone();
          break;
        }
        message = std::move(queue_.front());
        queue_.pop_front();
      }
      if (!call_->Write(message)) {
        break;  // The call is broken; the reader sees the end.
      }
    }
    const std::lock_guard<std::mutex> lock(mutex_);
    writer_done_ = true;
    wake_.notify_all();
  }

  void ReadLoop() {
    v1::SchedulerMessage message;
    while (call_->Read(&message)) {
      asio::post(executor_,
                 [&worker = worker_, alive = alive_, self = shared_from_this(), message] {
                   if (*alive) {
                     worker.OnMessage(self.get(), message);
                   }
                 });
    }
    {
      // The writer must be out of Write before Finish.
      std::unique_lock<std::mutex> lock(mutex_);
      ended_ = true;
      wake_.notify_all();
      if (!wake_.wait_for(lock, std::chrono::seconds(5), [&] { return writer_done_; })) {
        lock.unlock();
        context_.TryCancel();
        lock.lock();
        wake_.wait(lock, [&] { return writer_done_; });
      }
    }
    const grpc::Status status = call_->Finish();
    std::string why = status.ok() ? "the scheduler ended the stream" : status.error_message();
    if (!status.ok() && why.empty()) {
      why = "status " + std::to_string(status.error_code());
    }
    asio::post(executor_, [&worker = worker_, alive = alive_, self = shared_from_this(),
                           why = std::move(why)] {
      if (*alive) {
        worker.OnStreamDone(self.get(), why, false);
      }
    });
  }

  Worker& worker_;
  asio::any_io_executor executor_;
  std::shared_ptr<bool> alive_;
  std::string address_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::WorkerService::Stub> stub_;
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReaderWriter<v1::WorkerMessage, v1::SchedulerMessage>> call_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<v1::WorkerMessage> queue_;
  bool closing_ = false;
  bool ended_ = false;
  bool writer_done_ = false;
};

Worker::Worker(const asio::any_io_executor& executor, WorkerOptions options, CheckFn check,
               const TimeSource& clock, Logger& log)
    : executor_(executor),
      options_(std::move(options)),
      check_(std::move(check)),
      clock_(clock),
      log_(log),
      backoff_(options_.backoff_min),
      heartbeat_(options_.heartbeat),
      lease_timeout_(options_.lease_timeout),
      retry_timer_(executor),
      beat_timer_(executor) {}

Worker::~Worker() {
  *alive_ = false;
  if (stream_) {
    stream_->Cancel();
  }
}

bool Worker::attached() const { return stream_ != nullptr && welcomed_; }

void Worker::Start() {
  Connect();
  Beat();
}

void Worker::Connect() {
  if (draining_ || options_.schedulers.empty()) {
    return;
  }
  const std::string& address = options_.schedulers[next_address_ % options_.schedulers.size()];
  ++next_address_;
  welcomed_ = false;
  granted_ = 0;
  last_heard_ = std::chrono::steady_clock::now();
  stream_ = std::make_shared<Stream>(*this, address);
  stream_->Begin(options_.stream_deadline);
  v1::WorkerMessage hello;
  hello.mutable_hello()->set_worker_id(options_.worker_id);
  hello.mutable_hello()->set_version(options_.version);
  hello.mutable_hello()->set_capacity(options_.capacity);
  stream_->Send(hello);
}

void Worker::GrantCredits() {
  if (!stream_ || !welcomed_ || draining_) {
    return;
  }
  const std::uint32_t want = options_.capacity > static_cast<std::uint32_t>(running_)
                                 ? options_.capacity - static_cast<std::uint32_t>(running_)
                                 : 0;
  if (want > granted_) {
    v1::WorkerMessage credit;
    credit.mutable_credit()->set_credits(want - granted_);
    stream_->Send(credit);
    granted_ = want;
  }
}

void Worker::OnMessage(Stream* stream, const v1::SchedulerMessage& message) {
  if (stream != stream_.get()) {
    return;  // An old stream's last words.
  }
  last_heard_ = std::chrono::steady_clock::now();
  if (message.has_welcome()) {
    const v1::Welcome& w = message.welcome();
    welcomed_ = true;
    backoff_ = options_.backoff_min;
    if (w.heartbeat_ms() > 0) {
      heartbeat_ = std::chrono::milliseconds(w.heartbeat_ms());
    }
    if (w.lease_timeout_ms() > 0) {
      lease_timeout_ = std::chrono::milliseconds(w.lease_timeout_ms());
    }
    log_.Info("prober.attached", {{"scheduler", stream->Address()},
                                  {"scheduler_id", w.scheduler_id()},
                                  {"epoch", std::to_string(w.epoch())},
                                  {"running", std::to_string(running_)}});
    GrantCredits();
  } else if (message.has_standby()) {
    log_.Info("prober.standby_scheduler", {{"scheduler", stream->Address()},
                                           {"scheduler_id", message.standby().scheduler_id()}});
    // It ends the stream; the next address is tried at once.
    backoff_ = std::chrono::milliseconds(0);
  } else if (message.has_assign()) {
    const v1::CheckAssignment& a = message.assign();
    if (granted_ > 0) {
      --granted_;
    }
    ++running_;
    std::weak_ptr<Stream> from = stream_;
    check_(a, [this, alive = alive_, from, id = a.dispatch_id(), domain = a.domain(),
               token = a.token()](CheckReport report) {
      asio::post(executor_,
                 [this, alive, from, id, domain, token, report = std::move(report)]() mutable {
                   if (*alive) {
                     Finished(from.lock().get(), id, domain, token, std::move(report));
                   }
                 });
    });
  }
}

void Worker::Finished(Stream* stream, std::uint64_t dispatch_id, const std::string& domain,
                      const std::string& token, CheckReport report) {
  --running_;
  ++checks_done_;
  log_.Log(LogLevel::kDebug, "prober.check_done",
           {{"domain", domain},
            {"token", token},
            {"outcome", report.outcome},
            {"status", report.status},
            {"attached", stream != nullptr && stream == stream_.get() ? "yes" : "no"}});
  if (stream != nullptr && stream == stream_.get()) {
    v1::WorkerMessage done;
    v1::CheckDone* d = done.mutable_done();
    d->set_dispatch_id(dispatch_id);
    d->set_domain(domain);
    d->set_token(token);
    d->set_outcome(report.outcome);
    d->set_status(report.status);
    d->set_started_unix_ms(report.started_ms);
    d->set_finished_unix_ms(report.finished_ms);
    for (const std::string& h : report.mx_hosts) {
      d->add_mx_hosts(h);
    }
    d->set_events(report.events);
    d->set_error(report.error);
    stream_->Send(done);
  }
  // Otherwise the stream that assigned it is gone: its new scheduler re-dispatched the domain,
  // and the store fenced this result off if it was older.
  if (report.outcome == "refused") {
    log_.Warn("prober.write_refused", {{"domain", domain}, {"token", token}});
  }
  GrantCredits();
  if (draining_ && running_ == 0 && drained_) {
    if (stream_) {
      stream_->Close();
    }
    asio::post(executor_, std::exchange(drained_, nullptr));
  }
}

void Worker::OnStreamDone(Stream* stream, const std::string& why, bool /*standby*/) {
  if (stream != stream_.get()) {
    return;
  }
  if (welcomed_) {
    log_.Warn("prober.detached", {{"scheduler", stream->Address()}, {"reason", why}});
  } else {
    log_.Log(backoff_.count() == 0 ? LogLevel::kDebug : LogLevel::kWarning, "prober.connect_failed",
             {{"scheduler", stream->Address()}, {"reason", why}});
  }
  stream_.reset();
  welcomed_ = false;
  granted_ = 0;
  if (draining_) {
    return;
  }
  // Retry after a randomised backoff (at once after a standby, on the next address).
  std::minstd_rand random(std::random_device{}());
  const auto delay =
      backoff_.count() == 0
          ? std::chrono::milliseconds(50)
          : std::chrono::milliseconds(backoff_.count() / 2 + random() % (backoff_.count() / 2 + 1));
  backoff_ = std::min(options_.backoff_max, std::max(options_.backoff_min, backoff_ * 2));
  retry_timer_.expires_after(delay);
  retry_timer_.async_wait([this, alive = alive_](const boost::system::error_code& ec) {
    if (*alive && !ec) {
      Connect();
    }
  });
}

void Worker::Beat() {
  if (stream_ && welcomed_) {
    if (std::chrono::steady_clock::now() - last_heard_ > lease_timeout_) {
      log_.Warn("prober.scheduler_silent", {{"scheduler", stream_->Address()}});
      stream_->Cancel();
    } else {
      v1::WorkerMessage beat;
      beat.mutable_heartbeat()->set_unix_ms(UnixMs(clock_.Now()));
      stream_->Send(beat);
    }
  }
  beat_timer_.expires_after(heartbeat_);
  beat_timer_.async_wait([this, alive = alive_](const boost::system::error_code& ec) {
    if (*alive && !ec) {
      Beat();
    }
  });
}

void Worker::Drain(std::function<void()> done) {
  draining_ = true;
  drained_ = std::move(done);
  retry_timer_.cancel();
  if (running_ == 0) {
    if (stream_) {
      stream_->Close();
    }
    beat_timer_.cancel();
    asio::post(executor_, std::exchange(drained_, nullptr));
  }
}

}  // namespace stswatch::prober
