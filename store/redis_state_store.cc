#include "store/redis_state_store.h"

#include <utility>

#include <boost/asio/post.hpp>
#include <openssl/sha.h>

namespace stswatch::store {
namespace {

// The script, embedded at build time from update_state.lua.
constexpr char kScript[] =
#include "store/update_state.lua.inc"
    ;

// Attempts of one write that found the stored state moved under it before giving up for now.
constexpr int kMaxRaces = 5;

std::int64_t UnixMillis(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

const RedisReply* Element(const RedisReply& reply, std::size_t i) {
  if (reply.type != RedisReply::Type::kArray || i >= reply.elements.size()) {
    return nullptr;
  }
  return &reply.elements[i];
}

std::string Text(const RedisReply* r) {
  if (r == nullptr) {
    return "";
  }
  if (r->type == RedisReply::Type::kInteger) {
    return std::to_string(r->integer);
  }
  return r->str;
}

}  // namespace

struct RedisStateStore::Entry {
  CheckResult result;
  Callback done;
  std::string hash;
  bool in_flight = false;
  int races = 0;
  // The transition being applied (set between "changed" and "applied").
  std::optional<drift::Transition> transition;
  std::vector<drift::Event> events;
  // A newer result that arrived while this one was in flight.
  std::optional<std::pair<CheckResult, Callback>> next;
};

std::string_view WriteOutcomeName(WriteOutcome outcome) {
  switch (outcome) {
    case WriteOutcome::kUnchanged:
      return "unchanged";
    case WriteOutcome::kApplied:
      return "applied";
    case WriteOutcome::kRefused:
      return "refused";
    case WriteOutcome::kSuperseded:
      return "superseded";
    case WriteOutcome::kDropped:
      return "dropped";
  }
  return "dropped";
}

const std::string& RedisStateStore::Script() {
  static const std::string script(kScript);
  return script;
}

const std::string& RedisStateStore::ScriptSha() {
  static const std::string sha = [] {
    unsigned char digest[SHA_DIGEST_LENGTH];
    SHA1(reinterpret_cast<const unsigned char*>(Script().data()), Script().size(), digest);
    constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    for (const unsigned char b : digest) {
      out += kHex[b >> 4];
      out += kHex[b & 0xF];
    }
    return out;
  }();
  return sha;
}

RedisStateStore::RedisStateStore(const boost::asio::any_io_executor& executor, RedisClient& client,
                                 StateStoreOptions options, const TimeSource& clock)
    : client_(client), options_(std::move(options)), clock_(clock), retry_timer_(executor) {}

RedisStateStore::~RedisStateStore() { *alive_ = false; }

void RedisStateStore::Write(CheckResult result, Callback done) {
  const std::string domain = result.snapshot.domain;
  auto it = entries_.find(domain);
  if (it != entries_.end()) {
    Entry& entry = *it->second;
    if (entry.in_flight) {
      if (entry.next) {
        ++counters_.superseded;
        entry.next->second(WriteResult{WriteOutcome::kSuperseded, {}, 0});
      }
      entry.next.emplace(std::move(result), std::move(done));
      return;
    }
    ++counters_.superseded;
    Callback old = std::move(entry.done);
    entry.result = std::move(result);
    entry.done = std::move(done);
    entry.hash = drift::StateHash(entry.result.snapshot);
    entry.races = 0;
    entry.transition.reset();
    old(WriteResult{WriteOutcome::kSuperseded, {}, 0});
    return;
  }
  auto entry = std::make_unique<Entry>();
  entry->hash = drift::StateHash(result.snapshot);
  entry->result = std::move(result);
  entry->done = std::move(done);
  entries_.emplace(domain, std::move(entry));
  ready_.push_back(domain);
  Pump();
}

void RedisStateStore::Flush() { Pump(); }

void RedisStateStore::Pump() {
  while (client_.connected() && in_flight_ < options_.max_in_flight && !ready_.empty()) {
    const std::string domain = std::move(ready_.front());
    ready_.pop_front();
    Attempt(domain);
  }
}

std::vector<std::string> RedisStateStore::Args(const Entry& entry, std::string_view op) const {
  const KeySchema& keys = options_.keys;
  const std::string& domain = entry.result.snapshot.domain;
  const int partition = keys.PartitionOf(domain);
  return {"EVALSHA",
          ScriptSha(),
          "5",
          keys.Domain(domain),
          keys.Events(partition),
          keys.History(domain),
          keys.Stats(partition),
          keys.Index(partition),
          std::string(op),
          domain,
          entry.result.token,
          entry.hash,
          std::to_string(UnixMillis(entry.result.finished))};
}

void RedisStateStore::Attempt(const std::string& domain) {
  Entry& entry = *entries_.at(domain);
  entry.in_flight = true;
  ++in_flight_;
  if (!entry.transition) {
    Send(domain, Args(entry, "check"), /*apply=*/false);
    return;
  }
  std::vector<std::string> args = Args(entry, "apply");
  const drift::Snapshot& s = entry.result.snapshot;
  const auto min_id = clock_.Now() - options_.history_retention;
  for (std::string value :
       {entry.transition->previous_hash, std::to_string(entry.transition->version),
        drift::ToJson(s), s.status, s.mode, std::to_string(options_.history_max),
        std::to_string(std::max<std::int64_t>(0, UnixMillis(min_id))),
        std::to_string(options_.events_max), std::to_string(entry.events.size())}) {
    args.push_back(std::move(value));
  }
  for (const drift::Event& e : entry.events) {
    args.push_back(e.id);
    args.emplace_back(drift::EventKindName(e.kind));
    args.emplace_back(drift::EventSeverityName(e.severity));
    args.push_back(e.subject);
    args.push_back(drift::EventToJson(e));
  }
  Send(domain, std::move(args), /*apply=*/true);
}

void RedisStateStore::Send(const std::string& domain, std::vector<std::string> args, bool apply) {
  const std::vector<std::string> copy = args;
  client_.Command(copy, [this, alive = alive_, domain, args = std::move(args),
                         apply](absl::StatusOr<RedisReply> reply) mutable {
    if (*alive) {
      OnReply(domain, std::move(args), apply, std::move(reply));
    }
  });
}

void RedisStateStore::OnReply(const std::string& domain, std::vector<std::string> args, bool apply,
                              absl::StatusOr<RedisReply> reply) {
  auto it = entries_.find(domain);
  if (it == entries_.end()) {
    return;
  }
  Entry& entry = *it->second;
  if (!reply.ok()) {
    // Lost connection or deadline: the client reconnects; the result waits.
    Retry(domain, /*later=*/false);
    return;
  }
  if (reply->type == RedisReply::Type::kError) {
    if (reply->str.starts_with("NOSCRIPT")) {
      // The server does not know the script (restarted, SCRIPT FLUSH): EVAL loads it.
      args[0] = "EVAL";
      args[1] = Script();
      Send(domain, std::move(args), apply);
      return;
    }
    if (logger_) {
      logger_("redis refused the update of " + domain + ": " + reply->str);
    }
    Retry(domain, /*later=*/true);
    return;
  }
  const std::string verdict = Text(Element(*reply, 0));
  if (verdict == "refused") {
    Finish(domain, WriteResult{WriteOutcome::kRefused, {}, 0});
  } else if (verdict == "unchanged") {
    Finish(domain,
           WriteResult{WriteOutcome::kUnchanged, {}, std::stoull("0" + Text(Element(*reply, 1)))});
  } else if (verdict == "applied") {
    WriteResult result{WriteOutcome::kApplied, std::move(entry.events),
                       std::stoull("0" + Text(Element(*reply, 1)))};
    Finish(domain, result);
  } else if (verdict == "changed") {
    // Diff against what is stored, then apply with the stored hash and version as condition.
    if (++entry.races > kMaxRaces) {
      entry.races = 0;
      entry.transition.reset();
      Retry(domain, /*later=*/true);
      return;
    }
    const std::string stored = Text(Element(*reply, 3));
    std::optional<drift::Snapshot> previous;
    if (!stored.empty()) {
      auto parsed = drift::FromJson(stored);
      if (parsed.ok()) {
        previous = std::move(*parsed);
      } else if (logger_) {
        logger_("the stored snapshot of " + domain + " is unreadable (" +
                std::string(parsed.status().message()) + "); treating this check as the first");
      }
    }
    drift::Transition t;
    t.domain = domain;
    t.previous_hash = Text(Element(*reply, 1));
    t.next_hash = entry.hash;
    t.version = std::stoull("0" + Text(Element(*reply, 2)));
    t.time = entry.result.finished;
    entry.events = drift::Diff(previous, entry.result.snapshot, t);
    entry.transition = std::move(t);
    entry.in_flight = false;
    --in_flight_;
    Attempt(domain);
  } else {
    if (logger_) {
      logger_("unexpected reply to the update of " + domain + ": " + reply->DebugString());
    }
    Retry(domain, /*later=*/true);
  }
}

void RedisStateStore::Finish(const std::string& domain, const WriteResult& result) {
  auto it = entries_.find(domain);
  std::unique_ptr<Entry> entry = std::move(it->second);
  --in_flight_;
  switch (result.outcome) {
    case WriteOutcome::kUnchanged:
      ++counters_.unchanged;
      break;
    case WriteOutcome::kApplied:
      ++counters_.applied;
      counters_.events += result.events.size();
      break;
    case WriteOutcome::kRefused:
      ++counters_.refused;
      break;
    default:
      break;
  }
  if (entry->next) {
    // The newer result takes the slot.
    auto fresh = std::make_unique<Entry>();
    fresh->result = std::move(entry->next->first);
    fresh->done = std::move(entry->next->second);
    fresh->hash = drift::StateHash(fresh->result.snapshot);
    it->second = std::move(fresh);
    ready_.push_back(domain);
  } else {
    entries_.erase(it);
  }
  entry->done(result);
  Pump();
}

void RedisStateStore::Retry(const std::string& domain, bool later) {
  Entry& entry = *entries_.at(domain);
  entry.in_flight = false;
  --in_flight_;
  ++counters_.retries;
  ready_.push_front(domain);
  Retry(later);
}

void RedisStateStore::Retry(bool later) {
  if (!later && client_.connected()) {
    Pump();
    return;
  }
  // Not connected: Flush() on reconnect sends it; the timer covers errors and missed flushes.
  if (!retry_armed_) {
    retry_armed_ = true;
    retry_timer_.expires_after(options_.retry_delay);
    retry_timer_.async_wait([this, alive = alive_](const boost::system::error_code& ec) {
      if (!*alive || ec) {
        return;
      }
      retry_armed_ = false;
      Pump();
      if (!ready_.empty() && !client_.connected()) {
        Retry(/*later=*/true);
      }
    });
  }
}

}  // namespace stswatch::store
