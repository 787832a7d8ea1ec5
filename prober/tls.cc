#include "prober/tls.h"

#include <ctime>

#include <openssl/err.h>
#include <openssl/x509v3.h>

namespace stswatch::prober {

namespace ssl = boost::asio::ssl;

namespace {

std::chrono::system_clock::time_point ToTimePoint(const ASN1_TIME* t) {
  std::tm tm{};
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) {
    return {};
  }
  return std::chrono::system_clock::from_time_t(timegm(&tm));
}

std::string NameLine(const X509_NAME* name) {
  BIO* bio = BIO_new(BIO_s_mem());
  X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<std::size_t>(len));
  BIO_free(bio);
  return out;
}

}  // namespace

absl::StatusOr<std::unique_ptr<TlsContext>> TlsContext::Create(const std::string& ca_file) {
  std::unique_ptr<TlsContext> ctx(new TlsContext());
  boost::system::error_code ec;
  for (ssl::context* c : {&ctx->modern_, &ctx->legacy_}) {
    c->set_verify_mode(ssl::verify_none);
    if (ca_file.empty()) {
      c->set_default_verify_paths(ec);
    } else {
      c->load_verify_file(ca_file, ec);
    }
    if (ec) {
      return absl::InvalidArgumentError("cannot load CA certificates" +
                                        (ca_file.empty() ? "" : " from " + ca_file) + ": " +
                                        ec.message());
    }
  }
  SSL_CTX_set_min_proto_version(ctx->modern_.native_handle(), TLS1_2_VERSION);
  SSL_CTX_set_min_proto_version(ctx->legacy_.native_handle(), TLS1_VERSION);
  SSL_CTX_set_security_level(ctx->legacy_.native_handle(), 0);
  SSL_CTX_set_cipher_list(ctx->legacy_.native_handle(), "DEFAULT:@SECLEVEL=0");
  return ctx;
}

TlsContext::TlsContext() : modern_(ssl::context::tls_client), legacy_(ssl::context::tls_client) {}

std::optional<mtasts::CertificateInfo> InspectPeer(SSL* ssl, const std::string& host) {
  std::unique_ptr<X509, decltype(&X509_free)> leaf(SSL_get1_peer_certificate(ssl), X509_free);
  if (!leaf) {
    return std::nullopt;
  }
  mtasts::CertificateInfo info;
  if (auto* names = static_cast<GENERAL_NAMES*>(
          X509_get_ext_d2i(leaf.get(), NID_subject_alt_name, nullptr, nullptr))) {
    for (int i = 0; i < sk_GENERAL_NAME_num(names) && i < 100; ++i) {
      const GENERAL_NAME* name = sk_GENERAL_NAME_value(names, i);
      if (name->type == GEN_DNS) {
        const ASN1_STRING* s = name->d.dNSName;
        info.names.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                                static_cast<std::size_t>(ASN1_STRING_length(s)));
      }
    }
    GENERAL_NAMES_free(names);
  }
  if (info.names.empty()) {
    char cn[256] = {};
    if (X509_NAME_get_text_by_NID(X509_get_subject_name(leaf.get()), NID_commonName, cn,
                                  sizeof(cn)) > 0) {
      info.names.emplace_back(cn);
    }
  }
  info.subject = NameLine(X509_get_subject_name(leaf.get()));
  info.issuer = NameLine(X509_get_issuer_name(leaf.get()));
  info.not_before = ToTimePoint(X509_get0_notBefore(leaf.get()));
  info.not_after = ToTimePoint(X509_get0_notAfter(leaf.get()));
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_len = 0;
  if (X509_digest(leaf.get(), EVP_sha256(), digest, &digest_len) == 1) {
    static constexpr char kHex[] = "0123456789abcdef";
    for (unsigned int i = 0; i < digest_len; ++i) {
      info.sha256 += kHex[digest[i] >> 4];
      info.sha256 += kHex[digest[i] & 0xF];
    }
  }
  if (const STACK_OF(X509)* sent = SSL_get_peer_cert_chain(ssl)) {
    for (int i = 0; i < sk_X509_num(sent) && i < 16; ++i) {
      info.chain.push_back(NameLine(X509_get_subject_name(sk_X509_value(sent, i))));
    }
  }
  const long verify = SSL_get_verify_result(ssl);
  info.chain_valid = verify == X509_V_OK;
  if (!info.chain_valid) {
    info.chain_error_code = static_cast<int>(verify);
    info.chain_error = X509_verify_cert_error_string(verify);
  }
  // RFC 6125 §6.4.3: a wildcard only as the complete left-most label.
  info.name_match = X509_check_host(leaf.get(), host.data(), host.size(),
                                    X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS, nullptr) == 1;
  return info;
}

std::string ProtocolVersion(SSL* ssl) { return SSL_get_version(ssl); }

std::string HandshakeError(const boost::system::error_code& ec) {
  std::string reason;
  if (ec.category() == boost::asio::error::get_ssl_category()) {
    const char* r = ERR_reason_error_string(static_cast<unsigned long>(ec.value()));
    reason = r != nullptr ? r : ec.message();
  } else {
    reason = ec.message();
  }
  ERR_clear_error();
  return reason;
}

}  // namespace stswatch::prober
