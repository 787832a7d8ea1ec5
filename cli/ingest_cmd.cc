#include "cli/ingest_cmd.h"

#include <csignal>
#include <iterator>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "cli/flags.h"
#include "common/log.h"
#include "common/time_source.h"
#include "prober/cares_resolver.h"
#include "store/command.h"
#include "store/keys.h"
#include "store/redis_client.h"
#include "tlsrpt/dkim.h"
#include "tlsrpt/ingest.h"
#include "tlsrpt/mail.h"
#include "tlsrpt/report.h"

namespace stswatch::cli {
namespace {

namespace asio = boost::asio;

// sysexits.h, which MTAs' pipe transports understand: a data error bounces the message, a
// temporary failure makes the MTA try again later.
constexpr int kExitOk = 0;
constexpr int kExitUsage = 64;
constexpr int kExitDataError = 65;
constexpr int kExitTempFail = 75;

constexpr std::string_view kUsage =
    R"(usage: stswatch ingest-report --redis URL [OPTIONS] < MESSAGE

Reads one TLS report e-mail (RFC 8460 section 5.3) on standard input, as an MTA's pipe transport
delivers it, and stores its report: the multipart/report part (application/tlsrpt+gzip or
+json) is decompressed (at most 10 MiB) and parsed, the TLS-Report-Domain and
TLS-Report-Submitter headers and the subject are checked against the report, and the DKIM
signature is verified (RFC 8460 requires one; the result is stored with the report). The same
report again (organization and report id) is stored once.

Options:
  --redis URL          Redis: redis://[:PASSWORD@]HOST[:PORT][/DB] or unix:///PATH (required)
  --partitions N       logical partitions of the key space (default 64)
  --dkim MODE          verify (default: verify and store the result), require (refuse a report
                       without a passing DKIM signature), require-aligned (and refuse one whose
                       signing domain is not the TLS-Report-Submitter's or the From address's,
                       or a parent or subdomain of them), or off
  --resolver IP[:PORT] DNS server for the DKIM keys (default: the system's)
  --unwatched MODE     keep (default: store reports for domains nobody watches too) or refuse
  --log-format FORMAT  text (default) or json
  -h, --help           show this help

Exit status (sysexits): 0 stored or a duplicate, 65 the message is no acceptable report (the MTA
bounces it; the reason is on standard error), 75 Redis or DNS failed for now (the MTA retries),
64 usage.

Postfix master.cf, for example:
  tlsrpt unix - n n - - pipe flags=Rq user=stswatch argv=/usr/local/bin/stswatch ingest-report
    --redis unix:///run/stswatch/redis.sock --dkim require
)";

struct Outcome {
  int exit = kExitOk;
  std::string message;
};

// Built outside the coroutines (GCC 12 and braced initializers in coroutine bodies).
Outcome Done(int exit, std::string message) {
  Outcome o;
  o.exit = exit;
  o.message = std::move(message);
  return o;
}

asio::awaitable<Outcome> Ingest(store::RedisClient& client, store::KeySchema keys,
                                tlsrpt::Report report, tlsrpt::ReportOrigin origin,
                                tlsrpt::IngestOptions options, const TimeSource& clock) {
  // Redis first: the client connects asynchronously.
  for (int i = 0; i < 50 && !client.connected(); ++i) {
    asio::steady_timer t(co_await asio::this_coro::executor);
    t.expires_after(std::chrono::milliseconds(100));
    co_await t.async_wait(asio::use_awaitable);
  }
  if (!client.connected()) {
    co_return Done(kExitTempFail, "Redis is not reachable; the MTA will retry");
  }
  tlsrpt::RedisReportSink sink(client, std::move(keys), options, clock);
  const tlsrpt::IngestResult r = co_await sink.Ingest(std::move(report), std::move(origin));
  switch (r.status) {
    case tlsrpt::IngestStatus::kStored:
    case tlsrpt::IngestStatus::kDuplicate:
      co_return Done(kExitOk, r.message);
    case tlsrpt::IngestStatus::kRefused:
      co_return Done(kExitDataError, r.message);
    case tlsrpt::IngestStatus::kUnavailable:
      break;
  }
  co_return Done(kExitTempFail, r.message);
}

}  // namespace

int RunIngestReport(Args args, CommandIo& io) {
  std::string redis;
  int partitions = store::kDefaultPartitions;
  std::string dkim_mode = "verify";
  std::string resolvers;
  std::string unwatched = "keep";
  std::string log_format = "text";
  Flags flags;
  flags.String("--redis", &redis);
  flags.Int("--partitions", 1, store::kMaxPartitions, &partitions);
  flags.String("--dkim", &dkim_mode);
  flags.String("--resolver", &resolvers);
  flags.String("--unwatched", &unwatched);
  flags.String("--log-format", &log_format);
  bool help = false;
  const auto usage = [&](const std::string& message) {
    io.err << "stswatch ingest-report: " << message << "\nTry 'stswatch ingest-report --help'.\n";
    return kExitUsage;
  };
  if (const auto error = flags.Parse(args, &help)) {
    return usage(*error);
  }
  if (help) {
    io.out << kUsage;
    return kExitOk;
  }
  if (redis.empty()) {
    return usage("--redis is required: the reports are stored there");
  }
  if (dkim_mode != "verify" && dkim_mode != "require" && dkim_mode != "require-aligned" &&
      dkim_mode != "off") {
    return usage("--dkim takes verify, require, require-aligned or off");
  }
  if (unwatched != "keep" && unwatched != "refuse") {
    return usage("--unwatched takes keep or refuse");
  }
  const auto format = ParseLogFormat(log_format);
  if (!format) {
    return usage("--log-format takes text or json");
  }
  auto endpoint = store::RedisEndpoint::Parse(redis);
  if (!endpoint.ok()) {
    return usage("--redis: " + std::string(endpoint.status().message()));
  }
  std::signal(SIGPIPE, SIG_IGN);
  const RealTimeSource clock;
  Logger log(io.err, *format, clock);
  const auto refuse = [&](int code, const std::string& why) {
    log.Warn("ingest.refused", {{"error", why}});
    return code;
  };

  // At most a little above the parser's limit: the MTA hands us the whole message.
  const tlsrpt::MailOptions mail_options;
  std::string message;
  message.reserve(std::size_t{64} * 1024);
  char buf[65536];
  while (io.in.read(buf, sizeof buf) || io.in.gcount() > 0) {
    message.append(buf, static_cast<std::size_t>(io.in.gcount()));
    if (message.size() > mail_options.max_message_bytes) {
      return refuse(kExitDataError, "the message is larger than " +
                                        std::to_string(mail_options.max_message_bytes >> 20) +
                                        " MiB");
    }
  }
  absl::StatusOr<tlsrpt::ReportMail> mail = tlsrpt::ParseReportMail(message, mail_options);
  if (!mail.ok()) {
    return refuse(kExitDataError, std::string(mail.status().message()));
  }
  absl::StatusOr<tlsrpt::Report> report = tlsrpt::ParseReport(mail->json);
  if (!report.ok()) {
    return refuse(kExitDataError,
                  "the report is invalid: " + std::string(report.status().message()));
  }
  std::string report_domain;
  for (const tlsrpt::PolicyResult& p : report->policies) {
    if (!p.policy.policy_domain.empty()) {
      report_domain = p.policy.policy_domain;
      break;
    }
  }
  const std::vector<std::string> mismatches = tlsrpt::CheckReportHeaders(
      *mail, report_domain, report->report_id, report->organization_name);
  for (const std::string& m : mismatches) {
    log.Warn("ingest.header_mismatch", {{"report_id", report->report_id}, {"mismatch", m}});
  }
  for (const std::string& w : mail->warnings) {
    log.Info("ingest.warning", {{"report_id", report->report_id}, {"warning", w}});
  }

  const std::string report_id = report->organization_name + ": " + report->report_id;
  asio::io_context io_context;
  tlsrpt::ReportOrigin origin;
  origin.channel = "email";
  origin.submitter = mail->report_submitter;
  origin.received_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(clock.Now().time_since_epoch()).count();
  origin.dkim = "off";
  if (dkim_mode != "off") {
    prober::CaresOptions cares;
    cares.servers = resolvers;
    auto resolver = prober::CaresResolver::Create(io_context, cares);
    if (!resolver.ok()) {
      return usage("--resolver: " + std::string(resolver.status().message()));
    }
    tlsrpt::DnsDkimKeySource keys(**resolver);
    std::optional<tlsrpt::DkimResult> dkim;
    tlsrpt::VerifyDkim(message, keys, [&](tlsrpt::DkimResult r) { dkim = std::move(r); });
    while (!dkim && io_context.run_one() > 0) {
    }
    io_context.restart();
    if (!dkim) {
      return refuse(kExitTempFail, "the DKIM check did not finish");
    }
    origin.dkim = std::string(tlsrpt::DkimStatusName(dkim->status));
    origin.dkim_domain = dkim->domain;
    origin.dkim_aligned = dkim->aligned_with_submitter || dkim->aligned_with_from;
    log.Info("ingest.dkim", {{"report_id", report->report_id},
                             {"dkim", origin.dkim},
                             {"domain", dkim->domain},
                             {"aligned", origin.dkim_aligned ? "yes" : "no"},
                             {"reason", dkim->reason}});
    if (dkim_mode == "require-aligned" && dkim->status == tlsrpt::DkimStatus::kPass &&
        !origin.dkim_aligned) {
      return refuse(kExitDataError,
                    "DKIM pass, but by " + dkim->domain +
                        ", which is neither the TLS-Report-Submitter's domain nor the From "
                        "address's (--dkim require-aligned)");
    }
    if ((dkim_mode == "require" || dkim_mode == "require-aligned") &&
        dkim->status != tlsrpt::DkimStatus::kPass) {
      if (dkim->status == tlsrpt::DkimStatus::kTempError) {
        return refuse(kExitTempFail, "the DKIM key could not be fetched now: " + dkim->reason);
      }
      return refuse(kExitDataError, "DKIM " + origin.dkim + " (--dkim require): " + dkim->reason);
    }
  }

  store::RedisClient client(io_context.get_executor(), *endpoint);
  client.Start();
  std::optional<Outcome> outcome;
  tlsrpt::IngestOptions ingest_options;
  ingest_options.refuse_unwatched = unwatched == "refuse";
  asio::co_spawn(io_context,
                 Ingest(client, store::KeySchema(partitions), *std::move(report), origin,
                        ingest_options, clock),
                 [&](const std::exception_ptr& e, Outcome o) {
                   outcome = e ? Done(kExitTempFail, "internal error") : std::move(o);
                   client.Stop();
                 });
  io_context.run();
  if (!outcome) {
    return refuse(kExitTempFail, "the report was not stored");
  }
  if (outcome->exit != kExitOk) {
    return refuse(outcome->exit, outcome->message);
  }
  log.Info("ingest.stored",
           {{"report", report_id}, {"dkim", origin.dkim}, {"result", outcome->message}});
  io.out << outcome->message << "\n";
  return kExitOk;
}

}  // namespace stswatch::cli
