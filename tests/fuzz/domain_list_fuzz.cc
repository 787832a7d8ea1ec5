// Fuzzes what operators type: the domains file of `serve`, durations, and Redis URLs. Never a
// crash; every accepted domain is a valid host name; every refused line is reported.

#include <cstdint>
#include <cstdlib>
#include <sstream>
#include <string>
#include <string_view>

#include "common/duration.h"
#include "mtasts/hostname.h"
#include "scheduler/domain_list.h"
#include "store/redis_endpoint.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  std::istringstream in(text);
  const auto list = stswatch::scheduler::ParseDomainList(in, std::chrono::seconds(1));
  for (const auto& d : list.domains) {
    if (stswatch::mtasts::CheckHostname(d.name).has_value() ||
        (d.interval.count() != 0 && d.interval < std::chrono::seconds(1))) {
      std::abort();
    }
  }
  for (const auto& e : list.errors) {
    if (!e.starts_with("line ")) {
      std::abort();
    }
  }
  if (const auto d = stswatch::ParseDuration(text)) {
    if (d->count() < 0 || stswatch::ParseDuration(stswatch::FormatDuration(*d)) != d) {
      std::abort();
    }
  }
  const auto endpoint = stswatch::store::RedisEndpoint::Parse(text);
  if (endpoint.ok()) {
    (void)endpoint->ToString();
  } else if (endpoint.status().message().empty()) {
    std::abort();
  }
  return 0;
}
