#pragma once

// The alerter as `serve` and `alerter` build it from one set of command-line options: the SMTP
// relay, the From address, the TLS trust for the relay and webhooks, which webhook targets are
// allowed, retry times, and the operator's own channels.

#include <memory>
#include <string>
#include <vector>

#include <boost/asio/ssl/context.hpp>

#include "absl/status/statusor.h"
#include "alerting/alerter.h"
#include "cli/flags.h"
#include "prober/address_filter.h"

namespace stswatch::cli {

struct AlerterFlags {
  std::string smtp_relay;  // HOST[:PORT]
  std::string smtp_tls = "required";
  std::string smtp_user;
  std::string smtp_password_file;
  std::string smtp_helo;
  bool smtp_no_verify = false;
  std::string from;
  std::string site_name = "stswatch";
  std::string ca_file;
  std::vector<std::string> webhook_allow_nets;
  bool webhook_allow_private = false;
  std::chrono::seconds retry_initial{30};
  std::chrono::seconds retry_max{3600};
  std::chrono::seconds give_up{std::chrono::hours(24)};
  std::chrono::seconds tick{30};
  std::chrono::seconds catch_up{3600};
  std::vector<std::string> email_to;
  std::string webhook_url;
  std::string webhook_secret_file;
  std::string minimum_severity = "warning";
};

// Registers the options of kAlerterFlagsHelp.
void AddAlerterFlags(Flags& flags, AlerterFlags* target);
extern const char kAlerterFlagsHelp[];

// What the alerter needs besides Redis and a resolver.
struct AlerterSetup {
  alerting::AlerterOptions options;
  std::unique_ptr<boost::asio::ssl::context> tls;  // Verifying; the relay's and webhooks' trust.
  std::unique_ptr<prober::AddressFilter> webhook_filter;
};

// Errors are for people: "--smtp-relay ...: ...".
absl::StatusOr<AlerterSetup> BuildAlerter(const AlerterFlags& flags);

}  // namespace stswatch::cli
