// ReportReceiver on loopback with ephemeral ports, against a fake ReportSink, with an Asio client
// in the test: corpus reports POSTed gzip-compressed and as JSON (plain HTTP and over TLS with a
// certificate made by the test), the answers to duplicates, refusals and an unavailable store,
// every refusal of a bad request (a gzip bomb and a Content-Length over the limit among them),
// chunked bodies, 100-continue, keep-alive, timeouts, the connection limit and Stop().
//
// Server and client share one io_context on the test's thread: each client step runs the
// io_context until it is done (or a generous limit passes), so the server makes progress
// meanwhile and nothing races.

#include "tlsrpt/receiver.h"

#include <zlib.h>

#include <array>
#include <chrono>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "common/log.h"
#include "common/time_source.h"
#include "prober/http_response.h"
#include "tlsrpt/ingest.h"
#include "tlsrpt/report.h"

namespace stswatch::tlsrpt {
namespace {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using asio::ip::tcp;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::StartsWith;
using namespace std::chrono_literals;

// --- Test data ---------------------------------------------------------------------------------

std::string TestdataDir() {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  const char* workspace = std::getenv("TEST_WORKSPACE");
  return std::string(srcdir == nullptr ? "." : srcdir) + "/" +
         (workspace == nullptr ? "stswatch" : workspace) + "/tests/tlsrpt/testdata";
}

std::string ReadTestdata(const std::string& name) {
  std::ifstream in(TestdataDir() + "/" + name, std::ios::binary);
  std::stringstream bytes;
  bytes << in.rdbuf();
  EXPECT_FALSE(bytes.str().empty()) << name;
  return bytes.str();
}

std::string TempDir() {
  const char* dir = std::getenv("TEST_TMPDIR");
  return dir == nullptr ? "/tmp" : dir;
}

// gzip (RFC 1952) of `size` bytes produced by `fill`, compressed as they come (so that a bomb
// never exists uncompressed in memory).
template <typename Fill>
std::string GzipStream(std::size_t size, Fill fill) {
  z_stream stream{};
  // 16 + MAX_WBITS: a gzip wrapper.
  EXPECT_EQ(
      deflateInit2(&stream, Z_BEST_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY),
      Z_OK);
  std::string out;
  std::string in;
  std::array<unsigned char, std::size_t{64} * 1024> buffer{};
  std::size_t done = 0;
  int rc = Z_OK;
  while (rc != Z_STREAM_END) {
    const std::size_t n = std::min<std::size_t>(size - done, std::size_t{1} << 20);
    in.clear();
    fill(in, done, n);
    done += n;
    stream.next_in = reinterpret_cast<Bytef*>(in.data());
    stream.avail_in = static_cast<uInt>(in.size());
    const int flush = done == size ? Z_FINISH : Z_NO_FLUSH;
    do {
      stream.next_out = buffer.data();
      stream.avail_out = static_cast<uInt>(buffer.size());
      rc = deflate(&stream, flush);
      out.append(reinterpret_cast<const char*>(buffer.data()), buffer.size() - stream.avail_out);
    } while (stream.avail_out == 0 || (flush == Z_FINISH && rc != Z_STREAM_END));
  }
  deflateEnd(&stream);
  return out;
}

std::string Gzip(const std::string& data) {
  return GzipStream(
      data.size(), [&](std::string& in, std::size_t at, std::size_t n) { in.append(data, at, n); });
}

std::string GzipZeros(std::size_t size) {
  return GzipStream(size,
                    [](std::string& in, std::size_t /*at*/, std::size_t n) { in.append(n, '\0'); });
}

constexpr char kGoogle[] = "phi-ag-mta-sts-exporter/google.json";
constexpr char kGoogleId[] = "2024-02-17T00:00:00Z_example.com";
constexpr char kRpt01[] = "stalwartlabs-mail-auth/rpt01.json";
constexpr char kRpt01Id[] = "5065427c-23d3-47ca-b6e0-946ea0e8c4be";
constexpr char kMailRu[] = "domainaware-parsedmarc/mail.ru.json";
constexpr char kMailRuId[] = "b28254de-7b2e-be36-bb5c-4c3b92da8b25@mail.ru";

// --- A certificate authority and a server certificate, made with OpenSSL ------------------------

using KeyPtr = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;
using CertPtr = std::unique_ptr<X509, decltype(&X509_free)>;

void Extend(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* extension = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  ASSERT_NE(extension, nullptr) << value;
  X509_add_ext(cert, extension, -1);
  X509_EXTENSION_free(extension);
}

// Signed by (issuer, issuer_key), or self-signed when issuer is null (then a CA).
CertPtr Certificate(EVP_PKEY* key, const char* common_name, X509* issuer, EVP_PKEY* issuer_key) {
  static int serial = 1;
  CertPtr cert(X509_new(), X509_free);
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), serial++);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 86400);
  X509_set_pubkey(cert.get(), key);
  X509_NAME_add_entry_by_txt(X509_get_subject_name(cert.get()), "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(common_name), -1, -1, 0);
  X509* signer = issuer == nullptr ? cert.get() : issuer;
  X509_set_issuer_name(cert.get(), X509_get_subject_name(signer));
  if (issuer == nullptr) {
    Extend(cert.get(), signer, NID_basic_constraints, "critical,CA:TRUE");
    Extend(cert.get(), signer, NID_key_usage, "critical,keyCertSign");
  } else {
    Extend(cert.get(), signer, NID_basic_constraints, "critical,CA:FALSE");
    Extend(cert.get(), signer, NID_ext_key_usage, "serverAuth");
    Extend(cert.get(), signer, NID_subject_alt_name, "DNS:reports.example.com,IP:127.0.0.1");
  }
  X509_sign(cert.get(), issuer_key == nullptr ? key : issuer_key, EVP_sha256());
  return cert;
}

// A CA the test's client trusts, and the receiver's certificate and key in PEM files.
struct TestPki {
  explicit TestPki(const std::string& name)
      : ca_key(EVP_EC_gen("P-256"), EVP_PKEY_free),
        ca(Certificate(ca_key.get(), "receiver test CA", nullptr, nullptr)),
        key(EVP_EC_gen("P-256"), EVP_PKEY_free),
        cert(Certificate(key.get(), "reports.example.com", ca.get(), ca_key.get())) {
    cert_file = TempDir() + "/" + name + "-cert.pem";
    key_file = TempDir() + "/" + name + "-key.pem";
    BIO* out = BIO_new_file(cert_file.c_str(), "w");
    PEM_write_bio_X509(out, cert.get());
    BIO_free(out);
    out = BIO_new_file(key_file.c_str(), "w");
    PEM_write_bio_PrivateKey(out, key.get(), nullptr, nullptr, 0, nullptr, nullptr);
    BIO_free(out);
  }

  void Trust(ssl::context& context) const {
    X509_STORE_add_cert(SSL_CTX_get_cert_store(context.native_handle()), ca.get());
    context.set_verify_mode(ssl::verify_peer);
  }

  KeyPtr ca_key;
  CertPtr ca;
  KeyPtr key;
  CertPtr cert;
  std::string cert_file;
  std::string key_file;
};

// --- The fake sink -------------------------------------------------------------------------------

class FakeSink final : public ReportSink {
 public:
  asio::awaitable<IngestResult> Ingest(Report report, ReportOrigin origin) override {
    reports.push_back(std::move(report));
    origins.push_back(std::move(origin));
    IngestResult result;
    result.status = answer;
    result.message = message;
    co_return result;
  }

  IngestStatus answer = IngestStatus::kStored;
  std::string message;
  std::vector<Report> reports;
  std::vector<ReportOrigin> origins;
};

// --- The test's client ---------------------------------------------------------------------------

struct Response {
  int status = 0;  // 0: no complete response
  std::string reason;
  std::optional<std::string> content_type;
  std::optional<std::string> allow;
  std::optional<std::string> retry_after;
  std::optional<std::string> connection;
  std::string body;
  std::string error;  // Why there is no complete response.
};

struct ClientConnection {
  explicit ClientConnection(asio::io_context& io) : socket(io) {}
  tcp::socket socket;
  std::optional<ssl::stream<tcp::socket&>> tls;
  std::array<char, std::size_t{64} * 1024> buffer{};
};

struct ReadResult {
  boost::system::error_code ec;
  std::size_t bytes = 0;
};

asio::awaitable<ReadResult> ClientRead(std::shared_ptr<ClientConnection> c) {
  ReadResult r;
  if (c->tls) {
    r.bytes = co_await c->tls->async_read_some(asio::buffer(c->buffer),
                                               asio::redirect_error(asio::use_awaitable, r.ec));
  } else {
    r.bytes = co_await c->socket.async_read_some(asio::buffer(c->buffer),
                                                 asio::redirect_error(asio::use_awaitable, r.ec));
  }
  co_return r;
}

asio::awaitable<bool> ConnectTask(std::shared_ptr<ClientConnection> c, int port) {
  boost::system::error_code ec;
  co_await c->socket.async_connect(
      tcp::endpoint(asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)),
      asio::redirect_error(asio::use_awaitable, ec));
  if (ec) {
    co_return false;
  }
  if (c->tls) {
    co_await c->tls->async_handshake(ssl::stream_base::client,
                                     asio::redirect_error(asio::use_awaitable, ec));
  }
  co_return !ec;
}

asio::awaitable<bool> SendTask(std::shared_ptr<ClientConnection> c, std::string data) {
  boost::system::error_code ec;
  if (c->tls) {
    co_await asio::async_write(*c->tls, asio::buffer(data),
                               asio::redirect_error(asio::use_awaitable, ec));
  } else {
    co_await asio::async_write(c->socket, asio::buffer(data),
                               asio::redirect_error(asio::use_awaitable, ec));
  }
  co_return !ec;
}

asio::awaitable<Response> ReadResponseTask(std::shared_ptr<ClientConnection> c) {
  prober::HttpResponseParser::Limits limits;
  limits.max_body_bytes = std::size_t{1} << 20;
  prober::HttpResponseParser parser(limits);
  Response response;
  while (parser.state() == prober::HttpResponseParser::State::kNeedMore) {
    const ReadResult r = co_await ClientRead(c);
    if (r.ec) {
      parser.FinishOnClose();
      response.error = r.ec.message();
      break;
    }
    parser.Feed(std::string_view(c->buffer.data(), r.bytes));
  }
  if (parser.state() != prober::HttpResponseParser::State::kComplete) {
    response.error += " " + parser.error_message();
    co_return response;
  }
  const auto header = [&](std::string_view name) -> std::optional<std::string> {
    const std::optional<std::string_view> value = parser.Header(name);
    if (!value) {
      return std::nullopt;
    }
    return std::string(*value);
  };
  response.status = parser.status();
  response.reason = std::string(parser.reason());
  response.content_type = header("Content-Type");
  response.allow = header("Allow");
  response.retry_after = header("Retry-After");
  response.connection = header("Connection");
  response.body = parser.body();
  co_return response;
}

// Reads until `until` has arrived, or the connection ends: what arrived.
asio::awaitable<std::string> ReadRawTask(std::shared_ptr<ClientConnection> c, std::string until) {
  std::string data;
  while (until.empty() || data.find(until) == std::string::npos) {
    const ReadResult r = co_await ClientRead(c);
    if (r.ec) {
      break;
    }
    data.append(c->buffer.data(), r.bytes);
  }
  co_return data;
}

class TestClient {
 public:
  TestClient(asio::io_context& io, ssl::context* tls)
      : io_(io), c_(std::make_shared<ClientConnection>(io)) {
    if (tls != nullptr) {
      c_->tls.emplace(c_->socket, *tls);
      // The certificate must name the address connected to.
      X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c_->tls->native_handle()), "127.0.0.1");
    }
  }
  ~TestClient() {
    try {
      Close();
    } catch (...) {
      ADD_FAILURE() << "closing the test client threw";
    }
  }
  TestClient(const TestClient&) = delete;
  TestClient& operator=(const TestClient&) = delete;

  bool Connect(int port) { return Run(ConnectTask(c_, port)).value_or(false); }
  bool Send(std::string data) { return Run(SendTask(c_, std::move(data))).value_or(false); }
  Response Read() {
    std::optional<Response> r = Run(ReadResponseTask(c_));
    if (!r) {
      Response none;
      none.error = "no response in time";
      return none;
    }
    return *r;
  }
  std::optional<std::string> ReadRaw(std::string until) {
    return Run(ReadRawTask(c_, std::move(until)));
  }
  // Whether the server closes the connection (within the limit) without sending anything more.
  bool ClosedByServer() {
    const std::optional<std::string> rest = Run(ReadRawTask(c_, ""), 10s);
    return rest.has_value() && rest->empty();
  }
  // Shuts the sending side only: the server sees the end of the stream, the client still reads.
  void ShutdownSend() {
    boost::system::error_code ignored;
    c_->socket.shutdown(tcp::socket::shutdown_send, ignored);
  }
  void Close() {
    boost::system::error_code ignored;
    c_->socket.close(ignored);
    // Let the aborted operations finish while the connection is still alive.
    io_.poll();
  }

  // Runs the io_context until `task` is done; nullopt after `limit` (a hang) or an exception.
  template <typename T>
  std::optional<T> Run(asio::awaitable<T> task, std::chrono::steady_clock::duration limit = 20s) {
    auto result = std::make_shared<std::optional<T>>();
    auto done = std::make_shared<bool>(false);
    asio::co_spawn(io_, std::move(task), [result, done](const std::exception_ptr& e, T value) {
      *done = true;
      if (!e) {
        *result = std::move(value);
      }
    });
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!*done && std::chrono::steady_clock::now() < deadline) {
      if (io_.stopped()) {
        io_.restart();
      }
      io_.run_one_for(10ms);
    }
    return *result;
  }

 private:
  asio::io_context& io_;
  std::shared_ptr<ClientConnection> c_;
};

// --- Fixture -----------------------------------------------------------------------------------

std::string Post(std::string_view body, std::string_view content_type,
                 std::string_view extra_headers = "", std::string_view target = "/") {
  return "POST " + std::string(target) +
         " HTTP/1.1\r\nHost: reports.example.com\r\nContent-Type: " + std::string(content_type) +
         "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n" +
         std::string(extra_headers) + "\r\n" + std::string(body);
}

constexpr std::chrono::system_clock::time_point kNow{std::chrono::seconds(1750000000)};

class ReceiverTest : public ::testing::Test {
 protected:
  ReceiverTest() : clock_(kNow), logger_(log_, LogFormat::kText, clock_) {}

  ReceiverOptions Options() const {
    ReceiverOptions options;
    options.listen = "127.0.0.1:0";
    return options;
  }

  void Start(const ReceiverOptions& options) {
    receiver_ = std::make_unique<ReportReceiver>(io_, sink_, clock_, logger_, options);
    const absl::Status status = receiver_->Start();
    ASSERT_TRUE(status.ok()) << status;
    port_ = receiver_->port();
    ASSERT_GT(port_, 0);
  }
  void Start() { Start(Options()); }

  // One request on a new connection, and its answer.
  Response Exchange(const std::string& request, ssl::context* tls = nullptr) {
    TestClient client(io_, tls);
    if (!client.Connect(port_)) {
      Response none;
      none.error = "cannot connect";
      return none;
    }
    client.Send(request);
    return client.Read();
  }

  // Runs the io_context for a while (for the server to notice something).
  void Spin(std::chrono::steady_clock::duration d) {
    const auto until = std::chrono::steady_clock::now() + d;
    while (std::chrono::steady_clock::now() < until) {
      if (io_.stopped()) {
        io_.restart();
      }
      io_.run_one_for(5ms);
    }
  }

  asio::io_context io_;
  FakeSink sink_;
  FakeTimeSource clock_;
  std::ostringstream log_;
  Logger logger_;
  std::unique_ptr<ReportReceiver> receiver_;
  int port_ = 0;
};

// --- Reports -------------------------------------------------------------------------------------

TEST_F(ReceiverTest, StoresGzipReport) {
  Start();
  const Response r = Exchange(Post(Gzip(ReadTestdata(kGoogle)), "application/tlsrpt+gzip"));
  EXPECT_EQ(r.status, 201) << r.error << r.body;
  EXPECT_EQ(r.reason, "Created");
  EXPECT_THAT(r.body, StartsWith("stored"));
  EXPECT_THAT(r.body, HasSubstr(kGoogleId));
  EXPECT_EQ(r.content_type, "text/plain; charset=utf-8");
  ASSERT_EQ(sink_.reports.size(), 1u);
  EXPECT_EQ(sink_.reports[0].report_id, kGoogleId);
  EXPECT_EQ(sink_.reports[0].organization_name, "Google Inc.");
  ASSERT_EQ(sink_.origins.size(), 1u);
  EXPECT_EQ(sink_.origins[0].channel, "https");
  EXPECT_EQ(sink_.origins[0].submitter, "127.0.0.1");
  EXPECT_EQ(sink_.origins[0].received_ms, 1750000000000);
  EXPECT_THAT(sink_.origins[0].dkim, IsEmpty());
  // One log line for the request.
  EXPECT_THAT(log_.str(), HasSubstr("event=receiver.report status=201 result=stored report_id=" +
                                    std::string(kGoogleId)));
  EXPECT_THAT(log_.str(), HasSubstr("peer=127.0.0.1"));
}

TEST_F(ReceiverTest, StoresJsonReportWhateverTheCaseAndParameters) {
  Start();
  for (const char* type : {"application/tlsrpt+json", "Application/TLSRPT+JSON; charset=utf-8",
                           "application/tlsrpt+json ;charset=\"UTF-8\""}) {
    sink_.reports.clear();
    const Response r = Exchange(Post(ReadTestdata(kRpt01), type));
    EXPECT_EQ(r.status, 201) << type << ": " << r.error << r.body;
    ASSERT_EQ(sink_.reports.size(), 1u) << type;
    EXPECT_EQ(sink_.reports[0].report_id, kRpt01Id);
  }
}

TEST_F(ReceiverTest, GzipBodyLabelledJsonOrSentWithContentEncoding) {
  Start();
  // The magic number tells.
  Response r = Exchange(Post(Gzip(ReadTestdata(kMailRu)), "application/tlsrpt+json"));
  EXPECT_EQ(r.status, 201) << r.body;
  r = Exchange(
      Post(Gzip(ReadTestdata(kMailRu)), "application/tlsrpt+json", "Content-Encoding: gzip\r\n"));
  EXPECT_EQ(r.status, 201) << r.body;
  ASSERT_EQ(sink_.reports.size(), 2u);
  EXPECT_EQ(sink_.reports[1].report_id, kMailRuId);
}

TEST_F(ReceiverTest, DuplicateIs200) {
  Start();
  const std::string request = Post(Gzip(ReadTestdata(kGoogle)), "application/tlsrpt+gzip");
  EXPECT_EQ(Exchange(request).status, 201);
  sink_.answer = IngestStatus::kDuplicate;
  const Response r = Exchange(request);
  EXPECT_EQ(r.status, 200);
  EXPECT_THAT(r.body, StartsWith("duplicate"));
  EXPECT_THAT(r.body, HasSubstr(kGoogleId));
  EXPECT_EQ(sink_.reports.size(), 2u);
}

TEST_F(ReceiverTest, RefusedIs403AndUnavailableIs503) {
  Start();
  const std::string request = Post(ReadTestdata(kRpt01), "application/tlsrpt+json");
  sink_.answer = IngestStatus::kRefused;
  sink_.message = "The report concerns no watched domain (example.com).";
  Response r = Exchange(request);
  EXPECT_EQ(r.status, 403);
  EXPECT_THAT(r.body, HasSubstr("no watched domain"));

  sink_.answer = IngestStatus::kUnavailable;
  sink_.message = "Redis is unavailable";
  r = Exchange(request);
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.retry_after, "60");
  EXPECT_THAT(r.body, HasSubstr("Redis is unavailable"));
  EXPECT_THAT(r.body, HasSubstr("try again later"));
}

TEST_F(ReceiverTest, ServesOverTls) {
  const TestPki pki("tls");
  ReceiverOptions options = Options();
  options.tls_cert_file = pki.cert_file;
  options.tls_key_file = pki.key_file;
  options.path = "/tlsrpt";
  Start(options);
  ssl::context client_tls(ssl::context::tls_client);
  pki.Trust(client_tls);

  TestClient client(io_, &client_tls);
  ASSERT_TRUE(client.Connect(port_));
  ASSERT_TRUE(
      client.Send(Post(Gzip(ReadTestdata(kGoogle)), "application/tlsrpt+gzip", "", "/tlsrpt")));
  Response r = client.Read();
  EXPECT_EQ(r.status, 201) << r.error;
  // Kept alive: a second report on the same connection.
  ASSERT_TRUE(client.Send(Post(ReadTestdata(kRpt01), "application/tlsrpt+json", "", "/tlsrpt")));
  r = client.Read();
  EXPECT_EQ(r.status, 201) << r.error;
  // A refusal over TLS, then the connection closes.
  ASSERT_TRUE(client.Send(Post("{}", "text/plain", "", "/tlsrpt")));
  r = client.Read();
  EXPECT_EQ(r.status, 415) << r.error;
  ASSERT_EQ(sink_.reports.size(), 2u);
  EXPECT_EQ(sink_.reports[0].report_id, kGoogleId);
  EXPECT_EQ(sink_.reports[1].report_id, kRpt01Id);

  // Plain HTTP to the TLS port: no handshake (at most a TLS alert), no answer.
  TestClient plain(io_, nullptr);
  ASSERT_TRUE(plain.Connect(port_));
  plain.Send(Post("{}", "application/tlsrpt+json"));
  const std::optional<std::string> rest = plain.ReadRaw("");
  ASSERT_TRUE(rest.has_value());
  EXPECT_THAT(*rest, ::testing::Not(HasSubstr("HTTP/1.1")));
  EXPECT_EQ(sink_.reports.size(), 2u);
}

// --- Refusals ------------------------------------------------------------------------------------

TEST_F(ReceiverTest, WrongPathIs404) {
  ReceiverOptions options = Options();
  options.path = "/tlsrpt";
  Start(options);
  const std::string json = ReadTestdata(kRpt01);
  const Response r = Exchange(Post(json, "application/tlsrpt+json", "", "/other"));
  EXPECT_EQ(r.status, 404);
  EXPECT_THAT(r.body, HasSubstr("No TLS reports are received at this path"));
  EXPECT_EQ(Exchange(Post(json, "application/tlsrpt+json", "", "/tlsrpt/")).status, 404);
  EXPECT_TRUE(sink_.reports.empty());
  // The query does not matter; the absolute form is read.
  EXPECT_EQ(Exchange(Post(json, "application/tlsrpt+json", "", "/tlsrpt?sender=x")).status, 201);
  EXPECT_EQ(
      Exchange(Post(json, "application/tlsrpt+json", "", "https://reports.example.com/tlsrpt"))
          .status,
      201);
}

TEST_F(ReceiverTest, OtherMethodsAre405) {
  Start();
  for (const char* method : {"GET", "PUT", "DELETE", "OPTIONS", "post"}) {
    const Response r =
        Exchange(std::string(method) + " / HTTP/1.1\r\nHost: reports.example.com\r\n\r\n");
    EXPECT_EQ(r.status, 405) << method;
    EXPECT_EQ(r.allow, "POST") << method;
    EXPECT_THAT(r.body, HasSubstr("POST")) << method;
  }
  // HEAD: the same head, without a body.
  TestClient client(io_, nullptr);
  ASSERT_TRUE(client.Connect(port_));
  client.Send("HEAD / HTTP/1.1\r\nHost: reports.example.com\r\nConnection: close\r\n\r\n");
  const std::optional<std::string> raw = client.ReadRaw("");
  ASSERT_TRUE(raw.has_value());
  EXPECT_THAT(*raw, StartsWith("HTTP/1.1 405 Method Not Allowed\r\n"));
  EXPECT_THAT(*raw, HasSubstr("\r\nAllow: POST\r\n"));
  EXPECT_EQ(raw->substr(raw->size() - 4), "\r\n\r\n");
  EXPECT_TRUE(sink_.reports.empty());
}

TEST_F(ReceiverTest, NoLengthIs411) {
  Start();
  const Response r = Exchange(
      "POST / HTTP/1.1\r\nHost: reports.example.com\r\nContent-Type: "
      "application/tlsrpt+json\r\n\r\n");
  EXPECT_EQ(r.status, 411);
  EXPECT_THAT(r.body, HasSubstr("Content-Length"));
}

TEST_F(ReceiverTest, OtherContentTypesAre415) {
  Start();
  const std::string json = ReadTestdata(kRpt01);
  Response r = Exchange(Post(json, "application/json"));
  EXPECT_EQ(r.status, 415);
  EXPECT_THAT(r.body, HasSubstr("\"application/json\" is not a TLS report"));
  r = Exchange(Post(json, "application/tlsrpt"));
  EXPECT_EQ(r.status, 415);
  r = Exchange("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\n{}");
  EXPECT_EQ(r.status, 415);
  EXPECT_THAT(r.body, HasSubstr("no Content-Type"));
  r = Exchange(Post(json, "application/tlsrpt+json", "Content-Encoding: br\r\n"));
  EXPECT_EQ(r.status, 415);
  EXPECT_THAT(r.body, HasSubstr("Content-Encoding \"br\""));
  EXPECT_TRUE(sink_.reports.empty());
}

TEST_F(ReceiverTest, InvalidJsonOrReportIs400WithTheParsersMessage) {
  Start();
  Response r = Exchange(Post("{\"organization-name\": ", "application/tlsrpt+json"));
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(r.body, HasSubstr("not a valid RFC 8460 report"));
  // A report without its report-id: the message names the member.
  std::string json = ReadTestdata(kRpt01);
  const std::size_t at = json.find("\"report-id\"");
  ASSERT_NE(at, std::string::npos);
  json.replace(at, 11, "\"report-xx\"");
  r = Exchange(Post(Gzip(json), "application/tlsrpt+gzip"));
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(r.body, HasSubstr("report-id"));
  // The body was read: the connection stays open.
  EXPECT_FALSE(r.connection.has_value());
  EXPECT_TRUE(sink_.reports.empty());
}

TEST_F(ReceiverTest, BadOrTruncatedGzipIs400) {
  Start();
  Response r = Exchange(Post("this is not gzip", "application/tlsrpt+gzip"));
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(r.body, HasSubstr("not gzip data"));

  const std::string gzip = Gzip(ReadTestdata(kGoogle));
  r = Exchange(Post(gzip.substr(0, gzip.size() / 2), "application/tlsrpt+gzip"));
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(r.body, HasSubstr("truncated"));

  std::string corrupt = gzip;
  corrupt[corrupt.size() / 2] = static_cast<char>(corrupt[corrupt.size() / 2] ^ 0x55);
  r = Exchange(Post(corrupt, "application/tlsrpt+gzip"));
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_TRUE(sink_.reports.empty());
}

TEST_F(ReceiverTest, GzipBombIs413) {
  Start();
  // 50 MiB of zeros in about 50 KiB: under the 1 MiB body limit, far over the 10 MiB report limit.
  const std::string bomb = GzipZeros(std::size_t{50} << 20);
  ASSERT_LT(bomb.size(), std::size_t{1} << 20);
  const Response r = Exchange(Post(bomb, "application/tlsrpt+gzip"));
  EXPECT_EQ(r.status, 413) << r.body;
  EXPECT_THAT(r.body, HasSubstr("exceeds the limit of 10485760 bytes"));
  EXPECT_TRUE(sink_.reports.empty());
}

TEST_F(ReceiverTest, ReportOverTheLimitIs413) {
  ReceiverOptions options = Options();
  options.max_report_bytes = 200;
  Start(options);
  Response r = Exchange(Post(Gzip(ReadTestdata(kGoogle)), "application/tlsrpt+gzip"));
  EXPECT_EQ(r.status, 413);
  r = Exchange(Post(ReadTestdata(kGoogle), "application/tlsrpt+json"));
  EXPECT_EQ(r.status, 413);
  EXPECT_THAT(r.body, HasSubstr("more than the limit of 200"));
}

TEST_F(ReceiverTest, ContentLengthOverTheLimitIs413BeforeTheBody) {
  Start();
  TestClient client(io_, nullptr);
  ASSERT_TRUE(client.Connect(port_));
  // Only the head is sent: the answer comes without the body.
  client.Send(
      "POST / HTTP/1.1\r\nHost: reports.example.com\r\nContent-Type: "
      "application/tlsrpt+gzip\r\nContent-Length: 1048577\r\n\r\n");
  const Response r = client.Read();
  EXPECT_EQ(r.status, 413) << r.error;
  EXPECT_THAT(r.body, HasSubstr("announces 1048577 bytes, more than the limit of 1048576"));
  EXPECT_EQ(r.connection, "close");
  EXPECT_TRUE(client.ClosedByServer());
  // At the limit exactly is fine (and then not a report).
  const Response at_limit =
      Exchange(Post(std::string(std::size_t{1} << 20, ' '), "application/tlsrpt+json"));
  EXPECT_EQ(at_limit.status, 400);
}

TEST_F(ReceiverTest, ExpectContinue) {
  Start();
  const std::string json = ReadTestdata(kRpt01);
  TestClient client(io_, nullptr);
  ASSERT_TRUE(client.Connect(port_));
  client.Send(
      "POST / HTTP/1.1\r\nHost: reports.example.com\r\nContent-Type: "
      "application/tlsrpt+json\r\nExpect: 100-continue\r\nContent-Length: " +
      std::to_string(json.size()) + "\r\n\r\n");
  EXPECT_EQ(client.ReadRaw("\r\n\r\n"), "HTTP/1.1 100 Continue\r\n\r\n");
  client.Send(json);
  const Response r = client.Read();
  EXPECT_EQ(r.status, 201);
  EXPECT_EQ(sink_.reports.size(), 1u);

  // A refusal comes at once, instead of 100 Continue.
  TestClient refused(io_, nullptr);
  ASSERT_TRUE(refused.Connect(port_));
  refused.Send(
      "POST / HTTP/1.1\r\nHost: reports.example.com\r\nContent-Type: "
      "application/tlsrpt+json\r\nExpect: 100-continue\r\nContent-Length: 2000000\r\n\r\n");
  const std::optional<std::string> raw = refused.ReadRaw("");
  ASSERT_TRUE(raw.has_value());
  EXPECT_THAT(*raw, StartsWith("HTTP/1.1 413 Content Too Large\r\n"));

  // Another expectation is 417.
  EXPECT_EQ(Exchange(Post(json, "application/tlsrpt+json", "Expect: something\r\n")).status, 417);
}

TEST_F(ReceiverTest, ChunkedBody) {
  Start();
  const std::string gzip = Gzip(ReadTestdata(kGoogle));
  TestClient client(io_, nullptr);
  ASSERT_TRUE(client.Connect(port_));
  client.Send(
      "POST / HTTP/1.1\r\nHost: reports.example.com\r\nContent-Type: "
      "application/tlsrpt+gzip\r\nTransfer-Encoding: chunked\r\n\r\n");
  // In chunks of 100 bytes, each in its own write.
  for (std::size_t at = 0; at < gzip.size(); at += 100) {
    const std::string chunk = gzip.substr(at, 100);
    std::ostringstream size;
    size << std::hex << chunk.size();
    ASSERT_TRUE(client.Send(size.str() + "\r\n" + chunk + "\r\n"));
  }
  client.Send("0\r\n\r\n");
  const Response r = client.Read();
  EXPECT_EQ(r.status, 201) << r.error << r.body;
  ASSERT_EQ(sink_.reports.size(), 1u);
  EXPECT_EQ(sink_.reports[0].report_id, kGoogleId);

  // A chunked body over the limit is refused at the chunk that passes it.
  ReceiverOptions options = Options();
  options.max_body_bytes = 1000;
  Start(options);
  TestClient big(io_, nullptr);
  ASSERT_TRUE(big.Connect(port_));
  big.Send(
      "POST / HTTP/1.1\r\nHost: reports.example.com\r\nContent-Type: "
      "application/tlsrpt+gzip\r\nTransfer-Encoding: chunked\r\n\r\n" +
      std::string("3e8\r\n") + std::string(1000, 'x') + "\r\n1\r\n");
  const Response too_big = big.Read();
  EXPECT_EQ(too_big.status, 413) << too_big.error;
  EXPECT_THAT(too_big.body, HasSubstr("longer than the limit of 1000 bytes"));
}

TEST_F(ReceiverTest, KeepAlive) {
  Start();
  TestClient client(io_, nullptr);
  ASSERT_TRUE(client.Connect(port_));
  client.Send(Post(Gzip(ReadTestdata(kGoogle)), "application/tlsrpt+gzip"));
  Response r = client.Read();
  EXPECT_EQ(r.status, 201);
  EXPECT_FALSE(r.connection.has_value());
  client.Send(Post(ReadTestdata(kRpt01), "application/tlsrpt+json"));
  r = client.Read();
  EXPECT_EQ(r.status, 201);
  // The client asks to close: the answer says so and the server closes.
  sink_.answer = IngestStatus::kDuplicate;
  client.Send(Post(ReadTestdata(kRpt01), "application/tlsrpt+json", "Connection: close\r\n"));
  r = client.Read();
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.connection, "close");
  EXPECT_TRUE(client.ClosedByServer());
  ASSERT_EQ(sink_.reports.size(), 3u);

  // Two requests in one write (pipelined) are both answered, in order.
  sink_.answer = IngestStatus::kStored;
  TestClient pipelined(io_, nullptr);
  ASSERT_TRUE(pipelined.Connect(port_));
  pipelined.Send(Post(ReadTestdata(kMailRu), "application/tlsrpt+json") +
                 Post(ReadTestdata(kRpt01), "application/tlsrpt+json", "Connection: close\r\n"));
  const std::optional<std::string> raw = pipelined.ReadRaw("");
  ASSERT_TRUE(raw.has_value());
  const std::size_t second = raw->find("HTTP/1.1 201 Created", 1);
  EXPECT_THAT(*raw, StartsWith("HTTP/1.1 201 Created"));
  EXPECT_NE(second, std::string::npos) << *raw;
  ASSERT_EQ(sink_.reports.size(), 5u);
  EXPECT_EQ(sink_.reports[3].report_id, kMailRuId);
  EXPECT_EQ(sink_.reports[4].report_id, kRpt01Id);
}

TEST_F(ReceiverTest, RequestsPerConnectionAreBounded) {
  ReceiverOptions options = Options();
  options.max_requests_per_connection = 2;
  Start(options);
  TestClient client(io_, nullptr);
  ASSERT_TRUE(client.Connect(port_));
  const std::string request = Post(ReadTestdata(kRpt01), "application/tlsrpt+json");
  client.Send(request);
  EXPECT_FALSE(client.Read().connection.has_value());
  client.Send(request);
  const Response r = client.Read();
  EXPECT_EQ(r.status, 201);
  EXPECT_EQ(r.connection, "close");
  EXPECT_TRUE(client.ClosedByServer());
}

TEST_F(ReceiverTest, SlowClientGets408) {
  ReceiverOptions options = Options();
  options.read_timeout = std::chrono::seconds(1);
  Start(options);
  TestClient slow(io_, nullptr);
  ASSERT_TRUE(slow.Connect(port_));
  // The body does not come.
  slow.Send(Post(std::string(100, ' '), "application/tlsrpt+json").substr(0, 120));
  const Response r = slow.Read();
  EXPECT_EQ(r.status, 408) << r.error;
  EXPECT_EQ(r.connection, "close");
  EXPECT_THAT(r.body, HasSubstr("not complete within 1 s"));
  EXPECT_TRUE(slow.ClosedByServer());
  // The head does not end.
  TestClient slower(io_, nullptr);
  ASSERT_TRUE(slower.Connect(port_));
  slower.Send("POST / HTTP/1.1\r\nHost: reports.example.com\r\n");
  EXPECT_EQ(slower.Read().status, 408);
  EXPECT_TRUE(sink_.reports.empty());

  // A connection that sends nothing is closed without an answer.
  TestClient idle(io_, nullptr);
  ASSERT_TRUE(idle.Connect(port_));
  EXPECT_TRUE(idle.ClosedByServer());

  // So is an idle keep-alive connection after its answer.
  TestClient kept(io_, nullptr);
  ASSERT_TRUE(kept.Connect(port_));
  kept.Send(Post(ReadTestdata(kRpt01), "application/tlsrpt+json"));
  EXPECT_EQ(kept.Read().status, 201);
  EXPECT_TRUE(kept.ClosedByServer());

  // Over TLS too: the handshake counts.
  const TestPki pki("slow");
  options.tls_cert_file = pki.cert_file;
  options.tls_key_file = pki.key_file;
  Start(options);
  TestClient silent(io_, nullptr);
  ASSERT_TRUE(silent.Connect(port_));
  EXPECT_TRUE(silent.ClosedByServer());
  // A request that stops half-way over TLS is answered 408 too.
  ssl::context client_tls(ssl::context::tls_client);
  pki.Trust(client_tls);
  TestClient tls_slow(io_, &client_tls);
  ASSERT_TRUE(tls_slow.Connect(port_));
  tls_slow.Send("POST / HTTP/1.1\r\nHost: reports.example.com\r\n");
  const Response tls_r = tls_slow.Read();
  EXPECT_EQ(tls_r.status, 408) << tls_r.error;
  EXPECT_EQ(sink_.reports.size(), 1u);  // The keep-alive connection's report only.
}

struct Malformed {
  std::string request;
  int status;
  std::string message;
};

TEST_F(ReceiverTest, MalformedRequestsAreRefusedAndClosed) {
  Start();
  const std::vector<Malformed> cases = {
      {"GARBAGE\r\n\r\n", 400, "request line"},
      {std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11), 400, "\\x16"},
      {"POST / HTTP/2.0\r\n\r\n", 505, "HTTP/2.0"},
      {"POST / HTTP/1.1\r\nHost: a\r\nBad Header\r\n\r\n", 400, "not a header field"},
      {"POST / HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}", 400, "no Host"},
      {"POST / HTTP/1.1\r\nHost: a\r\nX: " + std::string(20000, 'x') + "\r\n\r\n", 431,
       "longer than 16384 bytes"},
      {"POST /" + std::string(9000, 'a') + " HTTP/1.1\r\n\r\n", 414, "request line"},
      {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 12x\r\n\r\n", 400, "Content-Length"},
      {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", 400,
       "both"},
      {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501, "gzip"},
      {"POST / HTTP/1.1\r\nHost: a\r\nContent-Type: application/tlsrpt+json\r\n"
       "Transfer-Encoding: chunked\r\n\r\nzz\r\n",
       400, "chunk"},
  };
  std::string many_fields = "POST / HTTP/1.1\r\nHost: a\r\n";
  for (int i = 0; i < 101; ++i) {
    many_fields += "X-" + std::to_string(i) + ": 1\r\n";
  }
  for (const Malformed& m : cases) {
    SCOPED_TRACE(m.request.substr(0, 60));
    TestClient client(io_, nullptr);
    ASSERT_TRUE(client.Connect(port_));
    client.Send(m.request);
    const Response r = client.Read();
    EXPECT_EQ(r.status, m.status) << r.error;
    EXPECT_THAT(r.body, HasSubstr(m.message));
    EXPECT_EQ(r.connection, "close");
    EXPECT_TRUE(client.ClosedByServer());
  }
  EXPECT_EQ(Exchange(many_fields + "\r\n").status, 431);
  // A client that closes in the middle of its request still gets its answer.
  TestClient truncated(io_, nullptr);
  ASSERT_TRUE(truncated.Connect(port_));
  truncated.Send(Post("{\"a\": 1}", "application/tlsrpt+json").substr(0, 100));
  truncated.ShutdownSend();
  const Response cut = truncated.Read();
  EXPECT_EQ(cut.status, 400) << cut.error;
  EXPECT_THAT(cut.body, HasSubstr("closed the connection before the end of the request head"));
  EXPECT_TRUE(sink_.reports.empty());
  // The server is still fine.
  EXPECT_EQ(Exchange(Post(ReadTestdata(kRpt01), "application/tlsrpt+json")).status, 201);
}

// --- Connections and lifetime
// ----------------------------------------------------------------------

TEST_F(ReceiverTest, ConnectionLimit) {
  ReceiverOptions options = Options();
  options.max_connections = 1;
  Start(options);
  const std::string request = Post(ReadTestdata(kRpt01), "application/tlsrpt+json");
  auto first = std::make_unique<TestClient>(io_, nullptr);
  ASSERT_TRUE(first->Connect(port_));
  first->Send(request);
  EXPECT_EQ(first->Read().status, 201);  // Still open: keep-alive.

  TestClient second(io_, nullptr);
  ASSERT_TRUE(second.Connect(port_));
  EXPECT_TRUE(second.ClosedByServer());
  EXPECT_THAT(log_.str(), HasSubstr("event=receiver.refused_connection"));

  first.reset();
  Spin(200ms);
  EXPECT_EQ(Exchange(request).status, 201);
}

TEST_F(ReceiverTest, StopClosesEverything) {
  Start();
  TestClient client(io_, nullptr);
  ASSERT_TRUE(client.Connect(port_));
  client.Send(Post(ReadTestdata(kRpt01), "application/tlsrpt+json"));
  EXPECT_EQ(client.Read().status, 201);
  receiver_->Stop();
  EXPECT_TRUE(client.ClosedByServer());
  TestClient late(io_, nullptr);
  EXPECT_FALSE(late.Connect(port_));
  receiver_->Stop();  // Idempotent.
  EXPECT_EQ(receiver_->Start().code(), absl::StatusCode::kFailedPrecondition);
  // Destroying the receiver with a connection half-way through a request.
  Start();
  TestClient half(io_, nullptr);
  ASSERT_TRUE(half.Connect(port_));
  half.Send("POST / HTTP/1.1\r\nHost: a\r\n");
  Spin(50ms);
  receiver_.reset();
  EXPECT_TRUE(half.ClosedByServer());
}

TEST_F(ReceiverTest, StartErrors) {
  const auto start = [&](const ReceiverOptions& options) {
    ReportReceiver receiver(io_, sink_, clock_, logger_, options);
    return receiver.Start();
  };
  ReceiverOptions options = Options();
  options.listen = "localhost:8443";
  EXPECT_EQ(start(options).code(), absl::StatusCode::kInvalidArgument);
  options.listen = "127.0.0.1";
  EXPECT_EQ(start(options).code(), absl::StatusCode::kInvalidArgument);
  options.listen = "127.0.0.1:65536";
  EXPECT_EQ(start(options).code(), absl::StatusCode::kInvalidArgument);
  options.listen = "";
  EXPECT_EQ(start(options).code(), absl::StatusCode::kInvalidArgument);

  options = Options();
  options.tls_cert_file = "/nonexistent/cert.pem";
  const absl::Status one_file = start(options);
  EXPECT_EQ(one_file.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(one_file.message()), HasSubstr("go together"));
  options.tls_key_file = "/nonexistent/key.pem";
  const absl::Status missing = start(options);
  EXPECT_EQ(missing.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(missing.message()), HasSubstr("/nonexistent/cert.pem"));

  // A key that is not the certificate's.
  const TestPki pki("mismatch");
  const TestPki other("other");
  options.tls_cert_file = pki.cert_file;
  options.tls_key_file = TempDir() + "/other-key.pem";
  BIO* out = BIO_new_file(options.tls_key_file.c_str(), "w");
  PEM_write_bio_PrivateKey(out, other.ca_key.get(), nullptr, nullptr, 0, nullptr, nullptr);
  BIO_free(out);
  const absl::Status mismatch = start(options);
  EXPECT_EQ(mismatch.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(mismatch.message()), HasSubstr("other-key.pem"));
  EXPECT_THAT(std::string(mismatch.message()), HasSubstr("mismatch"));

  // The port in use.
  Start();
  options = Options();
  options.listen = "127.0.0.1:" + std::to_string(port_);
  EXPECT_EQ(start(options).code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(receiver_->address(), "127.0.0.1:" + std::to_string(port_));
  EXPECT_EQ(receiver_->Start().code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(ReceiverTest, ListensOnIpv6) {
  ReceiverOptions options = Options();
  options.listen = "[::1]:0";
  auto receiver = std::make_unique<ReportReceiver>(io_, sink_, clock_, logger_, options);
  const absl::Status status = receiver->Start();
  if (!status.ok()) {
    GTEST_SKIP() << "no IPv6 loopback: " << status;
  }
  EXPECT_EQ(receiver->address(), "[::1]:" + std::to_string(receiver->port()));
}

}  // namespace
}  // namespace stswatch::tlsrpt
