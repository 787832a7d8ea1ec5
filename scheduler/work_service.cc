#include "scheduler/work_service.h"

#include <deque>
#include <mutex>

#include <boost/asio/post.hpp>

namespace stswatch::scheduler {
namespace {

namespace asio = boost::asio;
namespace v1 = stswatch::v1;

// Messages a session queues for writing before it is considered stuck and closed.
constexpr std::size_t kMaxQueued = 100000;

class Session;

// What the dispatcher holds: outlives the reactor, forwards to it while it lives.
class Link final : public WorkerLink {
 public:
  void Send(const v1::SchedulerMessage& message) override;
  void Close(const std::string& reason) override;

  std::mutex mutex;
  Session* session = nullptr;  // Null once gRPC is done with the reactor.
};

class Session final : public grpc::ServerBidiReactor<v1::WorkerMessage, v1::SchedulerMessage> {
 public:
  Session(asio::any_io_executor executor, Dispatcher& dispatcher)
      : executor_(std::move(executor)), dispatcher_(dispatcher), link_(std::make_shared<Link>()) {
    link_->session = this;
    asio::post(executor_,
               [&dispatcher = dispatcher_, link = link_] { dispatcher.Attached(link.get()); });
    StartRead(&in_);
  }

  // Under link->mutex.
  void SendLocked(const v1::SchedulerMessage& message) {
    if (finishing_) {
      return;
    }
    if (queue_.size() >= kMaxQueued) {
      FinishLocked(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                                "the worker does not read its stream"));
      return;
    }
    queue_.push_back(message);
    if (!writing_) {
      writing_ = true;
      StartWrite(&queue_.front());
    }
  }

  // Under link->mutex.
  void FinishLocked(const grpc::Status& status) {
    if (finishing_) {
      return;
    }
    finishing_ = true;
    status_ = status;
    if (!writing_) {
      Finish(status_);
    }
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      // The worker closed its side (or the call broke): finish ours.
      const std::lock_guard<std::mutex> lock(link_->mutex);
      FinishLocked(grpc::Status::OK);
      return;
    }
    asio::post(executor_, [&dispatcher = dispatcher_, link = link_, message = in_] {
      dispatcher.Received(link.get(), message);
    });
    StartRead(&in_);
  }

  void OnWriteDone(bool ok) override {
    const std::lock_guard<std::mutex> lock(link_->mutex);
    queue_.pop_front();
    if (!ok) {
      queue_.clear();
      writing_ = false;
      FinishLocked(grpc::Status(grpc::StatusCode::UNAVAILABLE, "write failed"));
      return;
    }
    if (!queue_.empty() && !finishing_) {
      StartWrite(&queue_.front());
      return;
    }
    writing_ = false;
    if (finishing_) {
      Finish(status_);
    }
  }

  void OnCancel() override {
    const std::lock_guard<std::mutex> lock(link_->mutex);
    FinishLocked(grpc::Status(grpc::StatusCode::CANCELLED, "cancelled"));
  }

  void OnDone() override {
    {
      const std::lock_guard<std::mutex> lock(link_->mutex);
      link_->session = nullptr;
    }
    asio::post(executor_,
               [&dispatcher = dispatcher_, link = link_] { dispatcher.Detached(link.get()); });
    delete this;
  }

 private:
  asio::any_io_executor executor_;
  Dispatcher& dispatcher_;
  std::shared_ptr<Link> link_;
  v1::WorkerMessage in_;
  std::deque<v1::SchedulerMessage> queue_;
  bool writing_ = false;
  bool finishing_ = false;
  grpc::Status status_;
};

void Link::Send(const v1::SchedulerMessage& message) {
  const std::lock_guard<std::mutex> lock(mutex);
  if (session != nullptr) {
    session->SendLocked(message);
  }
}

void Link::Close(const std::string& reason) {
  const std::lock_guard<std::mutex> lock(mutex);
  if (session != nullptr) {
    session->FinishLocked(grpc::Status(grpc::StatusCode::UNAVAILABLE, reason));
  }
}

}  // namespace

grpc::ServerBidiReactor<v1::WorkerMessage, v1::SchedulerMessage>* WorkService::Work(
    grpc::CallbackServerContext* /*context*/) {
  return new Session(executor_, dispatcher_);
}

}  // namespace stswatch::scheduler
