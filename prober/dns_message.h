#pragma once

// Parsing of DNS response messages (RFC 1035 §4), for the record types a sending MTA needs:
// A, AAAA, CNAME, MX and TXT. c-ares carries the queries; this parser reads the answers, so the
// prober sees TXT record boundaries and CNAME chains exactly as the server sent them.
//
// Pure function of its input: bounded work (compression pointers may only point backwards and
// are followed at most 64 times per name), safe on hostile bytes.

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace stswatch::prober {

enum class RrType : std::uint16_t {
  kA = 1,
  kCname = 5,
  kMx = 15,
  kTxt = 16,
  kAaaa = 28,
};

struct DnsRecord {
  std::string name;  // Owner, lower case, without the trailing dot.
  std::uint16_t type = 0;
  std::uint32_t ttl = 0;
  // A/AAAA: the address in text form. CNAME: the target. MX: the exchange. TXT: the
  // character-strings joined without spaces (RFC 8461 §3.1, RFC 8460 §3).
  std::string value;
  std::vector<std::string> strings;  // TXT: the character-strings.
  std::uint16_t preference = 0;      // MX.
};

struct DnsMessage {
  std::uint16_t id = 0;
  int rcode = 0;  // 0 NOERROR, 2 SERVFAIL, 3 NXDOMAIN, 5 REFUSED, ...
  bool truncated = false;
  bool authoritative = false;
  // Answer-section records of the supported types (others are skipped).
  std::vector<DnsRecord> answers;
};

// Parses a complete response message. Errors name what is malformed.
absl::StatusOr<DnsMessage> ParseDnsMessage(std::span<const std::uint8_t> message);

// Follows the CNAME chain from `name` through `answers` (at most `max_hops` links) and returns
// the final name. Lower-case names without trailing dots.
std::string FollowCnames(const std::vector<DnsRecord>& answers, std::string name, int max_hops);

}  // namespace stswatch::prober
