#include "cli/lint.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <istream>
#include <ostream>
#include <string>
#include <vector>

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include "cli/findings_format.h"
#include "mtasts/hostname.h"
#include "mtasts/policy.h"
#include "mtasts/sts_record.h"
#include "mtasts/text.h"
#include "mtasts/tlsrpt_record.h"

namespace stswatch::cli {
namespace {

constexpr int kExitValid = 0;
constexpr int kExitInvalid = 1;
constexpr int kExitUsage = 2;

constexpr std::string_view kUsage =
    R"(usage: stswatch lint policy [--mx HOST]... [--json] [FILE|-]
       stswatch lint sts-record [--json] RECORD...
       stswatch lint tlsrpt-record [--json] RECORD...

Validates MTA-STS (RFC 8461) and TLS-RPT (RFC 8460) configuration offline.

  policy         the policy file served at https://mta-sts.DOMAIN/.well-known/mta-sts.txt,
                 read from FILE, or from standard input when FILE is "-" or absent
  sts-record     the TXT records found at _mta-sts.DOMAIN, one argument per record
                 (character-strings of one record already joined)
  tlsrpt-record  the TXT records found at _smtp._tls.DOMAIN, one argument per record

Options:
  --json         print one JSON object instead of a report
  --mx HOST      (policy) also check that the MX host HOST is covered by the policy's mx
                 patterns; repeat for every MX host of the domain. An uncovered MX host is an
                 error in enforce mode (enforcing senders refuse mail to it).
  --             end of options: every later argument is a FILE or RECORD, even if it
                 begins with "-"
  -h, --help     show this help

Exit status: 0 valid (warnings allowed), 1 invalid, 2 usage or I/O error.
Finding codes are documented in mtasts/FINDINGS.md.
)";

struct LintOptions {
  bool json = false;
  std::vector<std::string> mx_hosts;
  std::vector<std::string> operands;
};

int UsageError(CommandIo& io, const std::string& message) {
  io.err << "stswatch lint: " << message << "\n"
         << "Try 'stswatch lint --help'.\n";
  return kExitUsage;
}

// Parses the options common to the three kinds. Returns an exit status when parsing ended the
// command (help or error), nullopt to go on.
std::optional<int> ParseOptions(Args args, bool accept_mx, LintOptions& options, CommandIo& io) {
  bool options_ended = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string_view arg = args[i];
    if (options_ended || arg == "-" || !arg.starts_with("-")) {
      options.operands.emplace_back(arg);
    } else if (arg == "--") {
      options_ended = true;
    } else if (arg == "-h" || arg == "--help") {
      io.out << kUsage;
      return kExitValid;
    } else if (arg == "--json") {
      options.json = true;
    } else if (accept_mx && (arg == "--mx" || arg.starts_with("--mx="))) {
      std::string_view host;
      if (arg == "--mx") {
        if (i + 1 >= args.size()) {
          return UsageError(io, "--mx needs a host name");
        }
        host = args[++i];
      } else {
        host = arg.substr(5);
      }
      std::string_view bare = host;
      if (bare.size() > 1 && bare.back() == '.') {
        bare.remove_suffix(1);
      }
      if (const auto error = mtasts::CheckHostname(bare)) {
        return UsageError(io, "--mx " + mtasts::Quote(host) + " is not a host name: " + *error);
      }
      options.mx_hosts.emplace_back(host);
    } else {
      return UsageError(io, "unknown option " + mtasts::Quote(arg));
    }
  }
  return std::nullopt;
}

void PrintJson(CommandIo& io, const boost::json::object& object) {
  io.out << boost::json::serialize(object) << "\n";
}

void PrintVerdict(CommandIo& io, std::string_view what, bool valid,
                  const std::vector<mtasts::Finding>& findings) {
  io.out << what << ": ";
  if (io.color) {
    io.out << (valid ? "\033[1;32m" : "\033[1;31m");
  }
  io.out << (valid ? "valid" : "INVALID");
  if (io.color) {
    io.out << "\033[0m";
  }
  io.out << " (" << SummarizeFindings(findings) << ")\n";
}

void PrintFindingsSection(CommandIo& io, const std::vector<mtasts::Finding>& findings) {
  if (!findings.empty()) {
    io.out << "\n";
    PrintFindings(io.out, findings, io.color);
  }
}

// Reads at most kMaxPolicyBytes + 1 bytes: enough to tell that a policy is too large without
// reading an endless input.
bool ReadPolicy(std::istream& in, std::string& body) {
  body.resize(mtasts::kMaxPolicyBytes + 1);
  in.read(body.data(), static_cast<std::streamsize>(body.size()));
  body.resize(static_cast<std::size_t>(in.gcount()));
  return !in.bad();
}

int LintPolicy(Args args, CommandIo& io) {
  LintOptions options;
  if (const auto exit = ParseOptions(args, /*accept_mx=*/true, options, io)) {
    return *exit;
  }
  if (options.operands.size() > 1) {
    return UsageError(io, "lint policy takes one FILE (or - for standard input)");
  }
  const std::string path = options.operands.empty() ? "-" : options.operands.front();
  std::string body;
  if (path == "-") {
    if (!ReadPolicy(io.in, body)) {
      io.err << "stswatch lint: cannot read standard input\n";
      return kExitUsage;
    }
  } else {
    std::ifstream file(path, std::ios::binary);
    if (!file) {
      io.err << "stswatch lint: cannot open " << path << ": " << std::strerror(errno) << "\n";
      return kExitUsage;
    }
    if (!ReadPolicy(file, body)) {
      io.err << "stswatch lint: cannot read " << path << ": " << std::strerror(errno) << "\n";
      return kExitUsage;
    }
  }

  mtasts::PolicyResult result = mtasts::ParsePolicy(body);
  std::vector<mtasts::MxCoverage> coverage;
  if (result.policy && !options.mx_hosts.empty()) {
    coverage = mtasts::CoverMxHosts(*result.policy, options.mx_hosts, result.findings);
  }
  const bool valid = result.valid() && !mtasts::HasError(result.findings);

  if (options.json) {
    boost::json::object object;
    object["valid"] = valid;
    object["findings"] = FindingsToJson(result.findings);
    if (result.policy) {
      const mtasts::Policy& p = *result.policy;
      boost::json::array mx;
      for (const std::string& pattern : p.mx) {
        mx.emplace_back(pattern);
      }
      object["policy"] = {{"version", p.version},
                          {"mode", mtasts::PolicyModeName(p.mode)},
                          {"max_age", p.max_age},
                          {"mx", std::move(mx)}};
      if (!options.mx_hosts.empty()) {
        boost::json::array entries;
        for (const mtasts::MxCoverage& c : coverage) {
          boost::json::object entry;
          entry["host"] = c.host;
          entry["covered"] = c.pattern.has_value();
          if (c.pattern) {
            entry["pattern"] = *c.pattern;
          } else {
            entry["pattern"] = nullptr;
          }
          entries.push_back(std::move(entry));
        }
        object["mx_coverage"] = std::move(entries);
      }
    }
    PrintJson(io, object);
    return valid ? kExitValid : kExitInvalid;
  }

  PrintVerdict(io, "policy", valid, result.findings);
  if (result.policy) {
    const mtasts::Policy& p = *result.policy;
    io.out << "  version  " << p.version << "\n"
           << "  mode     " << mtasts::PolicyModeName(p.mode) << "\n"
           << "  max_age  " << p.max_age << " (" << (p.max_age / 86400) << " days)\n";
    for (const std::string& pattern : p.mx) {
      io.out << "  mx       " << pattern << "\n";
    }
    for (const mtasts::MxCoverage& c : coverage) {
      io.out << "  MX host  " << c.host << " -> "
             << (c.pattern ? "covered by " + *c.pattern : std::string("NOT COVERED")) << "\n";
    }
  }
  PrintFindingsSection(io, result.findings);
  return valid ? kExitValid : kExitInvalid;
}

int LintStsRecord(Args args, CommandIo& io) {
  LintOptions options;
  if (const auto exit = ParseOptions(args, /*accept_mx=*/false, options, io)) {
    return *exit;
  }
  if (options.operands.empty()) {
    return UsageError(io,
                      "lint sts-record needs at least one RECORD (the TXT records at "
                      "_mta-sts.DOMAIN)");
  }
  const mtasts::StsRecordResult result = mtasts::ParseStsRecordSet(options.operands);
  if (options.json) {
    boost::json::object object;
    object["valid"] = result.valid();
    object["findings"] = FindingsToJson(result.findings);
    if (result.record) {
      boost::json::object extensions;
      for (const auto& [name, value] : result.record->extensions) {
        if (!extensions.contains(name)) {
          extensions[name] = value;
        }
      }
      object["record"] = {{"id", result.record->id}, {"extensions", std::move(extensions)}};
    }
    PrintJson(io, object);
    return result.valid() ? kExitValid : kExitInvalid;
  }
  PrintVerdict(io, "sts-record", result.valid(), result.findings);
  if (result.record) {
    io.out << "  id         " << result.record->id << "\n";
    for (const auto& [name, value] : result.record->extensions) {
      io.out << "  extension  " << name << "=" << value << "\n";
    }
  }
  PrintFindingsSection(io, result.findings);
  return result.valid() ? kExitValid : kExitInvalid;
}

int LintTlsRptRecord(Args args, CommandIo& io) {
  LintOptions options;
  if (const auto exit = ParseOptions(args, /*accept_mx=*/false, options, io)) {
    return *exit;
  }
  if (options.operands.empty()) {
    return UsageError(io,
                      "lint tlsrpt-record needs at least one RECORD (the TXT records at "
                      "_smtp._tls.DOMAIN)");
  }
  const mtasts::TlsRptRecordResult result = mtasts::ParseTlsRptRecordSet(options.operands);
  if (options.json) {
    boost::json::object object;
    object["valid"] = result.valid();
    object["findings"] = FindingsToJson(result.findings);
    if (result.record) {
      boost::json::array rua;
      for (const std::string& uri : result.record->rua) {
        rua.emplace_back(uri);
      }
      object["record"] = {{"rua", std::move(rua)}};
    }
    PrintJson(io, object);
    return result.valid() ? kExitValid : kExitInvalid;
  }
  PrintVerdict(io, "tlsrpt-record", result.valid(), result.findings);
  if (result.record) {
    for (const std::string& uri : result.record->rua) {
      io.out << "  rua  " << uri << "\n";
    }
  }
  PrintFindingsSection(io, result.findings);
  return result.valid() ? kExitValid : kExitInvalid;
}

}  // namespace

int RunLint(Args args, CommandIo& io) {
  if (args.empty()) {
    return UsageError(io, "say what to lint: policy, sts-record or tlsrpt-record");
  }
  const std::string_view kind = args.front();
  const Args rest = args.subspan(1);
  if (kind == "-h" || kind == "--help") {
    io.out << kUsage;
    return kExitValid;
  }
  if (kind == "policy") {
    return LintPolicy(rest, io);
  }
  if (kind == "sts-record") {
    return LintStsRecord(rest, io);
  }
  if (kind == "tlsrpt-record") {
    return LintTlsRptRecord(rest, io);
  }
  return UsageError(
      io, "unknown kind " + mtasts::Quote(kind) + "; use policy, sts-record or tlsrpt-record");
}

}  // namespace stswatch::cli
