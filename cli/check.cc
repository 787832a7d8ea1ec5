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

constexpr std::string_view kUsage =
    R"(usage: stswatch check [OPTIONS] DOMAIN...
       stswatch check [OPTIONS] --file FILE

Checks domains the way a sending mail server does (RFC 8461, RFC 8460): reads _mta-sts,
_smtp._tls and the MX records, fetches https://mta-sts.DOMAIN/.well-known/mta-sts.txt, and
negotiates STARTTLS with every address of every MX host. Says whether mail in enforce mode
would be delivered, and if not, why.

Options:
  --json               one JSON object per domain (one per line), as each check finishes
  --resolver IP[:PORT] DNS server to ask (default: the system's /etc/resolv.conf)
  --ca-file PEM        trust these root certificates instead of the system's
  --allow-private      also probe private, loopback and other special-purpose addresses
                       (refused by default: a DNS answer must not aim stswatch at your network)
  --allow-net CIDR     with --allow-private: only these special networks (repeatable)
  --timeout SECONDS    deadline of the policy fetch and of each SMTP dialogue (default 20)
  --concurrency N      domains checked at the same time (default 64)
  --smtp-concurrency N SMTP dialogues at the same time, in all (default 128)
  --per-destination N  SMTP dialogues at the same time with one address (default 8)
  --share-window SECONDS  reuse the probe of an (MX host, address) for every domain using it
                       within this window (default 300; 0: probe for every domain)
  --file FILE          read domains from FILE, one per line (# comments), "-" for stdin
  -h, --help           show this help

Statuses: ok, warning, failing (enforce-mode senders would refuse mail to an MX), broken (the
policy cannot be discovered, fetched or parsed), none (no MTA-STS).
Exit status: 0 all ok or none, 1 worst is warning, 2 any failing or broken, 3 usage or internal
error. Finding codes: mtasts/FINDINGS.md.
)";

struct CheckArgs {
  bool json = false;
  std::string resolver;
  std::string ca_file;
  bool allow_private = false;
  std::vector<std::string> allow_nets;
  int timeout_seconds = 20;
  int concurrency = 64;
  int smtp_concurrency = 128;
  int per_destination = 8;
  int share_window_seconds = 300;
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

bool ParseInt(std::string_view text, int low, int high, int& out) {
  if (text.empty() || text.size() > 6) {
    return false;
  }
  int value = 0;
  for (const char c : text) {
    if (!mtasts::IsDigit(c)) {
      return false;
    }
    value = value * 10 + (c - '0');
  }
  if (value < low || value > high) {
    return false;
  }
  out = value;
  return true;
}

// Parses the arguments; returns an exit status when done (help, error).
std::optional<int> Parse(Args args, CheckArgs& a, CommandIo& io) {
  bool operands_only = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string_view arg = args[i];
    const auto value = [&](std::string_view name) -> std::optional<std::string> {
      if (arg.size() > name.size() && arg.starts_with(name) && arg[name.size()] == '=') {
        return std::string(arg.substr(name.size() + 1));
      }
      if (i + 1 < args.size()) {
        return std::string(args[++i]);
      }
      return std::nullopt;
    };
    const auto is = [&](std::string_view name) {
      return arg == name ||
             (arg.starts_with(name) && arg.size() > name.size() && arg[name.size()] == '=');
    };
    if (operands_only || !arg.starts_with("-")) {
      std::string error;
      const auto domain = NormalizeDomain(arg, error);
      if (!domain) {
        return Usage(io, error);
      }
      a.domains.push_back(*domain);
    } else if (arg == "--") {
      operands_only = true;
    } else if (arg == "-h" || arg == "--help") {
      io.out << kUsage;
      return kExitOk;
    } else if (arg == "--json") {
      a.json = true;
    } else if (arg == "--allow-private") {
      a.allow_private = true;
    } else if (is("--resolver") || is("--ca-file") || is("--allow-net") || is("--timeout") ||
               is("--concurrency") || is("--file") || is("--smtp-concurrency") ||
               is("--per-destination") || is("--share-window")) {
      const std::string name(arg.substr(0, arg.find('=')));
      const auto v = value(name);
      if (!v) {
        return Usage(io, name + " needs a value");
      }
      if (name == "--resolver") {
        a.resolver = *v;
      } else if (name == "--ca-file") {
        a.ca_file = *v;
      } else if (name == "--allow-net") {
        a.allow_nets.push_back(*v);
      } else if (name == "--timeout") {
        if (!ParseInt(*v, 1, 600, a.timeout_seconds)) {
          return Usage(io, "--timeout takes seconds from 1 to 600");
        }
      } else if (name == "--concurrency") {
        if (!ParseInt(*v, 1, 10000, a.concurrency)) {
          return Usage(io, "--concurrency takes a number from 1 to 10000");
        }
      } else if (name == "--smtp-concurrency") {
        if (!ParseInt(*v, 1, 10000, a.smtp_concurrency)) {
          return Usage(io, "--smtp-concurrency takes a number from 1 to 10000");
        }
      } else if (name == "--per-destination") {
        if (!ParseInt(*v, 1, 1000, a.per_destination)) {
          return Usage(io, "--per-destination takes a number from 1 to 1000");
        }
      } else if (name == "--share-window") {
        if (!ParseInt(*v, 0, 86400, a.share_window_seconds)) {
          return Usage(io, "--share-window takes seconds from 0 to 86400");
        }
      } else {
        a.file = *v;
      }
    } else {
      return Usage(io, "unknown option " + mtasts::Quote(arg));
    }
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
  prober::CaresOptions dns;
  dns.servers = a.resolver;
  auto resolver = prober::CaresResolver::Create(io_context, dns);
  if (!resolver.ok()) {
    return Usage(io, std::string(resolver.status().message()));
  }
  auto tls = prober::TlsContext::Create(a.ca_file);
  if (!tls.ok()) {
    return Usage(io, std::string(tls.status().message()));
  }
  auto filter = prober::AddressFilter::Create(a.allow_private, a.allow_nets);
  if (!filter.ok()) {
    return Usage(io, "--allow-net " + std::string(filter.status().message()));
  }
  prober::FetchOptions fetch_options;
  fetch_options.timeout = std::chrono::seconds(a.timeout_seconds);
  prober::SmtpOptions smtp_options;
  smtp_options.timeout = std::chrono::seconds(a.timeout_seconds);
  prober::HttpsPolicyFetcher fetcher(**resolver, **tls, *filter, fetch_options);
  prober::SmtpStartTlsProber prober(**tls, smtp_options);
  prober::CheckOptions options;
  options.share_window = std::chrono::seconds(a.share_window_seconds);
  options.max_smtp_in_flight = a.smtp_concurrency;
  options.max_per_destination = a.per_destination;
  prober::DomainChecker checker(io_context.get_executor(), **resolver, fetcher, prober, *filter,
                                options);
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
