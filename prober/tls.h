#pragma once

// TLS client settings and certificate inspection for the policy fetch and for STARTTLS.
//
// Handshakes run with verification *off* and the peer is inspected afterwards: a prober must see
// the certificate of a broken server to say what is wrong with it. Whether the chain validates
// is taken from OpenSSL's verification (SSL_get_verify_result), whether it names the host from
// X509_check_host with RFC 6125 rules (wildcard only as the whole left-most label).

#include <memory>
#include <string>

#include <boost/asio/ssl/context.hpp>
#include <openssl/ssl.h>

#include "absl/status/statusor.h"
#include "mtasts/observation.h"

namespace stswatch::prober {

// One per io_context thread: loading a CA store costs tens of milliseconds.
class TlsContext {
 public:
  // `ca_file`: PEM roots to trust instead of the system store; empty for the system store.
  static absl::StatusOr<std::unique_ptr<TlsContext>> Create(const std::string& ca_file);

  // TLS 1.2 and later at OpenSSL's default security level: what current senders negotiate.
  boost::asio::ssl::context& modern() { return modern_; }
  // TLS 1.0 and later at security level 0: only to tell what an old server still speaks.
  boost::asio::ssl::context& legacy() { return legacy_; }

 private:
  TlsContext();
  boost::asio::ssl::context modern_;
  boost::asio::ssl::context legacy_;
};

// Describes the leaf certificate of a completed handshake, judged for `host`. Returns nullopt
// when the peer sent no certificate.
std::optional<mtasts::CertificateInfo> InspectPeer(SSL* ssl, const std::string& host);

// "TLSv1.3", "TLSv1.2", ... of a completed handshake.
std::string ProtocolVersion(SSL* ssl);

// A sentence fragment for a failed handshake, from the OpenSSL error queue and the Asio error.
std::string HandshakeError(const boost::system::error_code& ec);

}  // namespace stswatch::prober
