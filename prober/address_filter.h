#pragma once

// Which addresses the prober may connect to. Public unicast addresses always; private,
// loopback, link-local, shared, documentation, multicast and other special-purpose addresses
// (RFC 6890) only when allowed — a DNS answer pointing at 10.0.0.1 or 169.254.169.254 must not
// make stswatch probe the operator's own network. Applied after resolution, to the very address
// that is then connected to (no second lookup in between).

#include <string>
#include <vector>

#include <boost/asio/ip/address.hpp>

#include "absl/status/statusor.h"

namespace stswatch::prober {

class AddressFilter {
 public:
  // `allow_private`: also allow special-purpose addresses. `allowed_nets` ("127.20.0.0/16"),
  // when given, narrows that permission to these networks.
  static absl::StatusOr<AddressFilter> Create(bool allow_private,
                                              const std::vector<std::string>& allowed_nets);

  // Empty when `address` may be connected to, else why not ("loopback address").
  std::string Check(const boost::asio::ip::address& address) const;

 private:
  struct Net {
    boost::asio::ip::address base;
    int prefix;
  };
  bool allow_private_ = false;
  std::vector<Net> allowed_nets_;
};

// The special-purpose range `address` falls in ("private", "loopback", ...), or "" for public.
std::string SpecialPurpose(const boost::asio::ip::address& address);

}  // namespace stswatch::prober
