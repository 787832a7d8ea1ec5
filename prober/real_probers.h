#pragma once

// The real PolicyFetcher and StartTlsProber: HTTPS and SMTP over the network.

#include <string>

#include "prober/address_filter.h"
#include "prober/dns_resolver.h"
#include "prober/policy_fetch.h"
#include "prober/probers.h"
#include "prober/smtp_probe.h"
#include "prober/tls.h"

namespace stswatch::prober {

// The HTTPS fetch of policy_fetch.h. The references must outlive the fetcher.
class HttpsPolicyFetcher final : public PolicyFetcher {
 public:
  HttpsPolicyFetcher(DnsResolver& resolver, TlsContext& tls, const AddressFilter& filter,
                     FetchOptions options)
      : resolver_(resolver), tls_(tls), filter_(filter), options_(std::move(options)) {}
  boost::asio::awaitable<mtasts::PolicyFetch> Fetch(std::string domain) override {
    return FetchPolicy(resolver_, tls_, filter_, std::move(domain), options_);
  }

 private:
  DnsResolver& resolver_;
  TlsContext& tls_;
  const AddressFilter& filter_;
  FetchOptions options_;
};

// The SMTP probe of smtp_probe.h. The TLS context must outlive the prober.
class SmtpStartTlsProber final : public StartTlsProber {
 public:
  SmtpStartTlsProber(TlsContext& tls, SmtpOptions options)
      : tls_(tls), options_(std::move(options)) {}
  boost::asio::awaitable<mtasts::SmtpProbe> Probe(std::string host,
                                                  boost::asio::ip::address address) override {
    return ProbeSmtp(tls_, std::move(host), address, options_);
  }

 private:
  TlsContext& tls_;
  SmtpOptions options_;
};

}  // namespace stswatch::prober
