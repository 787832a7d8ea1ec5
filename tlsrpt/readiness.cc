#include "tlsrpt/readiness.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <set>

#include "common/time_format.h"

namespace stswatch::tlsrpt {
namespace {

constexpr std::size_t kMaxEvidence = 20;

void Add(std::vector<std::string>& evidence, std::string item) {
  if (evidence.size() < kMaxEvidence) {
    evidence.push_back(std::move(item));
  }
}

std::string Percent(double share) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f %%", share * 100);
  return buf;
}

}  // namespace

Readiness JudgeReadiness(const std::vector<DayAggregate>& days,
                         const std::vector<ProbeCheck>& checks, const std::string& today,
                         const ReadinessOptions& options) {
  Readiness out;
  const std::optional<std::chrono::sys_days> now = ParseUtcDay(today);
  const std::chrono::sys_days end = now.value_or(std::chrono::sys_days{});
  const std::string first = UtcDay(end - std::chrono::days(options.window_days));
  const std::chrono::system_clock::time_point window_start =
      end - std::chrono::days(options.window_days);

  std::vector<const DayAggregate*> in_window;
  for (const DayAggregate& d : days) {
    if (d.day >= first && d.day < today) {
      in_window.push_back(&d);
    }
  }
  std::sort(in_window.begin(), in_window.end(),
            [](const DayAggregate* a, const DayAggregate* b) { return a->day < b->day; });
  std::set<std::string> organizations;
  std::map<std::string, std::uint64_t> types;
  std::map<std::string, std::uint64_t> mx;
  std::vector<std::string> failing_reports;
  for (const DayAggregate* d : in_window) {
    ++out.days_with_reports;
    out.successful += d->successful;
    out.failed += d->failed;
    for (const auto& [org, n] : d->successful_by_organization) {
      organizations.insert(org);
    }
    for (const auto& [org, n] : d->failed_by_organization) {
      organizations.insert(org);
    }
    for (const auto& [type, n] : d->failures_by_result_type) {
      types[type] += n;
    }
    for (const auto& [host, n] : d->failures_by_mx) {
      mx[host] += n;
    }
    if (d->failed > 0) {
      for (const std::string& id : d->report_ids) {
        failing_reports.push_back(d->day + " " + id);
      }
    }
  }
  out.organizations = static_cast<int>(organizations.size());

  if (out.days_with_reports < options.min_days) {
    Reason r;
    r.code = "too_few_days";
    r.message = std::to_string(out.days_with_reports) + " days of reports in the last " +
                std::to_string(options.window_days) + " days; " + std::to_string(options.min_days) +
                " are needed to see every sender's weekly rhythm.";
    for (const DayAggregate* d : in_window) {
      Add(r.evidence, "day " + d->day);
    }
    out.reasons.push_back(std::move(r));
  }
  if (out.organizations < options.min_organizations) {
    Reason r;
    r.code = "too_few_organizations";
    r.message = std::to_string(out.organizations) + " reporting organization" +
                (out.organizations == 1 ? "" : "s") + " in the window; " +
                std::to_string(options.min_organizations) +
                " are needed, so that one sender's view is not taken for everyone's.";
    for (const std::string& org : organizations) {
      Add(r.evidence, "organization " + org);
    }
    out.reasons.push_back(std::move(r));
  }
  const std::uint64_t total = out.successful + out.failed;
  // Sessions that failed for want of the policy (it could not be fetched, was invalid, or its
  // host's certificate was not valid): under enforce such a sender has no policy to apply and
  // delivers anyway, so they are a note, not a reason.
  std::uint64_t policy_failures = 0;
  std::map<std::string, std::uint64_t> refusing_types;
  for (const auto& [type, n] : types) {
    if (type == "sts-policy-fetch-error" || type == "sts-policy-invalid" ||
        type == "sts-webpki-invalid") {
      policy_failures += n;
    } else {
      refusing_types[type] = n;
    }
  }
  const std::uint64_t refused = out.failed - std::min(out.failed, policy_failures);
  const double rate = total == 0 ? 0.0 : static_cast<double>(refused) / static_cast<double>(total);
  if (refused > 0 && rate > options.max_failure_rate) {
    Reason r;
    r.code = "failures";
    r.message = std::to_string(refused) + " of " + std::to_string(total) + " sessions failed (" +
                Percent(rate) + ", at most " + Percent(options.max_failure_rate) +
                " tolerated): under enforce, compliant senders would refuse this mail.";
    for (const auto& [type, n] : refusing_types) {
      Add(r.evidence, "result-type " + type + " (" + std::to_string(n) + ")");
    }
    for (const auto& [host, n] : mx) {
      Add(r.evidence, "mx " + (host.empty() ? std::string("(not reported)") : host) + " (" +
                          std::to_string(n) + ")");
    }
    for (const std::string& id : failing_reports) {
      Add(r.evidence, "report " + id);
    }
    out.reasons.push_back(std::move(r));
  }
  if (policy_failures > 0) {
    Reason n;
    n.code = "policy_fetch_failures";
    n.message = std::to_string(policy_failures) +
                " sessions failed for want of a valid policy: senders could not fetch it or "
                "did not accept it (its host, its certificate, its syntax). They deliver "
                "anyway, but do not get the policy's protection.";
    for (const auto& [type, count] : types) {
      if (refusing_types.count(type) == 0) {
        Add(n.evidence, "result-type " + type + " (" + std::to_string(count) + ")");
      }
    }
    out.notes.push_back(std::move(n));
  }

  std::vector<const ProbeCheck*> probes;
  for (const ProbeCheck& c : checks) {
    if (c.time >= window_start) {
      probes.push_back(&c);
    }
  }
  out.checks = static_cast<int>(probes.size());
  std::set<std::string> probe_hosts;
  bool probes_failing = false;
  if (probes.empty()) {
    Reason r;
    r.code = "no_checks";
    r.message = "stswatch has not checked the domain in the window: its own view is missing.";
    out.reasons.push_back(std::move(r));
  } else {
    Reason r;
    r.code = "checks_not_clean";
    int bad = 0;
    for (const ProbeCheck* c : probes) {
      if (c->status != "ok") {
        ++bad;
        probes_failing = true;
        Add(r.evidence, "check " + FormatTime(c->time) + " " + c->status);
        for (const std::string& h : c->hosts) {
          probe_hosts.insert(h);
        }
      }
    }
    if (bad > 0) {
      r.message = std::to_string(bad) + " of " + std::to_string(probes.size()) +
                  " checks in the window were not ok: fix what they found first.";
      for (const std::string& h : probe_hosts) {
        Add(r.evidence, "mx " + h);
      }
      out.reasons.push_back(std::move(r));
    }
  }

  // Cross-checks.
  if (!types.empty() && !probes.empty() && !probes_failing) {
    Reason n;
    n.code = "reports_show_unseen_failures";
    n.message =
        "Senders report failures that stswatch's own checks do not see: look at what differs on "
        "their path (another MX address, IPv6, an old certificate still served somewhere).";
    for (const auto& [type, count] : types) {
      Add(n.evidence, "result-type " + type + " (" + std::to_string(count) + ")");
    }
    for (const auto& [host, count] : mx) {
      Add(n.evidence, "mx " + host);
    }
    out.notes.push_back(std::move(n));
  }
  if (probes_failing && out.days_with_reports > 0 && out.failed == 0) {
    Reason n;
    n.code = "checks_fail_unreported";
    n.message =
        "stswatch's checks found problems that no report shows: the senders reporting may not "
        "reach the MX hosts concerned.";
    for (const std::string& h : probe_hosts) {
      Add(n.evidence, "mx " + h);
    }
    out.notes.push_back(std::move(n));
  }
  out.ready = out.reasons.empty();
  return out;
}

std::vector<ReporterDrop> DetectReporterDrops(const std::vector<DayAggregate>& days) {
  std::vector<const DayAggregate*> sorted;
  sorted.reserve(days.size());
  for (const DayAggregate& d : days) {
    sorted.push_back(&d);
  }
  std::sort(sorted.begin(), sorted.end(),
            [](const DayAggregate* a, const DayAggregate* b) { return a->day < b->day; });
  std::map<std::string, std::vector<std::uint64_t>> history;  // organization -> daily counts
  std::vector<ReporterDrop> out;
  for (const DayAggregate* d : sorted) {
    for (const auto& [org, n] : d->successful_by_organization) {
      std::vector<std::uint64_t>& h = history[org];
      if (h.size() >= 3) {
        std::vector<std::uint64_t> last(
            h.end() - static_cast<std::ptrdiff_t>(std::min<std::size_t>(h.size(), 7)), h.end());
        std::sort(last.begin(), last.end());
        const std::uint64_t median = last[last.size() / 2];
        if (median >= 20 && n * 3 < median) {
          out.push_back(ReporterDrop{org, d->day, n, median});
        }
      }
      h.push_back(n);
    }
  }
  return out;
}

}  // namespace stswatch::tlsrpt
