#include "alerting/alerter.h"

#include <algorithm>
#include <utility>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include "api/redis_ops.h"
#include "common/stable_hash.h"
#include "metrics/metrics.h"
#include "store/command.h"

namespace stswatch::alerting {
namespace {

namespace asio = boost::asio;
using store::RedisReply;

constexpr std::chrono::milliseconds kBlock{1000};
constexpr std::chrono::milliseconds kRestartDelay{2000};

std::int64_t UnixMs(Time t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

// The tenants of a watch hash entry ({"interval_s": N, "tenants": {"t-…": N, …}}).
std::vector<std::string> TenantsOf(const RedisReply& r) {
  std::vector<std::string> out;
  if (r.type != RedisReply::Type::kString) {
    return out;
  }
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(r.str, ec);
  if (ec || !v.is_object()) {
    return out;
  }
  const boost::json::value* tenants = v.get_object().if_contains("tenants");
  if (tenants == nullptr || !tenants->is_object()) {
    return out;
  }
  for (const auto& kv : tenants->get_object()) {
    out.emplace_back(kv.key());
  }
  return out;
}

}  // namespace

Alerter::Alerter(asio::io_context& io, store::RedisClient& client, store::RedisEndpoint endpoint,
                 prober::DnsResolver& resolver, asio::ssl::context& tls,
                 prober::AddressFilter filter, const TimeSource& clock, Logger& log,
                 AlerterOptions options)
    : io_(io),
      client_(client),
      reader_(io.get_executor(), std::move(endpoint)),
      resolver_(resolver),
      tls_(tls),
      filter_(std::move(filter)),
      clock_(clock),
      log_(log),
      options_(std::move(options)),
      store_(client, AlertKeys(options_.keys.prefix())),
      lease_(io.get_executor(), client,
             [this] {
               scheduler::LeaseOptions lease;
               lease.key = store_.keys().Lease();
               lease.epoch_key = store_.keys().Epoch();
               if (options_.consumer.empty()) {
                 options_.consumer = scheduler::DefaultLeaseHolderId();
               }
               lease.holder = options_.consumer;
               lease.duration = options_.lease_duration;
               return lease;
             }()),
      wake_(io),
      random_state_(Mix64(static_cast<std::uint64_t>(
          std::chrono::steady_clock::now().time_since_epoch().count()))) {}

Alerter::~Alerter() {
  ++generation_;
  reader_.Stop();
}

void Alerter::Start() {
  reader_.Start();
  lease_.SetOnAcquired([this](std::uint32_t epoch) {
    lease_value_ = options_.consumer + "|" + std::to_string(epoch);
    active_ = true;
    const std::uint64_t generation = ++generation_;
    LogActive(epoch);
    asio::co_spawn(io_, Run(generation), asio::detached);
    asio::co_spawn(io_, DeliveryLoop(generation), asio::detached);
  });
  lease_.SetOnLost([this](const std::string& reason) {
    active_ = false;
    loaded_ = false;
    ++generation_;
    wake_.cancel();
    LogLost(reason);
  });
  lease_.Start();
}

void Alerter::Stop(std::function<void()> done) {
  stopped_ = true;
  active_ = false;
  ++generation_;
  wake_.cancel();
  reader_.Stop();
  lease_.Stop(std::move(done));
}

bool Alerter::Current(std::uint64_t generation) const {
  return !stopped_ && generation == generation_ && lease_.holding();
}

asio::awaitable<void> Alerter::Sleep(std::chrono::milliseconds d) {
  asio::steady_timer timer(io_);
  timer.expires_after(d);
  boost::system::error_code ec;
  co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
}

asio::awaitable<void> Alerter::Run(std::uint64_t generation) {
  while (Current(generation)) {
    const absl::Status s = co_await RunOnce(generation);
    if (!Current(generation)) {
      break;
    }
    loaded_ = false;
    LogProblem("alerter.restart", std::string(s.message()));
    co_await Sleep(kRestartDelay);
  }
}

asio::awaitable<absl::Status> Alerter::RunOnce(std::uint64_t generation) {
  if (absl::Status s = co_await EnsureGroups(); !s.ok()) {
    co_return s;
  }
  if (absl::Status s = co_await LoadState(); !s.ok()) {
    co_return s;
  }
  loaded_ = true;
  Wake();
  if (absl::Status s = co_await Reclaim(generation); !s.ok()) {
    co_return s;
  }
  const int partitions = options_.keys.partitions();
  while (Current(generation)) {
    const auto steady = std::chrono::steady_clock::now();
    // Settings changed through the API are taken within a second; all are re-read now and then
    // anyway (a change made by hand in Redis).
    absl::StatusOr<std::string> version = co_await store_.SettingsVersion();
    if (!version.ok()) {
      co_return version.status();
    }
    if (steady >= next_settings_ || *version != settings_version_) {
      settings_version_ = *version;
      if (absl::Status s = co_await RefreshSettings(); !s.ok()) {
        co_return s;
      }
    }
    if (steady >= next_tick_) {
      next_tick_ = steady + options_.tick;
      if (absl::Status s = co_await Tick(); !s.ok()) {
        co_return s;
      }
    }
    std::vector<std::string> read = store::Command(
        "XREADGROUP", "GROUP", options_.group, options_.consumer, "COUNT",
        std::to_string(options_.read_count), "BLOCK", std::to_string(kBlock.count()), "STREAMS");
    for (int p = 0; p < partitions; ++p) {
      read.push_back(options_.keys.Events(p));
    }
    for (int p = 0; p < partitions; ++p) {
      read.emplace_back(">");
    }
    absl::StatusOr<RedisReply> reply = co_await reader_.Await(std::move(read));
    if (!Current(generation)) {
      break;
    }
    if (!reply.ok() || reply->type == RedisReply::Type::kError) {
      co_return absl::UnavailableError(
          "reading the events streams failed: " +
          (reply.ok() ? reply->str : std::string(reply.status().message())));
    }
    if (reply->type != RedisReply::Type::kArray) {
      continue;  // Nothing new within the block time.
    }
    std::vector<Entry> entries;
    for (const RedisReply& stream : reply->elements) {
      if (stream.type != RedisReply::Type::kArray || stream.elements.size() != 2) {
        continue;
      }
      const std::string& key = stream.elements[0].str;
      int partition = 0;
      for (int p = 0; p < partitions; ++p) {
        if (options_.keys.Events(p) == key) {
          partition = p;
        }
      }
      std::vector<Entry> more = ParseEntries(stream.elements[1], key, partition);
      entries.insert(entries.end(), more.begin(), more.end());
    }
    if (!entries.empty()) {
      if (absl::Status s = co_await Process(std::move(entries)); !s.ok()) {
        co_return s;
      }
    }
  }
  co_return absl::OkStatus();
}

std::vector<Alerter::Entry> Alerter::ParseEntries(const RedisReply& list, const std::string& stream,
                                                  int partition) const {
  std::vector<Entry> out;
  if (list.type != RedisReply::Type::kArray) {
    return out;
  }
  for (const RedisReply& e : list.elements) {
    if (e.type != RedisReply::Type::kArray || e.elements.empty()) {
      continue;
    }
    Entry entry;
    entry.stream = stream;
    entry.partition = partition;
    entry.id = e.elements[0].str;
    if (e.elements.size() > 1) {
      entry.fields = FieldPairs(e.elements[1]);
    }
    out.push_back(std::move(entry));
  }
  return out;
}

asio::awaitable<absl::Status> Alerter::EnsureGroups() {
  std::vector<std::vector<std::string>> commands;
  commands.reserve(options_.keys.partitions());
  for (int p = 0; p < options_.keys.partitions(); ++p) {
    // From the start of what the stream keeps: events written before the first alerter ran are
    // not lost.
    commands.push_back(store::Command("XGROUP", "CREATE", options_.keys.Events(p), options_.group,
                                      "0", "MKSTREAM"));
  }
  for (std::vector<std::string>& c : commands) {
    absl::StatusOr<RedisReply> r = co_await client_.Await(std::move(c));
    if (!r.ok()) {
      co_return r.status();
    }
    if (r->type == RedisReply::Type::kError && !r->str.starts_with("BUSYGROUP")) {
      co_return absl::UnavailableError("creating the consumer group failed: " + r->str);
    }
  }
  co_return absl::OkStatus();
}

asio::awaitable<absl::Status> Alerter::LoadState() {
  if (absl::Status s = co_await RefreshSettings(); !s.ok()) {
    co_return s;
  }
  absl::StatusOr<std::map<std::string, std::string>> books = co_await store_.AllBooks();
  if (!books.ok()) {
    co_return books.status();
  }
  books_.clear();
  for (auto& [key, json] : *books) {
    absl::StatusOr<AlertBook> book = AlertBook::FromJson(json);
    if (!book.ok()) {
      // Refusing to start would stop every tenant's alerts; starting this book afresh loses
      // only its open alerts' threading. Say so loudly.
      LogProblem("alerter.state_unreadable", key + ": " + std::string(book.status().message()));
      continue;
    }
    books_.emplace(key, std::move(*book));
  }
  std::vector<std::string> errors;
  absl::StatusOr<std::vector<Delivery>> pending = co_await store_.PendingDeliveries(&errors);
  if (!pending.ok()) {
    co_return pending.status();
  }
  for (const std::string& e : errors) {
    LogProblem("alerter.delivery_unreadable", e);
  }
  queue_.clear();
  for (Delivery& d : *pending) {
    queue_.emplace(d.id, std::move(d));
  }
  next_tick_ = std::chrono::steady_clock::now();
  co_return absl::OkStatus();
}

asio::awaitable<absl::Status> Alerter::RefreshSettings() {
  std::vector<std::string> errors;
  absl::StatusOr<std::map<std::string, AlertSettings>> all = co_await store_.AllSettings(&errors);
  if (!all.ok()) {
    co_return all.status();
  }
  for (const std::string& e : errors) {
    LogProblem("alerter.settings_unreadable", e);
  }
  settings_ = std::move(*all);
  if (options_.operator_settings) {
    settings_[std::string(kOperatorTenant)] = *options_.operator_settings;
  }
  for (auto& [key, book] : books_) {
    book.SetTenantPolicy(SettingsOf(TenantOfBook(key)).policy);
  }
  next_settings_ = std::chrono::steady_clock::now() + options_.settings_refresh;
  co_return absl::OkStatus();
}

const AlertSettings& Alerter::SettingsOf(const std::string& tenant) {
  auto it = settings_.find(tenant);
  if (it == settings_.end()) {
    it = settings_.emplace(tenant, DefaultSettings(tenant)).first;
  }
  return it->second;
}

AlertBook& Alerter::BookOf(const std::string& key) {
  auto it = books_.find(key);
  if (it == books_.end()) {
    it = books_.emplace(key, AlertBook()).first;
    it->second.SetTenantPolicy(SettingsOf(TenantOfBook(key)).policy);
  }
  return it->second;
}

asio::awaitable<absl::Status> Alerter::Reclaim(std::uint64_t generation) {
  // Entries delivered to a consumer that never acknowledged them (an alerter that crashed, or
  // ourselves before a restart): ours now, processed before anything new.
  for (int p = 0; p < options_.keys.partitions() && Current(generation); ++p) {
    std::string cursor = "0-0";
    for (int round = 0; round < 100000 && Current(generation); ++round) {
      absl::StatusOr<RedisReply> r = co_await client_.Await(
          store::Command("XAUTOCLAIM", options_.keys.Events(p), options_.group, options_.consumer,
                         "0", cursor, "COUNT", std::to_string(options_.read_count)));
      if (!r.ok()) {
        co_return r.status();
      }
      if (r->type != RedisReply::Type::kArray || r->elements.size() < 2) {
        co_return absl::UnavailableError("XAUTOCLAIM failed: " + r->str);
      }
      std::vector<Entry> entries = ParseEntries(r->elements[1], options_.keys.Events(p), p);
      // Entries deleted from the stream meanwhile (trimmed): nothing to process, acknowledge.
      if (r->elements.size() > 2 && r->elements[2].type == RedisReply::Type::kArray) {
        for (const RedisReply& id : r->elements[2].elements) {
          Entry e;
          e.stream = options_.keys.Events(p);
          e.partition = p;
          e.id = id.str;
          entries.push_back(std::move(e));
        }
      }
      if (!entries.empty()) {
        if (absl::Status s = co_await Process(std::move(entries)); !s.ok()) {
          co_return s;
        }
      }
      cursor = r->elements[0].str;
      if (cursor == "0-0") {
        break;
      }
    }
  }
  co_return absl::OkStatus();
}

asio::awaitable<absl::Status> Alerter::Process(std::vector<Entry> entries) {
  // Which tenants watch each event's domain: one pipelined HGET per entry.
  std::vector<std::vector<std::string>> lookups;
  std::vector<absl::StatusOr<drift::Event>> events;
  lookups.reserve(entries.size());
  events.reserve(entries.size());
  for (const Entry& e : entries) {
    auto it = e.fields.find("event");
    if (it == e.fields.end()) {
      events.emplace_back(absl::NotFoundError("the entry has no event (deleted or malformed)"));
    } else {
      events.push_back(drift::EventFromJson(it->second));
    }
    const std::string domain = events.back().ok() ? events.back()->domain : std::string("-");
    lookups.push_back(store::Command("HGET", options_.keys.Watch(e.partition), domain));
  }
  absl::StatusOr<std::vector<RedisReply>> watch =
      co_await api::Pipeline(client_, std::move(lookups));
  if (!watch.ok()) {
    co_return watch.status();
  }
  const Time now = clock_.Now();
  CommitBatch batch;
  std::set<std::string> touched;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    batch.acks.emplace_back(entries[i].stream, entries[i].id);
    if (!events[i].ok()) {
      if (!entries[i].fields.empty()) {
        LogBadEntry(entries[i], std::string(events[i].status().message()));
      }
      continue;
    }
    std::vector<std::string> tenants = TenantsOf((*watch)[i]);
    if (options_.operator_settings) {
      tenants.emplace_back(kOperatorTenant);
    }
    for (const std::string& tenant : tenants) {
      const AlertSettings& settings = SettingsOf(tenant);
      const std::string key = BookKey(tenant, entries[i].partition);
      AlertBook& book = BookOf(key);
      touched.insert(key);
      // An event read long after it was written (a first start on a stream's history, an
      // alerter down for hours) only moves the state: what is still open is said at the tick.
      const bool fresh = now - events[i]->time <= options_.catch_up_after;
      for (const Notification& n : book.OnEvent(settings.policy, *events[i], now, fresh)) {
        std::vector<Delivery> planned = PlanDeliveries(n, settings, options_.email, now);
        LogNotification(n, planned.size());
        batch.deliveries.insert(batch.deliveries.end(), planned.begin(), planned.end());
      }
    }
  }
  for (const std::string& key : touched) {
    // What the batch made due beyond its events' own notifications: a status alert no more
    // precise alert of the same check explains (AlertBook::Covered).
    AlertBook& book = books_.at(key);
    for (const Notification& n : book.OnTick(now)) {
      std::vector<Delivery> planned =
          PlanDeliveries(n, SettingsOf(TenantOfBook(key)), options_.email, now);
      LogNotification(n, planned.size());
      batch.deliveries.insert(batch.deliveries.end(), planned.begin(), planned.end());
    }
    batch.books[key] = book.ToJson();
  }
  co_return co_await Commit(std::move(batch));
}

asio::awaitable<absl::Status> Alerter::Tick() {
  const Time now = clock_.Now();
  CommitBatch batch;
  for (auto& [key, book] : books_) {
    std::vector<Notification> due = book.OnTick(now);
    if (due.empty()) {
      continue;
    }
    const AlertSettings& settings = SettingsOf(TenantOfBook(key));
    for (const Notification& n : due) {
      std::vector<Delivery> planned = PlanDeliveries(n, settings, options_.email, now);
      LogNotification(n, planned.size());
      batch.deliveries.insert(batch.deliveries.end(), planned.begin(), planned.end());
    }
    batch.books[key] = book.ToJson();
  }
  if (batch.books.empty()) {
    co_return absl::OkStatus();
  }
  co_return co_await Commit(std::move(batch));
}

asio::awaitable<absl::Status> Alerter::Commit(CommitBatch batch) {
  std::vector<Delivery> deliveries = batch.deliveries;
  const absl::Status s = co_await store_.Commit(lease_value_, options_.group, std::move(batch));
  if (!s.ok()) {
    // The books in memory are ahead of Redis now: RunOnce restarts from the stored state and
    // the events still pending.
    co_return s;
  }
  for (const Delivery& d : deliveries) {
    Queue(d);
  }
  if (!deliveries.empty()) {
    Wake();
  }
  co_return absl::OkStatus();
}

void Alerter::Queue(const Delivery& d) { queue_.emplace(d.id, d); }

void Alerter::Wake() {
  if (metrics_ != nullptr) {
    metrics_->SetAlertDeliveriesPending(queue_.size());
  }
  wake_.cancel();
}

asio::awaitable<void> Alerter::DeliveryLoop(std::uint64_t generation) {
  while (Current(generation)) {
    std::chrono::milliseconds wait{1000};
    if (loaded_) {
      wait = LaunchDue(generation);
    }
    wake_.expires_after(
        std::clamp(wait, std::chrono::milliseconds(1), std::chrono::milliseconds(1000)));
    boost::system::error_code ec;
    co_await wake_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
}

std::chrono::milliseconds Alerter::LaunchDue(std::uint64_t generation) {
  const Time now = clock_.Now();
  const std::int64_t now_ms = UnixMs(now);
  // The earliest notification of each (tenant, channel, alert) not done with: later ones wait.
  std::map<std::string, std::uint32_t> first;
  for (const auto& [id, d] : queue_) {
    const std::string key = d.tenant + "/" + d.channel + "/" + d.alert_id;
    auto [it, fresh] = first.try_emplace(key, d.sequence);
    if (!fresh) {
      it->second = std::min(it->second, d.sequence);
    }
  }
  std::int64_t next_ms = now_ms + 1000;
  for (auto& [id, d] : queue_) {
    if (in_flight_.size() >= options_.max_in_flight) {
      break;
    }
    if (in_flight_.contains(id) ||
        first[d.tenant + "/" + d.channel + "/" + d.alert_id] != d.sequence) {
      continue;
    }
    if (d.next_ms > now_ms) {
      next_ms = std::min(next_ms, d.next_ms);
      continue;
    }
    const AlertSettings& settings = SettingsOf(d.tenant);
    const Channel* channel = settings.FindChannel(d.channel);
    if (channel != nullptr) {
      Time retry_at;
      if (!limiter_.TryTake(d.tenant + "/" + d.channel, channel->max_per_hour, now, &retry_at)) {
        d.next_ms = UnixMs(retry_at);  // In memory only: a rate limit is not an attempt.
        next_ms = std::min(next_ms, d.next_ms);
        if (limited_logged_.insert(d.tenant + "/" + d.channel).second) {
          LogOutcome(d, Outcome::kRetry, "rate limit of the channel reached",
                     std::chrono::milliseconds(d.next_ms - now_ms));
        }
        continue;
      }
      limited_logged_.erase(d.tenant + "/" + d.channel);
    }
    in_flight_.insert(id);
    asio::co_spawn(io_, Attempt(generation, d), asio::detached);
  }
  return std::chrono::milliseconds(std::max<std::int64_t>(next_ms - now_ms, 1));
}

asio::awaitable<void> Alerter::Attempt(std::uint64_t generation, Delivery d) {
  bool permanent = false;
  std::pair<bool, std::string> sent = co_await Send(d, &permanent);
  const Time now = clock_.Now();
  const std::int64_t now_ms = UnixMs(now);
  ++d.attempts;
  Outcome outcome = Outcome::kDelivered;
  std::chrono::milliseconds delay{0};
  if (!sent.first) {
    d.last_error = sent.second;
    const bool expired = now_ms - d.created_ms >= options_.retry.give_up_after.count();
    if (permanent || expired) {
      outcome = Outcome::kDead;
      if (expired && !permanent) {
        sent.second = "gave up after " + std::to_string(d.attempts) + " attempts: " + sent.second;
      }
    } else {
      outcome = Outcome::kRetry;
      random_state_ = Mix64(random_state_ + 0x9e3779b97f4a7c15ULL);
      const double unit = static_cast<double>(random_state_ >> 11) / 9007199254740992.0;
      delay = RetryDelay(d.attempts, options_.retry, unit);
      d.next_ms = now_ms + delay.count();
    }
  }
  // Record it; a Redis failure here must not make us send again, so keep trying while active.
  bool recorded = false;
  for (int i = 0; i < 60 && Current(generation); ++i) {
    absl::StatusOr<bool> r =
        co_await store_.RecordOutcome(lease_value_, d, outcome, now_ms, sent.second);
    if (r.ok()) {
      recorded = true;
      break;
    }
    LogProblem("alerter.outcome_not_recorded", std::string(r.status().message()));
    if (absl::IsFailedPrecondition(r.status())) {
      break;
    }
    co_await Sleep(std::chrono::milliseconds(1000));
  }
  in_flight_.erase(d.id);
  if (!Current(generation)) {
    co_return;
  }
  LogOutcome(d, outcome, sent.second, delay);
  if (outcome == Outcome::kRetry) {
    queue_[d.id] = d;
  } else {
    // Done with. If the outcome could not be recorded, the stored copy is attempted again once
    // a restart reloads the queue from Redis.
    if (!recorded) {
      LogProblem("alerter.outcome_not_recorded", "delivery " + d.id + " will be attempted again");
    }
    queue_.erase(d.id);
  }
  Wake();
}

asio::awaitable<std::pair<bool, std::string>> Alerter::Send(const Delivery& d, bool* permanent) {
  const AlertSettings& settings = SettingsOf(d.tenant);
  const Channel* channel = settings.FindChannel(d.channel);
  if (channel == nullptr) {
    *permanent = true;
    co_return std::make_pair(false, "the channel " + d.channel + " no longer exists");
  }
  if (d.type == ChannelType::kEmail) {
    if (!options_.relay) {
      *permanent = true;
      co_return std::make_pair(false, std::string("no SMTP relay is configured (--smtp-relay)"));
    }
    SendResult r = co_await SendMail(tls_, *options_.relay, d.mail_from, d.recipients, d.payload);
    *permanent = r.permanent;
    co_return std::make_pair(r.ok, r.ok ? r.reply : r.error);
  }
  WebhookRequest request;
  request.url = channel->webhook_url;
  request.allow_http = channel->allow_http;
  request.body = d.payload;
  if (!channel->webhook_secret.empty()) {
    const std::int64_t t =
        std::chrono::duration_cast<std::chrono::seconds>(clock_.Now().time_since_epoch()).count();
    request.headers.emplace_back(std::string(kSignatureHeader),
                                 SignWebhook(channel->webhook_secret, t, d.payload));
  }
  request.headers.emplace_back("X-Stswatch-Delivery",
                               d.alert_id + "." + std::to_string(d.sequence));
  WebhookResult r =
      co_await PostWebhook(resolver_, tls_, filter_, std::move(request), options_.webhook);
  *permanent = r.permanent;
  co_return std::make_pair(r.ok, r.ok ? "HTTP " + std::to_string(r.status) : r.error);
}

void Alerter::LogActive(std::uint32_t epoch) {
  log_.Info("alerter.active", {{"consumer", options_.consumer},
                               {"epoch", std::to_string(epoch)},
                               {"group", options_.group}});
}

void Alerter::LogLost(const std::string& reason) {
  log_.Warn("alerter.lease_lost", {{"consumer", options_.consumer}, {"reason", reason}});
}

void Alerter::LogProblem(std::string_view event, const std::string& error) {
  log_.Warn(event, {{"error", error}});
}

void Alerter::LogNotification(const Notification& n, std::size_t deliveries) {
  if (metrics_ != nullptr) {
    metrics_->AlertNotification(NotificationKindName(n.kind), SeverityName(n.problem.severity));
  }
  log_.Info("alert.notification", {{"tenant", n.tenant},
                                   {"domain", n.problem.domain},
                                   {"state", std::string(NotificationKindName(n.kind))},
                                   {"severity", std::string(SeverityName(n.problem.severity))},
                                   {"problem", n.problem.key},
                                   {"alert", n.alert_id},
                                   {"sequence", std::to_string(n.sequence)},
                                   {"deliveries", std::to_string(deliveries)}});
}

void Alerter::LogOutcome(const Delivery& d, Outcome outcome, const std::string& detail,
                         std::chrono::milliseconds delay) {
  if (metrics_ != nullptr) {
    metrics_->AlertDelivery(ChannelTypeName(d.type), outcome == Outcome::kDelivered ? "delivered"
                                                     : outcome == Outcome::kRetry   ? "retry"
                                                                                    : "dead");
  }
  switch (outcome) {
    case Outcome::kDelivered:
      log_.Info("delivery.sent", {{"delivery", d.id},
                                  {"channel", std::string(ChannelTypeName(d.type))},
                                  {"attempts", std::to_string(d.attempts)},
                                  {"answer", detail}});
      break;
    case Outcome::kRetry:
      log_.Warn("delivery.retry", {{"delivery", d.id},
                                   {"attempts", std::to_string(d.attempts)},
                                   {"retry_in_ms", std::to_string(delay.count())},
                                   {"error", detail}});
      break;
    case Outcome::kDead:
      log_.Error("delivery.dead_letter",
                 {{"delivery", d.id}, {"attempts", std::to_string(d.attempts)}, {"error", detail}});
      break;
  }
}

void Alerter::LogBadEntry(const Entry& e, const std::string& error) {
  log_.Warn("alerter.bad_event", {{"stream", e.stream}, {"entry", e.id}, {"error", error}});
}

}  // namespace stswatch::alerting
