#pragma once

// The DNS seam of the prober. The implementation (CaresResolver) drives c-ares from an Asio
// io_context; tests use fakes.

#include <functional>
#include <string>
#include <vector>

#include "mtasts/observation.h"
#include "prober/dns_message.h"

namespace stswatch::prober {

struct DnsResult {
  mtasts::DnsOutcome outcome = mtasts::DnsOutcome::kError;
  // Records of the asked type owned by the end of the CNAME chain, in answer order.
  std::vector<DnsRecord> records;
  // The CNAME chain followed from the asked name, if any (targets in order).
  std::vector<std::string> cnames;
  std::string error;  // For kError: what failed ("SERVFAIL", "timeout", ...).
};

// Lifetime and threading: a resolver belongs to one io_context thread. Callbacks run on that
// thread, never inside the call that started the query, and never after the resolver is
// destroyed.
class DnsResolver {
 public:
  using Callback = std::function<void(DnsResult)>;
  virtual ~DnsResolver() = default;

  // Looks up `name` (no trailing dot needed) for `type`, following CNAME chains (at most 8
  // links, re-querying when the server did not follow the chain itself).
  virtual void Resolve(const std::string& name, RrType type, Callback callback) = 0;
};

}  // namespace stswatch::prober
