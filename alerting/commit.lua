-- Commits what the alerter made of a batch of events (or of a tick) in one step: the alert
-- state of the tenants it touched, the deliveries it planned, and the acknowledgement of the
-- events. Either all of it is stored or none (the events then stay pending and are processed
-- again from the state before). alerting/alert_store.cc runs it.
--
-- KEYS[1]  the alerter lease ("<holder>|<epoch>" while held)
-- KEYS[2]  books hash        tenant -> alert state JSON
-- KEYS[3]  deliveries hash   delivery id -> delivery JSON
-- KEYS[4]  queue zset        delivery id -> when to attempt it (Unix ms)
-- ARGV[1]  our lease value; ARGV[2] the consumer group
-- ARGV[3]  n books, then n pairs (tenant, JSON)
-- then     m deliveries, then m triples (id, JSON, next ms)
-- then     k acknowledgements, then k pairs (stream key, entry id)
--
-- Returns the number of events acknowledged, or the error "LEASE_LOST ..." when the lease is
-- not ours (nothing written).
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return redis.error_reply('LEASE_LOST the alerter lease is not held by this process')
end
local i = 3
local n = tonumber(ARGV[i])
i = i + 1
for _ = 1, n do
  redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1])
  i = i + 2
end
local m = tonumber(ARGV[i])
i = i + 1
for _ = 1, m do
  if redis.call('HSETNX', KEYS[3], ARGV[i], ARGV[i + 1]) == 1 then
    redis.call('ZADD', KEYS[4], ARGV[i + 2], ARGV[i])
  end
  i = i + 3
end
local k = tonumber(ARGV[i])
i = i + 1
local acked = 0
for _ = 1, k do
  acked = acked + redis.call('XACK', ARGV[i], ARGV[2], ARGV[i + 1])
  i = i + 2
end
return acked
