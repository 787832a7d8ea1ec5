#pragma once

// The gRPC side of the Work stream (proto/stswatch/v1/worker.proto): a callback service whose
// reactors never block — each message read is posted to the dispatcher's io_context, and the
// dispatcher's sends are queued and written one at a time from gRPC's threads.
//
// Lifetime: a session lives until gRPC calls OnDone; the dispatcher's WorkerLink for it stays
// valid until the posted Detached has run (the session's shared state outlives the reactor).

#include <memory>

#include <boost/asio/any_io_executor.hpp>

#include "scheduler/dispatcher.h"
#include "stswatch/v1/worker.grpc.pb.h"

namespace stswatch::scheduler {

class WorkService final : public stswatch::v1::WorkerService::CallbackService {
 public:
  // `dispatcher` and `executor` must outlive the service and every session.
  WorkService(boost::asio::any_io_executor executor, Dispatcher& dispatcher)
      : executor_(std::move(executor)), dispatcher_(dispatcher) {}

  grpc::ServerBidiReactor<stswatch::v1::WorkerMessage, stswatch::v1::SchedulerMessage>* Work(
      grpc::CallbackServerContext* context) override;

 private:
  boost::asio::any_io_executor executor_;
  Dispatcher& dispatcher_;
};

}  // namespace stswatch::scheduler
