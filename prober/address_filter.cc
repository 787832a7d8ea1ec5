#include "prober/address_filter.h"

#include <array>
#include <cstdint>

namespace stswatch::prober {

namespace ip = boost::asio::ip;

namespace {

bool InNet(const ip::address& a, const ip::address& base, int prefix) {
  if (a.is_v4() != base.is_v4()) {
    return false;
  }
  if (a.is_v4()) {
    const std::uint32_t x = a.to_v4().to_uint();
    const std::uint32_t b = base.to_v4().to_uint();
    const std::uint32_t mask = prefix == 0 ? 0 : ~std::uint32_t{0} << (32 - prefix);
    return (x & mask) == (b & mask);
  }
  const auto x = a.to_v6().to_bytes();
  const auto b = base.to_v6().to_bytes();
  for (int i = 0; i < 16 && prefix > 0; ++i, prefix -= 8) {
    const int bits = prefix >= 8 ? 8 : prefix;
    const std::uint8_t mask = static_cast<std::uint8_t>(0xFF << (8 - bits));
    if ((x[i] & mask) != (b[i] & mask)) {
      return false;
    }
  }
  return true;
}

struct Range {
  const char* base;
  int prefix;
  const char* what;
};

// RFC 6890 and its updates: ranges that are not globally reachable unicast.
constexpr std::array<Range, 23> kSpecial = {{
    {"0.0.0.0", 8, "\"this network\" address"},
    {"10.0.0.0", 8, "private address"},
    {"100.64.0.0", 10, "shared (carrier-grade NAT) address"},
    {"127.0.0.0", 8, "loopback address"},
    {"169.254.0.0", 16, "link-local address"},
    {"172.16.0.0", 12, "private address"},
    {"192.0.0.0", 24, "IETF protocol assignment"},
    {"192.0.2.0", 24, "documentation address"},
    {"192.88.99.0", 24, "6to4 relay anycast address"},
    {"192.168.0.0", 16, "private address"},
    {"198.18.0.0", 15, "benchmarking address"},
    {"198.51.100.0", 24, "documentation address"},
    {"203.0.113.0", 24, "documentation address"},
    {"224.0.0.0", 4, "multicast address"},
    {"240.0.0.0", 4, "reserved address"},
    {"::", 128, "unspecified address"},
    {"::1", 128, "loopback address"},
    {"64:ff9b:1::", 48, "local-use NAT64 address"},
    {"100::", 64, "discard-only address"},
    {"2001:db8::", 32, "documentation address"},
    {"fc00::", 7, "unique local address"},
    {"fe80::", 10, "link-local address"},
    {"ff00::", 8, "multicast address"},
}};

}  // namespace

std::string SpecialPurpose(const ip::address& address) {
  ip::address a = address;
  if (a.is_v6() && a.to_v6().is_v4_mapped()) {
    a = ip::make_address_v4(ip::v4_mapped, a.to_v6());
  }
  for (const Range& r : kSpecial) {
    if (InNet(a, ip::make_address(r.base), r.prefix)) {
      return r.what;
    }
  }
  return "";
}

absl::StatusOr<AddressFilter> AddressFilter::Create(bool allow_private,
                                                    const std::vector<std::string>& allowed_nets) {
  AddressFilter filter;
  filter.allow_private_ = allow_private;
  for (const std::string& net : allowed_nets) {
    const std::size_t slash = net.find('/');
    boost::system::error_code ec;
    const ip::address base = ip::make_address(net.substr(0, slash), ec);
    int prefix = base.is_v4() ? 32 : 128;
    if (!ec && slash != std::string::npos) {
      try {
        prefix = std::stoi(net.substr(slash + 1));
      } catch (const std::exception&) {
        prefix = -1;
      }
    }
    if (ec || prefix < 0 || prefix > (base.is_v4() ? 32 : 128)) {
      return absl::InvalidArgumentError("\"" + net + "\" is not a network like 127.20.0.0/16");
    }
    filter.allowed_nets_.push_back(Net{base, prefix});
  }
  return filter;
}

std::string AddressFilter::Check(const ip::address& address) const {
  std::string special = SpecialPurpose(address);
  if (special.empty()) {
    return "";
  }
  if (!allow_private_) {
    return special;
  }
  if (allowed_nets_.empty()) {
    return "";
  }
  for (const Net& n : allowed_nets_) {
    if (InNet(address, n.base, n.prefix)) {
      return "";
    }
  }
  return special + " outside the allowed networks";
}

}  // namespace stswatch::prober
