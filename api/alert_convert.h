#pragma once

// AlertService's messages ↔ alerting's types. Pure.

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "alerting/alert_store.h"
#include "alerting/rules.h"
#include "alerting/settings.h"
#include "prober/address_filter.h"
#include "stswatch/v1/api.pb.h"

namespace stswatch::api {

// The settings a tenant asked for, checked: InvalidArgument naming what is wrong. `previous` (the
// stored settings) gives the secrets of webhook channels sent without one. `webhook_filter`,
// when given, also refuses a webhook URL whose host is an IP literal it refuses (a name is
// judged at delivery, after resolution).
absl::StatusOr<alerting::AlertSettings> AlertSettingsFromProto(
    const v1::AlertSettings& in, const std::string& tenant, const alerting::AlertSettings& previous,
    const prober::AddressFilter* webhook_filter);

// The settings as returned: secrets left out (has_secret says whether one is set).
v1::AlertSettings AlertSettingsToProto(const alerting::AlertSettings& settings);

void FillOpenAlert(const alerting::AlertBook::Alert& alert, v1::OpenAlert& out);
void FillDeliveryRecord(const alerting::DeliveryRecord& record, v1::DeliveryRecord& out);

}  // namespace stswatch::api
