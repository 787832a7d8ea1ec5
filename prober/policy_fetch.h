#pragma once

// The HTTPS policy fetch of RFC 8461 §3.3: https://mta-sts.<domain>/.well-known/mta-sts.txt,
// with SNI, the certificate judged for the policy host, only 200 accepted, redirects reported and
// never followed, a size cap and one overall deadline.

#include <chrono>
#include <string>

#include <boost/asio/awaitable.hpp>

#include "mtasts/observation.h"
#include "prober/address_filter.h"
#include "prober/dns_resolver.h"
#include "prober/tls.h"

namespace stswatch::prober {

struct FetchOptions {
  std::chrono::milliseconds timeout{20000};
  std::size_t max_body_bytes = 64 * 1024;
  std::string user_agent = "stswatch";
};

// Runs on the calling coroutine's executor; the references must outlive it.
boost::asio::awaitable<mtasts::PolicyFetch> FetchPolicy(DnsResolver& resolver, TlsContext& tls,
                                                        const AddressFilter& filter,
                                                        std::string domain, FetchOptions options);

}  // namespace stswatch::prober
