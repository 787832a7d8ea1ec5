// The /metrics endpoint as Prometheus sees it: a MetricsServer on a free loopback port, scraped
// over a plain TCP socket with an HTTP/1.1 GET. What was recorded (checks by status, their
// duration histogram, probe errors derived from snapshots, drift events, queue gauges, API calls)
// must appear as the expected samples with the expected values; an address that is taken or
// malformed gives a clear error; a destroyed server no longer listens.

#include "metrics/metrics.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/status/status.h"
#include "drift/snapshot.h"

namespace stswatch::metrics {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

struct HttpResponse {
  int status = 0;
  std::string headers;
  std::string body;
};

// Connects to 127.0.0.1:port; -1 when refused.
int Connect(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) {
    return -1;
  }
  timeval timeout{};
  timeout.tv_sec = 10;
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// GET http://127.0.0.1:port/path, reading until the server closes the connection.
std::optional<HttpResponse> Get(int port, const std::string& path) {
  const int fd = Connect(port);
  if (fd < 0) {
    return std::nullopt;
  }
  const std::string request = "GET " + path +
                              " HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: metrics_test\r\n"
                              "Connection: close\r\n\r\n";
  std::size_t sent = 0;
  while (sent < request.size()) {
    const ssize_t n = send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) {
      close(fd);
      return std::nullopt;
    }
    sent += static_cast<std::size_t>(n);
  }
  std::string raw;
  char buffer[4096];
  for (;;) {
    const ssize_t n = recv(fd, buffer, sizeof(buffer), 0);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      break;
    }
    raw.append(buffer, static_cast<std::size_t>(n));
  }
  close(fd);
  const std::size_t end = raw.find("\r\n\r\n");
  if (!raw.starts_with("HTTP/1.") || end == std::string::npos || raw.size() < 12) {
    return std::nullopt;
  }
  HttpResponse response;
  response.status = std::atoi(raw.substr(9, 3).c_str());
  response.headers = raw.substr(0, end);
  response.body = raw.substr(end + 4);
  if (response.headers.find("Transfer-Encoding: chunked") != std::string::npos) {
    // Decode chunks: SIZE-in-hex CRLF DATA CRLF ... 0 CRLF CRLF.
    std::string decoded;
    std::size_t at = 0;
    for (;;) {
      const std::size_t line_end = response.body.find("\r\n", at);
      if (line_end == std::string::npos) {
        return std::nullopt;
      }
      const std::size_t size =
          std::strtoul(response.body.substr(at, line_end - at).c_str(), nullptr, 16);
      if (size == 0) {
        break;
      }
      decoded += response.body.substr(line_end + 2, size);
      at = line_end + 2 + size + 2;
    }
    response.body = decoded;
  }
  return response;
}

// The samples of an exposition: "name{labels}" → value.
std::map<std::string, double> Samples(const std::string& text) {
  std::map<std::string, double> samples;
  std::size_t at = 0;
  while (at < text.size()) {
    std::size_t end = text.find('\n', at);
    if (end == std::string::npos) {
      end = text.size();
    }
    const std::string line = text.substr(at, end - at);
    at = end + 1;
    if (line.empty() || line[0] == '#') {
      continue;
    }
    const std::size_t space = line.rfind(' ');
    if (space == std::string::npos) {
      continue;
    }
    samples[line.substr(0, space)] = std::strtod(line.c_str() + space + 1, nullptr);
  }
  return samples;
}

// A check that ran into every kind of probe error, with `unreachable` MX hosts unreachable.
drift::Snapshot Troubled(int unreachable) {
  drift::Snapshot s;
  s.domain = "troubled.test";
  s.status = "failing";
  s.sts_present = true;
  s.fetch = "certificate-invalid";
  s.findings = {"dns.lookup_failed", "policy.fetch.certificate_invalid"};
  for (int i = 0; i < unreachable; ++i) {
    drift::MxSnapshot mx;
    mx.host = "down" + std::to_string(i) + ".troubled.test";
    mx.starttls = drift::StartTls::kUnreachable;
    s.mx.push_back(mx);
  }
  drift::MxSnapshot plain;
  plain.host = "plain.troubled.test";
  plain.starttls = drift::StartTls::kNotOffered;
  s.mx.push_back(plain);
  drift::MxSnapshot broken_tls;
  broken_tls.host = "tls.troubled.test";
  broken_tls.starttls = drift::StartTls::kFailed;
  s.mx.push_back(broken_tls);
  drift::MxSnapshot bad_cert;
  bad_cert.host = "cert.troubled.test";
  bad_cert.starttls = drift::StartTls::kEstablished;
  bad_cert.cert = drift::CertSnapshot{};
  bad_cert.cert->valid = false;
  s.mx.push_back(bad_cert);
  return s;
}

// A check where everything worked.
drift::Snapshot Healthy() {
  drift::Snapshot s;
  s.domain = "healthy.test";
  s.status = "ok";
  s.sts_present = true;
  s.fetch = "ok";
  s.mode = "enforce";
  drift::MxSnapshot mx;
  mx.host = "mx.healthy.test";
  mx.starttls = drift::StartTls::kEstablished;
  mx.cert = drift::CertSnapshot{};
  mx.cert->valid = true;
  s.mx.push_back(mx);
  return s;
}

TEST(ProbeErrorsTest, DerivedFromTheSnapshot) {
  EXPECT_THAT(ProbeErrors(Troubled(2)),
              UnorderedElementsAre("dns", "policy_fetch", "smtp_connect", "smtp_connect",
                                   "starttls", "tls_handshake", "certificate"));
  EXPECT_THAT(ProbeErrors(Healthy()), IsEmpty());
  // No policy fetch attempted (no _mta-sts record) is not an error; nor is a check of nothing.
  drift::Snapshot none;
  none.status = "none";
  EXPECT_THAT(ProbeErrors(none), IsEmpty());
  drift::Snapshot fetch_failed;
  fetch_failed.fetch = "connect-failed";
  EXPECT_THAT(ProbeErrors(fetch_failed), ElementsAre("policy_fetch"));
}

TEST(MetricsServerTest, ServesWhatWasRecorded) {
  Metrics metrics;
  auto server = MetricsServer::Start("127.0.0.1:0", metrics);
  ASSERT_TRUE(server.ok()) << server.status();
  const int port = (*server)->port();
  ASSERT_GT(port, 0);
  EXPECT_EQ((*server)->address(), "127.0.0.1:" + std::to_string(port));

  metrics.CheckDone("failing", 0.2, Troubled(1));
  metrics.CheckDone("failing", 3.0, Troubled(2));
  metrics.CheckDone("ok", 0.02, Healthy());
  metrics.CheckFailed(45);
  metrics.Event("status_changed", "critical");
  for (int i = 0; i < 3; ++i) {
    metrics.Event("first_check", "info");
  }
  metrics.SetQueue(120, 7, 3);
  metrics.ApiCall("ListDomains", "OK", 0.003);
  metrics.ApiCall("ListDomains", "OK", 0.02);
  metrics.ApiCall("GetDomain", "NOT_FOUND", 0.5);

  const auto response = Get(port, "/metrics");
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 200) << response->headers;
  EXPECT_THAT(response->headers, HasSubstr("text/plain"));
  const std::string& text = response->body;
  EXPECT_THAT(text, HasSubstr("stswatch_checks_total{status=\"failing\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("# TYPE stswatch_checks_total counter"));
  EXPECT_THAT(text, HasSubstr("# TYPE stswatch_check_duration_seconds histogram"));
  EXPECT_THAT(text, HasSubstr("# TYPE stswatch_queue_depth gauge"));
  EXPECT_THAT(text, HasSubstr("# TYPE stswatch_api_call_duration_seconds histogram"));

  std::map<std::string, double> s = Samples(text);
  // Checks by status; statuses not seen yet are there, at 0.
  EXPECT_EQ(s["stswatch_checks_total{status=\"failing\"}"], 2);
  EXPECT_EQ(s["stswatch_checks_total{status=\"ok\"}"], 1);
  EXPECT_EQ(s["stswatch_checks_total{status=\"error\"}"], 1);
  EXPECT_EQ(s.count("stswatch_checks_total{status=\"broken\"}"), 1u);
  EXPECT_EQ(s["stswatch_checks_total{status=\"broken\"}"], 0);
  // Durations 0.02, 0.2, 3 and 45 seconds.
  EXPECT_EQ(s["stswatch_check_duration_seconds_count"], 4);
  EXPECT_DOUBLE_EQ(s["stswatch_check_duration_seconds_sum"], 48.22);
  EXPECT_EQ(s["stswatch_check_duration_seconds_bucket{le=\"0.01\"}"], 0);
  EXPECT_EQ(s["stswatch_check_duration_seconds_bucket{le=\"0.025\"}"], 1);
  EXPECT_EQ(s["stswatch_check_duration_seconds_bucket{le=\"0.25\"}"], 2);
  EXPECT_EQ(s["stswatch_check_duration_seconds_bucket{le=\"5\"}"], 3);
  EXPECT_EQ(s["stswatch_check_duration_seconds_bucket{le=\"60\"}"], 4);
  EXPECT_EQ(s["stswatch_check_duration_seconds_bucket{le=\"+Inf\"}"], 4);
  // Probe errors of the two troubled checks (1 + 2 unreachable MX hosts).
  EXPECT_EQ(s["stswatch_probe_errors_total{kind=\"dns\"}"], 2);
  EXPECT_EQ(s["stswatch_probe_errors_total{kind=\"policy_fetch\"}"], 2);
  EXPECT_EQ(s["stswatch_probe_errors_total{kind=\"smtp_connect\"}"], 3);
  EXPECT_EQ(s["stswatch_probe_errors_total{kind=\"starttls\"}"], 2);
  EXPECT_EQ(s["stswatch_probe_errors_total{kind=\"tls_handshake\"}"], 2);
  EXPECT_EQ(s["stswatch_probe_errors_total{kind=\"certificate\"}"], 2);
  // Events.
  EXPECT_EQ(s["stswatch_events_total{kind=\"status_changed\",severity=\"critical\"}"], 1);
  EXPECT_EQ(s["stswatch_events_total{kind=\"first_check\",severity=\"info\"}"], 3);
  // Gauges.
  EXPECT_EQ(s["stswatch_queue_depth"], 120);
  EXPECT_EQ(s["stswatch_checks_in_flight"], 7);
  EXPECT_EQ(s["stswatch_pending_writes"], 3);
  // API calls.
  EXPECT_EQ(s["stswatch_api_calls_total{code=\"OK\",method=\"ListDomains\"}"], 2);
  EXPECT_EQ(s["stswatch_api_calls_total{code=\"NOT_FOUND\",method=\"GetDomain\"}"], 1);
  EXPECT_EQ(s["stswatch_api_call_duration_seconds_count{method=\"ListDomains\"}"], 2);
  EXPECT_EQ(s["stswatch_api_call_duration_seconds_bucket{method=\"ListDomains\",le=\"0.005\"}"], 1);
  EXPECT_EQ(s["stswatch_api_call_duration_seconds_bucket{method=\"ListDomains\",le=\"0.025\"}"], 2);
  EXPECT_EQ(s["stswatch_api_call_duration_seconds_bucket{method=\"GetDomain\",le=\"0.25\"}"], 0);
  EXPECT_EQ(s["stswatch_api_call_duration_seconds_bucket{method=\"GetDomain\",le=\"0.5\"}"], 1);

  // Each scrape shows the values of the moment.
  metrics.SetQueue(121, 0, 0);
  metrics.CheckDone("failing", 1, Troubled(0));
  const auto again = Get(port, "/metrics");
  ASSERT_TRUE(again.has_value());
  s = Samples(again->body);
  EXPECT_EQ(s["stswatch_queue_depth"], 121);
  EXPECT_EQ(s["stswatch_checks_in_flight"], 0);
  EXPECT_EQ(s["stswatch_checks_total{status=\"failing\"}"], 3);

  // Render gives the same families without HTTP.
  EXPECT_THAT(metrics.Render(), HasSubstr("stswatch_checks_total{status=\"failing\"} 3\n"));
}

TEST(MetricsServerTest, NegativeDurationsCountAsZero) {
  Metrics metrics;
  metrics.CheckFailed(-5);  // The wall clock stepped back during the check.
  std::map<std::string, double> s = Samples(metrics.Render());
  EXPECT_EQ(s["stswatch_check_duration_seconds_bucket{le=\"0.01\"}"], 1);
  EXPECT_EQ(s["stswatch_check_duration_seconds_sum"], 0);
}

TEST(MetricsServerTest, AddressInUseIsAClearError) {
  Metrics metrics;
  auto first = MetricsServer::Start("127.0.0.1:0", metrics);
  ASSERT_TRUE(first.ok()) << first.status();
  const std::string taken = (*first)->address();
  const auto second = MetricsServer::Start(taken, metrics);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(second.status().message(), HasSubstr(taken));
  EXPECT_THAT(second.status().message(), HasSubstr("in use"));
  // The first one is unharmed.
  const auto response = Get((*first)->port(), "/metrics");
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 200);
}

TEST(MetricsServerTest, MalformedAddressesAreRefused) {
  Metrics metrics;
  for (const char* listen : {"9464", "localhost:9464", "127.0.0.1:", "127.0.0.1:65536",
                             "127.0.0.1:-1", "127.0.0.1:80x", "[::1]:9464", ":9464"}) {
    const auto server = MetricsServer::Start(listen, metrics);
    ASSERT_FALSE(server.ok()) << listen;
    EXPECT_EQ(server.status().code(), absl::StatusCode::kInvalidArgument) << listen;
    EXPECT_THAT(server.status().message(), HasSubstr(listen));
  }
}

TEST(MetricsServerTest, OutlivesItsMetricsAndStopsListeningWhenDestroyed) {
  auto metrics = std::make_unique<Metrics>();
  metrics->CheckDone("warning", 1, Healthy());
  auto server = MetricsServer::Start("127.0.0.1:0", *metrics);
  ASSERT_TRUE(server.ok()) << server.status();
  const int port = (*server)->port();
  metrics.reset();
  const auto response = Get(port, "/metrics");
  ASSERT_TRUE(response.has_value());
  EXPECT_THAT(response->body, HasSubstr("stswatch_checks_total{status=\"warning\"} 1\n"));
  server->reset();
  const int fd = Connect(port);
  EXPECT_LT(fd, 0) << "still listening on " << port;
  if (fd >= 0) {
    close(fd);
  }
}

}  // namespace
}  // namespace stswatch::metrics
