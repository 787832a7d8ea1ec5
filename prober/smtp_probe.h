#pragma once

// The SMTP STARTTLS probe of one MX address (RFC 5321, RFC 3207, RFC 8461 §4): connect to port
// 25, read the banner, EHLO, STARTTLS, TLS handshake with SNI = the MX host name, EHLO again,
// QUIT. Records what a sending MTA would see. Every step is bounded by one deadline and every
// reply by line and size limits; data sent before the handshake is discarded and reported.

#include <chrono>
#include <string>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/address.hpp>

#include "mtasts/observation.h"
#include "prober/tls.h"

namespace stswatch::prober {

struct SmtpOptions {
  std::chrono::milliseconds timeout{30000};  // The whole dialogue.
  std::string ehlo_name = "localhost";
  std::uint16_t port = 25;
  // After a failed handshake, try again with TLS 1.0+ at security level 0 to tell the operator
  // which old version the server speaks (a second connection).
  bool diagnose_legacy_tls = true;
};

// Probes `address` for MX host `host`. The TlsContext must outlive the coroutine.
boost::asio::awaitable<mtasts::SmtpProbe> ProbeSmtp(TlsContext& tls, std::string host,
                                                    boost::asio::ip::address address,
                                                    SmtpOptions options);

}  // namespace stswatch::prober
