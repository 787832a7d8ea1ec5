#include "api/domain_registry.h"

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <utility>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include "api/domain_name.h"
#include "api/redis_ops.h"
#include "api/text.h"
#include "store/command.h"

namespace stswatch::api {
namespace {

using store::Command;
using store::RedisReply;

// The scripts, embedded at build time from tenant_domains.lua and watch.lua.
constexpr char kTenantDomainsScript[] =
#include "api/tenant_domains.lua.inc"
    ;
constexpr char kWatchScript[] =
#include "api/watch.lua.inc"
    ;

// Domains per script call and fields per HMGET: each call stays short, so Redis keeps serving
// others between them.
constexpr std::size_t kChunk = 1000;

const RedisScript& TenantDomainsScript() {
  static const RedisScript script(kTenantDomainsScript);
  return script;
}

const RedisScript& WatchScript() {
  static const RedisScript script(kWatchScript);
  return script;
}

absl::Status NotWatched(const std::string& domain) {
  return absl::NotFoundError(Quote(domain) + " is not one of this tenant's domains");
}

absl::Status LimitReached(const std::string& tenant_id, std::size_t limit) {
  return absl::ResourceExhaustedError("tenant " + tenant_id + " already watches " +
                                      std::to_string(limit) + " domains, the most allowed");
}

absl::Status BadPageToken() {
  return absl::InvalidArgumentError(
      "page_token is not one this server gave out: pass the next_page_token of the previous "
      "page, or nothing for the first page");
}

bool IsOneOf(const std::string& value, const std::vector<std::string>& allowed) {
  return std::find(allowed.begin(), allowed.end(), value) != allowed.end();
}

absl::Status CheckFilter(const std::vector<std::string>& values,
                         const std::vector<std::string>& allowed, const std::string& what) {
  for (const std::string& v : values) {
    if (!IsOneOf(v, allowed)) {
      std::string message = Quote(v, 40);
      message += " is not a ";
      message += what;
      message += " (one of ";
      for (std::size_t i = 0; i < allowed.size(); ++i) {
        message += i == 0 ? "" : ", ";
        message += allowed[i];
      }
      message += ")";
      return absl::InvalidArgumentError(message);
    }
  }
  return absl::OkStatus();
}

std::int64_t ToInt64(const RedisReply& reply) {
  if (reply.type == RedisReply::Type::kInteger) {
    return reply.integer;
  }
  if (reply.type != RedisReply::Type::kString) {
    return 0;
  }
  std::int64_t v = 0;
  for (const char c : reply.str) {
    if (c < '0' || c > '9' || v > (INT64_MAX - 9) / 10) {
      return 0;
    }
    v = v * 10 + (c - '0');
  }
  return v;
}

// The reply to HMGET <domain hash> status mode checked changed.
void FillState(const RedisReply& reply, DomainSummary& summary) {
  const auto field = [&](std::size_t i) -> const RedisReply* {
    return reply.type == RedisReply::Type::kArray && i < reply.elements.size() ? &reply.elements[i]
                                                                               : nullptr;
  };
  const RedisReply* status = field(0);
  summary.status =
      status != nullptr && status->type == RedisReply::Type::kString && !status->str.empty()
          ? status->str
          : "pending";
  const RedisReply* mode = field(1);
  summary.mode = mode != nullptr && mode->type == RedisReply::Type::kString ? mode->str : "";
  summary.last_check_unix_ms = field(2) != nullptr ? ToInt64(*field(2)) : 0;
  summary.last_change_unix_ms = field(3) != nullptr ? ToInt64(*field(3)) : 0;
}

std::vector<std::string> StateCommand(const store::KeySchema& keys, const std::string& domain) {
  return Command("HMGET", keys.Domain(domain), "status", "mode", "checked", "changed");
}

// "failing enforce" (the partition index) -> status, mode; absent: pending, "".
std::pair<std::string, std::string> ParseIndex(const RedisReply& reply) {
  if (reply.type != RedisReply::Type::kString || reply.str.empty()) {
    return {"pending", ""};
  }
  const std::size_t space = reply.str.find(' ');
  if (space == std::string::npos) {
    return {reply.str, ""};
  }
  return {reply.str.substr(0, space), reply.str.substr(space + 1)};
}

// The normalized domain a page token stands for, or nullopt for a garbled or forged one.
std::optional<std::string> DecodePageToken(const std::string& token) {
  std::optional<std::string> domain = Base64UrlDecode(token);
  if (!domain.has_value()) {
    return std::nullopt;
  }
  const absl::StatusOr<std::string> normalized = NormalizeDomainName(*domain);
  if (!normalized.ok() || *normalized != *domain) {
    return std::nullopt;
  }
  return domain;
}

std::string LimitError(const std::string& tenant_id, std::size_t limit) {
  return "not added: tenant " + tenant_id + " already watches " + std::to_string(limit) +
         " domains, the most allowed";
}

}  // namespace

DomainRegistry::DomainRegistry(store::RedisClient& client, RegistryOptions options)
    : client_(client), options_(std::move(options)), keys_(options_.keys.prefix()) {}

absl::Status DomainRegistry::ValidateSettings(const DomainSettings& settings) const {
  const auto min = static_cast<std::uint32_t>(options_.min_interval.count());
  if (settings.interval_s != 0 &&
      (settings.interval_s < min || settings.interval_s > kMaxIntervalSeconds)) {
    return absl::InvalidArgumentError("interval_seconds must be 0 (the server's default) or from " +
                                      std::to_string(min) + " to " +
                                      std::to_string(kMaxIntervalSeconds) + " (30 days), not " +
                                      std::to_string(settings.interval_s));
  }
  if (settings.labels.size() > kMaxLabels) {
    return absl::InvalidArgumentError("at most 16 labels, not " +
                                      std::to_string(settings.labels.size()));
  }
  for (const auto& [key, value] : settings.labels) {
    const std::optional<std::size_t> key_chars = Utf8Length(key);
    const std::optional<std::size_t> value_chars = Utf8Length(value);
    if (!key_chars.has_value() || !value_chars.has_value()) {
      return absl::InvalidArgumentError("the label " + Quote(key, 64) + " is not valid UTF-8");
    }
    if (*key_chars == 0) {
      return absl::InvalidArgumentError("a label key is empty (1 to 64 characters)");
    }
    if (*key_chars > kMaxLabelChars) {
      return absl::InvalidArgumentError("the label key " + Quote(key, 64) + " has " +
                                        std::to_string(*key_chars) + " characters, at most 64");
    }
    if (*value_chars > kMaxLabelChars) {
      return absl::InvalidArgumentError("the value of label " + Quote(key, 64) + " has " +
                                        std::to_string(*value_chars) + " characters, at most 64");
    }
    if (HasControlCharacter(key) || HasControlCharacter(value)) {
      return absl::InvalidArgumentError("the label " + Quote(key, 64) +
                                        " contains a control character");
    }
  }
  return absl::OkStatus();
}

std::string DomainRegistry::SettingsToJson(const DomainSettings& settings) {
  boost::json::object labels;
  for (const auto& [key, value] : settings.labels) {
    labels[key] = value;
  }
  boost::json::object o;
  o["interval_s"] = settings.interval_s;
  o["labels"] = std::move(labels);
  return boost::json::serialize(o);
}

DomainSettings DomainRegistry::SettingsFromJson(std::string_view json) {
  DomainSettings settings;
  boost::system::error_code ec;
  const boost::json::value v =
      boost::json::parse(boost::json::string_view(json.data(), json.size()), ec);
  if (ec || !v.is_object()) {
    return settings;
  }
  const boost::json::object& o = v.get_object();
  if (const auto* interval = o.if_contains("interval_s"); interval != nullptr) {
    if (interval->is_int64() && interval->get_int64() >= 0 &&
        interval->get_int64() <= kMaxIntervalSeconds) {
      settings.interval_s = static_cast<std::uint32_t>(interval->get_int64());
    } else if (interval->is_uint64() && interval->get_uint64() <= kMaxIntervalSeconds) {
      settings.interval_s = static_cast<std::uint32_t>(interval->get_uint64());
    }
  }
  if (const auto* labels = o.if_contains("labels"); labels != nullptr && labels->is_object()) {
    for (const auto& [key, value] : labels->get_object()) {
      if (value.is_string()) {
        settings.labels[std::string(key)] = std::string(value.get_string());
      }
    }
  }
  return settings;
}

boost::asio::awaitable<absl::StatusOr<std::vector<std::int64_t>>> DomainRegistry::ApplyToTenant(
    const std::string& tenant_id, const std::string& op, const std::string& settings_json,
    const std::vector<std::string>& domains) {
  std::vector<ScriptCall> calls;
  calls.reserve(domains.size() / kChunk + 1);
  for (std::size_t i = 0; i < domains.size(); i += kChunk) {
    const std::size_t end = std::min(domains.size(), i + kChunk);
    ScriptCall call;
    call.key = keys_.TenantDomains(tenant_id);
    call.args.reserve(3 + end - i);
    call.args.push_back(op);
    call.args.push_back(std::to_string(options_.max_domains_per_tenant));
    call.args.push_back(settings_json);
    call.args.insert(call.args.end(), domains.begin() + static_cast<std::ptrdiff_t>(i),
                     domains.begin() + static_cast<std::ptrdiff_t>(end));
    calls.push_back(std::move(call));
  }
  absl::StatusOr<std::vector<RedisReply>> replies =
      co_await RunScript(client_, TenantDomainsScript(), std::move(calls));
  if (!replies.ok()) {
    co_return replies.status();
  }
  std::vector<std::int64_t> results;
  results.reserve(domains.size());
  for (const RedisReply& reply : *replies) {
    for (const RedisReply& r : reply.elements) {
      results.push_back(r.integer);
    }
  }
  if (results.size() != domains.size()) {
    co_return absl::InternalError("the tenant_domains script answered " +
                                  std::to_string(results.size()) + " results for " +
                                  std::to_string(domains.size()) + " domains");
  }
  co_return results;
}

boost::asio::awaitable<absl::Status> DomainRegistry::ApplyToWatch(
    const std::string& tenant_id, const std::string& op, std::uint32_t interval_s,
    const std::vector<std::string>& domains) {
  std::map<int, std::vector<const std::string*>> by_partition;
  for (const std::string& d : domains) {
    by_partition[options_.keys.PartitionOf(d)].push_back(&d);
  }
  std::vector<ScriptCall> calls;
  calls.reserve(by_partition.size() + domains.size() / kChunk);
  for (const auto& [partition, names] : by_partition) {
    for (std::size_t i = 0; i < names.size(); i += kChunk) {
      const std::size_t end = std::min(names.size(), i + kChunk);
      ScriptCall call;
      call.key = options_.keys.Watch(partition);
      call.args.reserve(3 + end - i);
      call.args.push_back(op);
      call.args.push_back(tenant_id);
      call.args.push_back(std::to_string(interval_s));
      for (std::size_t j = i; j < end; ++j) {
        call.args.push_back(*names[j]);
      }
      calls.push_back(std::move(call));
    }
  }
  const absl::StatusOr<std::vector<RedisReply>> replies =
      co_await RunScript(client_, WatchScript(), std::move(calls));
  co_return replies.status();
}

boost::asio::awaitable<absl::StatusOr<AddResult>> DomainRegistry::Add(std::string tenant_id,
                                                                      std::string domain,
                                                                      DomainSettings settings) {
  if (absl::Status s = CheckTenantId(tenant_id); !s.ok()) {
    co_return s;
  }
  if (absl::Status s = ValidateSettings(settings); !s.ok()) {
    co_return s;
  }
  absl::StatusOr<std::string> name = NormalizeDomainName(domain);
  if (!name.ok()) {
    co_return name.status();
  }
  std::vector<std::string> names;
  names.push_back(*name);
  const absl::StatusOr<std::vector<std::int64_t>> results =
      co_await ApplyToTenant(tenant_id, "add", SettingsToJson(settings), names);
  if (!results.ok()) {
    co_return results.status();
  }
  if ((*results)[0] < 0) {
    co_return LimitReached(tenant_id, options_.max_domains_per_tenant);
  }
  if (absl::Status s = co_await ApplyToWatch(tenant_id, "set", settings.interval_s, names);
      !s.ok()) {
    co_return s;
  }
  AddResult result;
  result.domain = *std::move(name);
  result.added = (*results)[0] == 1;
  co_return result;
}

boost::asio::awaitable<absl::Status> DomainRegistry::Remove(std::string tenant_id,
                                                            std::string domain) {
  if (absl::Status s = CheckTenantId(tenant_id); !s.ok()) {
    co_return s;
  }
  absl::StatusOr<std::string> name = NormalizeDomainName(domain);
  if (!name.ok()) {
    co_return name.status();
  }
  const std::string key = keys_.TenantDomains(tenant_id);
  const absl::StatusOr<RedisReply> exists = co_await Run(client_, Command("HEXISTS", key, *name));
  if (!exists.ok()) {
    co_return exists.status();
  }
  if (exists->integer != 1) {
    co_return NotWatched(*name);
  }
  // The watch record first: if what follows fails, the tenant still sees the domain and can
  // remove it again.
  std::vector<std::string> names;
  names.push_back(*name);
  if (absl::Status s = co_await ApplyToWatch(tenant_id, "remove", 0, names); !s.ok()) {
    co_return s;
  }
  const absl::StatusOr<RedisReply> removed = co_await Run(client_, Command("HDEL", key, *name));
  co_return removed.status();
}

boost::asio::awaitable<absl::StatusOr<DomainSettings>> DomainRegistry::Get(std::string tenant_id,
                                                                           std::string domain) {
  if (absl::Status s = CheckTenantId(tenant_id); !s.ok()) {
    co_return s;
  }
  absl::StatusOr<std::string> name = NormalizeDomainName(domain);
  if (!name.ok()) {
    co_return name.status();
  }
  const absl::StatusOr<RedisReply> settings =
      co_await Run(client_, Command("HGET", keys_.TenantDomains(tenant_id), *name));
  if (!settings.ok()) {
    co_return settings.status();
  }
  if (settings->type != RedisReply::Type::kString) {
    co_return NotWatched(*name);
  }
  co_return SettingsFromJson(settings->str);
}

boost::asio::awaitable<absl::StatusOr<DomainSummary>> DomainRegistry::Summary(std::string tenant_id,
                                                                              std::string domain) {
  if (absl::Status s = CheckTenantId(tenant_id); !s.ok()) {
    co_return s;
  }
  absl::StatusOr<std::string> name = NormalizeDomainName(domain);
  if (!name.ok()) {
    co_return name.status();
  }
  std::vector<std::vector<std::string>> commands;
  commands.reserve(2);
  commands.push_back(Command("HGET", keys_.TenantDomains(tenant_id), *name));
  commands.push_back(StateCommand(options_.keys, *name));
  const absl::StatusOr<std::vector<RedisReply>> replies =
      co_await Pipeline(client_, std::move(commands));
  if (!replies.ok()) {
    co_return replies.status();
  }
  if ((*replies)[0].type != RedisReply::Type::kString) {
    co_return NotWatched(*name);
  }
  DomainSummary summary;
  summary.domain = *std::move(name);
  summary.settings = SettingsFromJson((*replies)[0].str);
  FillState((*replies)[1], summary);
  co_return summary;
}

boost::asio::awaitable<absl::StatusOr<DomainPage>> DomainRegistry::List(
    std::string tenant_id, std::vector<std::string> statuses, std::vector<std::string> modes,
    std::uint32_t page_size, std::string page_token) {
  if (absl::Status s = CheckTenantId(tenant_id); !s.ok()) {
    co_return s;
  }
  if (page_size > kMaxPageSize) {
    co_return absl::InvalidArgumentError("page_size is at most 1000");
  }
  if (page_size == 0) {
    page_size = kDefaultPageSize;
  }
  static const std::vector<std::string> known_statuses = {"ok",     "warning", "failing",
                                                          "broken", "none",    "pending"};
  static const std::vector<std::string> known_modes = {"enforce", "testing", "none"};
  if (absl::Status s = CheckFilter(statuses, known_statuses, "status"); !s.ok()) {
    co_return s;
  }
  if (absl::Status s = CheckFilter(modes, known_modes, "mode"); !s.ok()) {
    co_return s;
  }
  std::string after;
  if (!page_token.empty()) {
    std::optional<std::string> decoded = DecodePageToken(page_token);
    if (!decoded.has_value()) {
      co_return BadPageToken();
    }
    after = *std::move(decoded);
  }

  const std::string key = keys_.TenantDomains(tenant_id);
  absl::StatusOr<RedisReply> all = co_await Run(client_, Command("HKEYS", key));
  if (!all.ok()) {
    co_return all.status();
  }
  std::vector<std::string> names;
  names.reserve(all->elements.size());
  for (RedisReply& r : all->elements) {
    names.push_back(std::move(r.str));
  }
  std::sort(names.begin(), names.end());

  if (!statuses.empty() || !modes.empty()) {
    // The partition indexes hold every checked domain's "status mode": a few HMGETs instead of
    // one command per domain.
    std::map<int, std::vector<std::size_t>> by_partition;
    for (std::size_t i = 0; i < names.size(); ++i) {
      by_partition[options_.keys.PartitionOf(names[i])].push_back(i);
    }
    std::vector<std::vector<std::string>> commands;
    std::vector<std::size_t> order;  // The name index of each field asked for, in order.
    order.reserve(names.size());
    for (const auto& [partition, indexes] : by_partition) {
      for (std::size_t i = 0; i < indexes.size(); i += kChunk) {
        const std::size_t end = std::min(indexes.size(), i + kChunk);
        std::vector<std::string> command;
        command.reserve(2 + end - i);
        command.emplace_back("HMGET");
        command.push_back(options_.keys.Index(partition));
        for (std::size_t j = i; j < end; ++j) {
          command.push_back(names[indexes[j]]);
          order.push_back(indexes[j]);
        }
        commands.push_back(std::move(command));
      }
    }
    const absl::StatusOr<std::vector<RedisReply>> replies =
        co_await Pipeline(client_, std::move(commands));
    if (!replies.ok()) {
      co_return replies.status();
    }
    std::vector<bool> keep(names.size(), false);
    std::size_t k = 0;
    for (const RedisReply& reply : *replies) {
      for (const RedisReply& field : reply.elements) {
        if (k >= order.size()) {
          break;
        }
        const auto [status, mode] = ParseIndex(field);
        keep[order[k++]] = (statuses.empty() || IsOneOf(status, statuses)) &&
                           (modes.empty() || IsOneOf(mode, modes));
      }
    }
    std::vector<std::string> kept;
    kept.reserve(names.size());
    for (std::size_t i = 0; i < names.size(); ++i) {
      if (keep[i]) {
        kept.push_back(std::move(names[i]));
      }
    }
    names = std::move(kept);
  }

  DomainPage page;
  page.total = static_cast<std::uint32_t>(names.size());
  const auto first =
      after.empty() ? names.begin() : std::upper_bound(names.begin(), names.end(), after);
  const auto last = names.end() - first > page_size ? first + page_size : names.end();
  if (first == last) {
    co_return page;
  }
  std::vector<std::vector<std::string>> commands;
  commands.reserve(1 + static_cast<std::size_t>(last - first));
  std::vector<std::string> settings_command;
  settings_command.reserve(2 + static_cast<std::size_t>(last - first));
  settings_command.emplace_back("HMGET");
  settings_command.push_back(key);
  settings_command.insert(settings_command.end(), first, last);
  commands.push_back(std::move(settings_command));
  for (auto it = first; it != last; ++it) {
    commands.push_back(StateCommand(options_.keys, *it));
  }
  const absl::StatusOr<std::vector<RedisReply>> replies =
      co_await Pipeline(client_, std::move(commands));
  if (!replies.ok()) {
    co_return replies.status();
  }
  page.domains.reserve(static_cast<std::size_t>(last - first));
  std::size_t i = 0;
  for (auto it = first; it != last; ++it, ++i) {
    DomainSummary summary;
    summary.domain = *it;
    const RedisReply& settings = (*replies)[0];
    if (i < settings.elements.size() && settings.elements[i].type == RedisReply::Type::kString) {
      summary.settings = SettingsFromJson(settings.elements[i].str);
    }
    FillState((*replies)[1 + i], summary);
    page.domains.push_back(std::move(summary));
  }
  if (last != names.end()) {
    page.next_page_token = Base64UrlEncode(page.domains.back().domain);
  }
  co_return page;
}

boost::asio::awaitable<absl::StatusOr<ImportResult>> DomainRegistry::Import(
    std::string tenant_id, std::vector<std::string> domains, DomainSettings settings) {
  if (absl::Status s = CheckTenantId(tenant_id); !s.ok()) {
    co_return s;
  }
  if (absl::Status s = ValidateSettings(settings); !s.ok()) {
    co_return s;
  }
  ImportResult result;
  std::vector<std::pair<std::size_t, ImportError>> errors;  // By the index given.
  std::vector<std::string> names;  // Normalized, distinct, in the order given.
  std::vector<std::size_t> given;  // The index in `domains` of each of `names`.
  std::set<std::string> seen;
  names.reserve(domains.size());
  given.reserve(domains.size());
  for (std::size_t i = 0; i < domains.size(); ++i) {
    absl::StatusOr<std::string> name = NormalizeDomainName(domains[i]);
    if (!name.ok()) {
      errors.emplace_back(i, ImportError{domains[i], std::string(name.status().message())});
      continue;
    }
    if (!seen.insert(*name).second) {
      ++result.unchanged;  // Given twice (perhaps spelled differently).
      continue;
    }
    names.push_back(*std::move(name));
    given.push_back(i);
  }
  const absl::StatusOr<std::vector<std::int64_t>> applied =
      co_await ApplyToTenant(tenant_id, "add", SettingsToJson(settings), names);
  if (!applied.ok()) {
    co_return applied.status();
  }
  std::vector<std::string> watched;
  watched.reserve(names.size());
  for (std::size_t i = 0; i < names.size(); ++i) {
    const std::int64_t outcome = (*applied)[i];
    if (outcome < 0) {
      errors.emplace_back(
          given[i],
          ImportError{domains[given[i]], LimitError(tenant_id, options_.max_domains_per_tenant)});
      continue;
    }
    if (outcome == 1) {
      ++result.added;
    } else {
      ++result.unchanged;
    }
    watched.push_back(names[i]);
  }
  if (absl::Status s = co_await ApplyToWatch(tenant_id, "set", settings.interval_s, watched);
      !s.ok()) {
    co_return s;
  }
  // Errors in the order given.
  std::sort(errors.begin(), errors.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  result.errors.reserve(errors.size());
  for (auto& [index, error] : errors) {
    result.errors.push_back(std::move(error));
  }
  co_return result;
}

boost::asio::awaitable<absl::Status> DomainRegistry::UpdateSettings(std::string tenant_id,
                                                                    std::string domain,
                                                                    DomainSettings settings) {
  if (absl::Status s = CheckTenantId(tenant_id); !s.ok()) {
    co_return s;
  }
  if (absl::Status s = ValidateSettings(settings); !s.ok()) {
    co_return s;
  }
  absl::StatusOr<std::string> name = NormalizeDomainName(domain);
  if (!name.ok()) {
    co_return name.status();
  }
  std::vector<std::string> names;
  names.push_back(*name);
  const absl::StatusOr<std::vector<std::int64_t>> results =
      co_await ApplyToTenant(tenant_id, "update", SettingsToJson(settings), names);
  if (!results.ok()) {
    co_return results.status();
  }
  if ((*results)[0] != 0) {
    co_return NotWatched(*name);
  }
  co_return co_await ApplyToWatch(tenant_id, "set", settings.interval_s, names);
}

boost::asio::awaitable<absl::StatusOr<bool>> DomainRegistry::Owns(std::string tenant_id,
                                                                  std::string domain) {
  if (absl::Status s = CheckTenantId(tenant_id); !s.ok()) {
    co_return s;
  }
  absl::StatusOr<std::string> name = NormalizeDomainName(domain);
  if (!name.ok()) {
    co_return name.status();
  }
  const absl::StatusOr<RedisReply> exists =
      co_await Run(client_, Command("HEXISTS", keys_.TenantDomains(tenant_id), *name));
  if (!exists.ok()) {
    co_return exists.status();
  }
  co_return exists->integer == 1;
}

}  // namespace stswatch::api
