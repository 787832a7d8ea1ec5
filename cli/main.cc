// The stswatch binary: one program, one subcommand per role. Concrete components are wired
// together here and nowhere else.

#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string_view>
#include <vector>

#include "cli/alerter_cmd.h"
#include "cli/api_cmd.h"
#include "cli/check.h"
#include "cli/command.h"
#include "cli/ctl.h"
#include "cli/ingest_cmd.h"
#include "cli/lint.h"
#include "cli/policy_cmd.h"
#include "cli/prober_cmd.h"
#include "cli/scheduler_cmd.h"
#include "cli/serve.h"
#include "cli/status.h"

namespace {

constexpr std::string_view kVersion = "0.1.0";

constexpr std::string_view kUsage =
    R"(usage: stswatch COMMAND [ARGS...]

stswatch checks the mail-transport security of domains: MTA-STS (RFC 8461) and
SMTP TLS Reporting (RFC 8460), the way a sending mail server sees them.

Commands:
  check      check domains as a sending mail server would: DNS, policy, STARTTLS to every MX
  lint       validate a policy file, _mta-sts records or _smtp._tls records offline
  policy     write the policy file and records to start MTA-STS in testing mode (policy init)
  ingest-report  store the TLS report of one e-mail read on standard input (an MTA's pipe)
  serve      monitor domains continuously: state and drift events in Redis
  status     summarise what serve has stored: domains by status, last checks, recent events
  scheduler  distributed mode: hand due checks to prober workers (active/standby)
  prober     distributed mode: a worker that runs the checks a scheduler assigns
  api        the public gRPC API as a process of its own (serve has it with --api-listen)
  alerter    alerts by e-mail and webhook as a process of its own (serve runs one)
  ctl        call the public API from the shell: tenants, domains, events, watch, check

Options:
  -h, --help     show this help
  --version      print the version

Run 'stswatch COMMAND --help' for the options of a command.
)";

bool WantsColor() {
  const char* term = std::getenv("TERM");
  return isatty(STDOUT_FILENO) == 1 && std::getenv("NO_COLOR") == nullptr &&
         !(term != nullptr && std::strcmp(term, "dumb") == 0);
}

}  // namespace

int main(int argc, char** argv) {
  std::ios::sync_with_stdio(false);
  std::vector<std::string_view> args(argv + 1, argv + argc);
  stswatch::cli::CommandIo io{std::cin, std::cout, std::cerr, WantsColor()};
  if (args.empty()) {
    std::cerr << kUsage;
    return 2;
  }
  const std::string_view command = args.front();
  const stswatch::cli::Args rest = stswatch::cli::Args(args).subspan(1);
  int status = 2;
  if (command == "-h" || command == "--help" || command == "help") {
    std::cout << kUsage;
    status = 0;
  } else if (command == "--version" || command == "version") {
    std::cout << "stswatch " << kVersion << "\n";
    status = 0;
  } else if (command == "check") {
    status = stswatch::cli::RunCheck(rest, io);
  } else if (command == "ingest-report") {
    status = stswatch::cli::RunIngestReport(rest, io);
  } else if (command == "policy") {
    status = stswatch::cli::RunPolicy(rest, io);
  } else if (command == "lint") {
    status = stswatch::cli::RunLint(rest, io);
  } else if (command == "serve") {
    status = stswatch::cli::RunServe(rest, io);
  } else if (command == "scheduler") {
    status = stswatch::cli::RunScheduler(rest, io);
  } else if (command == "prober") {
    status = stswatch::cli::RunProber(rest, io);
  } else if (command == "api") {
    status = stswatch::cli::RunApi(rest, io);
  } else if (command == "alerter") {
    status = stswatch::cli::RunAlerter(rest, io);
  } else if (command == "ctl") {
    status = stswatch::cli::RunCtl(rest, io);
  } else if (command == "status") {
    status = stswatch::cli::RunStatus(rest, io);
  } else {
    std::cerr << "stswatch: unknown command '" << command << "'\n"
              << "Try 'stswatch --help'.\n";
  }
  std::cout.flush();
  if (!std::cout) {
    std::cerr << "stswatch: cannot write to standard output\n";
    return status == 0 ? 2 : status;
  }
  return status;
}
