#pragma once

// Runs `stswatch serve` against a testbed, as a user would, and reads what it stored in Redis:
// the drift events of every partition and the domains' last check times.

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "store/keys.h"
#include "store/redis_client.h"
#include "tests/store/redis_test_util.h"
#include "tests/testing/subprocess.h"
#include "tests/testing/testbed.h"

namespace stswatch::testing {

struct StoredEvent {
  std::string id;
  std::string domain;
  std::string kind;
  std::string severity;
  std::string subject;
  std::string json;  // The whole event (before, after, message...).
};

// The domains of testbed/scenarios/serve-before.yaml.
const std::vector<std::string>& ServeDomains();

class ServeHarness {
 public:
  // A directory under /tmp with the domains file (ServeDomains()) and the clock offset file.
  ServeHarness();
  ~ServeHarness();

  // Starts serve on the testbed with `extra` arguments (e.g. --redis URL); without --redis it
  // runs its own redis-server in dir()/data. Returns false if serve exited at once.
  bool Start(const Testbed& testbed, const std::vector<std::string>& extra = {});

  // Connects a Redis client to `endpoint` (default: serve's own redis in dir()/data).
  bool Connect(const std::string& endpoint = "");

  std::vector<StoredEvent> Events();
  // Events of `domain`, oldest first.
  std::vector<StoredEvent> EventsOf(const std::string& domain);
  // Unix ms of the domain's last check; 0 when none.
  std::int64_t LastCheck(const std::string& domain);

  // Polls `done` every 200 ms until it is true or `timeout` passed; returns done().
  static bool WaitFor(const std::function<bool()>& done, std::chrono::seconds timeout);

  void SetClockOffset(std::chrono::seconds offset);

  // Adds `domain` to Redis as the API does (stswatch:{pN}:watch).
  bool AddWatched(const std::string& domain, const std::string& settings_json);

  BackgroundProcess& serve() { return *serve_; }
  const std::string& dir() const { return dir_.path(); }
  std::string Log() const { return serve_ ? serve_->Log() : ""; }

 private:
  store::testing::TempDir dir_;
  std::unique_ptr<BackgroundProcess> serve_;
  boost::asio::io_context io_;
  std::unique_ptr<store::RedisClient> client_;
  store::KeySchema keys_;
};

}  // namespace stswatch::testing
