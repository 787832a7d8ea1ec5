#include "api/report_convert.h"

namespace stswatch::api {
namespace {

void FillCounts(const std::map<std::string, std::uint64_t>& counts,
                google::protobuf::Map<std::string, google::protobuf::uint64>& out) {
  for (const auto& [name, n] : counts) {
    out[name] = n;
  }
}

void FillReason(const tlsrpt::Reason& reason, v1::ReadinessReason& out) {
  out.set_code(reason.code);
  out.set_message(reason.message);
  for (const std::string& e : reason.evidence) {
    out.add_evidence(e);
  }
}

void Merge(const std::map<std::string, std::uint64_t>& from,
           std::map<std::string, std::uint64_t>& into) {
  for (const auto& [name, n] : from) {
    into[name] += n;
  }
}

}  // namespace

void FillReportDay(const tlsrpt::DayAggregate& day, v1::ReportDay& out) {
  out.set_day(day.day);
  out.set_successful_sessions(day.successful);
  out.set_failed_sessions(day.failed);
  FillCounts(day.failures_by_result_type, *out.mutable_failures_by_result_type());
  FillCounts(day.failures_by_mx, *out.mutable_failures_by_mx());
  FillCounts(day.successful_by_organization, *out.mutable_successful_by_organization());
  FillCounts(day.failed_by_organization, *out.mutable_failed_by_organization());
  for (const std::string& id : day.report_ids) {
    out.add_report_ids(id);
  }
}

tlsrpt::DayAggregate SumDays(const std::vector<tlsrpt::DayAggregate>& days) {
  tlsrpt::DayAggregate total;
  for (const tlsrpt::DayAggregate& d : days) {
    total.domain = d.domain;
    total.successful += d.successful;
    total.failed += d.failed;
    Merge(d.failures_by_result_type, total.failures_by_result_type);
    Merge(d.failures_by_mx, total.failures_by_mx);
    Merge(d.successful_by_organization, total.successful_by_organization);
    Merge(d.failed_by_organization, total.failed_by_organization);
    total.report_ids.insert(total.report_ids.end(), d.report_ids.begin(), d.report_ids.end());
  }
  return total;
}

void FillReadiness(const tlsrpt::Readiness& readiness, v1::Readiness& out) {
  out.set_ready(readiness.ready);
  for (const tlsrpt::Reason& r : readiness.reasons) {
    FillReason(r, *out.add_reasons());
  }
  for (const tlsrpt::Reason& r : readiness.notes) {
    FillReason(r, *out.add_notes());
  }
  out.set_days_with_reports(static_cast<std::uint32_t>(readiness.days_with_reports));
  out.set_organizations(static_cast<std::uint32_t>(readiness.organizations));
  out.set_successful_sessions(readiness.successful);
  out.set_failed_sessions(readiness.failed);
  out.set_checks(static_cast<std::uint32_t>(readiness.checks));
}

void FillPromotion(const tlsrpt::Promotion& promotion, v1::PromotePolicyResponse& out) {
  out.set_domain(promotion.domain);
  out.set_policy_file(promotion.policy_file);
  out.set_policy_url(promotion.policy_url);
  out.set_sts_record_name(promotion.sts_record_name);
  out.set_sts_record(promotion.sts_record);
  out.set_id(promotion.id);
  out.set_max_age(promotion.max_age);
  for (const std::string& s : promotion.steps) {
    out.add_steps(s);
  }
}

std::string NotReadyMessage(const v1::Readiness& readiness) {
  std::string out = readiness.domain() + " is not ready for enforce: ";
  for (int i = 0; i < readiness.reasons_size(); ++i) {
    out += (i == 0 ? "" : "; ") + readiness.reasons(i).message();
  }
  return out + " (force to promote anyway)";
}

}  // namespace stswatch::api
