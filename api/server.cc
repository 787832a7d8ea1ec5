#include "api/server.h"

#include <algorithm>
#include <atomic>
#include <fstream>
#include <future>
#include <map>
#include <set>
#include <sstream>
#include <thread>
#include <tuple>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <grpc/grpc.h>
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>

#include "alerting/alert_store.h"
#include "api/alert_convert.h"
#include "api/convert.h"
#include "api/domain_name.h"
#include "api/domain_registry.h"
#include "api/event_cursor.h"
#include "api/report_convert.h"
#include "api/tenant_store.h"
#include "common/grpc_code.h"
#include "common/time_source.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "metrics/metrics.h"
#include "mtasts/policy.h"
#include "store/command.h"
#include "stswatch/v1/api.grpc.pb.h"
#include "tlsrpt/ingest.h"
#include "tlsrpt/promote.h"
#include "tlsrpt/readiness.h"
#include "tlsrpt/report_store.h"

namespace stswatch::api {
namespace {

namespace asio = boost::asio;
namespace v1 = stswatch::v1;
using store::RedisReply;

constexpr std::size_t kMaxPageSize = 1000;
constexpr std::size_t kDefaultPageSize = 100;
constexpr std::size_t kMaxImport = 1000000;

grpc::Status ToGrpc(const absl::Status& s) {
  if (s.ok()) {
    return grpc::Status::OK;
  }
  const auto code = static_cast<grpc::StatusCode>(static_cast<int>(s.code()));
  return grpc::Status(code, std::string(s.message()));
}

std::string BearerToken(const grpc::ServerContext& ctx) {
  const auto& md = ctx.client_metadata();
  const auto it = md.find("authorization");
  if (it == md.end()) {
    return "";
  }
  const std::string value(it->second.data(), it->second.size());
  constexpr std::string_view kBearer = "Bearer ";
  if (value.size() <= kBearer.size() || value.compare(0, kBearer.size(), kBearer) != 0) {
    return "";
  }
  return value.substr(kBearer.size());
}

const RedisReply* Element(const RedisReply& r, std::size_t i) {
  return r.type == RedisReply::Type::kArray && i < r.elements.size() ? &r.elements[i] : nullptr;
}

std::int64_t Millis(const RedisReply* r) {
  return r != nullptr && r->type == RedisReply::Type::kString ? std::atoll(r->str.c_str()) : 0;
}

}  // namespace

struct ApiServer::Impl {
  Impl(asio::io_context& io, store::RedisClient& client, store::RedisEndpoint endpoint,
       ApiOptions options, CheckNowFn check_now, std::function<void()> domains_changed, Logger& log)
      : io(io),
        client(client),
        endpoint(std::move(endpoint)),
        options(std::move(options)),
        check_now(std::move(check_now)),
        domains_changed(std::move(domains_changed)),
        log(log),
        tenants(client, clock),
        registry(client, RegistryOptions{this->options.keys, this->options.min_interval,
                                         this->options.max_domains_per_tenant}),
        alerts(client, alerting::AlertKeys(this->options.keys.prefix())) {}

  // --- The storage layer's results as the wire's messages.

  static DomainSettings Settings(const v1::DomainSettings& s) {
    DomainSettings out;
    out.interval_s = s.interval_seconds();
    out.labels.insert(s.labels().begin(), s.labels().end());
    return out;
  }

  static v1::DomainSummary ToProto(const DomainSummary& d) {
    v1::DomainSummary out;
    out.set_domain(d.domain);
    out.set_status(d.status);
    out.set_mode(d.mode);
    out.set_last_check_unix_ms(d.last_check_unix_ms);
    out.set_last_change_unix_ms(d.last_change_unix_ms);
    out.mutable_settings()->set_interval_seconds(d.settings.interval_s);
    out.mutable_settings()->mutable_labels()->insert(d.settings.labels.begin(),
                                                     d.settings.labels.end());
    return out;
  }

  static void Fill(const Tenant& t, v1::Tenant& out) {
    out.set_id(t.id);
    out.set_name(t.name);
    out.set_created_unix_ms(t.created_unix_ms);
    out.set_domains(t.domains);
  }

  asio::awaitable<absl::StatusOr<v1::CreateTenantResponse>> CreateTenant(std::string name) {
    absl::StatusOr<CreatedTenant> r = co_await tenants.CreateTenant(std::move(name));
    if (!r.ok()) {
      co_return r.status();
    }
    v1::CreateTenantResponse out;
    Fill(r->tenant, *out.mutable_tenant());
    out.set_token(r->token.token);
    out.set_token_id(r->token.token_id);
    co_return out;
  }

  asio::awaitable<absl::StatusOr<v1::IssueTokenResponse>> IssueToken(std::string tenant) {
    absl::StatusOr<IssuedToken> r = co_await tenants.IssueToken(std::move(tenant));
    if (!r.ok()) {
      co_return r.status();
    }
    v1::IssueTokenResponse out;
    out.set_token(r->token);
    out.set_token_id(r->token_id);
    co_return out;
  }

  asio::awaitable<absl::StatusOr<v1::RevokeTokenResponse>> RevokeToken(std::string tenant,
                                                                       std::string token_id) {
    const absl::Status s = co_await tenants.RevokeToken(std::move(tenant), std::move(token_id));
    if (!s.ok()) {
      co_return s;
    }
    co_return v1::RevokeTokenResponse();
  }

  asio::awaitable<absl::StatusOr<v1::ListTenantsResponse>> ListTenants() {
    absl::StatusOr<std::vector<Tenant>> r = co_await tenants.ListTenants();
    if (!r.ok()) {
      co_return r.status();
    }
    v1::ListTenantsResponse out;
    for (const Tenant& t : *r) {
      Fill(t, *out.add_tenants());
    }
    co_return out;
  }

  asio::awaitable<absl::StatusOr<v1::DomainSummary>> Add(std::string tenant, std::string domain,
                                                         v1::DomainSettings settings) {
    absl::StatusOr<AddResult> added = co_await registry.Add(tenant, domain, Settings(settings));
    if (!added.ok()) {
      co_return added.status();
    }
    absl::StatusOr<DomainSummary> summary = co_await registry.Summary(tenant, added->domain);
    if (!summary.ok()) {
      co_return summary.status();
    }
    co_return ToProto(*summary);
  }

  asio::awaitable<absl::StatusOr<v1::DomainSummary>> Update(std::string tenant, std::string domain,
                                                            v1::DomainSettings settings) {
    const absl::Status s = co_await registry.UpdateSettings(tenant, domain, Settings(settings));
    if (!s.ok()) {
      co_return s;
    }
    absl::StatusOr<DomainSummary> summary = co_await registry.Summary(tenant, domain);
    if (!summary.ok()) {
      co_return summary.status();
    }
    co_return ToProto(*summary);
  }

  asio::awaitable<absl::StatusOr<v1::DomainSummary>> SummaryOf(std::string tenant,
                                                               std::string domain) {
    absl::StatusOr<DomainSummary> summary = co_await registry.Summary(tenant, domain);
    if (!summary.ok()) {
      co_return summary.status();
    }
    co_return ToProto(*summary);
  }

  asio::awaitable<absl::StatusOr<v1::RemoveDomainResponse>> Remove(std::string tenant,
                                                                   std::string domain) {
    const absl::Status s = co_await registry.Remove(tenant, domain);
    if (!s.ok()) {
      co_return s;
    }
    co_return v1::RemoveDomainResponse();
  }

  asio::awaitable<absl::StatusOr<v1::ListDomainsResponse>> List(std::string tenant,
                                                                v1::ListDomainsRequest req) {
    absl::StatusOr<DomainPage> page = co_await registry.List(
        tenant, std::vector<std::string>(req.status().begin(), req.status().end()),
        std::vector<std::string>(req.mode().begin(), req.mode().end()), req.page_size(),
        req.page_token());
    if (!page.ok()) {
      co_return page.status();
    }
    v1::ListDomainsResponse out;
    for (const DomainSummary& d : page->domains) {
      *out.add_domains() = ToProto(d);
    }
    out.set_next_page_token(page->next_page_token);
    out.set_total(page->total);
    co_return out;
  }

  asio::awaitable<absl::StatusOr<v1::ImportDomainsResponse>> Import(std::string tenant,
                                                                    std::vector<std::string> names,
                                                                    v1::DomainSettings settings) {
    absl::StatusOr<ImportResult> r =
        co_await registry.Import(tenant, std::move(names), Settings(settings));
    if (!r.ok()) {
      co_return r.status();
    }
    v1::ImportDomainsResponse out;
    out.set_added(r->added);
    out.set_unchanged(r->unchanged);
    for (const ImportError& e : r->errors) {
      v1::ImportError* pe = out.add_errors();
      pe->set_domain(e.domain);
      pe->set_error(e.error);
    }
    co_return out;
  }

  // --- Alerting (alerting/alert_store.h).

  asio::awaitable<absl::StatusOr<v1::AlertSettings>> GetAlertSettings(std::string tenant) {
    absl::StatusOr<alerting::AlertSettings> s = co_await alerts.GetSettings(tenant);
    if (!s.ok()) {
      co_return s.status();
    }
    co_return AlertSettingsToProto(*s);
  }

  asio::awaitable<absl::StatusOr<v1::AlertSettings>> SetAlertSettings(std::string tenant,
                                                                      v1::AlertSettings wanted) {
    absl::StatusOr<alerting::AlertSettings> previous = co_await alerts.GetSettings(tenant);
    if (!previous.ok()) {
      co_return previous.status();
    }
    absl::StatusOr<alerting::AlertSettings> next = AlertSettingsFromProto(
        wanted, tenant, *previous, options.webhook_filter ? &*options.webhook_filter : nullptr);
    if (!next.ok()) {
      co_return next.status();
    }
    if (absl::Status s = co_await alerts.SetSettings(*next); !s.ok()) {
      co_return s;
    }
    co_return AlertSettingsToProto(*next);
  }

  asio::awaitable<absl::StatusOr<v1::ListOpenAlertsResponse>> OpenAlerts(std::string tenant,
                                                                         std::string name) {
    std::string domain;
    if (!name.empty()) {
      absl::StatusOr<std::string> d = NormalizeDomainName(name);
      if (!d.ok()) {
        co_return d.status();
      }
      domain = *d;
    }
    absl::StatusOr<std::vector<std::string>> books =
        co_await alerts.TenantBooks(tenant, options.keys.partitions());
    if (!books.ok()) {
      co_return books.status();
    }
    std::vector<alerting::AlertBook::Alert> open;
    for (const std::string& json : *books) {
      absl::StatusOr<alerting::AlertBook> book = alerting::AlertBook::FromJson(json);
      if (!book.ok()) {
        co_return absl::InternalError("the stored alert state is unreadable: " +
                                      std::string(book.status().message()));
      }
      for (alerting::AlertBook::Alert& a : book->OpenAlerts(tenant)) {
        if (domain.empty() || a.problem.domain == domain) {
          open.push_back(std::move(a));
        }
      }
    }
    std::sort(open.begin(), open.end(), [](const auto& a, const auto& b) {
      return std::tie(a.problem.domain, a.problem.key) < std::tie(b.problem.domain, b.problem.key);
    });
    v1::ListOpenAlertsResponse out;
    for (const alerting::AlertBook::Alert& a : open) {
      FillOpenAlert(a, *out.add_alerts());
    }
    co_return out;
  }

  asio::awaitable<absl::StatusOr<v1::ListDeliveriesResponse>> Deliveries(std::string tenant,
                                                                         std::string which,
                                                                         std::uint32_t limit) {
    if (!which.empty() && which != "dead" && which != "sent") {
      co_return absl::InvalidArgumentError("which must be \"dead\" or \"sent\"");
    }
    const int count = static_cast<int>(limit == 0 ? kDefaultPageSize
                                                  : std::min<std::size_t>(limit, kMaxPageSize));
    // Not a conditional expression with two co_awaits: GCC 12 mishandles those.
    absl::StatusOr<std::vector<alerting::DeliveryRecord>> records;
    if (which == "sent") {
      records = co_await alerts.Sent(tenant, count);
    } else {
      records = co_await alerts.DeadLetters(tenant, count);
    }
    if (!records.ok()) {
      co_return records.status();
    }
    v1::ListDeliveriesResponse out;
    for (const alerting::DeliveryRecord& r : *records) {
      FillDeliveryRecord(r, *out.add_deliveries());
    }
    co_return out;
  }

  // Runs `work` (a coroutine on the io_context) and waits for its result, within the call's
  // deadline and cancellation.
  template <typename T>
  grpc::Status Run(grpc::ServerContext* ctx, asio::awaitable<absl::StatusOr<T>> work, T* out) {
    auto promise = std::make_shared<std::promise<absl::StatusOr<T>>>();
    std::future<absl::StatusOr<T>> future = promise->get_future();
    asio::co_spawn(io, std::move(work),
                   [promise](const std::exception_ptr& e, absl::StatusOr<T> result) {
                     if (e) {
                       promise->set_value(absl::InternalError("internal error"));
                     } else {
                       promise->set_value(std::move(result));
                     }
                   });
    const auto limit = options.max_call.count() > 0
                           ? std::chrono::system_clock::now() + options.max_call
                           : std::chrono::system_clock::time_point::max();
    while (future.wait_for(std::chrono::milliseconds(50)) != std::future_status::ready) {
      if (ctx->IsCancelled()) {
        return grpc::Status(grpc::StatusCode::CANCELLED, "the call was cancelled");
      }
      const auto now = std::chrono::system_clock::now();
      if (now > ctx->deadline() || now > limit) {
        return grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED,
                            "the call did not finish before its deadline");
      }
    }
    absl::StatusOr<T> result = future.get();
    if (!result.ok()) {
      return ToGrpc(result.status());
    }
    *out = std::move(*result);
    return grpc::Status::OK;
  }

  // A tenant's call: timed, authenticated, then `work(tenant)` run on the io_context.
  template <typename T, typename Work>
  grpc::Status TenantCall(std::string_view method, grpc::ServerContext* ctx, T* out, Work work) {
    return Timed(method, [&] {
      std::string tenant;
      if (grpc::Status s = Authenticate(ctx, &tenant); !s.ok()) {
        return s;
      }
      return Run(ctx, work(tenant), out);
    });
  }

  // Runs a handler and counts it in the API metrics (method, status code, duration).
  template <typename F>
  grpc::Status Timed(std::string_view method, F&& body) {
    const auto start = std::chrono::steady_clock::now();
    grpc::Status s = body();
    if (metrics != nullptr) {
      metrics->ApiCall(
          method, GrpcCodeName(s.error_code()),
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    }
    return s;
  }

  grpc::Status Admin(grpc::ServerContext* ctx) const {
    const std::string token = BearerToken(*ctx);
    if (options.admin_token.empty()) {
      return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                          "this server has no admin token configured (--admin-token-file)");
    }
    if (token.empty() || !TenantStore::CheckAdminToken(options.admin_token, token)) {
      return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                          "an admin call needs 'authorization: Bearer <admin token>'");
    }
    return grpc::Status::OK;
  }

  grpc::Status Authenticate(grpc::ServerContext* ctx, std::string* tenant) {
    const std::string token = BearerToken(*ctx);
    if (token.empty()) {
      return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                          "missing 'authorization: Bearer <token>' metadata");
    }
    return Run(ctx, tenants.Authenticate(token), tenant);
  }

  // --- Domain reads (store keys written by the update script).

  asio::awaitable<absl::StatusOr<v1::DomainDetail>> Detail(std::string tenant, std::string name) {
    absl::StatusOr<std::string> domain = NormalizeDomainName(name);
    if (!domain.ok()) {
      co_return domain.status();
    }
    absl::StatusOr<bool> owns = co_await registry.Owns(tenant, *domain);
    if (!owns.ok()) {
      co_return owns.status();
    }
    if (!*owns) {
      co_return NotWatched(*domain);
    }
    absl::StatusOr<RedisReply> state = co_await client.Await(
        store::Command("HMGET", options.keys.Domain(*domain), "snapshot", "checked", "changed"));
    if (!state.ok()) {
      co_return state.status();
    }
    co_return DetailOf(*domain, *state);
  }

  static absl::Status NotWatched(const std::string& domain) {
    // The registry's own wording: another tenant's domain and an unknown one look alike.
    return absl::NotFoundError("\"" + domain + "\" is not one of this tenant's domains");
  }

  static absl::StatusOr<v1::DomainDetail> DetailOf(const std::string& domain,
                                                   const RedisReply& state) {
    v1::DomainDetail detail;
    const RedisReply* snapshot = Element(state, 0);
    if (snapshot != nullptr && snapshot->type == RedisReply::Type::kString) {
      absl::StatusOr<drift::Snapshot> s = drift::FromJson(snapshot->str);
      if (!s.ok()) {
        return absl::DataLossError("the stored state of " + domain + " is unreadable");
      }
      FillDetail(*s, detail);
    } else {
      detail.mutable_summary()->set_domain(domain);
      detail.mutable_summary()->set_status("pending");
    }
    detail.mutable_summary()->set_last_check_unix_ms(Millis(Element(state, 1)));
    detail.mutable_summary()->set_last_change_unix_ms(Millis(Element(state, 2)));
    return detail;
  }

  asio::awaitable<absl::StatusOr<v1::ListEventsResponse>> Events(std::string tenant,
                                                                 v1::ListEventsRequest req) {
    absl::StatusOr<std::string> domain = NormalizeDomainName(req.domain());
    if (!domain.ok()) {
      co_return domain.status();
    }
    if (req.page_size() > kMaxPageSize) {
      co_return absl::InvalidArgumentError("page_size is at most 1000");
    }
    absl::StatusOr<bool> owns = co_await registry.Owns(tenant, *domain);
    if (!owns.ok()) {
      co_return owns.status();
    }
    if (!*owns) {
      co_return NotWatched(*domain);
    }
    std::string end = "+";
    if (!req.page_token().empty()) {
      const auto id = StreamId::Parse(req.page_token());
      if (!id) {
        co_return absl::InvalidArgumentError("page_token is not one this server issued");
      }
      end = "(" + id->ToString();
    }
    const std::size_t size = req.page_size() == 0 ? kDefaultPageSize : req.page_size();
    v1::ListEventsResponse resp;
    // History entries mix states and events; read until a page of events or the start.
    while (static_cast<std::size_t>(resp.events_size()) < size) {
      absl::StatusOr<RedisReply> page = co_await client.Await(store::Command(
          "XREVRANGE", options.keys.History(*domain), end, "-", "COUNT", std::to_string(size)));
      if (!page.ok()) {
        co_return page.status();
      }
      if (page->elements.empty()) {
        resp.clear_next_page_token();
        break;
      }
      for (const RedisReply& entry : page->elements) {
        if (entry.elements.size() != 2) {
          continue;
        }
        end = "(" + entry.elements[0].str;
        const auto& f = entry.elements[1].elements;
        std::string type;
        std::string json;
        for (std::size_t i = 0; i + 1 < f.size(); i += 2) {
          if (f[i].str == "type") {
            type = f[i + 1].str;
          } else if (f[i].str == "event") {
            json = f[i + 1].str;
          }
        }
        if (type != "event") {
          continue;
        }
        absl::StatusOr<v1::DriftEvent> e = ParseEvent(json);
        if (e.ok()) {
          *resp.add_events() = std::move(*e);
        }
        if (static_cast<std::size_t>(resp.events_size()) == size) {
          resp.set_next_page_token(entry.elements[0].str);
          break;
        }
      }
    }
    co_return resp;
  }

  asio::awaitable<absl::StatusOr<v1::DomainDetail>> Check(std::string tenant, std::string name) {
    absl::StatusOr<std::string> domain = NormalizeDomainName(name);
    if (!domain.ok()) {
      co_return domain.status();
    }
    absl::StatusOr<bool> owns = co_await registry.Owns(tenant, *domain);
    if (!owns.ok()) {
      co_return owns.status();
    }
    if (!*owns) {
      co_return NotWatched(*domain);
    }
    if (!check_now) {
      co_return absl::UnimplementedError("this server runs no prober");
    }
    auto snapshot = co_await asio::async_initiate<decltype(asio::use_awaitable),
                                                  void(absl::StatusOr<drift::Snapshot>)>(
        [this](auto handler, const std::string& d) {
          auto shared = std::make_shared<decltype(handler)>(std::move(handler));
          check_now(d, [shared](absl::StatusOr<drift::Snapshot> result) {
            auto ex = asio::get_associated_executor(*shared);
            asio::post(ex, [shared, result = std::move(result)]() mutable {
              (*shared)(std::move(result));
            });
          });
        },
        asio::use_awaitable, *domain);
    if (!snapshot.ok()) {
      co_return snapshot.status();
    }
    v1::DomainDetail detail;
    FillDetail(*snapshot, detail);
    const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
    detail.mutable_summary()->set_last_check_unix_ms(now);
    co_return detail;
  }

  // The last entry of every partition's events stream: where a new watch starts.
  std::chrono::system_clock::time_point Now() const {
    return options.clock != nullptr ? options.clock->Now() : clock.Now();
  }

  // The tenant's domain, normalized, or why not.
  asio::awaitable<absl::StatusOr<std::string>> OwnedDomain(std::string tenant, std::string name) {
    absl::StatusOr<std::string> domain = NormalizeDomainName(name);
    if (!domain.ok()) {
      co_return domain.status();
    }
    absl::StatusOr<bool> owns = co_await registry.Owns(tenant, *domain);
    if (!owns.ok()) {
      co_return owns.status();
    }
    if (!*owns) {
      co_return NotWatched(*domain);
    }
    co_return *domain;
  }

  asio::awaitable<absl::StatusOr<v1::GetReportAggregatesResponse>> ReportAggregates(
      std::string tenant, v1::GetReportAggregatesRequest req) {
    absl::StatusOr<std::string> domain = co_await OwnedDomain(tenant, req.domain());
    if (!domain.ok()) {
      co_return domain.status();
    }
    const std::chrono::sys_days today = std::chrono::floor<std::chrono::days>(Now());
    std::string first = req.first_day();
    std::string last = req.last_day();
    if (last.empty()) {
      last = tlsrpt::UtcDay(today);
    }
    const std::optional<std::chrono::sys_days> last_day = tlsrpt::ParseUtcDay(last);
    if (!last_day) {
      co_return absl::InvalidArgumentError("last_day must be a UTC day YYYY-MM-DD");
    }
    if (first.empty()) {
      first = tlsrpt::UtcDay(*last_day - std::chrono::days(27));
    }
    const std::optional<std::chrono::sys_days> first_day = tlsrpt::ParseUtcDay(first);
    if (!first_day) {
      co_return absl::InvalidArgumentError("first_day must be a UTC day YYYY-MM-DD");
    }
    if (*first_day > *last_day || *last_day - *first_day >= std::chrono::days(366)) {
      co_return absl::InvalidArgumentError(
          "first_day must not be after last_day, and the range at most 366 days");
    }
    tlsrpt::ReportStore reports(client, options.keys);
    absl::StatusOr<std::vector<tlsrpt::DayAggregate>> days =
        co_await reports.Days(*domain, first, last);
    if (!days.ok()) {
      co_return days.status();
    }
    v1::GetReportAggregatesResponse out;
    out.set_domain(*domain);
    out.set_first_day(first);
    out.set_last_day(last);
    for (const tlsrpt::DayAggregate& d : *days) {
      FillReportDay(d, *out.add_days());
    }
    FillReportDay(SumDays(*days), *out.mutable_total());
    out.mutable_total()->clear_day();
    co_return out;
  }

  struct ReadinessView {
    v1::Readiness readiness;
    std::optional<drift::Snapshot> snapshot;
  };

  asio::awaitable<absl::StatusOr<ReadinessView>> JudgeReadiness(std::string domain,
                                                                v1::GetReadinessRequest req) {
    tlsrpt::ReadinessOptions o;
    if (req.window_days() > 0) {
      o.window_days = static_cast<int>(std::min<std::uint32_t>(req.window_days(), 366));
      o.min_days = std::min(o.min_days, o.window_days);  // The default, in a shorter window.
    }
    if (req.min_days() > 0) {
      o.min_days = static_cast<int>(std::min<std::uint32_t>(req.min_days(), 366));
    }
    if (req.min_organizations() > 0) {
      o.min_organizations =
          static_cast<int>(std::min<std::uint32_t>(req.min_organizations(), 1000));
    }
    if (!(req.max_failure_rate() >= 0.0 && req.max_failure_rate() <= 1.0)) {
      co_return absl::InvalidArgumentError("max_failure_rate is a share from 0 to 1");
    }
    o.max_failure_rate = req.max_failure_rate();
    if (o.min_days > o.window_days) {
      co_return absl::InvalidArgumentError("min_days must not exceed window_days");
    }
    const std::chrono::system_clock::time_point now = Now();
    const std::chrono::sys_days today = std::chrono::floor<std::chrono::days>(now);
    const std::chrono::sys_days window_start = today - std::chrono::days(o.window_days);
    ReadinessView view;
    view.readiness.set_domain(domain);
    view.readiness.set_window_first_day(tlsrpt::UtcDay(window_start));
    view.readiness.set_window_last_day(tlsrpt::UtcDay(today - std::chrono::days(1)));
    tlsrpt::ReportStore reports(client, options.keys);
    absl::StatusOr<std::vector<tlsrpt::DayAggregate>> days = co_await reports.Days(
        domain, view.readiness.window_first_day(), view.readiness.window_last_day());
    if (!days.ok()) {
      co_return days.status();
    }
    absl::StatusOr<std::vector<tlsrpt::ProbeCheck>> checks =
        co_await tlsrpt::LoadProbeChecks(client, options.keys, domain, window_start);
    if (!checks.ok()) {
      co_return checks.status();
    }
    absl::StatusOr<RedisReply> stored =
        co_await client.Await(store::Command("HGET", options.keys.Domain(domain), "snapshot"));
    if (!stored.ok()) {
      co_return stored.status();
    }
    if (stored->type == RedisReply::Type::kString) {
      absl::StatusOr<drift::Snapshot> s = drift::FromJson(stored->str);
      if (s.ok()) {
        view.snapshot = std::move(*s);
      }
    }
    const tlsrpt::Readiness judged =
        tlsrpt::JudgeReadiness(*days, *checks, tlsrpt::UtcDay(today), o);
    const std::string mode = view.snapshot ? view.snapshot->mode : "";
    view.readiness.set_mode(mode);
    if (mode != "testing") {
      v1::ReadinessReason* r = view.readiness.add_reasons();
      r->set_code("mode_not_testing");
      r->set_message(mode.empty()
                         ? domain +
                               " has no valid MTA-STS policy now: publish one in testing mode "
                               "first ('stswatch policy init')."
                         : domain + "'s policy is in mode " + mode +
                               ", not testing: readiness is judged for a testing policy.");
    }
    FillReadiness(judged, view.readiness);
    view.readiness.set_ready(view.readiness.reasons_size() == 0);
    for (const tlsrpt::ReporterDrop& d : tlsrpt::DetectReporterDrops(*days)) {
      v1::ReadinessReason* n = view.readiness.add_notes();
      n->set_code("reporter_drop");
      n->set_message(d.organization + " reported " + std::to_string(d.successful) +
                     " successful sessions on " + d.day + ", down from a usual " +
                     std::to_string(d.usual) + ".");
      n->add_evidence("day " + d.day);
    }
    co_return view;
  }

  asio::awaitable<absl::StatusOr<v1::Readiness>> Readiness(std::string tenant,
                                                           v1::GetReadinessRequest req) {
    absl::StatusOr<std::string> domain = co_await OwnedDomain(tenant, req.domain());
    if (!domain.ok()) {
      co_return domain.status();
    }
    absl::StatusOr<ReadinessView> view = co_await JudgeReadiness(*domain, std::move(req));
    if (!view.ok()) {
      co_return view.status();
    }
    co_return std::move(view->readiness);
  }

  asio::awaitable<absl::StatusOr<v1::PromotePolicyResponse>> Promote(std::string tenant,
                                                                     v1::PromotePolicyRequest req) {
    absl::StatusOr<std::string> domain = co_await OwnedDomain(tenant, req.domain());
    if (!domain.ok()) {
      co_return domain.status();
    }
    if (req.max_age() > mtasts::kMaxMaxAge) {
      co_return absl::InvalidArgumentError("max_age is at most 31557600 (RFC 8461 section 3.2)");
    }
    v1::GetReadinessRequest readiness_request;
    readiness_request.set_domain(*domain);
    readiness_request.set_min_days(req.min_days());
    readiness_request.set_window_days(req.window_days());
    readiness_request.set_min_organizations(req.min_organizations());
    readiness_request.set_max_failure_rate(req.max_failure_rate());
    absl::StatusOr<ReadinessView> view =
        co_await JudgeReadiness(*domain, std::move(readiness_request));
    if (!view.ok()) {
      co_return view.status();
    }
    if (!view->readiness.ready() && !req.force()) {
      co_return absl::FailedPreconditionError(NotReadyMessage(view->readiness));
    }
    if (!view->snapshot) {
      co_return absl::FailedPreconditionError(
          *domain +
          " has not been checked yet: stswatch takes the enforce policy's mx lines "
          "from the published testing policy");
    }
    absl::StatusOr<tlsrpt::Promotion> promotion = tlsrpt::MakePromotion(
        *view->snapshot, Now(), std::max(req.max_age(), tlsrpt::kEnforceMinMaxAge));
    if (!promotion.ok()) {
      co_return promotion.status();
    }
    v1::PromotePolicyResponse out;
    FillPromotion(*promotion, out);
    out.set_forced(!view->readiness.ready());
    *out.mutable_readiness() = std::move(view->readiness);
    log.Info("api.promote", {{"domain", *domain},
                             {"tenant", tenant},
                             {"id", promotion->id},
                             {"forced", out.forced() ? "yes" : "no"}});
    co_return out;
  }

  asio::awaitable<absl::StatusOr<EventCursor>> Tails() {
    std::vector<StreamId> positions;
    for (int p = 0; p < options.keys.partitions(); ++p) {
      absl::StatusOr<RedisReply> last = co_await client.Await(
          store::Command("XREVRANGE", options.keys.Events(p), "+", "-", "COUNT", "1"));
      if (!last.ok()) {
        co_return last.status();
      }
      StreamId id;
      if (!last->elements.empty() && !last->elements[0].elements.empty()) {
        id = StreamId::Parse(last->elements[0].elements[0].str).value_or(StreamId{});
      }
      positions.push_back(id);
    }
    co_return EventCursor(std::move(positions));
  }

  asio::io_context& io;
  store::RedisClient& client;
  store::RedisEndpoint endpoint;
  ApiOptions options;
  CheckNowFn check_now;
  std::function<void()> domains_changed;
  Logger& log;
  RealTimeSource clock;
  TenantStore tenants;
  DomainRegistry registry;
  alerting::AlertStore alerts;
  metrics::Metrics* metrics = nullptr;
  std::atomic<int> watches{0};
  std::atomic<bool> stopping{false};
  std::unique_ptr<grpc::Server> server;
  std::unique_ptr<v1::TenantService::Service> tenant_service;
  std::unique_ptr<v1::DomainService::Service> domain_service;
  std::unique_ptr<v1::AlertService::Service> alert_service;
  std::unique_ptr<v1::ReportService::Service> report_service;
  std::unique_ptr<grpc::health::v1::Health::Service> health_service;
};

namespace {

class TenantServiceImpl final : public v1::TenantService::Service {
 public:
  explicit TenantServiceImpl(ApiServer::Impl& impl) : impl_(impl) {}
  grpc::Status CreateTenant(grpc::ServerContext* ctx, const v1::CreateTenantRequest* req,
                            v1::CreateTenantResponse* resp) override {
    return impl_.Timed("CreateTenant", [&] { return DoCreateTenant(ctx, req, resp); });
  }
  grpc::Status IssueToken(grpc::ServerContext* ctx, const v1::IssueTokenRequest* req,
                          v1::IssueTokenResponse* resp) override {
    return impl_.Timed("IssueToken", [&] { return DoIssueToken(ctx, req, resp); });
  }
  grpc::Status RevokeToken(grpc::ServerContext* ctx, const v1::RevokeTokenRequest* req,
                           v1::RevokeTokenResponse* resp) override {
    return impl_.Timed("RevokeToken", [&] { return DoRevokeToken(ctx, req, resp); });
  }
  grpc::Status ListTenants(grpc::ServerContext* ctx, const v1::ListTenantsRequest* req,
                           v1::ListTenantsResponse* resp) override {
    return impl_.Timed("ListTenants", [&] { return DoListTenants(ctx, req, resp); });
  }

 private:
  grpc::Status DoCreateTenant(grpc::ServerContext* ctx, const v1::CreateTenantRequest* req,
                              v1::CreateTenantResponse* resp) {
    if (grpc::Status s = impl_.Admin(ctx); !s.ok()) {
      return s;
    }
    return impl_.Run(ctx, impl_.CreateTenant(req->name()), resp);
  }
  grpc::Status DoIssueToken(grpc::ServerContext* ctx, const v1::IssueTokenRequest* req,
                            v1::IssueTokenResponse* resp) {
    if (grpc::Status s = impl_.Admin(ctx); !s.ok()) {
      return s;
    }
    return impl_.Run(ctx, impl_.IssueToken(req->tenant_id()), resp);
  }
  grpc::Status DoRevokeToken(grpc::ServerContext* ctx, const v1::RevokeTokenRequest* req,
                             v1::RevokeTokenResponse* resp) {
    if (grpc::Status s = impl_.Admin(ctx); !s.ok()) {
      return s;
    }
    return impl_.Run(ctx, impl_.RevokeToken(req->tenant_id(), req->token_id()), resp);
  }
  grpc::Status DoListTenants(grpc::ServerContext* ctx, const v1::ListTenantsRequest* /*req*/,
                             v1::ListTenantsResponse* resp) {
    if (grpc::Status s = impl_.Admin(ctx); !s.ok()) {
      return s;
    }
    return impl_.Run(ctx, impl_.ListTenants(), resp);
  }

 private:
  ApiServer::Impl& impl_;
};

class DomainServiceImpl final : public v1::DomainService::Service {
 public:
  explicit DomainServiceImpl(ApiServer::Impl& impl) : impl_(impl) {}
  grpc::Status AddDomain(grpc::ServerContext* ctx, const v1::AddDomainRequest* req,
                         v1::DomainSummary* resp) override {
    return impl_.Timed("AddDomain", [&] { return DoAddDomain(ctx, req, resp); });
  }
  grpc::Status RemoveDomain(grpc::ServerContext* ctx, const v1::RemoveDomainRequest* req,
                            v1::RemoveDomainResponse* resp) override {
    return impl_.Timed("RemoveDomain", [&] { return DoRemoveDomain(ctx, req, resp); });
  }
  grpc::Status ListDomains(grpc::ServerContext* ctx, const v1::ListDomainsRequest* req,
                           v1::ListDomainsResponse* resp) override {
    return impl_.Timed("ListDomains", [&] { return DoListDomains(ctx, req, resp); });
  }
  grpc::Status GetDomain(grpc::ServerContext* ctx, const v1::GetDomainRequest* req,
                         v1::DomainDetail* resp) override {
    return impl_.Timed("GetDomain", [&] { return DoGetDomain(ctx, req, resp); });
  }
  grpc::Status ImportDomains(grpc::ServerContext* ctx,
                             grpc::ServerReader<v1::ImportDomainsRequest>* reader,
                             v1::ImportDomainsResponse* resp) override {
    return impl_.Timed("ImportDomains", [&] { return DoImportDomains(ctx, reader, resp); });
  }
  grpc::Status UpdateDomainSettings(grpc::ServerContext* ctx,
                                    const v1::UpdateDomainSettingsRequest* req,
                                    v1::DomainSummary* resp) override {
    return impl_.Timed("UpdateDomainSettings",
                       [&] { return DoUpdateDomainSettings(ctx, req, resp); });
  }
  grpc::Status ListEvents(grpc::ServerContext* ctx, const v1::ListEventsRequest* req,
                          v1::ListEventsResponse* resp) override {
    return impl_.Timed("ListEvents", [&] { return DoListEvents(ctx, req, resp); });
  }
  grpc::Status CheckNow(grpc::ServerContext* ctx, const v1::CheckNowRequest* req,
                        v1::DomainDetail* resp) override {
    return impl_.Timed("CheckNow", [&] { return DoCheckNow(ctx, req, resp); });
  }

 private:
  grpc::Status DoAddDomain(grpc::ServerContext* ctx, const v1::AddDomainRequest* req,
                           v1::DomainSummary* resp) {
    std::string tenant;
    if (grpc::Status s = impl_.Authenticate(ctx, &tenant); !s.ok()) {
      return s;
    }
    grpc::Status s = impl_.Run(ctx, impl_.Add(tenant, req->domain(), req->settings()), resp);
    Changed(s);
    return s;
  }
  grpc::Status DoRemoveDomain(grpc::ServerContext* ctx, const v1::RemoveDomainRequest* req,
                              v1::RemoveDomainResponse* resp) {
    std::string tenant;
    if (grpc::Status s = impl_.Authenticate(ctx, &tenant); !s.ok()) {
      return s;
    }
    grpc::Status s = impl_.Run(ctx, impl_.Remove(tenant, req->domain()), resp);
    Changed(s);
    return s;
  }
  grpc::Status DoListDomains(grpc::ServerContext* ctx, const v1::ListDomainsRequest* req,
                             v1::ListDomainsResponse* resp) {
    std::string tenant;
    if (grpc::Status s = impl_.Authenticate(ctx, &tenant); !s.ok()) {
      return s;
    }
    return impl_.Run(ctx, impl_.List(tenant, *req), resp);
  }
  grpc::Status DoGetDomain(grpc::ServerContext* ctx, const v1::GetDomainRequest* req,
                           v1::DomainDetail* resp) {
    std::string tenant;
    if (grpc::Status s = impl_.Authenticate(ctx, &tenant); !s.ok()) {
      return s;
    }
    grpc::Status s = impl_.Run(ctx, impl_.Detail(tenant, req->domain()), resp);
    if (s.ok()) {
      // Settings and labels are the tenant's own.
      v1::DomainSummary summary;
      if (impl_.Run(ctx, impl_.SummaryOf(tenant, resp->summary().domain()), &summary).ok()) {
        *resp->mutable_summary()->mutable_settings() = summary.settings();
      }
    }
    return s;
  }
  grpc::Status DoImportDomains(grpc::ServerContext* ctx,
                               grpc::ServerReader<v1::ImportDomainsRequest>* reader,
                               v1::ImportDomainsResponse* resp) {
    std::string tenant;
    if (grpc::Status s = impl_.Authenticate(ctx, &tenant); !s.ok()) {
      return s;
    }
    v1::ImportDomainsRequest batch;
    std::size_t total = 0;
    while (reader->Read(&batch)) {
      total += static_cast<std::size_t>(batch.domains_size());
      if (total > kMaxImport) {
        return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                            "at most 1000000 domains in one import");
      }
      v1::ImportDomainsResponse part;
      std::vector<std::string> names(batch.domains().begin(), batch.domains().end());
      grpc::Status s = impl_.Run(ctx, impl_.Import(tenant, names, batch.settings()), &part);
      if (!s.ok()) {
        return s;
      }
      resp->set_added(resp->added() + part.added());
      resp->set_unchanged(resp->unchanged() + part.unchanged());
      for (const v1::ImportError& e : part.errors()) {
        *resp->add_errors() = e;
      }
    }
    Changed(grpc::Status::OK);
    return grpc::Status::OK;
  }
  grpc::Status DoUpdateDomainSettings(grpc::ServerContext* ctx,
                                      const v1::UpdateDomainSettingsRequest* req,
                                      v1::DomainSummary* resp) {
    std::string tenant;
    if (grpc::Status s = impl_.Authenticate(ctx, &tenant); !s.ok()) {
      return s;
    }
    grpc::Status s = impl_.Run(ctx, impl_.Update(tenant, req->domain(), req->settings()), resp);
    Changed(s);
    return s;
  }
  grpc::Status DoListEvents(grpc::ServerContext* ctx, const v1::ListEventsRequest* req,
                            v1::ListEventsResponse* resp) {
    std::string tenant;
    if (grpc::Status s = impl_.Authenticate(ctx, &tenant); !s.ok()) {
      return s;
    }
    return impl_.Run(ctx, impl_.Events(tenant, *req), resp);
  }
  grpc::Status DoCheckNow(grpc::ServerContext* ctx, const v1::CheckNowRequest* req,
                          v1::DomainDetail* resp) {
    std::string tenant;
    if (grpc::Status s = impl_.Authenticate(ctx, &tenant); !s.ok()) {
      return s;
    }
    return impl_.Run(ctx, impl_.Check(tenant, req->domain()), resp);
  }
  grpc::Status WatchEvents(grpc::ServerContext* ctx, const v1::WatchEventsRequest* req,
                           grpc::ServerWriter<v1::WatchEventsResponse>* writer) override {
    return impl_.Timed("WatchEvents", [&] { return DoWatchEvents(ctx, req, writer); });
  }
  grpc::Status DoWatchEvents(grpc::ServerContext* ctx, const v1::WatchEventsRequest* req,
                             grpc::ServerWriter<v1::WatchEventsResponse>* writer);

 private:
  void Changed(const grpc::Status& s) {
    if (s.ok() && impl_.domains_changed) {
      asio::post(impl_.io, impl_.domains_changed);
    }
  }

  ApiServer::Impl& impl_;
};

// One watch: its own Redis connection on the shared io_context, a blocking XREAD over every
// partition's events stream, the tenant's domains refreshed every few seconds.
class AlertServiceImpl final : public v1::AlertService::Service {
 public:
  explicit AlertServiceImpl(ApiServer::Impl& impl) : impl_(impl) {}
  grpc::Status GetAlertSettings(grpc::ServerContext* ctx,
                                const v1::GetAlertSettingsRequest* /*req*/,
                                v1::AlertSettings* resp) override {
    return impl_.TenantCall("GetAlertSettings", ctx, resp, [&](const std::string& tenant) {
      return impl_.GetAlertSettings(tenant);
    });
  }
  grpc::Status SetAlertSettings(grpc::ServerContext* ctx, const v1::AlertSettings* req,
                                v1::AlertSettings* resp) override {
    return impl_.TenantCall("SetAlertSettings", ctx, resp, [&](const std::string& tenant) {
      return impl_.SetAlertSettings(tenant, *req);
    });
  }
  grpc::Status ListOpenAlerts(grpc::ServerContext* ctx, const v1::ListOpenAlertsRequest* req,
                              v1::ListOpenAlertsResponse* resp) override {
    return impl_.TenantCall("ListOpenAlerts", ctx, resp, [&](const std::string& tenant) {
      return impl_.OpenAlerts(tenant, req->domain());
    });
  }
  grpc::Status ListDeliveries(grpc::ServerContext* ctx, const v1::ListDeliveriesRequest* req,
                              v1::ListDeliveriesResponse* resp) override {
    return impl_.TenantCall("ListDeliveries", ctx, resp, [&](const std::string& tenant) {
      return impl_.Deliveries(tenant, req->which(), req->limit());
    });
  }

 private:
  ApiServer::Impl& impl_;
};

class ReportServiceImpl final : public v1::ReportService::Service {
 public:
  explicit ReportServiceImpl(ApiServer::Impl& impl) : impl_(impl) {}
  grpc::Status GetReportAggregates(grpc::ServerContext* ctx,
                                   const v1::GetReportAggregatesRequest* req,
                                   v1::GetReportAggregatesResponse* resp) override {
    return impl_.TenantCall("GetReportAggregates", ctx, resp, [&](const std::string& tenant) {
      return impl_.ReportAggregates(tenant, *req);
    });
  }
  grpc::Status GetReadiness(grpc::ServerContext* ctx, const v1::GetReadinessRequest* req,
                            v1::Readiness* resp) override {
    return impl_.TenantCall("GetReadiness", ctx, resp, [&](const std::string& tenant) {
      return impl_.Readiness(tenant, *req);
    });
  }
  grpc::Status PromotePolicy(grpc::ServerContext* ctx, const v1::PromotePolicyRequest* req,
                             v1::PromotePolicyResponse* resp) override {
    return impl_.TenantCall("PromotePolicy", ctx, resp,
                            [&](const std::string& tenant) { return impl_.Promote(tenant, *req); });
  }

 private:
  ApiServer::Impl& impl_;
};

class Watch {
 public:
  Watch(ApiServer::Impl& impl, std::string tenant, EventCursor cursor)
      : impl_(impl),
        tenant_(std::move(tenant)),
        cursor_(std::move(cursor)),
        client_(impl.io.get_executor(), impl.endpoint) {}

  // Reads the next batch of events (at most one second's wait); the tenant's only.
  asio::awaitable<absl::StatusOr<std::vector<v1::WatchEventsResponse>>> Next() {
    std::vector<v1::WatchEventsResponse> out;
    if (!client_.connected()) {
      asio::steady_timer timer(impl_.io, std::chrono::milliseconds(100));
      co_await timer.async_wait(asio::use_awaitable);
      co_return out;
    }
    if (std::chrono::steady_clock::now() - owned_at_ > std::chrono::seconds(5)) {
      // Ownership is re-checked every few seconds: a domain removed stops showing.
      owned_.clear();
      owned_at_ = std::chrono::steady_clock::now();
    }
    std::vector<std::string> args =
        store::Command("XREAD", "COUNT", "200", "BLOCK", "1000", "STREAMS");
    const int partitions = impl_.options.keys.partitions();
    for (int p = 0; p < partitions; ++p) {
      args.push_back(impl_.options.keys.Events(p));
    }
    for (int p = 0; p < partitions; ++p) {
      args.push_back(cursor_.positions()[static_cast<std::size_t>(p)].ToString());
    }
    absl::StatusOr<RedisReply> reply = co_await client_.Await(std::move(args));
    if (!reply.ok()) {
      co_return out;  // Reconnecting; the cursor stays.
    }
    for (const RedisReply& stream : reply->elements) {
      if (stream.elements.size() != 2) {
        continue;
      }
      const std::string& key = stream.elements[0].str;
      int partition = -1;
      for (int p = 0; p < partitions; ++p) {
        if (impl_.options.keys.Events(p) == key) {
          partition = p;
        }
      }
      if (partition < 0) {
        continue;
      }
      for (const RedisReply& entry : stream.elements[1].elements) {
        if (entry.elements.size() != 2) {
          continue;
        }
        const auto id = StreamId::Parse(entry.elements[0].str);
        if (!id) {
          continue;
        }
        cursor_.Advance(partition, *id);
        std::string domain;
        std::string json;
        const auto& f = entry.elements[1].elements;
        for (std::size_t i = 0; i + 1 < f.size(); i += 2) {
          if (f[i].str == "domain") {
            domain = f[i + 1].str;
          } else if (f[i].str == "event") {
            json = f[i + 1].str;
          }
        }
        auto known = owned_.find(domain);
        if (known == owned_.end()) {
          absl::StatusOr<bool> owns = co_await impl_.registry.Owns(tenant_, domain);
          if (!owns.ok()) {
            co_return owns.status();
          }
          known = owned_.emplace(domain, *owns).first;
        }
        if (!known->second) {
          continue;
        }
        absl::StatusOr<v1::DriftEvent> e = ParseEvent(json);
        if (!e.ok()) {
          continue;
        }
        v1::WatchEventsResponse r;
        *r.mutable_event() = std::move(*e);
        r.set_cursor(cursor_.Encode());
        out.push_back(std::move(r));
      }
    }
    co_return out;
  }

  store::RedisClient& Client() { return client_; }

 private:
  ApiServer::Impl& impl_;
  std::string tenant_;
  EventCursor cursor_;
  store::RedisClient client_;
  std::map<std::string, bool> owned_;
  std::chrono::steady_clock::time_point owned_at_{};
};

grpc::Status DomainServiceImpl::DoWatchEvents(grpc::ServerContext* ctx,
                                              const v1::WatchEventsRequest* req,
                                              grpc::ServerWriter<v1::WatchEventsResponse>* writer) {
  std::string tenant;
  if (grpc::Status s = impl_.Authenticate(ctx, &tenant); !s.ok()) {
    return s;
  }
  std::optional<EventCursor> cursor;
  if (!req->cursor().empty()) {
    absl::StatusOr<EventCursor> decoded =
        EventCursor::Decode(req->cursor(), impl_.options.keys.partitions());
    if (!decoded.ok()) {
      return ToGrpc(decoded.status());
    }
    cursor = std::move(*decoded);
  } else {
    EventCursor tails({});
    grpc::Status s = impl_.Run(ctx, impl_.Tails(), &tails);
    if (!s.ok()) {
      return s;
    }
    cursor = std::move(tails);
  }
  if (impl_.watches.fetch_add(1) >= impl_.options.max_watches) {
    impl_.watches.fetch_sub(1);
    return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                        "too many watch streams on this server; try again later");
  }
  // The watch lives on the io_context; created and destroyed there.
  std::shared_ptr<Watch> watch;
  {
    std::promise<void> made;
    asio::post(impl_.io, [&] {
      watch = std::make_shared<Watch>(impl_, tenant, std::move(*cursor));
      watch->Client().Start();
      made.set_value();
    });
    made.get_future().wait();
  }
  grpc::Status result = grpc::Status::OK;
  // Watch streams have no deadline of their own (the client's applies): they run until the
  // client goes or the server stops.
  const ApiOptions saved = impl_.options;
  while (!ctx->IsCancelled() && !impl_.stopping.load()) {
    auto promise =
        std::make_shared<std::promise<absl::StatusOr<std::vector<v1::WatchEventsResponse>>>>();
    auto future = promise->get_future();
    asio::co_spawn(impl_.io, watch->Next(),
                   [promise](const std::exception_ptr& e,
                             absl::StatusOr<std::vector<v1::WatchEventsResponse>> r) {
                     promise->set_value(e ? absl::InternalError("internal error") : std::move(r));
                   });
    absl::StatusOr<std::vector<v1::WatchEventsResponse>> batch = future.get();
    if (!batch.ok()) {
      result = ToGrpc(batch.status());
      break;
    }
    bool written = true;
    for (const v1::WatchEventsResponse& r : *batch) {
      if (!writer->Write(r)) {
        written = false;
        break;
      }
    }
    if (!written) {
      break;
    }
    if (std::chrono::system_clock::now() > ctx->deadline()) {
      result = grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, "the watch reached its deadline");
      break;
    }
  }
  {
    std::promise<void> gone;
    asio::post(impl_.io, [&] {
      watch->Client().Stop();
      watch.reset();
      gone.set_value();
    });
    gone.get_future().wait();
  }
  impl_.watches.fetch_sub(1);
  if (impl_.stopping.load()) {
    return grpc::Status(grpc::StatusCode::UNAVAILABLE, "the server is stopping; resume later");
  }
  return result;
}

// grpc.health.v1 from generated code (reflection can describe it): SERVING while the server
// runs, NOT_SERVING once it stops.
class HealthServiceImpl final : public grpc::health::v1::Health::Service {
 public:
  explicit HealthServiceImpl(ApiServer::Impl& impl) : impl_(impl) {}

  grpc::Status Check(grpc::ServerContext* /*ctx*/, const grpc::health::v1::HealthCheckRequest* req,
                     grpc::health::v1::HealthCheckResponse* resp) override {
    if (!Known(req->service())) {
      return grpc::Status(grpc::StatusCode::NOT_FOUND, "unknown service " + req->service());
    }
    resp->set_status(Current());
    return grpc::Status::OK;
  }

  grpc::Status Watch(grpc::ServerContext* ctx, const grpc::health::v1::HealthCheckRequest* req,
                     grpc::ServerWriter<grpc::health::v1::HealthCheckResponse>* writer) override {
    grpc::health::v1::HealthCheckResponse resp;
    resp.set_status(Known(req->service()) ? Current()
                                          : grpc::health::v1::HealthCheckResponse::SERVICE_UNKNOWN);
    if (!writer->Write(resp)) {
      return grpc::Status::OK;
    }
    while (!ctx->IsCancelled() && !impl_.stopping.load()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    if (impl_.stopping.load()) {
      resp.set_status(grpc::health::v1::HealthCheckResponse::NOT_SERVING);
      writer->Write(resp);
    }
    return grpc::Status::OK;
  }

 private:
  static bool Known(const std::string& service) {
    return service.empty() || service == "stswatch.v1.TenantService" ||
           service == "stswatch.v1.DomainService" || service == "stswatch.v1.AlertService" ||
           service == "stswatch.v1.ReportService";
  }
  grpc::health::v1::HealthCheckResponse::ServingStatus Current() const {
    return impl_.stopping.load() ? grpc::health::v1::HealthCheckResponse::NOT_SERVING
                                 : grpc::health::v1::HealthCheckResponse::SERVING;
  }

  ApiServer::Impl& impl_;
};

}  // namespace

ApiServer::ApiServer(asio::io_context& io, store::RedisClient& client,
                     store::RedisEndpoint endpoint, ApiOptions options, CheckNowFn check_now,
                     std::function<void()> domains_changed, Logger& log)
    : impl_(std::make_unique<Impl>(io, client, std::move(endpoint), std::move(options),
                                   std::move(check_now), std::move(domains_changed), log)) {}

ApiServer::~ApiServer() { Shutdown(std::chrono::milliseconds(100)); }

void ApiServer::SetMetrics(metrics::Metrics* metrics) { impl_->metrics = metrics; }

absl::Status ApiServer::Start() {
  // Our own grpc.health.v1 (below): the built-in one has no descriptor for reflection.
  grpc::EnableDefaultHealthCheckService(false);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  std::shared_ptr<grpc::ServerCredentials> creds = grpc::InsecureServerCredentials();
  const ApiOptions& o = impl_->options;
  if (!o.tls_cert_file.empty() || !o.tls_key_file.empty()) {
    const auto read = [](const std::string& path, std::string& out) {
      std::ifstream in(path);
      if (!in) {
        return false;
      }
      std::stringstream s;
      s << in.rdbuf();
      out = s.str();
      return true;
    };
    grpc::SslServerCredentialsOptions ssl;
    grpc::SslServerCredentialsOptions::PemKeyCertPair pair;
    if (!read(o.tls_cert_file, pair.cert_chain) || !read(o.tls_key_file, pair.private_key)) {
      return absl::InvalidArgumentError("cannot read the API's TLS certificate or key (" +
                                        o.tls_cert_file + ", " + o.tls_key_file + ")");
    }
    ssl.pem_key_cert_pairs.push_back(pair);
    creds = grpc::SslServerCredentials(ssl);
  }
  builder.AddListeningPort(o.listen, creds, &port_);
  impl_->tenant_service = std::make_unique<TenantServiceImpl>(*impl_);
  impl_->domain_service = std::make_unique<DomainServiceImpl>(*impl_);
  builder.RegisterService(impl_->tenant_service.get());
  builder.RegisterService(impl_->domain_service.get());
  impl_->alert_service = std::make_unique<AlertServiceImpl>(*impl_);
  builder.RegisterService(impl_->alert_service.get());
  impl_->report_service = std::make_unique<ReportServiceImpl>(*impl_);
  builder.RegisterService(impl_->report_service.get());
  impl_->health_service = std::make_unique<HealthServiceImpl>(*impl_);
  builder.RegisterService(impl_->health_service.get());
  builder.SetMaxReceiveMessageSize(4 * 1024 * 1024);
  builder.SetMaxSendMessageSize(16 * 1024 * 1024);
  impl_->server = builder.BuildAndStart();
  if (!impl_->server || port_ == 0) {
    return absl::UnavailableError("cannot listen on " + o.listen + " (address in use?)");
  }
  return absl::OkStatus();
}

void AwaitGrpcShutdown(std::chrono::milliseconds limit) {
  const auto until = std::chrono::steady_clock::now() + limit;
  while (grpc_is_initialized() != 0 && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

void ApiServer::Shutdown(std::chrono::milliseconds grace) {
  if (!impl_->server) {
    return;
  }
  impl_->stopping = true;
  impl_->server->Shutdown(std::chrono::system_clock::now() + grace);
  impl_->server.reset();
}

}  // namespace stswatch::api
