// DKIM verification against an independent signer: Debian's python3-dkim (dkimpy) signs the
// messages with keys generated here by OpenSSL, and the verifier checks them with the public
// keys served from a static key source.

#include "tlsrpt/dkim.h"

#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/subprocess.h"

namespace stswatch::tlsrpt {
namespace {

using ::testing::AnyOf;
using ::testing::HasSubstr;
using ::testing::SizeIs;

constexpr char kSignerScript[] = R"py(
import sys, time
import dkim
alg, canon, selector, domain, key_file, expire, length = sys.argv[1:8]
key = open(key_file, 'rb').read().strip()
message = sys.stdin.buffer.read()
if expire != '0':
    # dkimpy writes no x= tag: add one, and sign an hour before it.
    signed_at = int(expire) - 3600
    time.time = lambda: signed_at
    original = dkim.DKIM.gen_header
    def gen_header(self, fields, *args, **kwargs):
        fields = list(fields)
        fields.insert(len(fields) - 1, (b'x', expire.encode()))
        return original(self, fields, *args, **kwargs)
    dkim.DKIM.gen_header = gen_header
signature = dkim.sign(message, selector.encode(), domain.encode(), key,
                      canonicalize=(canon.encode(), canon.encode()),
                      signature_algorithm=alg.encode(),
                      include_headers=[b'from', b'to', b'subject', b'date', b'message-id',
                                       b'tls-report-domain', b'tls-report-submitter',
                                       b'content-type'],
                      length=(length == '1'))
sys.stdout.buffer.write(signature)
)py";

constexpr char kMessage[] =
    "From: TLS reports <tlsrpt@sender.example>\r\n"
    "To: tlsrpt@example.org\r\n"
    "Subject: Report Domain: example.org Submitter: sender.example\r\n"
    "  Report-ID: <r1@sender.example>\r\n"
    "Date: Thu, 01 Jan 2026 12:00:00 +0000\r\n"
    "Message-ID: <r1@sender.example>\r\n"
    "TLS-Report-Domain: example.org\r\n"
    "TLS-Report-Submitter: sender.example\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: multipart/report; report-type=tlsrpt;\r\n"
    "\tboundary=\"b1\"\r\n"
    "\r\n"
    "--b1\r\n"
    "Content-Type: text/plain\r\n"
    "\r\n"
    "A  TLS report,\twith  odd   spacing   \r\n"
    "\r\n"
    "--b1\r\n"
    "Content-Type: application/tlsrpt+json\r\n"
    "\r\n"
    "{\"report-id\":\"r1\"}\r\n"
    "--b1--\r\n"
    "\r\n"
    "\r\n";

std::string Base64(const std::string& data) {
  std::string out(4 * ((data.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(data.data()),
                                static_cast<int>(data.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

struct PkeyDeleter {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};

struct TestKey {
  std::string algorithm;    // a= of the signatures.
  std::string private_key;  // As dkimpy reads it.
  std::string record;       // The DNS TXT record.
};

TestKey MakeRsaKey() {
  std::unique_ptr<EVP_PKEY, PkeyDeleter> key(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", 2048));
  EXPECT_NE(key, nullptr);
  TestKey result;
  result.algorithm = "rsa-sha256";
  // dkimpy reads PKCS #1 ("BEGIN RSA PRIVATE KEY").
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey_traditional(bio, key.get(), nullptr, nullptr, 0, nullptr, nullptr);
  char* pem = nullptr;
  const long pem_size = BIO_get_mem_data(bio, &pem);
  result.private_key.assign(pem, static_cast<std::size_t>(pem_size));
  BIO_free(bio);
  unsigned char* der = nullptr;
  const int der_size = i2d_PUBKEY(key.get(), &der);
  result.record = "v=DKIM1; k=rsa; p=" + Base64(std::string(reinterpret_cast<char*>(der),
                                                            static_cast<std::size_t>(der_size)));
  OPENSSL_free(der);
  return result;
}

TestKey MakeEd25519Key() {
  std::unique_ptr<EVP_PKEY, PkeyDeleter> key(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
  EXPECT_NE(key, nullptr);
  TestKey result;
  result.algorithm = "ed25519-sha256";
  std::string raw(32, '\0');
  std::size_t size = raw.size();
  EVP_PKEY_get_raw_private_key(key.get(), reinterpret_cast<unsigned char*>(raw.data()), &size);
  result.private_key = Base64(raw);  // dkimpy (PyNaCl) takes the base64 of the 32-byte seed.
  size = raw.size();
  EVP_PKEY_get_raw_public_key(key.get(), reinterpret_cast<unsigned char*>(raw.data()), &size);
  result.record = "v=DKIM1; k=ed25519; p=" + Base64(raw);
  return result;
}

class DkimTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    rsa_key = new TestKey(MakeRsaKey());
    ed_key = new TestKey(MakeEd25519Key());
  }
  static void TearDownTestSuite() {
    delete rsa_key;
    delete ed_key;
  }

  void SetUp() override {
    keys_.Add("rsa._domainkey.sender.example", rsa_key->record);
    keys_.Add("ed._domainkey.sender.example", ed_key->record);
  }

  // Signs `message` with dkimpy; returns the DKIM-Signature field followed by the message.
  static std::string Sign(const std::string& message, const TestKey& key,
                          const std::string& selector, const std::string& canonicalization,
                          long expire = 0, bool length = false) {
    const char* tmp = std::getenv("TEST_TMPDIR");
    const std::string key_file =
        std::string(tmp != nullptr ? tmp : "/tmp") + "/" + selector + "-" + key.algorithm + ".key";
    {
      std::ofstream out(key_file, std::ios::binary | std::ios::trunc);
      out << key.private_key;
    }
    const testing::ProcessResult result = testing::RunProcess(
        {"/usr/bin/python3", "-c", kSignerScript, key.algorithm, canonicalization, selector,
         "sender.example", key_file, std::to_string(expire), length ? "1" : "0"},
        message);
    EXPECT_EQ(result.exit_code, 0) << result.err;
    EXPECT_THAT(result.out, ::testing::StartsWith("DKIM-Signature: v=1;"));
    return result.out + message;
  }

  DkimResult Verify(const std::string& message, DkimKeySource& keys,
                    const DkimOptions& options = {}) {
    DkimResult result;
    int calls = 0;
    VerifyDkim(
        message, keys,
        [&](DkimResult r) {
          result = std::move(r);
          ++calls;
        },
        options);
    EXPECT_EQ(calls, 1);
    return result;
  }
  DkimResult Verify(const std::string& message) { return Verify(message, keys_); }

  static TestKey* rsa_key;
  static TestKey* ed_key;
  StaticDkimKeySource keys_;
};

TestKey* DkimTest::rsa_key = nullptr;
TestKey* DkimTest::ed_key = nullptr;

std::string Replace(std::string text, const std::string& from, const std::string& to) {
  const std::size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) {
    text.replace(at, from.size(), to);
  }
  return text;
}

std::string ToLf(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    if (c != '\r') {
      out.push_back(c);
    }
  }
  return out;
}

struct Variant {
  std::string selector;
  std::string canonicalization;
};

class DkimVariantTest : public DkimTest, public ::testing::WithParamInterface<Variant> {
 protected:
  const TestKey& Key() const { return GetParam().selector == "rsa" ? *rsa_key : *ed_key; }
  std::string Signed() const {
    return Sign(kMessage, Key(), GetParam().selector, GetParam().canonicalization);
  }
};

TEST_P(DkimVariantTest, Passes) {
  const std::string message = Signed();
  const DkimResult result = Verify(message);
  EXPECT_EQ(result.status, DkimStatus::kPass) << result.reason;
  EXPECT_EQ(result.domain, "sender.example");
  EXPECT_EQ(result.selector, GetParam().selector);
  EXPECT_TRUE(result.aligned_with_from);
  EXPECT_TRUE(result.aligned_with_submitter);
  ASSERT_THAT(result.signatures, SizeIs(1));
  EXPECT_EQ(result.signatures[0].algorithm, Key().algorithm);
  EXPECT_FALSE(result.signatures[0].body_length_limited);
  EXPECT_THAT(keys_.Lookups(),
              ::testing::ElementsAre(GetParam().selector + "._domainkey.sender.example"));
  // The same message stored with LF line ends.
  EXPECT_EQ(Verify(ToLf(message)).status, DkimStatus::kPass);
}

TEST_P(DkimVariantTest, ModifiedBodyFails) {
  const DkimResult result = Verify(Replace(Signed(), "\"r1\"", "\"r2\""));
  EXPECT_EQ(result.status, DkimStatus::kFail);
  EXPECT_THAT(result.reason, HasSubstr("body hash"));
}

TEST_P(DkimVariantTest, ModifiedSignedHeaderFails) {
  const DkimResult result =
      Verify(Replace(Signed(), "TLS-Report-Domain: example.org", "TLS-Report-Domain: example.net"));
  EXPECT_EQ(result.status, DkimStatus::kFail);
  EXPECT_THAT(result.reason, HasSubstr("does not verify"));
}

TEST_P(DkimVariantTest, WhitespaceChangesPassOnlyWhenRelaxed) {
  std::string message =
      Replace(Signed(), "Submitter: sender.example\r\n", "Submitter:   sender.example \r\n");
  message = Replace(message, "with  odd   spacing   \r\n", "with odd spacing\r\n");
  const DkimStatus expected =
      GetParam().canonicalization == "relaxed" ? DkimStatus::kPass : DkimStatus::kFail;
  EXPECT_EQ(Verify(message).status, expected) << Verify(message).reason;
}

TEST_P(DkimVariantTest, UnsignedHeaderMayChange) {
  const std::string message = Replace(Signed(), "MIME-Version: 1.0", "MIME-Version: 1.0 (x)");
  EXPECT_EQ(Verify(message).status, DkimStatus::kPass);
}

TEST_P(DkimVariantTest, ExpiredSignatureFails) {
  // x= one hour after signing, on 2020-09-13.
  const std::string message =
      Sign(kMessage, Key(), GetParam().selector, GetParam().canonicalization, 1600000000);
  ASSERT_THAT(message, HasSubstr("x=1600000000"));
  const DkimResult result = Verify(message);
  EXPECT_EQ(result.status, DkimStatus::kFail);
  EXPECT_THAT(result.reason, HasSubstr("expired"));
  // Before the expiry it is good.
  DkimOptions then;
  then.now = absl::FromUnixSeconds(1599999000);
  EXPECT_EQ(Verify(message, keys_, then).status, DkimStatus::kPass) << Verify(message).reason;
}

INSTANTIATE_TEST_SUITE_P(Signers, DkimVariantTest,
                         ::testing::Values(Variant{"rsa", "relaxed"}, Variant{"rsa", "simple"},
                                           Variant{"ed", "relaxed"}, Variant{"ed", "simple"}),
                         [](const ::testing::TestParamInfo<Variant>& info) {
                           return info.param.selector + "_" + info.param.canonicalization;
                         });

TEST_F(DkimTest, RevokedKey) {
  const std::string message = Sign(kMessage, *rsa_key, "rsa", "relaxed");
  StaticDkimKeySource revoked;
  revoked.Add("rsa._domainkey.sender.example", "v=DKIM1; k=rsa; p=");
  const DkimResult result = Verify(message, revoked);
  EXPECT_EQ(result.status, DkimStatus::kPermError);
  EXPECT_THAT(result.reason, HasSubstr("revoked"));
}

TEST_F(DkimTest, UnknownSelectorIsPermError) {
  // RFC 6376 §6.1.2: no key record is PERMFAIL (no key for signature).
  const std::string message = Sign(kMessage, *rsa_key, "gone", "relaxed");
  const DkimResult result = Verify(message);
  EXPECT_EQ(result.status, DkimStatus::kPermError);
  EXPECT_EQ(result.selector, "gone");
  EXPECT_THAT(result.reason, HasSubstr("no DKIM key record at gone._domainkey.sender.example"));
}

TEST_F(DkimTest, DnsFailureIsTempError) {
  const std::string message = Sign(kMessage, *ed_key, "ed", "relaxed");
  StaticDkimKeySource failing;
  failing.Fail("ed._domainkey.sender.example", absl::UnavailableError("DNS error: SERVFAIL"));
  const DkimResult result = Verify(message, failing);
  EXPECT_EQ(result.status, DkimStatus::kTempError);
  EXPECT_THAT(result.reason, HasSubstr("SERVFAIL"));
}

TEST_F(DkimTest, KeyOfTheWrongTypeIsPermError) {
  const std::string message = Sign(kMessage, *rsa_key, "rsa", "relaxed");
  StaticDkimKeySource wrong;
  wrong.Add("rsa._domainkey.sender.example", ed_key->record);
  const DkimResult result = Verify(message, wrong);
  EXPECT_EQ(result.status, DkimStatus::kPermError);
  EXPECT_THAT(result.reason, HasSubstr("k=ed25519"));
}

TEST_F(DkimTest, SeveralKeyRecordsAreTriedInTurn) {
  const std::string message = Sign(kMessage, *rsa_key, "rsa", "relaxed");
  StaticDkimKeySource keys;
  keys.Add("rsa._domainkey.sender.example", "v=spf1 -all");
  keys.Add("rsa._domainkey.sender.example", rsa_key->record);
  EXPECT_EQ(Verify(message, keys).status, DkimStatus::kPass);
}

TEST_F(DkimTest, NoSignatureIsNone) {
  const DkimResult result = Verify(kMessage);
  EXPECT_EQ(result.status, DkimStatus::kNone);
  EXPECT_TRUE(result.signatures.empty());
  EXPECT_TRUE(keys_.Lookups().empty());
}

TEST_F(DkimTest, BodyLengthIsHonouredAndReported) {
  const std::string message = Sign(kMessage, *ed_key, "ed", "relaxed", 0, true);
  ASSERT_THAT(message, HasSubstr("l="));
  // Text appended after the signed length does not break the signature; the result says that
  // only a prefix is signed.
  const DkimResult result = Verify(message + "Appended by someone else.\r\n");
  EXPECT_EQ(result.status, DkimStatus::kPass) << result.reason;
  ASSERT_THAT(result.signatures, SizeIs(1));
  EXPECT_TRUE(result.signatures[0].body_length_limited);
  EXPECT_GT(result.signatures[0].body_length, 0U);
  EXPECT_THAT(result.reason, HasSubstr("(l=)"));
}

TEST_F(DkimTest, OneGoodSignatureOfSeveralPasses) {
  // An outer signature by a forwarder whose key is unknown, over the sender's good one.
  const std::string inner = Sign(kMessage, *rsa_key, "rsa", "simple");
  const std::string outer = Sign(inner, *ed_key, "forwarder", "relaxed");
  const DkimResult result = Verify(outer);
  EXPECT_EQ(result.status, DkimStatus::kPass);
  EXPECT_EQ(result.selector, "rsa");
  ASSERT_THAT(result.signatures, SizeIs(2));
  EXPECT_EQ(result.signatures[0].status, DkimStatus::kPermError);
  EXPECT_EQ(result.signatures[1].status, DkimStatus::kPass);
}

TEST_F(DkimTest, AlignmentIsReportedNotJudged) {
  // Signed by sender.example for a message claiming another submitter and From.
  std::string message = Replace(kMessage, "TLS-Report-Submitter: sender.example",
                                "TLS-Report-Submitter: other.example");
  message = Replace(message, "tlsrpt@sender.example>", "tlsrpt@mail.sender.example>");
  const DkimResult result = Verify(Sign(message, *rsa_key, "rsa", "relaxed"));
  EXPECT_EQ(result.status, DkimStatus::kPass);
  EXPECT_FALSE(result.aligned_with_submitter);
  EXPECT_TRUE(result.aligned_with_from);  // A subdomain of d=.
}

TEST_F(DkimTest, MalformedSignaturesArePermErrors) {
  const std::string fields[] = {
      "DKIM-Signature: v=1; a=rsa-sha256; d=sender.example; s=rsa; h=from; bh=AAAA\r\n",
      "DKIM-Signature: v=2; a=rsa-sha256; d=sender.example; s=rsa; h=from; bh=AAAA; b=AAAA\r\n",
      "DKIM-Signature: v=1; a=rsa-sha1; d=sender.example; s=rsa; h=from; bh=AAAA; b=AAAA\r\n",
      "DKIM-Signature: v=1; a=rsa-sha256; d=sender.example; s=rsa; h=to; bh=AAAA; b=AAAA\r\n",
      "DKIM-Signature: v=1; a=rsa-sha256; d=sender.example; s=rsa; h=from; bh=A*AA; b=AAAA\r\n",
      "DKIM-Signature: v=1; v=1; a=rsa-sha256; d=sender.example; s=rsa; h=from; bh=AA; b=AA\r\n",
      std::string("DKIM-Signature: v=1; a=rsa-sha256; d=sender.example; s=rsa; h=from; ") +
          "bh=AAAA; b=AAAA; i=@other.example\r\n",
      "DKIM-Signature: garbage\r\n",
  };
  for (const std::string& field : fields) {
    const DkimResult result = Verify(field + kMessage);
    EXPECT_EQ(result.status, DkimStatus::kPermError) << field;
    EXPECT_FALSE(result.reason.empty());
  }
  EXPECT_TRUE(keys_.Lookups().empty());
}

// Answers lookups later, as DNS does.
class DeferredKeySource : public DkimKeySource {
 public:
  void Lookup(std::string name, Callback done) override {
    pending_.emplace_back(std::move(name), std::move(done));
  }
  bool AnswerNext(const std::string& record) {
    if (pending_.empty()) {
      return false;
    }
    auto [name, done] = std::move(pending_.front());
    pending_.erase(pending_.begin());
    done(std::vector<std::string>{record});
    return true;
  }

 private:
  std::vector<std::pair<std::string, Callback>> pending_;
};

TEST_F(DkimTest, KeysAnsweredLater) {
  std::string message = Sign(kMessage, *rsa_key, "rsa", "relaxed");
  message = Sign(message, *ed_key, "ed", "simple");
  DeferredKeySource keys;
  std::optional<DkimResult> result;
  VerifyDkim(message, keys, [&](DkimResult r) { result = std::move(r); });
  message.assign(message.size(), 'x');  // The verifier keeps its own copy.
  EXPECT_FALSE(result.has_value());
  ASSERT_TRUE(keys.AnswerNext(ed_key->record));
  EXPECT_FALSE(result.has_value());
  ASSERT_TRUE(keys.AnswerNext(rsa_key->record));
  ASSERT_TRUE(result.has_value());
  EXPECT_EQ(result->status, DkimStatus::kPass);
  ASSERT_THAT(result->signatures, SizeIs(2));
  EXPECT_EQ(result->signatures[0].status, DkimStatus::kPass);
  EXPECT_EQ(result->signatures[1].status, DkimStatus::kPass);
  EXPECT_FALSE(keys.AnswerNext(rsa_key->record));
}

// A resolver with fixed TXT answers (answering inside Resolve, which the verifier tolerates).
class FakeResolver : public prober::DnsResolver {
 public:
  void Resolve(const std::string& name, prober::RrType type, Callback callback) override {
    EXPECT_EQ(type, prober::RrType::kTxt);
    prober::DnsResult result;
    if (name == "rsa._domainkey.sender.example") {
      result.outcome = mtasts::DnsOutcome::kOk;
      // The resolver joins a record's character-strings into its value.
      prober::DnsRecord record;
      record.value = txt;
      result.records.push_back(record);
    } else if (name == "broken._domainkey.sender.example") {
      result.outcome = mtasts::DnsOutcome::kError;
      result.error = "SERVFAIL";
    } else {
      result.outcome = mtasts::DnsOutcome::kNxDomain;
    }
    callback(std::move(result));
  }
  std::string txt;
};

TEST_F(DkimTest, KeysFromTheDnsResolver) {
  FakeResolver resolver;
  resolver.txt = rsa_key->record;
  DnsDkimKeySource keys(resolver);
  EXPECT_EQ(Verify(Sign(kMessage, *rsa_key, "rsa", "relaxed"), keys).status, DkimStatus::kPass);
  EXPECT_EQ(Verify(Sign(kMessage, *rsa_key, "gone", "relaxed"), keys).status,
            DkimStatus::kPermError);
  const DkimResult broken = Verify(Sign(kMessage, *rsa_key, "broken", "relaxed"), keys);
  EXPECT_EQ(broken.status, DkimStatus::kTempError);
  EXPECT_THAT(broken.reason, HasSubstr("SERVFAIL"));
}

std::string ReadTestData(const std::string& relative) {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  const char* workspace = std::getenv("TEST_WORKSPACE");
  std::ifstream in(std::string(srcdir != nullptr ? srcdir : ".") + "/" +
                       (workspace != nullptr ? workspace : "stswatch") + "/tests/tlsrpt/testdata/" +
                       relative,
                   std::ios::binary);
  std::stringstream content;
  content << in.rdbuf();
  return content.str();
}

TEST_F(DkimTest, CorpusSignaturesDoNotPassWithoutTheirKeys) {
  struct Case {
    std::string file;
    std::string domain;  // Of the first signature; empty when the e-mail is unsigned.
  };
  for (const Case& c : {
           Case{"domainaware-parsedmarc/google.com_smtp_tls_report.eml", "google.com"},
           Case{"isseis-tlsrpt-digest/tlsrpt_failure.eml", "google.com"},
           Case{"isseis-tlsrpt-digest/tlsrpt_success_google_1.eml", "google.com"},
           Case{"isseis-tlsrpt-digest/tlsrpt_success_google_2.eml", "google.com"},
           Case{"isseis-tlsrpt-digest/tlsrpt_success_microsoft.eml", "microsoft.com"},
           Case{"mjl-mox/example.eml", "google.com"},
           Case{"mjl-mox/microsoft.eml", "microsoft.com"},
           Case{"robalexdev-tlsrpt-be/test.eml", ""},
           Case{"stalwartlabs-mail-auth/rpt01.eml", ""},
           Case{"stalwartlabs-mail-auth/rpt02.eml", ""},
       }) {
    const std::string message = ReadTestData("eml/" + c.file);
    ASSERT_FALSE(message.empty()) << c.file;
    // Before any of the signatures' expiry (x=, 2024-09 and later).
    DkimOptions before;
    before.now = absl::FromUnixSeconds(1700000000);
    StaticDkimKeySource none;
    const DkimResult result = Verify(message, none, before);
    if (c.domain.empty()) {
      EXPECT_EQ(result.status, DkimStatus::kNone) << c.file;
      continue;
    }
    // Without their keys: RFC 6376 §6.1.2, no key record is a permanent failure.
    EXPECT_EQ(result.status, DkimStatus::kPermError) << c.file << ": " << result.reason;
    EXPECT_THAT(result.reason, HasSubstr("no DKIM key record")) << c.file;
    ASSERT_THAT(result.signatures, ::testing::Not(::testing::IsEmpty())) << c.file;
    EXPECT_EQ(result.domain, c.domain) << c.file;
    // With a key that is not theirs (the bodies and headers were edited too): a failure.
    StaticDkimKeySource wrong;
    for (const DkimSignatureResult& signature : result.signatures) {
      wrong.Add(signature.selector + "._domainkey." + signature.domain,
                signature.algorithm == "ed25519-sha256" ? ed_key->record : rsa_key->record);
    }
    EXPECT_EQ(Verify(message, wrong, before).status, DkimStatus::kFail) << c.file;
    // A DNS failure leaves it undecided.
    StaticDkimKeySource failing;
    for (const DkimSignatureResult& signature : result.signatures) {
      failing.Fail(signature.selector + "._domainkey." + signature.domain,
                   absl::UnavailableError("timeout"));
    }
    EXPECT_EQ(Verify(message, failing, before).status, DkimStatus::kTempError) << c.file;
    // Google's signatures expire after about a week; an expired one fails without a lookup.
    if (c.domain == "google.com" && message.find(" x=") != std::string::npos) {
      DkimOptions later;
      later.now = absl::FromUnixSeconds(1900000000);
      const DkimResult expired = Verify(message, failing, later);
      EXPECT_EQ(expired.status, DkimStatus::kFail) << c.file;
      EXPECT_THAT(expired.reason, HasSubstr("expired")) << c.file;
    }
  }
}

}  // namespace
}  // namespace stswatch::tlsrpt
