#include "scheduler/domain_list.h"

#include <map>

#include "common/duration.h"
#include "mtasts/hostname.h"
#include "mtasts/text.h"

namespace stswatch::scheduler {

DomainListResult ParseDomainList(std::istream& in, std::chrono::seconds min_interval) {
  constexpr std::size_t kMaxLine = 4096;
  DomainListResult result;
  std::map<std::string, std::size_t> seen;
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    const std::string where = "line " + std::to_string(number) + ": ";
    if (line.size() > kMaxLine) {
      result.errors.push_back(where + "longer than " + std::to_string(kMaxLine) + " bytes");
      continue;
    }
    const std::string_view text = mtasts::TrimWsp(std::string_view(line).substr(0, line.find('#')));
    if (text.empty()) {
      continue;
    }
    std::string_view name = text;
    std::string_view interval;
    if (const std::size_t space = text.find_first_of(" \t"); space != std::string_view::npos) {
      name = text.substr(0, space);
      interval = mtasts::TrimWsp(text.substr(space));
    }
    const std::string domain = mtasts::CanonicalHostname(name);
    if (const auto why = mtasts::CheckHostname(domain)) {
      result.errors.push_back(where + mtasts::Quote(name) + " is not a domain name: " + *why);
      continue;
    }
    MonitoredDomain entry{domain, std::chrono::seconds(0)};
    if (!interval.empty()) {
      const auto d = ParseDuration(interval);
      if (!d) {
        result.errors.push_back(where + mtasts::Quote(interval) +
                                " is not an interval (write it as 30s, 15m, 1h or 2d)");
        continue;
      }
      if (*d < min_interval) {
        result.errors.push_back(where + "interval " + std::string(interval) +
                                " is shorter than the minimum " + FormatDuration(min_interval));
        continue;
      }
      entry.interval = *d;
    }
    if (const auto it = seen.find(domain); it != seen.end()) {
      result.domains[it->second] = entry;
      continue;
    }
    seen.emplace(domain, result.domains.size());
    result.domains.push_back(std::move(entry));
  }
  return result;
}

}  // namespace stswatch::scheduler
