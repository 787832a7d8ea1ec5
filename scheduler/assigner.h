#pragma once

// Which prober worker checks a domain: rendezvous (highest random weight) hashing, Thaler and
// Ravishankar 1998. Every worker gets a pseudo-random weight for every key,
//
//   weight(worker, key) = Mix64(StableHash(worker id) ^ Mix64(key))
//
// and the key goes to the worker of the highest weight (ties, which need two ids with equal
// hashes, go to the smaller id). So:
//   - keys spread evenly: each of n workers gets about 1/n of them;
//   - a worker that leaves moves only its own keys, spread over the others (about 1/n of all);
//   - a worker that joins takes about 1/(n+1) of the keys, from every other worker, and nothing
//     else moves;
//   - the answer depends only on the set of worker ids and the key: not on the order workers
//     were added in, nor on the process (StableHash and Mix64 never change, unlike std::hash), so
//     a scheduler that takes over from another assigns exactly as it did.
//
// Keys come from AffinityKey: the domain's MX host set, so that domains on the same MX hosts land
// on the same worker and share its SMTP probes and its connection budget for those hosts.
//
// Pure: no I/O, no clock. Not thread-safe (one owner thread). Pick() is O(workers): meant for
// tens of workers.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace stswatch::scheduler {

class RendezvousAssigner {
 public:
  // Adds a worker; a no-op when `id` is already there.
  void AddWorker(std::string id);

  // Removes a worker; a no-op when `id` is unknown.
  void RemoveWorker(std::string_view id);

  // The worker `key` goes to; nullopt when there is no worker. The view refers to the assigner's
  // copy of the id: valid until that worker is removed or the assigner is changed or destroyed.
  std::optional<std::string_view> Pick(std::uint64_t key) const;

  // Workers present.
  std::size_t workers() const { return workers_.size(); }  // NOLINT(readability-identifier-naming)

 private:
  struct Worker {
    std::string id;
    std::uint64_t hash;  // StableHash(id)
  };
  std::vector<Worker> workers_;  // Sorted by id.
};

// The assignment key of a domain. With MX hosts, the hash of the set of them — normalised (ASCII
// lower case, one trailing dot dropped), empty names dropped, sorted, duplicates removed — so it
// depends neither on the domain nor on the order or repetition of its MX records. Without MX
// hosts (not known yet, or none), the hash of the domain name, normalised the same way: a domain
// without MX records receives its mail on its own name (RFC 5321 §5.1, the implicit MX), so it
// gets the key of the MX set {domain}. Stable across runs and machines.
std::uint64_t AffinityKey(std::string_view domain, const std::vector<std::string>& mx_hosts);

}  // namespace stswatch::scheduler
