// Benchmark: memory per domain of the scheduler's DueQueue, and the time of one dispatch (PopDue +
// Completed) per domain.
//
//   bazel run -c opt //bench:scheduler_memory [-- --domains N --rounds R]
//
// Builds a DueQueue of N (default 100 000) generated domain names of 12 to 40 bytes, measures the
// heap bytes it takes with glibc's mallinfo2() (in-use arena bytes + mmapped bytes, before and
// after), and times R rounds (default 5) in which every domain is due, handed out by PopDue in
// batches of 256 and re-armed by Completed. Target: at most 256 bytes per domain at 100 000.

#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <absl/container/flat_hash_set.h>
#include <absl/strings/str_cat.h>

#include "scheduler/due_queue.h"

namespace stswatch::scheduler {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr size_t kBatch = 256;
constexpr size_t kTargetBytesPerDomain = 256;

size_t HeapInUse() {
  const struct mallinfo2 info = mallinfo2();
  return info.uordblks + info.hblkhd;
}

std::string CpuModel() {
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  while (std::getline(cpuinfo, line)) {
    if (line.rfind("model name", 0) == 0) {
      const size_t colon = line.find(':');
      return colon == std::string::npos ? line : line.substr(colon + 2);
    }
  }
  return "unknown";
}

// Domain names like a hosting provider's customers', 12 to 40 bytes long (uniformly), unique by
// the number in their first label.
std::vector<std::string> DomainNames(size_t count) {
  const std::vector<std::string> prefixes = {"customer", "mail", "shop", "acme", "eu", "portal"};
  const std::vector<std::string> tlds = {".com", ".net", ".org", ".de", ".co.uk", ".io"};
  std::vector<std::string> names;
  names.reserve(count);
  uint64_t rng = 12345;
  for (size_t n = 0; n < count; ++n) {
    rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
    const size_t length = 12 + (rng >> 33) % 29;
    const std::string& prefix = prefixes[n % prefixes.size()];
    const std::string& tld = tlds[(rng >> 50) % tlds.size()];
    const std::string rest = "-mail.example-hosting" + std::to_string((rng >> 40) % 97);
    std::string name = absl::StrCat(prefix, "-", n, rest, tld);
    if (name.size() > length) {
      // Short form: "c123-mail.exa.de".
      std::string head = prefix.substr(0, 1) + std::to_string(n);
      if (head.size() + tld.size() < length) {
        head += rest.substr(0, length - head.size() - tld.size());
      }
      while (head.back() == '.' || head.back() == '-') {
        head.pop_back();
      }
      name = head + tld;
    }
    if (name.size() + 1 == length) {
      name.insert(0, "w");
    } else if (name.size() < length) {
      // Another label in front: "mx.", "mx-in.", "mx-inbound."...
      std::string label = std::string("mx-inbound-relay").substr(0, length - name.size() - 1);
      if (label.back() == '-') {
        label.back() = 'x';
      }
      name = absl::StrCat(label, ".", name);
    }
    names.push_back(std::move(name));
  }
  return names;
}

int Run(size_t domains, int rounds) {
  std::printf("machine: %ld cores (nproc), %s\n", sysconf(_SC_NPROCESSORS_ONLN),
              CpuModel().c_str());
  std::printf("compiler: GCC %d.%d, %s\n", __GNUC__, __GNUC_MINOR__,
#ifdef NDEBUG
              "-c opt (NDEBUG)"
#else
              "assertions on (not -c opt)"
#endif
  );

  const std::vector<std::string> names = DomainNames(domains);
  size_t name_bytes = 0;
  for (const std::string& name : names) {
    name_bytes += name.size();
  }
  std::printf("domains: %zu, name length 12-40, average %.1f bytes\n", domains,
              static_cast<double>(name_bytes) / static_cast<double>(domains));

  const DueQueue::TimePoint start = DueQueue::TimePoint(std::chrono::seconds(1767225600));
  const size_t heap_before = HeapInUse();
  auto queue = std::make_unique<DueQueue>(DueQueueOptions{.seed = 1});
  const auto fill_start = Clock::now();
  for (const std::string& name : names) {
    queue->Upsert(name, 0s, std::nullopt, start);
  }
  const auto fill_ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - fill_start).count();
  const size_t heap_filled = HeapInUse() - heap_before;
  const auto per_domain = [domains](size_t bytes) {
    return static_cast<double>(bytes) / static_cast<double>(domains);
  };
  std::printf("upsert: %.0f ns per domain\n", static_cast<double>(fill_ns) / domains);
  std::printf("memory after upsert: %zu bytes = %.1f bytes per domain (queue's own count: %.1f)\n",
              heap_filled, per_domain(heap_filled), per_domain(queue->MemoryUsage()));

  // Dispatch rounds: every domain is due at `now`, handed out in batches and completed at once.
  DueQueue::TimePoint now = start + 1h + 10min;
  std::vector<double> ns_per_dispatch;
  size_t dispatched = 0;
  for (int round = 0; round < rounds; ++round) {
    const auto round_start = Clock::now();
    size_t count = 0;
    while (true) {
      const std::vector<Due> batch = queue->PopDue(now, kBatch);
      if (batch.empty()) {
        break;
      }
      for (const Due& due : batch) {
        queue->Completed(due.domain, now);
      }
      count += batch.size();
    }
    const auto ns =
        std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - round_start).count();
    if (count != domains) {
      std::fprintf(stderr, "round %d dispatched %zu of %zu domains\n", round, count, domains);
      return 1;
    }
    ns_per_dispatch.push_back(static_cast<double>(ns) / static_cast<double>(count));
    dispatched += count;
    now += 1h + 2min;  // past everyone's next slot + jitter
  }
  std::sort(ns_per_dispatch.begin(), ns_per_dispatch.end());
  std::printf(
      "dispatch (PopDue + Completed, batches of %zu): median %.0f ns, min %.0f ns per "
      "domain over %d rounds (%zu dispatches)\n",
      kBatch, ns_per_dispatch[ns_per_dispatch.size() / 2], ns_per_dispatch.front(), rounds,
      dispatched);
  const size_t heap_dispatched = HeapInUse() - heap_before;
  std::printf("memory after dispatch: %.1f bytes per domain\n", per_domain(heap_dispatched));

  // A reload that keeps every other domain: Retain, then Upsert of the kept ones.
  absl::flat_hash_set<std::string> keep;
  for (size_t n = 0; n < names.size(); n += 2) {
    keep.insert(names[n]);
  }
  const auto reload_start = Clock::now();
  const size_t removed = queue->Retain(keep);
  for (size_t n = 0; n < names.size(); n += 2) {
    queue->Upsert(names[n], 0s, std::nullopt, now);
  }
  const auto reload_ms =
      std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - reload_start).count() /
      1000.0;
  std::printf("reload keeping half: %zu removed, %.1f ms\n", removed, reload_ms);

  const double bytes = per_domain(std::max(heap_filled, heap_dispatched));
  std::printf("result: %.1f bytes per domain (target <= %zu): %s\n", bytes, kTargetBytesPerDomain,
              bytes <= kTargetBytesPerDomain ? "ok" : "OVER TARGET");
  return bytes <= kTargetBytesPerDomain ? 0 : 1;
}

}  // namespace
}  // namespace stswatch::scheduler

int main(int argc, char** argv) {
  size_t domains = 100000;
  int rounds = 5;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--domains" && i + 1 < argc) {
      domains = std::strtoull(argv[++i], nullptr, 10);
    } else if (arg == "--rounds" && i + 1 < argc) {
      rounds = std::atoi(argv[++i]);
    } else {
      std::fprintf(stderr, "usage: %s [--domains N] [--rounds R]\n", argv[0]);
      return 2;
    }
  }
  if (domains == 0 || rounds <= 0) {
    std::fprintf(stderr, "--domains and --rounds must be positive\n");
    return 2;
  }
  return stswatch::scheduler::Run(domains, rounds);
}
