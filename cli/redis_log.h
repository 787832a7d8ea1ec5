#pragma once

// How every subcommand logs its Redis connection: connecting is news (info); losing the
// connection or failing to connect is a warning.

#include <string>
#include <string_view>

#include "common/log.h"
#include "store/redis_client.h"

namespace stswatch::cli {

inline void LogRedisConnection(store::RedisClient& client, Logger& log) {
  client.SetLogger([&log](std::string_view message) {
    log.Log(message.starts_with("connected") ? LogLevel::kInfo : LogLevel::kWarning,
            "redis.connection", {{"message", std::string(message)}});
  });
}

}  // namespace stswatch::cli
