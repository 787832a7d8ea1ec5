#pragma once

// One domain's check, as a sending MTA would do it (RFC 8461 §3–§5): the `_mta-sts`,
// `_smtp._tls` and MX lookups, the policy fetch, and the STARTTLS probe of every address of
// every MX host. The result is a DomainObservation for the verdict rules (mtasts/verdict.h).
//
// SMTP probes are shared: the result for one (MX host, address) serves every domain that uses
// it within `share_window`, so ten thousand domains on three MX hosts cost three probes.
// Concurrency is capped globally and per destination address.
//
// Threading: a DomainChecker belongs to one io_context thread; Observe runs on it. The resolver,
// fetcher and prober must outlive the checker and every pending Observe.

#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <string>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include "mtasts/observation.h"
#include "prober/address_filter.h"
#include "prober/dns_resolver.h"
#include "prober/probers.h"

namespace stswatch::prober {

struct CheckOptions {
  int max_addresses_per_mx = 4;
  int max_mx_hosts = 16;
  std::chrono::seconds share_window{300};
  int max_smtp_in_flight = 128;
  int max_per_destination = 8;
};

// A counting semaphore for coroutines on one io_context.
class AsyncSemaphore {
 public:
  AsyncSemaphore(boost::asio::any_io_executor executor, int count)
      : executor_(std::move(executor)), count_(count) {}
  boost::asio::awaitable<void> Acquire();
  void Release();

 private:
  boost::asio::any_io_executor executor_;
  int count_;
  std::deque<std::shared_ptr<boost::asio::steady_timer>> waiters_;
};

class DomainChecker {
 public:
  DomainChecker(const boost::asio::any_io_executor& executor, DnsResolver& resolver,
                PolicyFetcher& fetcher, StartTlsProber& prober, AddressFilter filter,
                CheckOptions options);

  // `domain`: a lower-case host name without the trailing dot.
  boost::asio::awaitable<mtasts::DomainObservation> Observe(std::string domain);

  // SMTP probes run so far, and probes answered from the shared results.
  int probes_run() const { return probes_run_; }
  int probes_shared() const { return probes_shared_; }
  // Shared probe results held (finished ones are dropped once older than share_window).
  std::size_t probes_held() const { return probes_.size(); }

 private:
  struct Slot;
  boost::asio::awaitable<mtasts::MxObservation> ObserveMx(std::string host, int priority);
  boost::asio::awaitable<mtasts::SmtpProbe> SharedProbe(std::string host,
                                                        boost::asio::ip::address address);

  boost::asio::any_io_executor executor_;
  DnsResolver& resolver_;
  PolicyFetcher& fetcher_;
  StartTlsProber& prober_;
  AddressFilter filter_;
  CheckOptions options_;
  AsyncSemaphore smtp_slots_;
  std::map<std::string, std::unique_ptr<AsyncSemaphore>> per_destination_;
  std::map<std::string, std::shared_ptr<Slot>> probes_;
  int probes_run_ = 0;
  int probes_shared_ = 0;
};

}  // namespace stswatch::prober
