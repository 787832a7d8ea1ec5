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
// must outlive the operations; destroying it disarms it.
template <typename Socket>
class Deadline {
 public:
  Deadline(Socket& socket, std::chrono::steady_clock::duration timeout)
      : timer_(socket.get_executor()), expired_(std::make_shared<bool>(false)) {
    timer_.expires_after(timeout);
    timer_.async_wait([&socket, expired = expired_](const boost::system::error_code& ec) {
      if (!ec) {
        *expired = true;
        boost::system::error_code ignored;
        socket.close(ignored);
      }
    });
  }
  ~Deadline() { timer_.cancel(); }
  bool expired() const { return *expired_; }

 private:
  boost::asio::steady_timer timer_;
  std::shared_ptr<bool> expired_;
};

}  // namespace stswatch::prober
