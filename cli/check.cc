#include "cli/check.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <deque>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json/serialize.hpp>

#include "cli/check_report.h"
#include "cli/flags.h"
#include "cli/prober_setup.h"
#include "common/time_source.h"
#include "mtasts/hostname.h"
#include "mtasts/text.h"
#include "mtasts/verdict.h"
#include "prober/address_filter.h"
#include "prober/cares_resolver.h"
#include "prober/domain_check.h"
#include "prober/real_probers.h"
#include "prober/tls.h"

namespace stswatch::cli {
namespace {

namespace asio = boost::asio;

constexpr int kExitOk = 0;
constexpr int kExitWarning = 1;
constexpr int kExitFailing = 2;
constexpr int kExitUsage = 3;

constexpr std::string_view kUsageHead =
    R"(usage: stswatch check [OPTIONS] DOMAIN...
       stswatch check [OPTIONS] --file FILE

Checks domains the way a sending mail server does (RFC 8461, RFC 8460): reads _mta-sts,
_smtp._tls and the MX records, fetches https://mta-sts.DOMAIN/.well-known/mta-sts.txt, and
negotiates STARTTLS with every address of every MX host. Says whether mail in enforce mode
would be delivered, and if not, why.

Options:
  --json               one JSON object per domain (one per line), as each check finishes
)";

constexpr std::string_view kUsageTail =
    R"(  --concurrency N      domains checked at the same time (default 64)
  --file FILE          read domains from FILE, one per line (# comments), "-" for stdin
  -h, --help           show this help

Statuses: ok, warning, failing (enforce-mode senders would refuse mail to an MX), broken (the
policy cannot be discovered, fetched or parsed), none (no MTA-STS).
Exit status: 0 all ok or none, 1 worst is warning, 2 any failing or broken, 3 usage or internal
error. Finding codes: mtasts/FINDINGS.md.
)";

struct CheckArgs {
  bool json = false;
  ProberFlags prober;
  int concurrency = 64;
  std::string file;
  std::vector<std::string> domains;
};

int Usage(CommandIo& io, const std::string& message) {
  io.err << "stswatch check: " << message << "\nTry 'stswatch check --help'.\n";
  return kExitUsage;
}

std::optional<std::string> NormalizeDomain(std::string_view raw, std::string& error) {
  std::string name = mtasts::CanonicalHostname(mtasts::TrimWsp(raw));
  if (const auto why = mtasts::CheckHostname(name)) {
    error = mtasts::Quote(raw) + " is not a domain name: " + *why;
    return std::nullopt;
  }
  return name;
}

// Parses the arguments; returns an exit status when done (help, error).
std::optional<int> Parse(Args args, CheckArgs& a, CommandIo& io) {
  Flags flags;
  flags.Switch("--json", &a.json);
  AddProberFlags(flags, &a.prober);
  flags.Int("--concurrency", 1, 10000, &a.concurrency);
  flags.String("--file", &a.file);
  flags.Operands([&](std::string_view arg) -> std::optional<std::string> {
    std::string error;
    const auto domain = NormalizeDomain(arg, error);
    if (!domain) {
      return error;
    }
    a.domains.push_back(*domain);
    return std::nullopt;
  });
  bool help = false;
  if (const auto error = flags.Parse(args, &help)) {
    return Usage(io, *error);
  }
  if (help) {
    io.out << kUsageHead << kProberFlagsHelp << kUsageTail;
    return kExitOk;
  }
  if (!a.file.empty()) {
    std::ifstream file;
    std::istream* in = &io.in;
    if (a.file != "-") {
      file.open(a.file);
      if (!file) {
        io.err << "stswatch check: cannot open " << a.file << ": " << std::strerror(errno) << "\n";
        return kExitUsage;
      }
      in = &file;
    }
    std::string line;
    int number = 0;
    while (std::getline(*in, line)) {
      ++number;
      const std::string uncommented = line.substr(0, line.find('#'));
      const std::string_view text = mtasts::TrimWsp(uncommented);
      if (text.empty()) {
        continue;
      }
      std::string error;
      const auto domain = NormalizeDomain(text, error);
      if (!domain) {
        io.err << "stswatch check: " << a.file << ":" << number << ": " << error << " (skipped)\n";
        continue;
      }
      a.domains.push_back(*domain);
    }
  }
  if (a.domains.empty()) {
    return Usage(io, "give one or more DOMAINs, or --file FILE");
  }
  return std::nullopt;
}

class Progress {
 public:
  Progress(std::ostream& err, std::size_t total, bool enabled)
      : err_(err), total_(total), enabled_(enabled) {}
  void Done() {
    ++done_;
    if (enabled_ && (done_ == total_ || done_ % 10 == 0)) {
      const std::size_t width = 40;
      const std::size_t filled = total_ == 0 ? width : done_ * width / total_;
      err_ << "\r[" << std::string(filled, '#') << std::string(width - filled, '.') << "] " << done_
           << "/" << total_ << (done_ == total_ ? "\n" : "") << std::flush;
    }
  }

 private:
  std::ostream& err_;
  std::size_t total_;
  bool enabled_;
  std::size_t done_ = 0;
};

}  // namespace

int RunCheck(Args args, CommandIo& io) {
  CheckArgs a;
  if (const auto exit = Parse(args, a, io)) {
    return *exit;
  }
  asio::io_context io_context;
  auto stack = BuildProber(io_context, a.prober);
  if (!stack.ok()) {
    return Usage(io, std::string(stack.status().message()));
  }
  prober::DomainChecker& checker = *(*stack)->checker;
  const RealTimeSource clock;

  Progress progress(io.err, a.domains.size(), a.domains.size() > 1 && isatty(STDERR_FILENO) == 1);
  std::deque<std::string> queue(a.domains.begin(), a.domains.end());
  int worst = kExitOk;
  const auto worker = [&]() -> asio::awaitable<void> {
    while (!queue.empty()) {
      std::string domain = std::move(queue.front());
      queue.pop_front();
      const mtasts::DomainObservation o = co_await checker.Observe(domain);
      const mtasts::Verdict v = mtasts::Judge(o, clock.Now());
      if (a.json) {
        io.out << boost::json::serialize(CheckToJson(o, v)) << "\n";
      } else {
        PrintCheck(io.out, o, v, io.color);
        if (a.domains.size() > 1) {
          io.out << "\n";
        }
      }
      io.out.flush();
      switch (v.status) {
        case mtasts::DomainStatus::kFailing:
        case mtasts::DomainStatus::kBroken:
          worst = std::max(worst, kExitFailing);
          break;
        case mtasts::DomainStatus::kWarning:
          worst = std::max(worst, kExitWarning);
          break;
        default:
          break;
      }
      progress.Done();
    }
  };
  const int workers = std::min<int>(a.concurrency, static_cast<int>(a.domains.size()));
  bool failed = false;
  for (int i = 0; i < workers; ++i) {
    asio::co_spawn(io_context, worker, [&](const std::exception_ptr& e) {
      if (e) {
        failed = true;
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& ex) {
          io.err << "stswatch check: internal error: " << ex.what() << "\n";
        }
      }
    });
  }
  const auto started = std::chrono::steady_clock::now();
  io_context.run();
  if (a.domains.size() > 1) {
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::steady_clock::now() - started)
                        .count();
    io.err << "stswatch check: " << a.domains.size() << " domains in " << ms / 1000 << "."
           << (ms % 1000) / 100 << " s; " << checker.probes_run() << " SMTP probes, "
           << checker.probes_shared() << " answered from shared results\n";
  }
  return failed ? kExitUsage : worst;
}

}  // namespace stswatch::cli
