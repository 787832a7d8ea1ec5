#pragma once

// ReportService's messages from tlsrpt's aggregates, readiness and promotion. Pure.

#include <string>
#include <vector>

#include "stswatch/v1/api.pb.h"
#include "tlsrpt/promote.h"
#include "tlsrpt/readiness.h"
#include "tlsrpt/report_store.h"

namespace stswatch::api {

void FillReportDay(const tlsrpt::DayAggregate& day, v1::ReportDay& out);

// The days summed (maps merged, report ids concatenated); `day` left empty.
tlsrpt::DayAggregate SumDays(const std::vector<tlsrpt::DayAggregate>& days);

void FillReadiness(const tlsrpt::Readiness& readiness, v1::Readiness& out);

void FillPromotion(const tlsrpt::Promotion& promotion, v1::PromotePolicyResponse& out);

// "not ready: <message>; <message>" for refusing a promotion.
std::string NotReadyMessage(const v1::Readiness& readiness);

}  // namespace stswatch::api
