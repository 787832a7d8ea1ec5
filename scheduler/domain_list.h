#pragma once

// The domains file of `stswatch serve --domains FILE`: one domain per line, optionally followed
// by its own interval; `#` starts a comment.
//
//   example.com
//   example.org   15m      # checked every 15 minutes
//
// Bad lines are reported with their number and skipped; the rest of the file still counts.

#include <chrono>
#include <istream>
#include <string>
#include <vector>

namespace stswatch::scheduler {

struct MonitoredDomain {
  std::string name;
  std::chrono::seconds interval{0};  // 0: the default.
};

struct DomainListResult {
  std::vector<MonitoredDomain> domains;  // In file order, duplicates removed (the last wins).
  std::vector<std::string> errors;       // "line 3: ..." for each skipped line.
};

// `min_interval`: shorter per-domain intervals are refused.
DomainListResult ParseDomainList(std::istream& in, std::chrono::seconds min_interval);

}  // namespace stswatch::scheduler
