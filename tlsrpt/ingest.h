#pragma once

// Taking in one parsed TLS report, whichever way it came (the HTTPS receiver, `stswatch
// ingest-report`): refuse it when it concerns only domains nobody watches (if so configured),
// store it once with its daily aggregates, and cross-check it against stswatch's own view of its
// watched domains. What the cross-checks find is written as events to the domains' events
// streams and histories, beside the drift events of the checks (drift/README.md):
//
//   report_failures_unseen     the report shows failures of a result type the domain's checks
//                              did not see that day (its checks were clean, or failed otherwise)
//   check_failures_unreported  the checks failed all that day; the report shows sessions, and
//                              none of the failures the checks found
//   reporter_drop              the organization's successful sessions fell sharply that day
//
// Each is written at most once per domain, kind, day (and organization): its id comes from them,
// and a marker in Redis makes writing it idempotent. Cross-checks run for duplicates too, so a
// report whose events were not written (Redis failed in between) gets them when its sender
// retries. Reports whose day is more than a week old (late, or backfilled) are not cross-checked:
// the checks stswatch keeps say little about the past.
//
// Threading: the client's executor, one thread; the coroutines must run on it.

#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "absl/status/statusor.h"
#include "common/time_source.h"
#include "drift/events.h"
#include "store/keys.h"
#include "store/redis_client.h"
#include "tlsrpt/readiness.h"
#include "tlsrpt/report.h"
#include "tlsrpt/report_store.h"

namespace stswatch::tlsrpt {

enum class IngestStatus {
  kStored,
  kDuplicate,    // Stored before (same organization and report id): nothing counted twice.
  kRefused,      // The report is not acceptable here (e.g. for unwatched domains).
  kUnavailable,  // Redis failed: try again later.
};

struct IngestResult {
  IngestStatus status = IngestStatus::kStored;
  std::string message;               // One sentence for logs and the sender.
  std::vector<std::string> domains;  // The policy domains the report counted for.
  std::vector<drift::Event> events;  // Cross-check events written.
};

// Where reports go; the receiver and the CLI take one, unit tests a fake.
class ReportSink {
 public:
  virtual ~ReportSink() = default;
  virtual boost::asio::awaitable<IngestResult> Ingest(Report report, ReportOrigin origin) = 0;
};

struct IngestOptions {
  // Refuse a report none of whose domains is watched (in a partition's watch hash, or with a
  // stored state). Otherwise such reports are kept: stored and counted, not cross-checked, and
  // visible to a tenant that watches the domain later.
  bool refuse_unwatched = false;
  // Write the cross-check events.
  bool cross_check = true;
  // A report naming more policy domains is refused (a sender reports one domain per report; a
  // long list is someone filling Redis).
  std::size_t max_domains = 100;
};

class RedisReportSink : public ReportSink {
 public:
  RedisReportSink(store::RedisClient& client, store::KeySchema keys, IngestOptions options,
                  const TimeSource& clock)
      : client_(client), keys_(std::move(keys)), options_(options), clock_(clock) {}

  boost::asio::awaitable<IngestResult> Ingest(Report report, ReportOrigin origin) override;

 private:
  store::RedisClient& client_;
  store::KeySchema keys_;
  IngestOptions options_;
  const TimeSource& clock_;
};

// The domain's checks from `since` on, as readiness wants them: one per state the history stream
// recorded (the state in effect at `since` first, its time moved to `since`, then each change),
// and the latest check, carrying the stored snapshot's findings, failing MX hosts and their
// result types. Empty when the domain was never checked. The history is read newest first, in
// pages, until an entry at or before `since` (or its start).
boost::asio::awaitable<absl::StatusOr<std::vector<ProbeCheck>>> LoadProbeChecks(
    store::RedisClient& client, store::KeySchema keys, std::string domain,
    std::chrono::system_clock::time_point since);

// The cross-check events of one stored report for one domain (pure): `contribution` is what the
// report added for the domain, `days` the domain's aggregates up to that day (for reporter
// drops), `checks` the domain's checks from the start of that day (LoadProbeChecks; empty: never
// checked, no comparison). The checks' result types are those of the latest check, and are
// compared only when the domain's state did not change after the report's day.
std::vector<drift::Event> CrossCheckEvents(const DayAggregate& contribution,
                                           const std::vector<DayAggregate>& days,
                                           const std::vector<ProbeCheck>& checks,
                                           const std::string& report_key,
                                           std::chrono::system_clock::time_point now);

}  // namespace stswatch::tlsrpt
