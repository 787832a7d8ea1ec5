#pragma once

// Coroutine adapters over the prober's seams, and a deadline that closes a socket.

#include <chrono>
#include <memory>
#include <string>
#include <utility>

#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "prober/dns_resolver.h"

namespace stswatch::prober {

// co_await AsyncResolve(resolver, name, type): DnsResolver::Resolve as an awaitable. Not a
// coroutine itself (GCC 12 mishandles by-value captures in a co_await'ed initiation).
inline boost::asio::awaitable<DnsResult> AsyncResolve(DnsResolver& resolver, std::string name,
                                                      RrType type) {
  return boost::asio::async_initiate<const boost::asio::use_awaitable_t<>&, void(DnsResult)>(
      [&resolver, type](auto handler, std::string query) {
        auto shared = std::make_shared<decltype(handler)>(std::move(handler));
        resolver.Resolve(query, type, [shared](DnsResult r) { (*shared)(std::move(r)); });
      },
      boost::asio::use_awaitable, std::move(name));
}

// Closes `socket` when the deadline passes, so every pending operation on it fails. The guard
// must outlive the operations; destroying it disarms it — also when the timer has already fired
// and its handler is still queued (the handler then finds no socket to close).
template <typename Socket>
class Deadline {
 public:
  Deadline(Socket& socket, std::chrono::steady_clock::duration timeout)
      : Deadline(socket, std::chrono::steady_clock::now() + timeout) {}
  Deadline(Socket& socket, std::chrono::steady_clock::time_point at)
      : timer_(socket.get_executor()), state_(std::make_shared<State>()) {
    state_->socket = &socket;
    timer_.expires_at(at);
    timer_.async_wait([state = state_](const boost::system::error_code& ec) {
      if (ec || state->socket == nullptr) {
        return;
      }
      state->expired = true;
      boost::system::error_code ignored;
      state->socket->close(ignored);
    });
  }
  Deadline(const Deadline&) = delete;
  Deadline& operator=(const Deadline&) = delete;
  ~Deadline() {
    state_->socket = nullptr;
    timer_.cancel();
  }
  bool expired() const { return state_->expired; }

 private:
  struct State {
    Socket* socket = nullptr;
    bool expired = false;
  };
  boost::asio::steady_timer timer_;
  std::shared_ptr<State> state_;
};

}  // namespace stswatch::prober
