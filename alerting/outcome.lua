-- Records the outcome of one delivery attempt. alerting/alert_store.cc runs it.
--
-- KEYS[1]  the alerter lease; KEYS[2] deliveries hash; KEYS[3] queue zset
-- KEYS[4]  the tenant's log stream: delivered ("sent") or given up ("dead")
-- KEYS[5]  the stats hash
-- ARGV[1]  our lease value
-- ARGV[2]  delivery id
-- ARGV[3]  "delivered", "retry" or "dead"
-- ARGV[4]  the delivery JSON after the attempt
-- ARGV[5]  retry: when to attempt it next (Unix ms)
-- ARGV[6]  the log stream's length cap
-- ARGV[7]  the time (Unix ms) and ARGV[8] the reason, for the log entry
--
-- Returns 1, or 0 when the delivery is no longer there (already recorded); the error
-- "LEASE_LOST ..." when the lease is not ours (nothing written).
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return redis.error_reply('LEASE_LOST the alerter lease is not held by this process')
end
if redis.call('HEXISTS', KEYS[2], ARGV[2]) == 0 then
  return 0
end
if ARGV[3] == 'retry' then
  redis.call('HSET', KEYS[2], ARGV[2], ARGV[4])
  redis.call('ZADD', KEYS[3], ARGV[5], ARGV[2])
  redis.call('HINCRBY', KEYS[5], 'retries', 1)
  return 1
end
redis.call('HDEL', KEYS[2], ARGV[2])
redis.call('ZREM', KEYS[3], ARGV[2])
redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[6], '*', 'id', ARGV[2], 'time', ARGV[7],
           'reason', ARGV[8], 'delivery', ARGV[4])
redis.call('HINCRBY', KEYS[5], ARGV[3], 1)
return 1
