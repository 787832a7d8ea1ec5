#pragma once

// The seams of one domain's check besides DNS: fetching a policy and probing an MX address.
// DomainChecker depends on these interfaces only; the real implementations (real_probers.h) wrap
// FetchPolicy and ProbeSmtp, and unit tests substitute fakes.
//
// Threading: called on the DomainChecker's io_context thread; the returned awaitables run there.

#include <memory>
#include <string>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/address.hpp>

#include "mtasts/observation.h"

namespace stswatch::prober {

class PolicyFetcher {
 public:
  virtual ~PolicyFetcher() = default;
  // Fetches https://mta-sts.<domain>/.well-known/mta-sts.txt.
  virtual boost::asio::awaitable<mtasts::PolicyFetch> Fetch(std::string domain) = 0;
};

class StartTlsProber {
 public:
  virtual ~StartTlsProber() = default;
  // Runs the SMTP STARTTLS dialogue with `address` for MX host `host`.
  virtual boost::asio::awaitable<mtasts::SmtpProbe> Probe(std::string host,
                                                          boost::asio::ip::address address) = 0;
};

}  // namespace stswatch::prober
