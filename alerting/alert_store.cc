#include "alerting/alert_store.h"

#include <cstdlib>

#include "api/redis_ops.h"
#include "store/command.h"

namespace stswatch::alerting {
namespace {

using store::RedisReply;

constexpr int kLogLength = 1000;

const api::RedisScript& CommitScript() {
  static const api::RedisScript* script = new api::RedisScript(
#include "alerting/commit.lua.inc"
  );
  return *script;
}

const api::RedisScript& OutcomeScript() {
  static const api::RedisScript* script = new api::RedisScript(
#include "alerting/outcome.lua.inc"
  );
  return *script;
}

// Turns the script's LEASE_LOST error reply into FailedPrecondition; other errors stay
// Unavailable.
absl::Status ScriptError(const RedisReply& r) {
  if (r.type != RedisReply::Type::kError) {
    return absl::OkStatus();
  }
  if (r.str.starts_with("LEASE_LOST")) {
    return absl::FailedPreconditionError(r.str);
  }
  return absl::UnavailableError("Redis script failed: " + r.str);
}

std::string_view OutcomeName(Outcome o) {
  switch (o) {
    case Outcome::kDelivered:
      return "delivered";
    case Outcome::kRetry:
      return "retry";
    case Outcome::kDead:
      return "dead";
  }
  return "retry";
}

}  // namespace

std::string BookKey(std::string_view tenant, int partition) {
  return std::string(tenant) + "/" + std::to_string(partition);
}

std::map<std::string, std::string> FieldPairs(const RedisReply& r) {
  std::map<std::string, std::string> out;
  if (r.type != RedisReply::Type::kArray) {
    return out;
  }
  for (std::size_t i = 0; i + 1 < r.elements.size(); i += 2) {
    out[r.elements[i].str] = r.elements[i + 1].str;
  }
  return out;
}

std::string TenantOfBook(std::string_view key) {
  return std::string(key.substr(0, key.rfind('/')));
}

boost::asio::awaitable<absl::StatusOr<AlertSettings>> AlertStore::GetSettings(std::string tenant) {
  absl::StatusOr<RedisReply> r =
      co_await api::Run(client_, store::Command("HGET", keys_.Settings(), tenant));
  if (!r.ok()) {
    co_return r.status();
  }
  if (r->type != RedisReply::Type::kString) {
    co_return DefaultSettings(tenant);
  }
  co_return SettingsFromJson(r->str, tenant);
}

boost::asio::awaitable<absl::Status> AlertStore::SetSettings(AlertSettings settings) {
  const std::string json = SettingsToJson(settings);
  std::vector<std::vector<std::string>> commands;
  commands.push_back(store::Command("HSET", keys_.Settings(), settings.policy.tenant, json));
  commands.push_back(store::Command("INCR", keys_.SettingsVersion()));
  absl::StatusOr<std::vector<RedisReply>> r = co_await api::Pipeline(client_, std::move(commands));
  co_return r.status();
}

boost::asio::awaitable<absl::StatusOr<std::string>> AlertStore::SettingsVersion() {
  absl::StatusOr<RedisReply> r =
      co_await api::Run(client_, store::Command("GET", keys_.SettingsVersion()));
  if (!r.ok()) {
    co_return r.status();
  }
  co_return r->type == RedisReply::Type::kString ? r->str : std::string();
}

boost::asio::awaitable<absl::StatusOr<std::map<std::string, AlertSettings>>>
AlertStore::AllSettings(std::vector<std::string>* errors) {
  absl::StatusOr<RedisReply> r =
      co_await api::Run(client_, store::Command("HGETALL", keys_.Settings()));
  if (!r.ok()) {
    co_return r.status();
  }
  std::map<std::string, AlertSettings> out;
  for (auto& [tenant, json] : FieldPairs(*r)) {
    absl::StatusOr<AlertSettings> s = SettingsFromJson(json, tenant);
    if (s.ok()) {
      out.emplace(tenant, std::move(*s));
    } else if (errors != nullptr) {
      errors->push_back("tenant " + tenant + ": " + std::string(s.status().message()));
    }
  }
  co_return out;
}

boost::asio::awaitable<absl::StatusOr<std::map<std::string, std::string>>> AlertStore::AllBooks() {
  absl::StatusOr<RedisReply> r =
      co_await api::Run(client_, store::Command("HGETALL", keys_.Books()));
  if (!r.ok()) {
    co_return r.status();
  }
  co_return FieldPairs(*r);
}

boost::asio::awaitable<absl::StatusOr<std::vector<std::string>>> AlertStore::TenantBooks(
    std::string tenant, int partitions) {
  std::vector<std::string> command = store::Command("HMGET", keys_.Books());
  for (int p = 0; p < partitions; ++p) {
    command.push_back(BookKey(tenant, p));
  }
  absl::StatusOr<RedisReply> r = co_await api::Run(client_, std::move(command));
  if (!r.ok()) {
    co_return r.status();
  }
  std::vector<std::string> out;
  for (const RedisReply& e : r->elements) {
    if (e.type == RedisReply::Type::kString) {
      out.push_back(e.str);
    }
  }
  co_return out;
}

boost::asio::awaitable<absl::StatusOr<std::vector<Delivery>>> AlertStore::PendingDeliveries(
    std::vector<std::string>* errors) {
  absl::StatusOr<RedisReply> r =
      co_await api::Run(client_, store::Command("HGETALL", keys_.Deliveries()));
  if (!r.ok()) {
    co_return r.status();
  }
  std::vector<Delivery> out;
  for (auto& [id, json] : FieldPairs(*r)) {
    absl::StatusOr<Delivery> d = DeliveryFromJson(json);
    if (d.ok()) {
      out.push_back(std::move(*d));
    } else if (errors != nullptr) {
      errors->push_back("delivery " + id + ": " + std::string(d.status().message()));
    }
  }
  co_return out;
}

boost::asio::awaitable<absl::Status> AlertStore::Commit(std::string lease_value, std::string group,
                                                        CommitBatch batch) {
  api::ScriptCall call;
  call.key = keys_.Lease();
  call.more_keys.push_back(keys_.Books());
  call.more_keys.push_back(keys_.Deliveries());
  call.more_keys.push_back(keys_.Queue());
  call.args.push_back(std::move(lease_value));
  call.args.push_back(std::move(group));
  call.args.push_back(std::to_string(batch.books.size()));
  for (auto& [tenant, json] : batch.books) {
    call.args.push_back(tenant);
    call.args.push_back(std::move(json));
  }
  call.args.push_back(std::to_string(batch.deliveries.size()));
  for (const Delivery& d : batch.deliveries) {
    call.args.push_back(d.id);
    call.args.push_back(DeliveryToJson(d));
    call.args.push_back(std::to_string(d.next_ms));
  }
  call.args.push_back(std::to_string(batch.acks.size()));
  for (auto& [stream, id] : batch.acks) {
    call.args.push_back(std::move(stream));
    call.args.push_back(std::move(id));
  }
  std::vector<api::ScriptCall> calls;
  calls.push_back(std::move(call));
  absl::StatusOr<std::vector<RedisReply>> r =
      co_await api::RunScript(client_, CommitScript(), std::move(calls));
  if (!r.ok()) {
    // RunScript reports error replies as Unavailable; a lost lease is more precise.
    if (r.status().message().find("LEASE_LOST") != std::string_view::npos) {
      co_return absl::FailedPreconditionError(r.status().message());
    }
    co_return r.status();
  }
  co_return ScriptError(r->front());
}

boost::asio::awaitable<absl::StatusOr<bool>> AlertStore::RecordOutcome(std::string lease_value,
                                                                       Delivery delivery,
                                                                       Outcome outcome,
                                                                       std::int64_t now_ms,
                                                                       std::string reason) {
  api::ScriptCall call;
  call.key = keys_.Lease();
  call.more_keys.push_back(keys_.Deliveries());
  call.more_keys.push_back(keys_.Queue());
  call.more_keys.push_back(outcome == Outcome::kDead ? keys_.Dead(delivery.tenant)
                                                     : keys_.Sent(delivery.tenant));
  call.more_keys.push_back(keys_.Stats());
  call.args.push_back(std::move(lease_value));
  call.args.push_back(delivery.id);
  call.args.emplace_back(OutcomeName(outcome));
  if (outcome == Outcome::kDelivered) {
    delivery.payload.clear();  // The log of what was sent keeps the facts, not the bytes.
  }
  call.args.push_back(DeliveryToJson(delivery));
  call.args.push_back(std::to_string(delivery.next_ms));
  call.args.push_back(std::to_string(kLogLength));
  call.args.push_back(std::to_string(now_ms));
  call.args.push_back(std::move(reason));
  std::vector<api::ScriptCall> calls;
  calls.push_back(std::move(call));
  absl::StatusOr<std::vector<RedisReply>> r =
      co_await api::RunScript(client_, OutcomeScript(), std::move(calls));
  if (!r.ok()) {
    if (r.status().message().find("LEASE_LOST") != std::string_view::npos) {
      co_return absl::FailedPreconditionError(r.status().message());
    }
    co_return r.status();
  }
  if (absl::Status s = ScriptError(r->front()); !s.ok()) {
    co_return s;
  }
  co_return r->front().integer == 1;
}

boost::asio::awaitable<absl::StatusOr<std::vector<DeliveryRecord>>> AlertStore::DeadLetters(
    std::string tenant, int count) {
  co_return co_await Log(keys_.Dead(tenant), count);
}

boost::asio::awaitable<absl::StatusOr<std::vector<DeliveryRecord>>> AlertStore::Sent(
    std::string tenant, int count) {
  co_return co_await Log(keys_.Sent(tenant), count);
}

boost::asio::awaitable<absl::StatusOr<std::vector<DeliveryRecord>>> AlertStore::Log(std::string key,
                                                                                    int count) {
  absl::StatusOr<RedisReply> r = co_await api::Run(
      client_, store::Command("XREVRANGE", key, "+", "-", "COUNT", std::to_string(count)));
  if (!r.ok()) {
    co_return r.status();
  }
  std::vector<DeliveryRecord> out;
  for (const RedisReply& entry : r->elements) {
    if (entry.type != RedisReply::Type::kArray || entry.elements.size() != 2) {
      continue;
    }
    std::map<std::string, std::string> fields = FieldPairs(entry.elements[1]);
    absl::StatusOr<Delivery> d = DeliveryFromJson(fields["delivery"]);
    if (!d.ok()) {
      continue;
    }
    DeliveryRecord record;
    record.entry_id = entry.elements[0].str;
    record.time_ms = std::atoll(fields["time"].c_str());
    record.reason = fields["reason"];
    record.delivery = std::move(*d);
    out.push_back(std::move(record));
  }
  co_return out;
}

}  // namespace stswatch::alerting
