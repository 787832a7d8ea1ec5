#include "prober/dns_message.h"

#include <arpa/inet.h>

#include "absl/status/status.h"

namespace stswatch::prober {
namespace {

class Reader {
 public:
  explicit Reader(std::span<const std::uint8_t> m) : m_(m) {}

  bool U16(std::size_t& pos, std::uint16_t& out) const {
    if (pos + 2 > m_.size()) {
      return false;
    }
    out = static_cast<std::uint16_t>((m_[pos] << 8) | m_[pos + 1]);
    pos += 2;
    return true;
  }

  bool U32(std::size_t& pos, std::uint32_t& out) const {
    std::uint16_t hi = 0;
    std::uint16_t lo = 0;
    if (!U16(pos, hi) || !U16(pos, lo)) {
      return false;
    }
    out = (static_cast<std::uint32_t>(hi) << 16) | lo;
    return true;
  }

  // Reads a possibly compressed name at `pos` (advanced past it in the message).
  absl::Status Name(std::size_t& pos, std::string& out) const {
    out.clear();
    std::size_t p = pos;
    bool jumped = false;
    int jumps = 0;
    std::size_t total = 0;
    while (true) {
      if (p >= m_.size()) {
        return absl::InvalidArgumentError("name runs past the end of the message");
      }
      const std::uint8_t len = m_[p];
      if ((len & 0xC0) == 0xC0) {
        if (p + 1 >= m_.size()) {
          return absl::InvalidArgumentError("truncated compression pointer");
        }
        const std::size_t target = static_cast<std::size_t>(((len & 0x3F) << 8) | m_[p + 1]);
        // Pointers must go backwards: no loops, bounded work.
        if (target >= p || ++jumps > 64) {
          return absl::InvalidArgumentError("bad compression pointer");
        }
        if (!jumped) {
          pos = p + 2;
          jumped = true;
        }
        p = target;
        continue;
      }
      if ((len & 0xC0) != 0) {
        return absl::InvalidArgumentError("unsupported label type");
      }
      if (len == 0) {
        if (!jumped) {
          pos = p + 1;
        }
        return absl::OkStatus();
      }
      if (p + 1 + len > m_.size()) {
        return absl::InvalidArgumentError("label runs past the end of the message");
      }
      total += len + 1u;
      if (total > 255) {
        return absl::InvalidArgumentError("name longer than 255 octets");
      }
      if (!out.empty()) {
        out += '.';
      }
      for (std::size_t i = 0; i < len; ++i) {
        char c = static_cast<char>(m_[p + 1 + i]);
        if (c >= 'A' && c <= 'Z') {
          c = static_cast<char>(c - 'A' + 'a');
        }
        out += c;
      }
      p += 1 + len;
    }
  }

  std::span<const std::uint8_t> m_;
};

}  // namespace

absl::StatusOr<DnsMessage> ParseDnsMessage(std::span<const std::uint8_t> message) {
  const Reader r(message);
  DnsMessage out;
  std::size_t pos = 0;
  std::uint16_t flags = 0;
  std::uint16_t qdcount = 0;
  std::uint16_t ancount = 0;
  std::uint16_t nscount = 0;
  std::uint16_t arcount = 0;
  if (!r.U16(pos, out.id) || !r.U16(pos, flags) || !r.U16(pos, qdcount) || !r.U16(pos, ancount) ||
      !r.U16(pos, nscount) || !r.U16(pos, arcount)) {
    return absl::InvalidArgumentError("message shorter than a DNS header");
  }
  if ((flags & 0x8000) == 0) {
    return absl::InvalidArgumentError("not a response");
  }
  out.authoritative = (flags & 0x0400) != 0;
  out.truncated = (flags & 0x0200) != 0;
  out.rcode = flags & 0x000F;
  std::string name;
  for (int i = 0; i < qdcount; ++i) {
    if (absl::Status s = r.Name(pos, name); !s.ok()) {
      return s;
    }
    pos += 4;  // QTYPE, QCLASS.
    if (pos > message.size()) {
      return absl::InvalidArgumentError("question runs past the end of the message");
    }
  }
  for (int i = 0; i < ancount; ++i) {
    DnsRecord rec;
    if (absl::Status s = r.Name(pos, rec.name); !s.ok()) {
      return s;
    }
    std::uint16_t rclass = 0;
    std::uint16_t rdlength = 0;
    if (!r.U16(pos, rec.type) || !r.U16(pos, rclass) || !r.U32(pos, rec.ttl) ||
        !r.U16(pos, rdlength) || pos + rdlength > message.size()) {
      return absl::InvalidArgumentError("answer record runs past the end of the message");
    }
    const std::size_t rdata = pos;
    const std::size_t end = pos + rdlength;
    pos = end;
    if (rclass != 1) {
      continue;  // Only the Internet class.
    }
    switch (static_cast<RrType>(rec.type)) {
      case RrType::kA:
      case RrType::kAaaa: {
        const bool v4 = rec.type == static_cast<std::uint16_t>(RrType::kA);
        if (rdlength != (v4 ? 4 : 16)) {
          return absl::InvalidArgumentError("address record of the wrong length");
        }
        char text[INET6_ADDRSTRLEN] = {};
        inet_ntop(v4 ? AF_INET : AF_INET6, message.data() + rdata, text, sizeof(text));
        rec.value = text;
        break;
      }
      case RrType::kCname: {
        std::size_t p = rdata;
        if (absl::Status s = r.Name(p, rec.value); !s.ok()) {
          return s;
        }
        break;
      }
      case RrType::kMx: {
        std::size_t p = rdata;
        if (!r.U16(p, rec.preference)) {
          return absl::InvalidArgumentError("MX record too short");
        }
        if (absl::Status s = r.Name(p, rec.value); !s.ok()) {
          return s;
        }
        break;
      }
      case RrType::kTxt: {
        std::size_t p = rdata;
        while (p < end) {
          const std::size_t len = message[p];
          if (p + 1 + len > end) {
            return absl::InvalidArgumentError("TXT character-string runs past its record");
          }
          rec.strings.emplace_back(reinterpret_cast<const char*>(message.data() + p + 1), len);
          rec.value += rec.strings.back();
          p += 1 + len;
        }
        break;
      }
      default:
        continue;
    }
    out.answers.push_back(std::move(rec));
  }
  return out;
}

std::string FollowCnames(const std::vector<DnsRecord>& answers, std::string name, int max_hops) {
  for (int hop = 0; hop < max_hops; ++hop) {
    bool moved = false;
    for (const DnsRecord& rec : answers) {
      if (rec.type == static_cast<std::uint16_t>(RrType::kCname) && rec.name == name) {
        name = rec.value;
        moved = true;
        break;
      }
    }
    if (!moved) {
      break;
    }
  }
  return name;
}

}  // namespace stswatch::prober
