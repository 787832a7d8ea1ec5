#include "cli/policy_cmd.h"

#include <chrono>
#include <ctime>
#include <string>
#include <vector>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include "cli/ctl.h"
#include "cli/flags.h"
#include "mtasts/finding.h"
#include "mtasts/hostname.h"
#include "mtasts/policy.h"
#include "mtasts/sts_record.h"
#include "mtasts/tlsrpt_record.h"
#include "tlsrpt/promote.h"

namespace stswatch::cli {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitUsage = 3;

constexpr std::string_view kUsage =
    R"(usage: stswatch policy init --domain DOMAIN --mx HOST [--mx HOST]... [--rua URI]...
                            [--max-age SECONDS] [--json]
       stswatch policy promote DOMAIN [--force] [--max-age SECONDS] [--json]
                            [--min-days N] [--window-days N] [--min-orgs N]
                            [--max-failure-rate R]
                            [--server HOST:PORT] [--ca-file PEM] [--timeout DURATION]

Writes what a domain publishes to start MTA-STS (RFC 8461) in testing mode with TLS reporting
(RFC 8460): the policy file, the _mta-sts TXT record with a fresh id, the _smtp._tls TXT record,
and a web server snippet that serves the policy file as text/plain. Nothing is published: the
output is for you to put in place, the policy file first.

Options:
  --domain DOMAIN   the mail domain (A-labels for internationalised names)
  --mx HOST         an MX host or a pattern ("*.mail.example.net"), one per --mx, in the order
                    of the policy file; every MX of the domain must be covered
  --rua URI         where TLS reports go: mailto:ADDRESS or https://URL (repeatable; default
                    mailto:tlsrpt@DOMAIN)
  --max-age SECONDS how long senders cache the testing policy (default 604800, one week)
  --json            one JSON object instead of text
  -h, --help        show this help

promote asks the API (STSWATCH_TOKEN: a tenant's token; the tenant watches DOMAIN) whether the
domain, in testing mode, is ready for enforce: enough days of TLS reports (14 of the last 28)
from enough organizations (2), no failed sessions that enforce would turn into refused mail
(or at most --max-failure-rate of them), and every check of stswatch clean. If so it
prints the enforce policy (the testing policy's mx lines, max_age at least 2592000) and the
_mta-sts record with a new id, and the order to publish them in: the policy file first, then the
TXT record (RFC 8461 section 8.1). If not, it refuses with the reasons and their evidence (exit
1), unless --force. 'stswatch ctl readiness DOMAIN' shows the same judgement.

The road on: read the TLS reports for 2-4 weeks ('stswatch check' and 'serve' watch the domain
meanwhile), fix what they show, then switch to enforce with a new id and a max_age of at least
2592000, updating the policy file before the TXT record (RFC 8461 section 8.1).
)";

std::string JoinErrors(const std::vector<mtasts::Finding>& findings) {
  std::string out;
  for (const mtasts::Finding& f : findings) {
    if (f.severity == mtasts::Severity::kError) {
      out += (out.empty() ? "" : " ") + f.message;
    }
  }
  return out;
}

}  // namespace

int RunPolicy(Args args, CommandIo& io) {
  const auto usage = [&](const std::string& message) {
    io.err << "stswatch policy: " << message << "\nTry 'stswatch policy --help'.\n";
    return kExitUsage;
  };
  if (args.empty()) {
    io.err << kUsage;
    return kExitUsage;
  }
  if (args[0] == "-h" || args[0] == "--help") {
    io.out << kUsage;
    return kExitOk;
  }
  if (args[0] == "promote") {
    // The API call of 'ctl promote': its connection options go before the command.
    std::vector<std::string> global;
    std::vector<std::string> command = {"promote"};
    for (std::size_t i = 1; i < args.size(); ++i) {
      const std::string_view a = args[i];
      if ((a == "--server" || a == "--ca-file" || a == "--timeout") && i + 1 < args.size()) {
        global.emplace_back(a);
        global.emplace_back(args[++i]);
      } else if (a == "-h" || a == "--help") {
        io.out << kUsage;
        return kExitOk;
      } else {
        command.emplace_back(a);
      }
    }
    if (command.size() < 2) {
      return usage("promote needs the DOMAIN");
    }
    global.insert(global.end(), command.begin(), command.end());
    const std::vector<std::string_view> views(global.begin(), global.end());
    return RunCtl(Args(views), io);
  }
  if (args[0] != "init") {
    return usage("unknown subcommand '" + std::string(args[0]) + "' (init or promote)");
  }
  std::string domain;
  std::vector<std::string> mx;
  std::vector<std::string> rua;
  int max_age = 604800;
  bool json = false;
  Flags flags;
  flags.String("--domain", &domain);
  flags.Strings("--mx", &mx);
  flags.Strings("--rua", &rua);
  flags.Int("--max-age", static_cast<int>(mtasts::kOneDay), static_cast<int>(mtasts::kMaxMaxAge),
            &max_age);
  flags.Switch("--json", &json);
  bool help = false;
  if (const auto error = flags.Parse(args.subspan(1), &help)) {
    return usage(*error);
  }
  if (help) {
    io.out << kUsage;
    return kExitOk;
  }
  domain = mtasts::CanonicalHostname(domain);
  if (domain.empty()) {
    return usage("--domain is required");
  }
  if (const auto why = mtasts::CheckHostname(domain)) {
    return usage("--domain " + domain + " is not a domain name: " + *why);
  }
  if (mx.empty()) {
    return usage("at least one --mx is required: every MX host of " + domain +
                 " must be covered by the policy");
  }
  if (rua.empty()) {
    rua.push_back("mailto:tlsrpt@" + domain);
  }

  // The policy file, checked by the same parser `lint` and `check` use.
  std::string body = "version: STSv1\r\nmode: testing\r\n";
  for (const std::string& m : mx) {
    body += "mx: " + mtasts::CanonicalHostname(m) + "\r\n";
  }
  body += "max_age: " + std::to_string(max_age) + "\r\n";
  const mtasts::PolicyResult policy = mtasts::ParsePolicy(body);
  if (!policy.valid()) {
    return usage("--mx: " + JoinErrors(policy.findings));
  }
  const std::string sts = "v=STSv1; id=" + tlsrpt::NewStsId(std::chrono::system_clock::now()) + ";";
  std::string tlsrpt = "v=TLSRPTv1; rua=";
  for (std::size_t i = 0; i < rua.size(); ++i) {
    tlsrpt += (i == 0 ? "" : ",") + rua[i];
  }
  const std::vector<std::string> sts_records = {sts};
  const std::vector<std::string> tlsrpt_records = {tlsrpt};
  const mtasts::StsRecordResult sts_check = mtasts::ParseStsRecordSet(sts_records);
  const mtasts::TlsRptRecordResult tlsrpt_check = mtasts::ParseTlsRptRecordSet(tlsrpt_records);
  if (!tlsrpt_check.valid()) {
    return usage("--rua: " + JoinErrors(tlsrpt_check.findings));
  }
  if (!sts_check.valid()) {
    return usage("the generated _mta-sts record is invalid: " + JoinErrors(sts_check.findings));
  }
  const std::string policy_host = "mta-sts." + domain;
  const std::string snippet =
      "server {\n"
      "    listen 443 ssl;\n"
      "    server_name " +
      policy_host +
      ";\n"
      "    # A certificate valid for " +
      policy_host +
      " from a public CA (RFC 8461 section 3.3).\n"
      "    ssl_certificate     /etc/ssl/" +
      policy_host +
      "/fullchain.pem;\n"
      "    ssl_certificate_key /etc/ssl/" +
      policy_host +
      "/privkey.pem;\n"
      "    location = /.well-known/mta-sts.txt {\n"
      "        default_type text/plain;\n"
      "        alias /var/www/" +
      policy_host +
      "/mta-sts.txt;\n"
      "    }\n"
      "    location / { return 404; }\n"
      "}\n";
  if (json) {
    boost::json::object o;
    o["domain"] = domain;
    o["policy_url"] = "https://" + policy_host + "/.well-known/mta-sts.txt";
    o["policy"] = body;
    boost::json::array records;
    records.push_back(
        boost::json::object{{"name", "_mta-sts." + domain}, {"type", "TXT"}, {"value", sts}});
    records.push_back(
        boost::json::object{{"name", "_smtp._tls." + domain}, {"type", "TXT"}, {"value", tlsrpt}});
    o["records"] = std::move(records);
    o["nginx"] = snippet;
    io.out << boost::json::serialize(o) << "\n";
    return kExitOk;
  }
  io.out << "# 1. The policy file, served at https://" << policy_host
         << "/.well-known/mta-sts.txt\n"
         << "#    as text/plain, over HTTPS with a valid certificate. Publish it first.\n";
  // The exact bytes, CRLF line ends as RFC 8461 section 3.2 writes them.
  io.out << body << "\n"
         << "# 2. The DNS records (TXT). Publish them once the policy file is served.\n"
         << "_mta-sts." << domain << ".    IN TXT \"" << sts << "\"\n"
         << "_smtp._tls." << domain << ". IN TXT \"" << tlsrpt << "\"\n\n"
         << "# 3. A web server for " << policy_host << " (nginx):\n"
         << snippet << "\n"
         << "# Mode testing: senders report failures but deliver anyway. Read the TLS reports\n"
         << "# for 2-4 weeks, fix what they show, then switch to enforce with a new id and a\n"
         << "# max_age of at least 2592000 (update the policy file before the TXT record).\n";
  return kExitOk;
}

}  // namespace stswatch::cli
