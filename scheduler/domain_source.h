#pragma once

// Where the monitored domains come from, for `serve` and `scheduler`: the domains file
// (domain_list.h) and the domains added in Redis (stswatch:{pN}:watch, store/README.md), plus the
// last check time the store holds for each, so that a restart keeps the schedule.

#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "absl/status/statusor.h"
#include "scheduler/domain_list.h"
#include "store/keys.h"
#include "store/redis_client.h"

namespace stswatch::scheduler {

struct LoadedDomains {
  std::vector<MonitoredDomain> domains;  // The file's first, then Redis' (the file wins).
  std::size_t from_file = 0;
  std::vector<std::string> file_errors;  // "line 3: ..." per skipped line.
  std::string file_unreadable;           // Why the file could not be read, if it could not.
  std::map<std::string, std::chrono::system_clock::time_point> last_checks;
};

// Reads both sources. Last check times are read (pipelined) only for domains `known` says no
// to. Fails with Redis' error when Redis does not answer; the caller retries.
boost::asio::awaitable<absl::StatusOr<LoadedDomains>> LoadDomains(
    store::RedisClient& client, const store::KeySchema& keys, const std::string& file,
    const std::function<bool(std::string_view)>& known);

}  // namespace stswatch::scheduler
