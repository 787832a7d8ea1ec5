#pragma once

// The webhook channel's delivery client: one HTTPS POST of a notification to a tenant's URL.
//
// The URL is tenant input, so the target is treated like a probed host: its name is resolved
// with the prober's DnsResolver (A and AAAA), every address goes through the AddressFilter, and
// the connection goes to an allowed address as resolved (pinned: there is no second lookup
// between the check and the connection). The certificate is always verified: the chain against
// the ssl::context's trust store, the name (or address, for an IP literal) with X509_check_host
// rules; SNI carries the host name. Redirects are not followed. One deadline bounds the whole
// delivery (lookup included); the response head and body are read up to fixed limits.
//
// Lifetime and threading: runs on the executor of the coroutine that awaits it, which must be the
// resolver's io_context thread; `resolver`, `tls` and `filter` must outlive the coroutine.
// Destroying the coroutine (its owner stops) closes the connection; a lookup still pending then
// calls back into state it shares, never into the coroutine.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ssl/context.hpp>

#include "absl/status/statusor.h"
#include "prober/address_filter.h"
#include "prober/dns_resolver.h"

namespace stswatch::alerting {

inline constexpr std::size_t kMaxWebhookUrlLength = 2048;

struct WebhookUrl {
  std::string scheme;  // "https", or "http" when allowed.
  // Lower case, without a trailing dot; an IPv6 literal without its brackets.
  std::string host;
  std::uint16_t port = 443;
  std::string target;  // The path and query, "/" when the URL has none.

  bool operator==(const WebhookUrl&) const = default;
};

// Parses an absolute http(s) URL as configured for a webhook. Refused, with an InvalidArgument
// status whose message says why: more than kMaxWebhookUrlLength bytes; spaces, control
// characters or non-ASCII bytes (they must be percent-encoded); a scheme other than https (or
// http when `allow_http`); user information ("user:pass@"); a fragment; a host that is neither a
// DNS name (RFC 5321 letters, digits and hyphens; IDNs as A-labels) nor an IPv4 literal nor an
// IPv6 literal in brackets (zone identifiers refused); a port outside 1..65535; a malformed
// percent-escape.
absl::StatusOr<WebhookUrl> ParseWebhookUrl(std::string_view url, bool allow_http);

struct WebhookOptions {
  // The whole delivery: lookup, connection, TLS handshake, request and response. Once the
  // response's head has arrived, a body still incomplete at the deadline does not change the
  // outcome.
  std::chrono::milliseconds timeout{15000};
  // The most response body bytes read (kept for the error sentence of a failure).
  std::size_t max_response_bytes = 64 * 1024;
  std::string user_agent = "stswatch-alerter";
};

struct WebhookRequest {
  std::string url;
  bool allow_http = false;
  std::string body;
  std::string content_type = "application/json";
  // Extra header fields, e.g. the signature. Names must be tokens (RFC 9110 §5.6.2) and values
  // free of control characters; Host, Content-Length, Content-Type, Transfer-Encoding,
  // Connection and User-Agent are set by the client and refused here.
  std::vector<std::pair<std::string, std::string>> headers;
};

struct WebhookResult {
  // A 2xx response.
  bool ok = false;
  // On failure: retrying will not help (other 4xx, 3xx, an invalid URL or header, a target that
  // resolves only to refused addresses). False for 408, 425, 429, 5xx, lookups that failed,
  // network errors, timeouts and TLS failures, including certificate errors.
  bool permanent = false;
  // The response's status code, 0 when none was received.
  int status = 0;
  // On failure, a sentence saying what happened.
  std::string error;
  // The address connected to (the last one tried when none could be), or "".
  std::string address;
  // Retry-After in its seconds form, from a 429 or 503 response.
  std::optional<std::chrono::seconds> retry_after;
};

boost::asio::awaitable<WebhookResult> PostWebhook(prober::DnsResolver& resolver,
                                                  boost::asio::ssl::context& tls,
                                                  const prober::AddressFilter& filter,
                                                  WebhookRequest request, WebhookOptions options);

}  // namespace stswatch::alerting
