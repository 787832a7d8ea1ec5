#pragma once

// A certificate authority made at test time with OpenSSL, and the server certificates it issues:
// for the tests of the delivery clients, which verify their peers.

#include <memory>
#include <string>

#include <boost/asio/ssl/context.hpp>
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

namespace stswatch::alerting::testing {

using KeyPtr = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;
using CertPtr = std::unique_ptr<X509, decltype(&X509_free)>;

inline KeyPtr NewKey() { return KeyPtr(EVP_EC_gen("P-256"), EVP_PKEY_free); }

inline void AddExtension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_nconf_nid(nullptr, &ctx, nid, value.c_str());
  if (ext == nullptr) {
    ADD_FAILURE() << "bad extension " << value;
    return;
  }
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

// A certificate for `key`, signed by `issuer_key` (self-signed when `issuer` is null). `san`:
// "DNS:relay.test,IP:127.0.0.1"; empty for a CA.
inline CertPtr MakeCertificate(EVP_PKEY* key, const std::string& common_name, X509* issuer,
                               EVP_PKEY* issuer_key, const std::string& san) {
  static long serial = 1;
  CertPtr cert(X509_new(), X509_free);
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), serial++);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 24L * 3600);
  X509_set_pubkey(cert.get(), key);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(common_name.c_str()), -1, -1,
                             0);
  X509* signer = issuer == nullptr ? cert.get() : issuer;
  X509_set_issuer_name(cert.get(), X509_get_subject_name(signer));
  if (san.empty()) {
    AddExtension(cert.get(), signer, NID_basic_constraints, "critical,CA:TRUE");
    AddExtension(cert.get(), signer, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    AddExtension(cert.get(), signer, NID_basic_constraints, "critical,CA:FALSE");
    AddExtension(cert.get(), signer, NID_ext_key_usage, "serverAuth");
    AddExtension(cert.get(), signer, NID_subject_alt_name, san);
  }
  X509_sign(cert.get(), issuer_key == nullptr ? key : issuer_key, EVP_sha256());
  return cert;
}

// A CA, and server certificates it issues.
class TestCa {
 public:
  TestCa()
      : key_(NewKey()),
        cert_(MakeCertificate(key_.get(), "stswatch test CA", nullptr, nullptr, "")) {}

  // Makes `context` trust this CA.
  void Trust(boost::asio::ssl::context& context) const {
    X509_STORE_add_cert(SSL_CTX_get_cert_store(context.native_handle()), cert_.get());
  }

  // Gives `context` a fresh key and a certificate for `san`.
  void Issue(boost::asio::ssl::context& context, const std::string& san) const {
    KeyPtr key = NewKey();
    CertPtr cert = MakeCertificate(key.get(), "server", cert_.get(), key_.get(), san);
    SSL_CTX_use_certificate(context.native_handle(), cert.get());
    SSL_CTX_use_PrivateKey(context.native_handle(), key.get());
  }

 private:
  KeyPtr key_;
  CertPtr cert_;
};

}  // namespace stswatch::alerting::testing
