#pragma once

// What the store holds, as the public API shows it: a stored snapshot (drift/snapshot.h) as a
// DomainDetail, a stored event (JSON, drift/events.h) as a DriftEvent. Pure.

#include <string_view>

#include "absl/status/statusor.h"
#include "drift/snapshot.h"
#include "stswatch/v1/api.pb.h"

namespace stswatch::api {

// The snapshot's findings are codes: each becomes a Finding with the catalogue's severity, RFC
// section and summary (mtasts/FINDINGS.md).
void FillDetail(const drift::Snapshot& snapshot, stswatch::v1::DomainDetail& detail);

// An event as the store wrote it (EventToJson).
absl::StatusOr<stswatch::v1::DriftEvent> ParseEvent(std::string_view json);

}  // namespace stswatch::api
