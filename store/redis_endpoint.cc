#include "store/redis_endpoint.h"

#include <sys/un.h>

#include <algorithm>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace stswatch::store {

namespace {

// sockaddr_un::sun_path holds 108 bytes with the terminating NUL. hiredis 0.14 silently
// truncates a longer path (strncpy), so it is refused here instead.
constexpr std::size_t kMaxUnixPath = sizeof(sockaddr_un::sun_path) - 1;

}  // namespace

absl::Status CheckUnixSocketPath(std::string_view path) {
  if (path.size() > kMaxUnixPath) {
    return absl::InvalidArgumentError(absl::StrCat("unix socket path is ", path.size(),
                                                   " bytes long; the kernel allows at most ",
                                                   kMaxUnixPath));
  }
  return absl::OkStatus();
}

namespace {

absl::StatusOr<int> ParseDb(absl::string_view text) {
  int db = 0;
  if (text.empty() || !std::all_of(text.begin(), text.end(), absl::ascii_isdigit) ||
      !absl::SimpleAtoi(text, &db)) {
    return absl::InvalidArgumentError(
        absl::StrCat("database \"", text, "\" in Redis URL is not a non-negative number"));
  }
  return db;
}

absl::StatusOr<std::string> PercentDecode(absl::string_view text, absl::string_view what) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out.push_back(text[i]);
      continue;
    }
    if (i + 2 >= text.size()) {
      return absl::InvalidArgumentError(
          absl::StrCat("truncated percent-encoding in the ", what, " of a Redis URL"));
    }
    const absl::string_view hex = text.substr(i + 1, 2);
    if (!absl::ascii_isxdigit(hex[0]) || !absl::ascii_isxdigit(hex[1])) {
      return absl::InvalidArgumentError(
          absl::StrCat("bad percent-encoding in the ", what, " of a Redis URL"));
    }
    out.push_back(static_cast<char>(std::stoi(std::string(hex), nullptr, 16)));
    i += 2;
  }
  return out;
}

absl::StatusOr<RedisEndpoint> ParseUnixUrl(absl::string_view rest) {
  RedisEndpoint endpoint;
  absl::string_view query;
  if (const std::size_t q = rest.find('?'); q != absl::string_view::npos) {
    query = rest.substr(q + 1);
    rest = rest.substr(0, q);
  }
  if (rest.empty()) {
    return absl::InvalidArgumentError("unix:// Redis URL has no socket path");
  }
  if (rest.front() != '/') {
    return absl::InvalidArgumentError(
        "unix:// Redis URL needs an absolute socket path after the scheme, as in "
        "unix:///path/to/redis.sock");
  }
  if (absl::Status s = CheckUnixSocketPath(std::string_view(rest.data(), rest.size())); !s.ok()) {
    return s;
  }
  endpoint.unix_path = std::string(rest);
  if (query.empty()) {
    return endpoint;
  }
  for (absl::string_view param : absl::StrSplit(query, '&')) {
    const std::size_t eq = param.find('=');
    const absl::string_view key = param.substr(0, eq);
    const absl::string_view value = eq == absl::string_view::npos ? "" : param.substr(eq + 1);
    if (key == "db") {
      absl::StatusOr<int> db = ParseDb(value);
      if (!db.ok()) {
        return db.status();
      }
      endpoint.db = *db;
    } else if (key == "password") {
      absl::StatusOr<std::string> password = PercentDecode(value, "password");
      if (!password.ok()) {
        return password.status();
      }
      endpoint.password = *std::move(password);
    } else {
      return absl::InvalidArgumentError(absl::StrCat(
          "unknown parameter \"", key, "\" in unix:// Redis URL (known: db, password)"));
    }
  }
  return endpoint;
}

absl::StatusOr<RedisEndpoint> ParseRedisUrl(absl::string_view rest) {
  RedisEndpoint endpoint;
  if (rest.find_first_of("?#") != absl::string_view::npos) {
    return absl::InvalidArgumentError(
        "redis:// URL takes no query or fragment; the database goes in the path, as in "
        "redis://host:6379/2");
  }
  const std::size_t slash = rest.find('/');
  absl::string_view authority = rest.substr(0, slash);
  const absl::string_view path =
      slash == absl::string_view::npos ? absl::string_view() : rest.substr(slash + 1);

  if (const std::size_t at = authority.rfind('@'); at != absl::string_view::npos) {
    const absl::string_view userinfo = authority.substr(0, at);
    authority = authority.substr(at + 1);
    // As redis-cli: "user:password", ":password", or a lone "password".
    const std::size_t colon = userinfo.find(':');
    if (colon != absl::string_view::npos) {
      absl::StatusOr<std::string> user = PercentDecode(userinfo.substr(0, colon), "user name");
      if (!user.ok()) {
        return user.status();
      }
      endpoint.user = *std::move(user);
    }
    absl::StatusOr<std::string> password = PercentDecode(
        colon == absl::string_view::npos ? userinfo : userinfo.substr(colon + 1), "password");
    if (!password.ok()) {
      return password.status();
    }
    endpoint.password = *std::move(password);
    if (!endpoint.user.empty() && endpoint.password.empty()) {
      return absl::InvalidArgumentError("Redis URL names a user but no password");
    }
  }

  absl::string_view port;
  if (!authority.empty() && authority.front() == '[') {
    const std::size_t close = authority.find(']');
    if (close == absl::string_view::npos) {
      return absl::InvalidArgumentError("Redis URL has an unterminated [IPv6] host");
    }
    endpoint.host = std::string(authority.substr(1, close - 1));
    const absl::string_view after = authority.substr(close + 1);
    if (!after.empty() && after.front() != ':') {
      return absl::InvalidArgumentError("Redis URL has characters after the ] of its IPv6 host");
    }
    port = after.empty() ? after : after.substr(1);
    if (!after.empty() && port.empty()) {
      return absl::InvalidArgumentError("Redis URL has an empty port after ':'");
    }
  } else {
    const std::size_t colon = authority.find(':');
    endpoint.host = std::string(authority.substr(0, colon));
    if (colon != absl::string_view::npos) {
      port = authority.substr(colon + 1);
      if (port.empty()) {
        return absl::InvalidArgumentError("Redis URL has an empty port after ':'");
      }
    }
  }
  if (endpoint.host.empty()) {
    return absl::InvalidArgumentError("Redis URL has no host");
  }
  if (!port.empty()) {
    int number = 0;
    if (!std::all_of(port.begin(), port.end(), absl::ascii_isdigit) ||
        !absl::SimpleAtoi(port, &number) || number < 1 || number > 65535) {
      return absl::InvalidArgumentError(
          absl::StrCat("port \"", port, "\" in Redis URL is not a number from 1 to 65535"));
    }
    endpoint.port = number;
  }
  if (!path.empty()) {
    absl::StatusOr<int> db = ParseDb(path);
    if (!db.ok()) {
      return db.status();
    }
    endpoint.db = *db;
  }
  return endpoint;
}

}  // namespace

std::string RedisEndpoint::ToString() const {
  if (!unix_path.empty()) {
    std::string out = absl::StrCat("unix://", unix_path);
    absl::string_view sep = "?";
    if (db != 0) {
      absl::StrAppend(&out, sep, "db=", db);
      sep = "&";
    }
    if (!password.empty()) {
      absl::StrAppend(&out, sep, "password=***");
    }
    return out;
  }
  std::string out = "redis://";
  if (!password.empty()) {
    absl::StrAppend(&out, user, ":***@");
  }
  if (host.find(':') != std::string::npos) {
    absl::StrAppend(&out, "[", host, "]");
  } else {
    absl::StrAppend(&out, host);
  }
  absl::StrAppend(&out, ":", port);
  if (db != 0) {
    absl::StrAppend(&out, "/", db);
  }
  return out;
}

absl::StatusOr<RedisEndpoint> RedisEndpoint::Parse(std::string_view input) {
  // Debian's Abseil has its own absl::string_view, distinct from std::string_view.
  const absl::string_view url(input.data(), input.size());
  if (url.empty()) {
    return absl::InvalidArgumentError("empty Redis URL");
  }
  if (url.front() == '/') {
    if (absl::Status s = CheckUnixSocketPath(std::string_view(url.data(), url.size())); !s.ok()) {
      return s;
    }
    RedisEndpoint endpoint;
    endpoint.unix_path = std::string(url);
    return endpoint;
  }
  const std::size_t sep = url.find("://");
  if (sep == absl::string_view::npos) {
    return absl::InvalidArgumentError(
        "Redis URL must be redis://[[user]:password@]host[:port][/db], unix:///path/to.sock or "
        "an absolute socket path");
  }
  const std::string scheme = absl::AsciiStrToLower(url.substr(0, sep));
  const absl::string_view rest = url.substr(sep + 3);
  if (scheme == "redis") {
    return ParseRedisUrl(rest);
  }
  if (scheme == "unix") {
    return ParseUnixUrl(rest);
  }
  if (scheme == "rediss") {
    return absl::InvalidArgumentError("rediss:// (Redis over TLS) is not supported");
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unsupported Redis URL scheme \"", scheme, "\" (known: redis://, unix://)"));
}

}  // namespace stswatch::store
