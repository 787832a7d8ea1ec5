#pragma once

// The prober as `check` and `serve` build it: c-ares resolver, TLS context, address filter,
// HTTPS policy fetcher, SMTP STARTTLS prober and the DomainChecker over them, from one set of
// command-line options.

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "absl/status/statusor.h"
#include "cli/flags.h"
#include "prober/address_filter.h"
#include "prober/cares_resolver.h"
#include "prober/domain_check.h"
#include "prober/real_probers.h"
#include "prober/tls.h"

namespace stswatch::cli {

struct ProberFlags {
  std::string resolver;
  std::string ca_file;
  bool allow_private = false;
  std::vector<std::string> allow_nets;
  int timeout_seconds = 20;
  int smtp_concurrency = 128;
  int per_destination = 8;
  int share_window_seconds = 300;
};

// Registers --resolver, --ca-file, --allow-private, --allow-net, --timeout, --smtp-concurrency,
// --per-destination and --share-window.
void AddProberFlags(Flags& flags, ProberFlags* target);

// The help text of those options.
extern const char kProberFlagsHelp[];

// Owns the parts; the checker refers to the others. Lives on one io_context thread.
struct ProberStack {
  std::unique_ptr<prober::CaresResolver> resolver;
  std::unique_ptr<prober::TlsContext> tls;
  std::unique_ptr<prober::AddressFilter> filter;  // The fetcher refers to it.
  std::unique_ptr<prober::HttpsPolicyFetcher> fetcher;
  std::unique_ptr<prober::SmtpStartTlsProber> prober;
  std::unique_ptr<prober::DomainChecker> checker;
};

// Errors are for people: "--resolver ...: ...", "--ca-file ...".
absl::StatusOr<std::unique_ptr<ProberStack>> BuildProber(boost::asio::io_context& io_context,
                                                         const ProberFlags& flags);

}  // namespace stswatch::cli
