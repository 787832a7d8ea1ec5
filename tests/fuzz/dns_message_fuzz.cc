// Fuzzes the DNS response parser: any bytes, from a hostile or broken server.

#include <cstdint>
#include <cstdlib>

#include "prober/dns_message.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto message = stswatch::prober::ParseDnsMessage(std::span<const std::uint8_t>(data, size));
  if (message.ok()) {
    for (const auto& rec : message->answers) {
      // Names (owners, CNAME and MX targets) are bounded by the 255-octet limit, however many
      // compression pointers build them; TXT and addresses by the message.
      const bool name_valued = rec.type == 5 || rec.type == 15;
      if (rec.name.size() > 255 ||
          (name_valued ? rec.value.size() > 255 : rec.value.size() > size)) {
        std::abort();
      }
    }
    stswatch::prober::FollowCnames(message->answers, "a", 8);
  }
  return 0;
}
