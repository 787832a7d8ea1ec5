#pragma once

// Taking in one parsed TLS report, whichever way it came (the HTTPS receiver, `stswatch
// ingest-report`): refuse it when it concerns only domains nobody watches (if so configured),
// store it once with its daily aggregates, and cross-check it against stswatch's own view of its
// domains. What the cross-checks find is written as events to the domains' events streams and
// histories, beside the drift events of the checks (drift/README.md):
//
//   report_failures_unseen     the report shows failed sessions; the domain's checks are clean
//   check_failures_unreported  the checks fail; the report shows only successful sessions
//   reporter_drop              the organization's successful sessions fell sharply that day
//
// Their ids are derived from the report, so a report ingested twice writes them once.
//
// Threading: the client's executor, one thread; the coroutines must run on it.

#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "absl/status/statusor.h"
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
  // stored state); otherwise such reports are kept, and readable by the operator.
  bool refuse_unwatched = false;
  // Write the cross-check events.
  bool cross_check = true;
};

class RedisReportSink : public ReportSink {
 public:
  RedisReportSink(store::RedisClient& client, store::KeySchema keys, IngestOptions options)
      : client_(client), keys_(std::move(keys)), options_(options) {}

  boost::asio::awaitable<IngestResult> Ingest(Report report, ReportOrigin origin) override;

 private:
  store::RedisClient& client_;
  store::KeySchema keys_;
  IngestOptions options_;
};

// The domain's checks from `since` on, as readiness wants them: one per state the history stream
// recorded (the state in effect at `since` first, then each change), the latest carrying the
// stored snapshot's findings and MX hosts. Empty when the domain was never checked.
boost::asio::awaitable<absl::StatusOr<std::vector<ProbeCheck>>> LoadProbeChecks(
    store::RedisClient& client, store::KeySchema keys, std::string domain,
    std::chrono::system_clock::time_point since);

// The cross-check events of one stored report for one domain (pure): `contribution` is what the
// report added for the domain, `days` the domain's aggregates up to that day (for reporter
// drops), `latest` the domain's latest check (nullopt: never checked, no event).
std::vector<drift::Event> CrossCheckEvents(const DayAggregate& contribution,
                                           const std::vector<DayAggregate>& days,
                                           const std::optional<ProbeCheck>& latest,
                                           const std::string& report_key,
                                           std::chrono::system_clock::time_point now);

}  // namespace stswatch::tlsrpt
