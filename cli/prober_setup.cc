#include "cli/prober_setup.h"

namespace stswatch::cli {

const char kProberFlagsHelp[] =
    R"(  --resolver IP[:PORT] DNS server to ask (default: the system's /etc/resolv.conf)
  --ca-file PEM        trust these root certificates instead of the system's
  --allow-private      also probe private, loopback and other special-purpose addresses
                       (refused by default: a DNS answer must not aim stswatch at your network)
  --allow-net CIDR     with --allow-private: only these special networks (repeatable)
  --timeout SECONDS    deadline of the policy fetch and of each SMTP dialogue (default 20)
  --smtp-concurrency N SMTP dialogues at the same time, in all (default 128)
  --per-destination N  SMTP dialogues at the same time with one address (default 8)
  --share-window SECONDS  reuse the probe of an (MX host, address) for every domain using it
                       within this window (default 300; 0: probe for every domain)
)";

void AddProberFlags(Flags& flags, ProberFlags* target) {
  flags.String("--resolver", &target->resolver);
  flags.String("--ca-file", &target->ca_file);
  flags.Switch("--allow-private", &target->allow_private);
  flags.Strings("--allow-net", &target->allow_nets);
  flags.Int("--timeout", 1, 600, &target->timeout_seconds);
  flags.Int("--smtp-concurrency", 1, 10000, &target->smtp_concurrency);
  flags.Int("--per-destination", 1, 1000, &target->per_destination);
  flags.Int("--share-window", 0, 86400, &target->share_window_seconds);
}

absl::StatusOr<std::unique_ptr<ProberStack>> BuildProber(boost::asio::io_context& io_context,
                                                         const ProberFlags& flags) {
  auto stack = std::make_unique<ProberStack>();
  prober::CaresOptions dns;
  dns.servers = flags.resolver;
  auto resolver = prober::CaresResolver::Create(io_context, dns);
  if (!resolver.ok()) {
    return resolver.status();
  }
  stack->resolver = std::move(*resolver);
  auto tls = prober::TlsContext::Create(flags.ca_file);
  if (!tls.ok()) {
    return tls.status();
  }
  stack->tls = std::move(*tls);
  auto filter = prober::AddressFilter::Create(flags.allow_private, flags.allow_nets);
  if (!filter.ok()) {
    return absl::InvalidArgumentError("--allow-net " + std::string(filter.status().message()));
  }
  stack->filter = std::make_unique<prober::AddressFilter>(std::move(*filter));
  prober::FetchOptions fetch_options;
  fetch_options.timeout = std::chrono::seconds(flags.timeout_seconds);
  prober::SmtpOptions smtp_options;
  smtp_options.timeout = std::chrono::seconds(flags.timeout_seconds);
  stack->fetcher = std::make_unique<prober::HttpsPolicyFetcher>(*stack->resolver, *stack->tls,
                                                                *stack->filter, fetch_options);
  stack->prober = std::make_unique<prober::SmtpStartTlsProber>(*stack->tls, smtp_options);
  prober::CheckOptions options;
  options.share_window = std::chrono::seconds(flags.share_window_seconds);
  options.max_smtp_in_flight = flags.smtp_concurrency;
  options.max_per_destination = flags.per_destination;
  stack->checker = std::make_unique<prober::DomainChecker>(io_context.get_executor(),
                                                           *stack->resolver, *stack->fetcher,
                                                           *stack->prober, *stack->filter, options);
  return stack;
}

}  // namespace stswatch::cli
