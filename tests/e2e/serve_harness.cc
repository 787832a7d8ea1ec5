#include "tests/e2e/serve_harness.h"

#include <sys/stat.h>

#include <fstream>
#include <thread>

namespace stswatch::testing {

const std::vector<std::string>& ServeDomains() {
  static const std::vector<std::string> domains = {"stable.test", "policy.test",   "uncovered.test",
                                                   "renew.test",  "expiring.test", "starttls.test",
                                                   "gone.test"};
  return domains;
}

ServeHarness::ServeHarness() {
  std::ofstream domains(dir() + "/domains");
  domains << "# the serve scenario\n";
  for (const std::string& d : ServeDomains()) {
    domains << d << "\n";
  }
  SetClockOffset(std::chrono::seconds(0));
}

ServeHarness::~ServeHarness() {
  if (client_) {
    client_->Stop();
  }
  serve_.reset();
}

void ServeHarness::SetClockOffset(std::chrono::seconds offset) {
  // Written to a new file and renamed: serve never reads half a number.
  const std::string path = dir() + "/clock-offset";
  {
    std::ofstream out(path + ".new");
    out << offset.count() << "\n";
  }
  std::rename((path + ".new").c_str(), path.c_str());
}

bool ServeHarness::Start(const Testbed& testbed, const std::vector<std::string>& extra) {
  std::vector<std::string> argv = {Testbed::Runfile("cli/stswatch"),
                                   "serve",
                                   "--domains",
                                   dir() + "/domains",
                                   "--interval",
                                   "2s",
                                   "--timeout",
                                   "3",
                                   "--resolver",
                                   testbed.resolver(),
                                   "--ca-file",
                                   testbed.ca_file(),
                                   "--allow-private",
                                   "--data-dir",
                                   dir() + "/data",
                                   "--clock-offset-file",
                                   dir() + "/clock-offset",
                                   "--log-level",
                                   "debug"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  serve_ = std::make_unique<BackgroundProcess>(argv, dir() + "/serve.log");
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  return serve_->running();
}

bool ServeHarness::Connect(const std::string& endpoint) {
  const std::string url = endpoint.empty() ? dir() + "/data/redis.sock" : endpoint;
  if (endpoint.empty() && !WaitFor(
                              [&] {
                                struct stat st {};
                                return stat(url.c_str(), &st) == 0;
                              },
                              std::chrono::seconds(30))) {
    return false;
  }
  auto parsed = store::RedisEndpoint::Parse(url);
  if (!parsed.ok()) {
    return false;
  }
  client_ = std::make_unique<store::RedisClient>(io_.get_executor(), *parsed,
                                                 store::testing::FastOptions());
  client_->Start();
  return store::testing::RunUntil(io_, [&] { return client_->connected(); });
}

std::vector<StoredEvent> ServeHarness::Events() {
  std::vector<StoredEvent> events;
  for (int p = 0; p < keys_.partitions(); ++p) {
    const auto reply = store::testing::Call(io_, *client_, {"XRANGE", keys_.Events(p), "-", "+"});
    if (!reply.ok()) {
      continue;
    }
    for (const store::RedisReply& entry : reply->elements) {
      if (entry.elements.size() != 2) {
        continue;
      }
      std::map<std::string, std::string> f;
      const auto& fields = entry.elements[1].elements;
      for (std::size_t i = 0; i + 1 < fields.size(); i += 2) {
        f[fields[i].str] = fields[i + 1].str;
      }
      events.push_back({f["id"], f["domain"], f["kind"], f["severity"], f["subject"], f["event"]});
    }
  }
  return events;
}

std::vector<StoredEvent> ServeHarness::EventsOf(const std::string& domain) {
  std::vector<StoredEvent> out;
  for (StoredEvent& e : Events()) {
    if (e.domain == domain) {
      out.push_back(std::move(e));
    }
  }
  return out;
}

bool ServeHarness::AddWatched(const std::string& domain, const std::string& settings_json) {
  const auto reply = store::testing::Call(
      io_, *client_, {"HSET", keys_.Watch(keys_.PartitionOf(domain)), domain, settings_json});
  return reply.ok() && reply->type == store::RedisReply::Type::kInteger;
}

std::int64_t ServeHarness::LastCheck(const std::string& domain) {
  const auto reply = store::testing::Call(io_, *client_, {"HGET", keys_.Domain(domain), "checked"});
  if (!reply.ok() || reply->type != store::RedisReply::Type::kString) {
    return 0;
  }
  return std::atoll(reply->str.c_str());
}

bool ServeHarness::WaitFor(const std::function<bool()>& done, std::chrono::seconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) {
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return true;
}

}  // namespace stswatch::testing
