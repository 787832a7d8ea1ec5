#include "scheduler/assigner.h"

#include <algorithm>
#include <utility>

#include "common/stable_hash.h"

namespace stswatch::scheduler {
namespace {

std::uint64_t Weight(std::uint64_t worker_hash, std::uint64_t key) {
  // Mixing the key first keeps nearby keys (small integers in tests) from giving correlated
  // weights; the outer Mix64 is a bijection, so two workers tie only when their hashes are equal.
  return Mix64(worker_hash ^ Mix64(key));
}

// Host names compare case-insensitively, and DNS answers carry the root's trailing dot.
std::string Normalise(std::string_view name) {
  if (!name.empty() && name.back() == '.') {
    name.remove_suffix(1);
  }
  std::string out(name);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') {
      c = static_cast<char>(c - 'A' + 'a');
    }
  }
  return out;
}

}  // namespace

void RendezvousAssigner::AddWorker(std::string id) {
  const auto it = std::lower_bound(workers_.begin(), workers_.end(), id,
                                   [](const Worker& w, const std::string& i) { return w.id < i; });
  if (it != workers_.end() && it->id == id) {
    return;
  }
  const std::uint64_t hash = StableHash(id);
  workers_.insert(it, Worker{std::move(id), hash});
}

void RendezvousAssigner::RemoveWorker(std::string_view id) {
  const auto it = std::lower_bound(workers_.begin(), workers_.end(), id,
                                   [](const Worker& w, std::string_view i) { return w.id < i; });
  if (it != workers_.end() && it->id == id) {
    workers_.erase(it);
  }
}

std::optional<std::string_view> RendezvousAssigner::Pick(std::uint64_t key) const {
  const Worker* best = nullptr;
  std::uint64_t best_weight = 0;
  // Workers are sorted by id and only a strictly higher weight replaces the best: on a tie the
  // smaller id wins.
  for (const Worker& w : workers_) {
    const std::uint64_t weight = Weight(w.hash, key);
    if (best == nullptr || weight > best_weight) {
      best = &w;
      best_weight = weight;
    }
  }
  if (best == nullptr) {
    return std::nullopt;
  }
  return std::string_view(best->id);
}

std::uint64_t AffinityKey(std::string_view domain, const std::vector<std::string>& mx_hosts) {
  std::vector<std::string> hosts;
  hosts.reserve(mx_hosts.size());
  for (const std::string& host : mx_hosts) {
    std::string name = Normalise(host);
    if (!name.empty()) {
      hosts.push_back(std::move(name));
    }
  }
  if (hosts.empty()) {
    hosts.push_back(Normalise(domain));
  }
  std::sort(hosts.begin(), hosts.end());
  hosts.erase(std::unique(hosts.begin(), hosts.end()), hosts.end());
  // Joined with a newline, which no host name contains.
  std::string joined;
  for (const std::string& host : hosts) {
    joined += host;
    joined += '\n';
  }
  return StableHash(joined);
}

}  // namespace stswatch::scheduler
