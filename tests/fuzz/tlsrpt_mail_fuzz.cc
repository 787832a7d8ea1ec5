// Fuzzes what `stswatch ingest-report` reads from an MTA: the report e-mail (headers, MIME,
// transfer encodings, gzip) and its DKIM-Signature fields and key records. None crashes, a
// refusal says why, the decompressed report stays under its limit, and a DKIM verdict always
// comes back.

#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

#include "tlsrpt/dkim.h"
#include "tlsrpt/mail.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace stswatch::tlsrpt;
  const std::string_view message(reinterpret_cast<const char*>(data), size);
  MailOptions options;
  options.max_report_bytes = 1 << 20;
  const auto mail = ParseReportMail(message, options);
  if (!mail.ok()) {
    if (mail.status().message().empty()) {
      std::abort();
    }
  } else {
    if (mail->json.size() > options.max_report_bytes + (64 << 10)) {
      std::abort();
    }
    (void)CheckReportHeaders(*mail, "example.com", "id", "Example Org");
  }
  // Every selector answers with a key record made of the message's last line, so the key
  // parser sees hostile input too.
  StaticDkimKeySource keys;
  const std::size_t nl = message.rfind('\n');
  const std::string record(nl == std::string_view::npos ? message : message.substr(nl + 1));
  for (const char* selector : {"s", "selector", "20210112"}) {
    for (const char* domain : {"example.com", "google.com", "example.net"}) {
      keys.Add(std::string(selector) + "._domainkey." + domain, record);
    }
  }
  std::optional<DkimResult> result;
  VerifyDkim(message, keys, [&](DkimResult r) { result = std::move(r); });
  if (!result) {
    std::abort();  // The static source answers at once: the verdict must be in.
  }
  return 0;
}
