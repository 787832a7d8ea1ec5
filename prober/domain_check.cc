#include "prober/domain_check.h"

#include <algorithm>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "prober/async.h"

namespace stswatch::prober {

namespace asio = boost::asio;
using mtasts::DnsOutcome;

namespace {

// Runs every task concurrently on the current executor and returns their results in order.
template <typename T>
asio::awaitable<std::vector<T>> WhenAll(std::vector<asio::awaitable<T>> tasks) {
  auto executor = co_await asio::this_coro::executor;
  struct State {
    explicit State(const asio::any_io_executor& ex, std::size_t n)
        : results(n), remaining(n), done(ex, asio::steady_timer::time_point::max()) {}
    std::vector<T> results;
    std::size_t remaining;
    asio::steady_timer done;
  };
  auto state = std::make_shared<State>(executor, tasks.size());
  for (std::size_t i = 0; i < tasks.size(); ++i) {
    asio::co_spawn(
        executor,
        [state, i, task = std::move(tasks[i])]() mutable -> asio::awaitable<void> {
          state->results[i] = co_await std::move(task);
          if (--state->remaining == 0) {
            state->done.cancel();
          }
        },
        asio::detached);
  }
  if (state->remaining > 0) {
    boost::system::error_code ec;
    co_await state->done.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
  co_return std::move(state->results);
}

mtasts::TxtLookup ToTxt(const DnsResult& r) {
  mtasts::TxtLookup txt;
  txt.outcome = r.outcome;
  txt.error = r.error;
  for (const DnsRecord& rec : r.records) {
    txt.records.push_back(rec.value);
  }
  return txt;
}

}  // namespace

asio::awaitable<void> AsyncSemaphore::Acquire() {
  if (count_ > 0) {
    --count_;
    co_return;
  }
  auto waiter =
      std::make_shared<asio::steady_timer>(executor_, asio::steady_timer::time_point::max());
  waiters_.push_back(waiter);
  boost::system::error_code ec;
  co_await waiter->async_wait(asio::redirect_error(asio::use_awaitable, ec));
  // Woken by Release, which handed this waiter its unit.
}

void AsyncSemaphore::Release() {
  if (waiters_.empty()) {
    ++count_;
    return;
  }
  waiters_.front()->cancel();
  waiters_.pop_front();
}

// Expired shared probes are dropped every this many probes.
constexpr int kPruneEvery = 1024;

struct DomainChecker::Slot {
  explicit Slot(const asio::any_io_executor& ex)
      : ready(ex, asio::steady_timer::time_point::max()) {}
  bool done = false;
  std::chrono::steady_clock::time_point at;
  mtasts::SmtpProbe result;
  asio::steady_timer ready;
};

DomainChecker::DomainChecker(const asio::any_io_executor& executor, DnsResolver& resolver,
                             PolicyFetcher& fetcher, StartTlsProber& prober, AddressFilter filter,
                             CheckOptions options)
    : executor_(executor),
      resolver_(resolver),
      fetcher_(fetcher),
      prober_(prober),
      filter_(std::move(filter)),
      options_(options),
      smtp_slots_(executor, options_.max_smtp_in_flight) {}

asio::awaitable<mtasts::SmtpProbe> DomainChecker::SharedProbe(std::string host,
                                                              asio::ip::address address) {
  const std::string key = host + "|" + address.to_string();
  auto it = probes_.find(key);
  const auto now = std::chrono::steady_clock::now();
  if (it != probes_.end() && (!it->second->done || now - it->second->at < options_.share_window)) {
    std::shared_ptr<Slot> slot = it->second;
    ++probes_shared_;
    if (!slot->done) {
      boost::system::error_code ec;
      co_await slot->ready.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
    co_return slot->result;
  }
  auto slot = std::make_shared<Slot>(executor_);
  probes_[key] = slot;
  ++probes_run_;
  if (probes_run_ % kPruneEvery == 0) {
    // A long-running checker (serve) must not keep every probe it ever ran.
    std::erase_if(probes_, [&](const auto& entry) {
      return entry.second->done && now - entry.second->at >= options_.share_window;
    });
  }
  co_await smtp_slots_.Acquire();
  auto& destination = per_destination_[address.to_string()];
  if (!destination) {
    destination = std::make_unique<AsyncSemaphore>(executor_, options_.max_per_destination);
  }
  AsyncSemaphore* per_address = destination.get();
  co_await per_address->Acquire();
  slot->result = co_await prober_.Probe(host, address);
  per_address->Release();
  smtp_slots_.Release();
  slot->done = true;
  slot->at = std::chrono::steady_clock::now();
  slot->ready.cancel();
  co_return slot->result;
}

asio::awaitable<mtasts::MxObservation> DomainChecker::ObserveMx(std::string host, int priority) {
  mtasts::MxObservation mx;
  mx.host = host;
  mx.priority = priority;
  std::vector<asio::awaitable<DnsResult>> lookups;
  lookups.push_back(AsyncResolve(resolver_, host, RrType::kA));
  lookups.push_back(AsyncResolve(resolver_, host, RrType::kAaaa));
  const std::vector<DnsResult> answers = co_await WhenAll(std::move(lookups));
  for (const DnsResult& r : answers) {
    if (!r.cnames.empty() && mx.cname_target.empty()) {
      mx.cname_target = r.cnames.back();
    }
    for (const DnsRecord& rec : r.records) {
      if (static_cast<int>(mx.addresses.size()) < options_.max_addresses_per_mx) {
        mx.addresses.push_back(rec.value);
      }
    }
  }
  if (mx.addresses.empty()) {
    const DnsResult& a = answers[0];
    mx.resolve_outcome = a.outcome == DnsOutcome::kOk ? DnsOutcome::kNoData : a.outcome;
    mx.resolve_error = a.error.empty() ? answers[1].error : a.error;
    co_return mx;
  }
  std::vector<asio::awaitable<mtasts::SmtpProbe>> probes;
  for (const std::string& text : mx.addresses) {
    boost::system::error_code ec;
    const asio::ip::address address = asio::ip::make_address(text, ec);
    if (const std::string why = filter_.Check(address); !why.empty()) {
      mtasts::SmtpProbe refused;
      refused.address = text;
      refused.refused_by_filter = true;
      refused.error = why;
      probes.push_back([](mtasts::SmtpProbe p) -> asio::awaitable<mtasts::SmtpProbe> {
        co_return p;
      }(std::move(refused)));
      continue;
    }
    probes.push_back(SharedProbe(host, address));
  }
  mx.probes = co_await WhenAll(std::move(probes));
  co_return mx;
}

asio::awaitable<mtasts::DomainObservation> DomainChecker::Observe(std::string domain) {
  mtasts::DomainObservation o;
  o.domain = domain;
  std::vector<asio::awaitable<DnsResult>> lookups;
  lookups.push_back(AsyncResolve(resolver_, "_mta-sts." + domain, RrType::kTxt));
  lookups.push_back(AsyncResolve(resolver_, "_smtp._tls." + domain, RrType::kTxt));
  lookups.push_back(AsyncResolve(resolver_, domain, RrType::kMx));
  const std::vector<DnsResult> dns = co_await WhenAll(std::move(lookups));
  o.sts = ToTxt(dns[0]);
  o.tlsrpt = ToTxt(dns[1]);
  o.mx_outcome = dns[2].outcome == DnsOutcome::kNoData || dns[2].outcome == DnsOutcome::kNxDomain
                     ? DnsOutcome::kOk
                     : dns[2].outcome;
  o.mx_error = dns[2].error;

  std::vector<DnsRecord> mx_records = dns[2].records;
  std::stable_sort(
      mx_records.begin(), mx_records.end(),
      [](const DnsRecord& a, const DnsRecord& b) { return a.preference < b.preference; });
  if (static_cast<int>(mx_records.size()) > options_.max_mx_hosts) {
    mx_records.resize(static_cast<std::size_t>(options_.max_mx_hosts));
  }
  std::vector<asio::awaitable<mtasts::MxObservation>> mx_tasks;
  for (const DnsRecord& rec : mx_records) {
    // RFC 7505 null MX ("."): the domain accepts no mail; nothing to probe.
    if (rec.value.empty()) {
      continue;
    }
    mx_tasks.push_back(ObserveMx(rec.value, rec.preference));
  }
  // The policy fetch and the MX probes run at the same time.
  std::vector<asio::awaitable<std::optional<mtasts::PolicyFetch>>> fetch;
  if (!o.sts.records.empty()) {
    fetch.push_back(
        [](PolicyFetcher& f, std::string d) -> asio::awaitable<std::optional<mtasts::PolicyFetch>> {
          co_return co_await f.Fetch(std::move(d));
        }(fetcher_, domain));
  }
  using asio::experimental::awaitable_operators::operator&&;
  auto [fetch_results, mx_results] =
      co_await (WhenAll(std::move(fetch)) && WhenAll(std::move(mx_tasks)));
  o.mx = std::move(mx_results);
  if (!fetch_results.empty()) {
    o.policy = std::move(fetch_results.front());
  }
  co_return o;
}

}  // namespace stswatch::prober
