// Fuzzes the readers of what alerting keeps in Redis and reads back (where anything may have been
// written): tenants' settings, deliveries, the alert state, and the drift events of the events
// streams. The first byte picks the reader. None crashes, a refusal says why, and what is
// accepted reads back to the same thing once written.

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "alerting/delivery.h"
#include "alerting/rules.h"
#include "alerting/settings.h"
#include "drift/events.h"

namespace {

template <typename StatusOr>
bool Accepted(const StatusOr& r) {
  if (!r.ok() && r.status().message().empty()) {
    std::abort();  // A refusal always says why.
  }
  return r.ok();
}

void Check(bool ok) {
  if (!ok) {
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) {
    return 0;
  }
  using namespace stswatch;
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 4) {
    case 0: {
      const auto s = alerting::SettingsFromJson(text, "t-1");
      if (Accepted(s)) {
        const std::string json = alerting::SettingsToJson(*s);
        const auto again = alerting::SettingsFromJson(json, "t-1");
        Check(again.ok() && *again == *s && alerting::SettingsToJson(*again) == json);
        (void)alerting::ValidateSettings(*s, nullptr);
      }
      break;
    }
    case 1: {
      const auto d = alerting::DeliveryFromJson(text);
      if (Accepted(d)) {
        const auto again = alerting::DeliveryFromJson(alerting::DeliveryToJson(*d));
        Check(again.ok() && *again == *d);
      }
      break;
    }
    case 2: {
      const auto e = drift::EventFromJson(text);
      if (Accepted(e)) {
        const std::string json = drift::EventToJson(*e);
        const auto again = drift::EventFromJson(json);
        Check(again.ok() && drift::EventToJson(*again) == json);
        // Any event a stream holds goes through the rules without harm.
        alerting::AlertBook book;
        alerting::TenantPolicy policy;
        policy.tenant = "t-1";
        (void)book.OnEvent(policy, *e, e->time);
        (void)book.OnTick(e->time);
        Check(alerting::AlertBook::FromJson(book.ToJson()).ok());
      }
      break;
    }
    default: {
      const auto book = alerting::AlertBook::FromJson(text);
      if (Accepted(book)) {
        const std::string json = book->ToJson();
        const auto again = alerting::AlertBook::FromJson(json);
        Check(again.ok() && again->ToJson() == json);
      }
      break;
    }
  }
  return 0;
}
