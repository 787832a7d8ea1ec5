#include "cli/ctl.h"

#include <cstdlib>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <iterator>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <google/protobuf/util/json_util.h>
#include <grpcpp/grpcpp.h>

#include "cli/flags.h"
#include "common/duration.h"
#include "common/grpc_code.h"
#include "common/time_format.h"
#include "stswatch/v1/api.grpc.pb.h"

namespace stswatch::cli {
namespace {

namespace v1 = stswatch::v1;

constexpr int kExitOk = 0;
constexpr int kExitFailed = 1;
constexpr int kExitNotReady = 2;
constexpr int kExitUsage = 3;

constexpr std::string_view kUsage = R"(usage: stswatch ctl [OPTIONS] COMMAND [ARGS...]

The public gRPC API of stswatch from the shell. Tenant commands take the admin token from
STSWATCH_ADMIN_TOKEN; domain commands take a tenant's token from STSWATCH_TOKEN.

Commands (admin):
  tenant create NAME            create a tenant; prints its first token (shown once)
  tenant list                   tenants with their domain counts
  token issue TENANT_ID         another token for a tenant
  token revoke TENANT_ID TOKEN_ID

Commands (tenant):
  domain add DOMAIN [--interval DURATION] [--label KEY=VALUE]...
  domain rm DOMAIN
  domain ls [--status STATUS]... [--mode MODE]... [--page-size N] [--all]
  domain get DOMAIN             status, findings, policy, MX hosts with certificates
  domain import FILE|-          one domain per line (# comments); per-domain errors are listed
  domain set DOMAIN [--interval DURATION] [--label KEY=VALUE]...
  events DOMAIN [--page-size N] the domain's drift events, newest first
  watch [--cursor CURSOR]       the tenant's events as they happen (Ctrl-C to stop)
  check DOMAIN                  check now and print the fresh result
  alerts get                    alerting settings: minimum severity, muted domains, quiet
                                hours, reminders, channels (secrets are never shown)
  alerts set FILE|-             replace them with a JSON AlertSettings (api.proto's names)
  alerts channel add ID (--email ADDRESS... | --webhook URL [--secret-file FILE] [--slack]
                    [--allow-http]) [--min-severity LEVEL] [--max-per-hour N]
  alerts channel rm ID
  alerts open [DOMAIN]          open alerts: what is wrong, since when, how to fix it
  alerts dead [--limit N]       notifications given up after their retries (dead letters)
  alerts sent [--limit N]       notifications delivered, newest first
  reports DOMAIN [--from DAY] [--to DAY]
                                the TLS reports' daily aggregates (default the last 28 days):
                                sessions, failures by result type, by MX, by organization
  readiness DOMAIN [--min-days N] [--window-days N] [--min-orgs N] [--max-failure-rate R]
                                is the testing domain ready for enforce? exit 0 ready, 2 not
  promote DOMAIN [--force] [--max-age SECONDS] [readiness options]
                                the enforce policy and the new _mta-sts record; refused with
                                the reasons and their evidence when not ready, unless --force

Options:
  --server HOST:PORT   the API (default 127.0.0.1:7400, or STSWATCH_SERVER)
  --ca-file PEM        use TLS, trusting this CA (the API's --api-tls-cert)
  --timeout DURATION   deadline of each call (default 30s; watch has none)
  --json               print JSON (one object per line for streams) instead of tables
  -h, --help           show this help

Exit status: 0 success, 1 the server refused or failed (its status and message on stderr),
2 not ready (readiness), 3 usage.
)";

struct Options {
  std::string server;
  std::string ca_file;
  std::chrono::seconds timeout{30};
  bool json = false;
};

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr ? "" : v;
}

std::string ToJson(const google::protobuf::Message& m) {
  std::string out;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(m, &out, options);
  return out;
}

std::string When(std::int64_t ms) {
  if (ms == 0) {
    return "never";
  }
  return FormatTime(std::chrono::system_clock::time_point(std::chrono::milliseconds(ms)));
}

int Failed(CommandIo& io, const grpc::Status& status) {
  io.err << "stswatch ctl: " << GrpcCodeName(status.error_code()) << ": " << status.error_message()
         << "\n";
  return kExitFailed;
}

class Client {
 public:
  Client(const Options& o, CommandIo& io) : options_(o), io_(io) {
    std::shared_ptr<grpc::ChannelCredentials> creds;
    if (o.ca_file.empty()) {
      creds = grpc::InsecureChannelCredentials();
    } else {
      std::ifstream in(o.ca_file);
      std::string pem((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      grpc::SslCredentialsOptions ssl;
      ssl.pem_root_certs = pem;
      creds = grpc::SslCredentials(ssl);
    }
    channel_ = grpc::CreateChannel(o.server, creds);
    tenants_ = v1::TenantService::NewStub(channel_);
    domains_ = v1::DomainService::NewStub(channel_);
    alerts_ = v1::AlertService::NewStub(channel_);
    reports_ = v1::ReportService::NewStub(channel_);
  }

  void Prepare(grpc::ClientContext& ctx, const std::string& token, bool deadline = true) const {
    ctx.AddMetadata("authorization", "Bearer " + token);
    if (deadline) {
      ctx.set_deadline(std::chrono::system_clock::now() + options_.timeout);
    }
  }

  v1::TenantService::Stub& Tenants() { return *tenants_; }
  v1::DomainService::Stub& Domains() { return *domains_; }
  v1::AlertService::Stub& Alerts() { return *alerts_; }
  v1::ReportService::Stub& Reports() { return *reports_; }

 private:
  const Options& options_;
  CommandIo& io_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::TenantService::Stub> tenants_;
  std::unique_ptr<v1::DomainService::Stub> domains_;
  std::unique_ptr<v1::AlertService::Stub> alerts_;
  std::unique_ptr<v1::ReportService::Stub> reports_;
};

// The options of the reports, readiness and promote commands.
struct ReportFlags {
  std::string from;
  std::string to;
  int min_days = 0;
  int window_days = 0;
  int min_orgs = 0;
  std::string max_failure_rate;
  bool force = false;
  int max_age = 0;
};

std::string Counts(const google::protobuf::Map<std::string, google::protobuf::uint64>& counts) {
  std::map<std::string, std::uint64_t> sorted(counts.begin(), counts.end());
  std::string out;
  for (const auto& [name, n] : sorted) {
    out += (out.empty() ? "" : ", ") + (name.empty() ? std::string("(not reported)") : name) + " " +
           std::to_string(n);
  }
  return out.empty() ? "-" : out;
}

void PrintReportDays(std::ostream& out, const v1::GetReportAggregatesResponse& r) {
  out << r.domain() << ": TLS reports " << r.first_day() << " to " << r.last_day() << "\n";
  if (r.days().empty()) {
    out << "  no reports in this range\n";
    return;
  }
  out << std::left << std::setw(12) << "DAY" << std::right << std::setw(12) << "SUCCESSFUL"
      << std::setw(10) << "FAILED"
      << "  FAILURES BY RESULT TYPE\n";
  const auto row = [&](const std::string& label, const v1::ReportDay& d) {
    out << std::left << std::setw(12) << label << std::right << std::setw(12)
        << d.successful_sessions() << std::setw(10) << d.failed_sessions() << "  "
        << Counts(d.failures_by_result_type()) << "\n";
  };
  for (const v1::ReportDay& d : r.days()) {
    row(d.day(), d);
  }
  row("total", r.total());
  out << "failures by MX:     " << Counts(r.total().failures_by_mx()) << "\n"
      << "successful by org:  " << Counts(r.total().successful_by_organization()) << "\n"
      << "failed by org:      " << Counts(r.total().failed_by_organization()) << "\n"
      << "reports:            " << r.total().report_ids_size() << "\n";
}

void PrintReasons(std::ostream& out, const char* label,
                  const google::protobuf::RepeatedPtrField<v1::ReadinessReason>& reasons) {
  for (const v1::ReadinessReason& r : reasons) {
    out << "  " << label << " " << r.code() << ": " << r.message() << "\n";
    for (const std::string& e : r.evidence()) {
      out << "      " << e << "\n";
    }
  }
}

void PrintReadiness(std::ostream& out, const v1::Readiness& r) {
  out << r.domain() << ": " << (r.ready() ? "ready for enforce" : "not ready") << " (mode "
      << (r.mode().empty() ? "none valid" : r.mode()) << "; window " << r.window_first_day()
      << " to " << r.window_last_day() << ")\n"
      << "  " << r.days_with_reports() << " days with reports, " << r.organizations()
      << " reporting organizations, " << r.successful_sessions() << " successful and "
      << r.failed_sessions() << " failed sessions, " << r.checks() << " checks\n";
  PrintReasons(out, "-", r.reasons());
  PrintReasons(out, "note", r.notes());
}

void PrintPromotion(std::ostream& out, const v1::PromotePolicyResponse& p) {
  out << "# Enforce for " << p.domain() << " (new id " << p.id() << ", max_age " << p.max_age()
      << ")\n"
      << "# 1. The policy file, served at " << p.policy_url() << "\n"
      << "#    as text/plain. Replace the testing policy with it FIRST.\n"
      << p.policy_file() << "\n"
      << "# 2. Then, once the file is served, the TXT record (RFC 8461 section 8.1):\n"
      << p.sts_record_name() << ". IN TXT \"" << p.sts_record() << "\"\n\n"
      << "# Steps:\n";
  int n = 0;
  for (const std::string& step : p.steps()) {
    out << "#  " << ++n << ". " << step << "\n";
  }
}

// reports, readiness and promote; nullopt for other commands.
std::optional<int> RunReports(const std::vector<std::string>& words, const ReportFlags& f,
                              Client& client, const std::string& token, bool json, CommandIo& io) {
  const std::string& w0 = words[0];
  if (words.size() != 2 || (w0 != "reports" && w0 != "readiness" && w0 != "promote")) {
    return std::nullopt;
  }
  grpc::ClientContext ctx;
  client.Prepare(ctx, token);
  if (w0 == "reports") {
    v1::GetReportAggregatesRequest req;
    req.set_domain(words[1]);
    req.set_first_day(f.from);
    req.set_last_day(f.to);
    v1::GetReportAggregatesResponse resp;
    const grpc::Status s = client.Reports().GetReportAggregates(&ctx, req, &resp);
    if (!s.ok()) {
      return Failed(io, s);
    }
    if (json) {
      io.out << ToJson(resp) << "\n";
    } else {
      PrintReportDays(io.out, resp);
    }
    return kExitOk;
  }
  v1::GetReadinessRequest readiness;
  readiness.set_domain(words[1]);
  readiness.set_min_days(static_cast<std::uint32_t>(f.min_days));
  readiness.set_window_days(static_cast<std::uint32_t>(f.window_days));
  readiness.set_min_organizations(static_cast<std::uint32_t>(f.min_orgs));
  if (!f.max_failure_rate.empty()) {
    char* end = nullptr;
    const double rate = std::strtod(f.max_failure_rate.c_str(), &end);
    if (end == f.max_failure_rate.c_str() || *end != '\0') {
      io.err << "stswatch ctl: --max-failure-rate takes a share from 0 to 1 (0.001)\n";
      return kExitUsage;
    }
    readiness.set_max_failure_rate(rate);
  }
  if (w0 == "readiness") {
    v1::Readiness resp;
    const grpc::Status s = client.Reports().GetReadiness(&ctx, readiness, &resp);
    if (!s.ok()) {
      return Failed(io, s);
    }
    if (json) {
      io.out << ToJson(resp) << "\n";
    } else {
      PrintReadiness(io.out, resp);
    }
    return resp.ready() ? kExitOk : kExitNotReady;
  }
  v1::PromotePolicyRequest req;
  req.set_domain(words[1]);
  req.set_force(f.force);
  req.set_max_age(static_cast<std::uint32_t>(f.max_age));
  req.set_min_days(readiness.min_days());
  req.set_window_days(readiness.window_days());
  req.set_min_organizations(readiness.min_organizations());
  req.set_max_failure_rate(readiness.max_failure_rate());
  v1::PromotePolicyResponse resp;
  const grpc::Status s = client.Reports().PromotePolicy(&ctx, req, &resp);
  if (s.error_code() == grpc::StatusCode::FAILED_PRECONDITION) {
    // Not ready: the reasons with their evidence, from the same judgement.
    grpc::ClientContext again;
    client.Prepare(again, token);
    v1::Readiness judged;
    if (client.Reports().GetReadiness(&again, readiness, &judged).ok() && !judged.ready()) {
      io.err << "stswatch: not promoting " << judged.domain() << " (--force promotes anyway):\n";
      PrintReadiness(io.err, judged);
      return kExitFailed;
    }
  }
  if (!s.ok()) {
    return Failed(io, s);
  }
  if (resp.forced()) {
    io.err << "stswatch: promoting although not ready (--force):\n";
    PrintReasons(io.err, "-", resp.readiness().reasons());
  }
  if (json) {
    io.out << ToJson(resp) << "\n";
  } else {
    PrintPromotion(io.out, resp);
  }
  return kExitOk;
}

// The options of the alerts commands.
struct AlertFlags {
  std::vector<std::string> email;
  std::string webhook;
  std::string secret_file;
  bool slack = false;
  bool allow_http = false;
  std::string min_severity;
  int max_per_hour = 0;
  int limit = 0;
};

void PrintAlertSettings(std::ostream& out, const v1::AlertSettings& s) {
  out << "minimum severity  " << s.minimum_severity() << "\n";
  out << "reminders every   " << s.reminder_interval_seconds() << " s\n";
  if (s.has_quiet_hours()) {
    out << "quiet hours       " << s.quiet_hours().start_hour() << ":00-"
        << s.quiet_hours().end_hour() << ":00 at UTC"
        << (s.quiet_hours().utc_offset_minutes() < 0 ? "" : "+")
        << s.quiet_hours().utc_offset_minutes() << " min\n";
  }
  for (const std::string& d : s.muted_domains()) {
    out << "muted             " << d << "\n";
  }
  if (s.channels().empty()) {
    out << "no channels: alerts are tracked but sent nowhere ('stswatch ctl alerts channel add')\n";
  }
  for (const v1::AlertChannel& c : s.channels()) {
    out << "channel " << c.id() << ": ";
    if (c.has_email()) {
      out << "e-mail to";
      for (const std::string& to : c.email().to()) {
        out << " " << to;
      }
    } else {
      out << "webhook " << c.webhook().url() << " (" << c.webhook().format()
          << (c.webhook().has_secret() ? ", signed" : ", unsigned")
          << (c.webhook().allow_http() ? ", http allowed" : "") << ")";
    }
    out << "; " << c.minimum_severity() << " and above, at most " << c.max_per_hour()
        << " an hour\n";
  }
}

// The alerts commands; nullopt when `words` is none of them.
std::optional<int> RunAlerts(const std::vector<std::string>& words, const AlertFlags& f,
                             Client& client, const std::string& token, bool json, CommandIo& io) {
  const std::string w1 = words.size() > 1 ? words[1] : "";
  const std::string w2 = words.size() > 2 ? words[2] : "";
  const auto get = [&](v1::AlertSettings* out) {
    grpc::ClientContext ctx;
    client.Prepare(ctx, token);
    return client.Alerts().GetAlertSettings(&ctx, v1::GetAlertSettingsRequest(), out);
  };
  const auto set = [&](const v1::AlertSettings& wanted) -> int {
    grpc::ClientContext ctx;
    client.Prepare(ctx, token);
    v1::AlertSettings resp;
    const grpc::Status s = client.Alerts().SetAlertSettings(&ctx, wanted, &resp);
    if (!s.ok()) {
      return Failed(io, s);
    }
    if (json) {
      io.out << ToJson(resp) << "\n";
    } else {
      PrintAlertSettings(io.out, resp);
    }
    return kExitOk;
  };
  if (w1 == "get" && words.size() == 2) {
    v1::AlertSettings resp;
    const grpc::Status s = get(&resp);
    if (!s.ok()) {
      return Failed(io, s);
    }
    if (json) {
      io.out << ToJson(resp) << "\n";
    } else {
      PrintAlertSettings(io.out, resp);
    }
    return kExitOk;
  }
  if (w1 == "set" && words.size() == 3) {
    std::string text;
    if (w2 == "-") {
      text.assign(std::istreambuf_iterator<char>(io.in), std::istreambuf_iterator<char>());
    } else {
      std::ifstream in(w2);
      if (!in) {
        io.err << "stswatch ctl: cannot read " << w2 << "\n";
        return kExitUsage;
      }
      text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
    v1::AlertSettings wanted;
    const auto parsed = google::protobuf::util::JsonStringToMessage(text, &wanted);
    if (!parsed.ok()) {
      io.err << "stswatch ctl: " << w2 << " is not AlertSettings JSON: " << parsed.ToString()
             << "\n";
      return kExitUsage;
    }
    return set(wanted);
  }
  if (w1 == "channel" && (w2 == "add" || w2 == "rm") && words.size() == 4) {
    v1::AlertSettings current;
    const grpc::Status s = get(&current);
    if (!s.ok()) {
      return Failed(io, s);
    }
    v1::AlertSettings next = current;
    next.clear_channels();
    for (const v1::AlertChannel& c : current.channels()) {
      if (c.id() != words[3]) {
        *next.add_channels() = c;
      }
    }
    if (w2 == "rm") {
      if (next.channels_size() == current.channels_size()) {
        io.err << "stswatch ctl: there is no channel " << words[3] << "\n";
        return kExitFailed;
      }
      return set(next);
    }
    if (f.email.empty() == f.webhook.empty()) {
      io.err << "stswatch ctl: a channel is either --email ADDRESS... or --webhook URL\n";
      return kExitUsage;
    }
    v1::AlertChannel* c = next.add_channels();
    c->set_id(words[3]);
    c->set_minimum_severity(f.min_severity);
    c->set_max_per_hour(static_cast<std::uint32_t>(f.max_per_hour));
    if (!f.email.empty()) {
      for (const std::string& to : f.email) {
        c->mutable_email()->add_to(to);
      }
    } else {
      v1::WebhookChannel* w = c->mutable_webhook();
      w->set_url(f.webhook);
      w->set_format(f.slack ? "slack" : "json");
      w->set_allow_http(f.allow_http);
      if (!f.secret_file.empty()) {
        std::ifstream in(f.secret_file);
        std::string secret((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        while (!secret.empty() && (secret.back() == '\n' || secret.back() == '\r')) {
          secret.pop_back();
        }
        if (!in.good() && secret.empty()) {
          io.err << "stswatch ctl: cannot read --secret-file " << f.secret_file << "\n";
          return kExitUsage;
        }
        w->set_secret(secret);
      }
    }
    return set(next);
  }
  if (w1 == "open" && (words.size() == 2 || words.size() == 3)) {
    grpc::ClientContext ctx;
    client.Prepare(ctx, token);
    v1::ListOpenAlertsRequest req;
    req.set_domain(w2);
    v1::ListOpenAlertsResponse resp;
    const grpc::Status s = client.Alerts().ListOpenAlerts(&ctx, req, &resp);
    if (!s.ok()) {
      return Failed(io, s);
    }
    for (const v1::OpenAlert& a : resp.alerts()) {
      if (json) {
        io.out << ToJson(a) << "\n";
        continue;
      }
      io.out << a.severity() << "  " << a.domain() << "  " << a.summary() << "\n"
             << "    since " << When(a.opened_unix_ms()) << (a.rfc().empty() ? "" : ", " + a.rfc())
             << "\n";
      if (!a.fix().empty()) {
        io.out << "    fix: " << a.fix() << "\n";
      }
    }
    if (!json && resp.alerts().empty()) {
      io.out << "no open alerts\n";
    }
    return kExitOk;
  }
  if ((w1 == "dead" || w1 == "sent") && words.size() == 2) {
    grpc::ClientContext ctx;
    client.Prepare(ctx, token);
    v1::ListDeliveriesRequest req;
    req.set_which(w1);
    req.set_limit(static_cast<std::uint32_t>(f.limit));
    v1::ListDeliveriesResponse resp;
    const grpc::Status s = client.Alerts().ListDeliveries(&ctx, req, &resp);
    if (!s.ok()) {
      return Failed(io, s);
    }
    for (const v1::DeliveryRecord& d : resp.deliveries()) {
      if (json) {
        io.out << ToJson(d) << "\n";
        continue;
      }
      io.out << When(d.finished_unix_ms()) << "  " << d.channel() << " (" << d.channel_type()
             << ")  " << d.state() << " " << d.severity() << "  " << d.domain() << "  "
             << d.summary() << "\n    " << d.attempts() << " attempt(s): " << d.reason() << "\n";
    }
    if (!json && resp.deliveries().empty()) {
      io.out << (w1 == "dead" ? "no dead letters\n" : "nothing delivered yet\n");
    }
    return kExitOk;
  }
  return std::nullopt;
}

void PrintSummaries(std::ostream& out,
                    const google::protobuf::RepeatedPtrField<v1::DomainSummary>& list) {
  out << std::left << std::setw(40) << "DOMAIN" << std::setw(9) << "STATUS" << std::setw(9)
      << "MODE"
      << "LAST CHECK\n";
  for (const v1::DomainSummary& d : list) {
    out << std::setw(40) << d.domain() << std::setw(9) << d.status() << std::setw(9)
        << (d.mode().empty() ? "-" : d.mode()) << When(d.last_check_unix_ms()) << "\n";
  }
}

void PrintDetail(std::ostream& out, const v1::DomainDetail& d) {
  const v1::DomainSummary& s = d.summary();
  out << s.domain() << ": " << s.status() << (s.mode().empty() ? "" : " (mode " + s.mode() + ")")
      << ", checked " << When(s.last_check_unix_ms()) << "\n";
  out << "  _mta-sts id  " << (d.sts_id().empty() ? "(none)" : d.sts_id()) << "\n";
  out << "  policy       " << (d.policy_fetch().empty() ? "(not fetched)" : d.policy_fetch());
  if (d.has_policy()) {
    out << ", max_age " << d.policy().max_age() << ", mx";
    for (const std::string& mx : d.policy().mx()) {
      out << " " << mx;
    }
  }
  out << "\n  _smtp._tls   " << (d.tlsrpt_record().empty() ? "(none)" : d.tlsrpt_record()) << "\n";
  for (const v1::MxHost& m : d.mx()) {
    out << "  MX " << m.host() << ": " << (m.deliver() ? "deliver" : "refuse")
        << (m.result_type().empty() ? "" : " (" + m.result_type() + ")") << ", STARTTLS "
        << m.starttls() << (m.tls_version().empty() ? "" : " " + m.tls_version())
        << (m.covered() ? "" : ", not covered by the policy") << "\n";
    if (m.has_certificate()) {
      out << "      cert " << m.certificate().sha256().substr(0, 16) << "…, expires "
          << When(m.certificate().not_after_unix() * 1000)
          << (m.certificate().valid() ? "" : ", INVALID") << "\n";
    }
  }
  for (const v1::Finding& f : d.findings()) {
    out << "  " << f.code() << "  " << f.message() << "\n";
  }
}

void PrintEvent(std::ostream& out, const v1::DriftEvent& e) {
  out << When(e.time_unix_ms()) << "  " << std::setw(8) << e.severity() << " " << e.domain() << "  "
      << e.kind() << (e.subject().empty() ? "" : " [" + e.subject() + "]") << "\n      "
      << e.message() << "\n";
}

// --interval and --label of domain add/set.
std::optional<std::string> SettingsFlags(Flags& flags, std::chrono::seconds* interval,
                                         std::vector<std::string>* labels) {
  flags.Duration("--interval", std::chrono::seconds(1), std::chrono::seconds(30 * 86400), interval);
  flags.Strings("--label", labels);
  return std::nullopt;
}

bool FillSettings(std::chrono::seconds interval, const std::vector<std::string>& labels,
                  v1::DomainSettings& settings, std::string& error) {
  settings.set_interval_seconds(static_cast<std::uint32_t>(interval.count()));
  for (const std::string& l : labels) {
    const std::size_t eq = l.find('=');
    if (eq == std::string::npos || eq == 0) {
      error = "--label takes KEY=VALUE, not '" + l + "'";
      return false;
    }
    (*settings.mutable_labels())[l.substr(0, eq)] = l.substr(eq + 1);
  }
  return true;
}

}  // namespace

int RunCtl(Args args, CommandIo& io) {
  Options o;
  o.server = Env("STSWATCH_SERVER").empty() ? "127.0.0.1:7400" : Env("STSWATCH_SERVER");
  // Global options come before the command.
  std::size_t i = 0;
  std::vector<std::string_view> global;
  while (i < args.size() && args[i].starts_with("-")) {
    global.push_back(args[i]);
    if ((args[i] == "--server" || args[i] == "--ca-file" || args[i] == "--timeout") &&
        i + 1 < args.size()) {
      global.push_back(args[++i]);
    }
    ++i;
  }
  Flags flags;
  flags.String("--server", &o.server);
  flags.String("--ca-file", &o.ca_file);
  flags.Duration("--timeout", std::chrono::seconds(1), std::chrono::seconds(3600), &o.timeout);
  flags.Switch("--json", &o.json);
  bool help = false;
  const auto usage = [&](const std::string& message) {
    io.err << "stswatch ctl: " << message << "\nTry 'stswatch ctl --help'.\n";
    return kExitUsage;
  };
  if (const auto error = flags.Parse(Args(global), &help)) {
    return usage(*error);
  }
  if (help || i >= args.size()) {
    io.out << kUsage;
    return help ? kExitOk : kExitUsage;
  }
  std::vector<std::string> words;
  std::vector<std::string_view> rest;
  for (; i < args.size(); ++i) {
    rest.push_back(args[i]);
  }
  // The command's own options may follow its words.
  Flags sub;
  sub.Switch("--json", &o.json);
  std::chrono::seconds interval{0};
  std::vector<std::string> labels;
  std::vector<std::string> statuses;
  std::vector<std::string> modes;
  int page_size = 0;
  bool all = false;
  std::string cursor;
  SettingsFlags(sub, &interval, &labels);
  sub.Strings("--status", &statuses);
  sub.Strings("--mode", &modes);
  sub.Int("--page-size", 1, 1000, &page_size);
  sub.Switch("--all", &all);
  sub.String("--cursor", &cursor);
  AlertFlags alert_flags;
  sub.Strings("--email", &alert_flags.email);
  sub.String("--webhook", &alert_flags.webhook);
  sub.String("--secret-file", &alert_flags.secret_file);
  sub.Switch("--slack", &alert_flags.slack);
  sub.Switch("--allow-http", &alert_flags.allow_http);
  sub.String("--min-severity", &alert_flags.min_severity);
  sub.Int("--max-per-hour", 1, 36000, &alert_flags.max_per_hour);
  sub.Int("--limit", 1, 1000, &alert_flags.limit);
  ReportFlags report_flags;
  sub.String("--from", &report_flags.from);
  sub.String("--to", &report_flags.to);
  sub.Int("--min-days", 1, 366, &report_flags.min_days);
  sub.Int("--window-days", 1, 366, &report_flags.window_days);
  sub.Int("--min-orgs", 1, 1000, &report_flags.min_orgs);
  sub.String("--max-failure-rate", &report_flags.max_failure_rate);
  sub.Switch("--force", &report_flags.force);
  sub.Int("--max-age", 2592000, 31557600, &report_flags.max_age);
  sub.Operands([&](std::string_view w) -> std::optional<std::string> {
    words.emplace_back(w);
    return std::nullopt;
  });
  if (const auto error = sub.Parse(Args(rest), &help)) {
    return usage(*error);
  }
  if (help) {
    io.out << kUsage;
    return kExitOk;
  }
  const auto need = [&](std::size_t n) { return words.size() == n; };
  const std::string admin = Env("STSWATCH_ADMIN_TOKEN");
  const std::string token = Env("STSWATCH_TOKEN");
  const bool admin_command = words[0] == "tenant" || words[0] == "token";
  if (admin_command && admin.empty()) {
    return usage("set STSWATCH_ADMIN_TOKEN to the server's admin token");
  }
  if (!admin_command && token.empty()) {
    return usage(
        "set STSWATCH_TOKEN to a tenant's token ('stswatch ctl tenant create' prints one)");
  }
  Client client(o, io);
  const std::string w0 = words[0];
  const std::string w1 = words.size() > 1 ? words[1] : "";

  if (std::optional<int> done = RunReports(words, report_flags, client, token, o.json, io)) {
    return *done;
  }
  if (w0 == "alerts") {
    if (std::optional<int> done = RunAlerts(words, alert_flags, client, token, o.json, io)) {
      return *done;
    }
  }
  if (w0 == "tenant" && w1 == "create" && need(3)) {
    grpc::ClientContext ctx;
    client.Prepare(ctx, admin);
    v1::CreateTenantRequest req;
    req.set_name(words[2]);
    v1::CreateTenantResponse resp;
    const grpc::Status s = client.Tenants().CreateTenant(&ctx, req, &resp);
    if (!s.ok()) {
      return Failed(io, s);
    }
    if (o.json) {
      io.out << ToJson(resp) << "\n";
    } else {
      io.out << "tenant " << resp.tenant().id() << " (" << resp.tenant().name() << ")\n"
             << "token  " << resp.token() << "   (id " << resp.token_id()
             << "; shown once: keep it)\n";
    }
    return kExitOk;
  }
  if (w0 == "tenant" && w1 == "list" && need(2)) {
    grpc::ClientContext ctx;
    client.Prepare(ctx, admin);
    v1::ListTenantsResponse resp;
    const grpc::Status s = client.Tenants().ListTenants(&ctx, v1::ListTenantsRequest(), &resp);
    if (!s.ok()) {
      return Failed(io, s);
    }
    if (o.json) {
      io.out << ToJson(resp) << "\n";
    } else {
      io.out << std::left << std::setw(20) << "TENANT" << std::setw(30) << "NAME"
             << "DOMAINS\n";
      for (const v1::Tenant& t : resp.tenants()) {
        io.out << std::setw(20) << t.id() << std::setw(30) << t.name() << t.domains() << "\n";
      }
    }
    return kExitOk;
  }
  if (w0 == "token" && w1 == "issue" && need(3)) {
    grpc::ClientContext ctx;
    client.Prepare(ctx, admin);
    v1::IssueTokenRequest req;
    req.set_tenant_id(words[2]);
    v1::IssueTokenResponse resp;
    const grpc::Status s = client.Tenants().IssueToken(&ctx, req, &resp);
    if (!s.ok()) {
      return Failed(io, s);
    }
    io.out << (o.json ? ToJson(resp) : resp.token() + "   (id " + resp.token_id() + ")") << "\n";
    return kExitOk;
  }
  if (w0 == "token" && w1 == "revoke" && need(4)) {
    grpc::ClientContext ctx;
    client.Prepare(ctx, admin);
    v1::RevokeTokenRequest req;
    req.set_tenant_id(words[2]);
    req.set_token_id(words[3]);
    v1::RevokeTokenResponse resp;
    const grpc::Status s = client.Tenants().RevokeToken(&ctx, req, &resp);
    return s.ok() ? kExitOk : Failed(io, s);
  }
  if ((w0 == "domain" && (w1 == "add" || w1 == "set")) && need(3)) {
    v1::DomainSettings settings;
    std::string error;
    if (!FillSettings(interval, labels, settings, error)) {
      return usage(error);
    }
    grpc::ClientContext ctx;
    client.Prepare(ctx, token);
    v1::DomainSummary resp;
    grpc::Status s;
    if (w1 == "add") {
      v1::AddDomainRequest req;
      req.set_domain(words[2]);
      *req.mutable_settings() = settings;
      s = client.Domains().AddDomain(&ctx, req, &resp);
    } else {
      v1::UpdateDomainSettingsRequest req;
      req.set_domain(words[2]);
      *req.mutable_settings() = settings;
      s = client.Domains().UpdateDomainSettings(&ctx, req, &resp);
    }
    if (!s.ok()) {
      return Failed(io, s);
    }
    io.out << (o.json ? ToJson(resp) : resp.domain() + ": " + resp.status()) << "\n";
    return kExitOk;
  }
  if (w0 == "domain" && w1 == "rm" && need(3)) {
    grpc::ClientContext ctx;
    client.Prepare(ctx, token);
    v1::RemoveDomainRequest req;
    req.set_domain(words[2]);
    v1::RemoveDomainResponse resp;
    const grpc::Status s = client.Domains().RemoveDomain(&ctx, req, &resp);
    return s.ok() ? kExitOk : Failed(io, s);
  }
  if (w0 == "domain" && w1 == "ls" && need(2)) {
    std::string page_token;
    bool header = false;
    do {
      grpc::ClientContext ctx;
      client.Prepare(ctx, token);
      v1::ListDomainsRequest req;
      for (const auto& st : statuses) {
        req.add_status(st);
      }
      for (const auto& m : modes) {
        req.add_mode(m);
      }
      req.set_page_size(static_cast<std::uint32_t>(page_size));
      req.set_page_token(page_token);
      v1::ListDomainsResponse resp;
      const grpc::Status s = client.Domains().ListDomains(&ctx, req, &resp);
      if (!s.ok()) {
        return Failed(io, s);
      }
      if (o.json) {
        for (const v1::DomainSummary& d : resp.domains()) {
          io.out << ToJson(d) << "\n";
        }
      } else if (!header) {
        PrintSummaries(io.out, resp.domains());
        header = true;
      } else {
        for (const v1::DomainSummary& d : resp.domains()) {
          io.out << std::left << std::setw(40) << d.domain() << std::setw(9) << d.status()
                 << std::setw(9) << (d.mode().empty() ? "-" : d.mode())
                 << When(d.last_check_unix_ms()) << "\n";
        }
      }
      page_token = resp.next_page_token();
    } while (all && !page_token.empty());
    if (!page_token.empty() && !o.json) {
      io.err << "(more: --all lists every page)\n";
    }
    return kExitOk;
  }
  if ((w0 == "domain" && w1 == "get" && need(3)) || (w0 == "check" && need(2))) {
    grpc::ClientContext ctx;
    client.Prepare(ctx, token);
    v1::DomainDetail resp;
    grpc::Status s;
    if (w0 == "check") {
      v1::CheckNowRequest req;
      req.set_domain(words[1]);
      s = client.Domains().CheckNow(&ctx, req, &resp);
    } else {
      v1::GetDomainRequest req;
      req.set_domain(words[2]);
      s = client.Domains().GetDomain(&ctx, req, &resp);
    }
    if (!s.ok()) {
      return Failed(io, s);
    }
    if (o.json) {
      io.out << ToJson(resp) << "\n";
    } else {
      PrintDetail(io.out, resp);
    }
    return kExitOk;
  }
  if (w0 == "domain" && w1 == "import" && need(3)) {
    std::ifstream file;
    std::istream* in = &io.in;
    if (words[2] != "-") {
      file.open(words[2]);
      if (!file) {
        return usage("cannot open " + words[2]);
      }
      in = &file;
    }
    grpc::ClientContext ctx;
    client.Prepare(ctx, token);
    v1::ImportDomainsResponse resp;
    auto writer = client.Domains().ImportDomains(&ctx, &resp);
    v1::ImportDomainsRequest batch;
    std::string line;
    bool ok = true;
    while (ok && std::getline(*in, line)) {
      const std::string name = line.substr(0, line.find('#'));
      const std::size_t start = name.find_first_not_of(" \t\r");
      if (start == std::string::npos) {
        continue;
      }
      batch.add_domains(name.substr(start, name.find_last_not_of(" \t\r") - start + 1));
      if (batch.domains_size() == 500) {
        ok = writer->Write(batch);
        batch.clear_domains();
      }
    }
    if (ok && batch.domains_size() > 0) {
      writer->Write(batch);
    }
    writer->WritesDone();
    const grpc::Status s = writer->Finish();
    if (!s.ok()) {
      return Failed(io, s);
    }
    if (o.json) {
      io.out << ToJson(resp) << "\n";
    } else {
      io.out << resp.added() << " added, " << resp.unchanged() << " already watched, "
             << resp.errors_size() << " refused\n";
      for (const v1::ImportError& e : resp.errors()) {
        io.out << "  " << e.domain() << ": " << e.error() << "\n";
      }
    }
    return resp.errors_size() == 0 ? kExitOk : kExitFailed;
  }
  if (w0 == "events" && need(2)) {
    grpc::ClientContext ctx;
    client.Prepare(ctx, token);
    v1::ListEventsRequest req;
    req.set_domain(words[1]);
    req.set_page_size(static_cast<std::uint32_t>(page_size));
    v1::ListEventsResponse resp;
    const grpc::Status s = client.Domains().ListEvents(&ctx, req, &resp);
    if (!s.ok()) {
      return Failed(io, s);
    }
    for (const v1::DriftEvent& e : resp.events()) {
      if (o.json) {
        io.out << ToJson(e) << "\n";
      } else {
        PrintEvent(io.out, e);
      }
    }
    return kExitOk;
  }
  if (w0 == "watch" && need(1)) {
    grpc::ClientContext ctx;
    client.Prepare(ctx, token, /*deadline=*/false);
    v1::WatchEventsRequest req;
    req.set_cursor(cursor);
    auto reader = client.Domains().WatchEvents(&ctx, req);
    v1::WatchEventsResponse resp;
    while (reader->Read(&resp)) {
      if (o.json) {
        io.out << ToJson(resp) << std::endl;
      } else {
        PrintEvent(io.out, resp.event());
        io.out << "      cursor " << resp.cursor() << std::endl;
      }
    }
    const grpc::Status s = reader->Finish();
    return s.ok() ? kExitOk : Failed(io, s);
  }
  return usage("unknown command '" + [&] {
    std::string all_words;
    for (const auto& w : words) {
      all_words += (all_words.empty() ? "" : " ") + w;
    }
    return all_words;
  }() + "'");
}

}  // namespace stswatch::cli
