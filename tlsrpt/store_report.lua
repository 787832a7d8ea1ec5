-- Stores one TLS report and adds it to its domains' daily aggregates, once. tlsrpt/report_store.cc
-- runs it.
--
-- KEYS[1]  the report's "seen" key (organization and report id)
-- KEYS[2]  the report's key (its JSON)
-- KEYS[3..] the aggregate hashes of the (domain, day) pairs it counts for
-- ARGV[1]  the report's JSON; ARGV[2] how long to keep all of it (seconds)
-- then, for each aggregate hash in KEYS order: n, then n pairs (field, increment)
--
-- Returns 1 when stored, 0 for a duplicate (nothing changed).
--
-- The "seen" mark is set last: Redis does not undo a script that fails half way (out of memory),
-- and a report marked seen but only partly counted would stay so, its sender's retry taken for a
-- duplicate. Failing before the mark, the retry counts it again from the start instead.
if redis.call('EXISTS', KEYS[1]) == 1 then
  return 0
end
redis.call('SET', KEYS[2], ARGV[1], 'EX', ARGV[2])
local i = 3
for k = 3, #KEYS do
  local n = tonumber(ARGV[i])
  i = i + 1
  for _ = 1, n do
    redis.call('HINCRBY', KEYS[k], ARGV[i], ARGV[i + 1])
    i = i + 2
  end
  redis.call('EXPIRE', KEYS[k], ARGV[2])
end
redis.call('SET', KEYS[1], KEYS[2], 'EX', ARGV[2])
return 1
