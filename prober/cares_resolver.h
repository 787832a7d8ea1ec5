#pragma once

// DnsResolver on c-ares, driven from an Asio io_context: c-ares' sockets are watched with
// posix::stream_descriptor (never closed by us: c-ares owns them), its timeouts with a
// steady_timer. One resolver per io_context thread.

#include <ares.h>

#include <deque>
#include <map>
#include <memory>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>

#include "absl/status/statusor.h"
#include "prober/dns_resolver.h"

namespace stswatch::prober {

struct CaresOptions {
  // "IP" or "IP:PORT" of the servers to ask; empty: the system's /etc/resolv.conf.
  std::string servers;
  int timeout_ms = 3000;  // Per try.
  int tries = 2;
  // Queries in flight on the channel at once; more wait in a queue (c-ares slows down sharply
  // with hundreds in flight).
  int max_in_flight = 64;
};

class CaresResolver final : public DnsResolver {
 public:
  // Fails when c-ares cannot be initialised or `servers` is malformed.
  static absl::StatusOr<std::unique_ptr<CaresResolver>> Create(boost::asio::io_context& io,
                                                               const CaresOptions& options);
  ~CaresResolver() override;

  void Resolve(const std::string& name, RrType type, Callback callback) override;

 private:
  struct Watch;
  struct Query;

  CaresResolver(boost::asio::io_context& io, const CaresOptions& options);
  void Start(std::unique_ptr<Query> query);
  void StartNext();
  void OnAnswer(Query* query, int status, const unsigned char* answer, int length);
  void Finish(Query* query, DnsResult result);
  static void SockStateCallback(void* data, ares_socket_t fd, int readable, int writable);
  void OnSockState(ares_socket_t fd, bool readable, bool writable);
  void Arm(const std::shared_ptr<Watch>& watch);
  void RearmTimer();

  boost::asio::io_context& io_;
  CaresOptions options_;
  ares_channel channel_ = nullptr;
  boost::asio::steady_timer timer_;
  std::map<ares_socket_t, std::shared_ptr<Watch>> watches_;
  std::deque<std::unique_ptr<Query>> waiting_;
  std::map<Query*, std::unique_ptr<Query>> in_flight_;
  // Shared with posted completions so they can tell that the resolver is gone.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace stswatch::prober
