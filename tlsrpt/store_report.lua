-- Stores one TLS report and adds it to its domains' daily aggregates, once. tlsrpt/report_store.cc
-- runs it.
--
-- KEYS[1]  the report's "seen" key (organization and report id)
-- KEYS[2]  the report's key (its JSON)
-- KEYS[3..] the aggregate hashes of the (domain, day) pairs it counts for
-- ARGV[1]  the report's JSON; ARGV[2] how long to keep all of it (seconds)
-- ARGV[3]  the most fields an aggregate hash takes: past it a new "mx:", "rt:", "org_ok:" or
--          "org_fail:" field is counted as "<prefix>:(other)", and a new "rid:" is left out
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
local cap = tonumber(ARGV[3])
local i = 4
for k = 3, #KEYS do
  local n = tonumber(ARGV[i])
  i = i + 1
  for _ = 1, n do
    local field = ARGV[i]
    if redis.call('HLEN', KEYS[k]) >= cap and redis.call('HEXISTS', KEYS[k], field) == 0 then
      local prefix = string.match(field, '^[a-z_]+:')
      if prefix == 'rid:' then
        field = nil
      elseif prefix then
        field = prefix .. '(other)'
      end
    end
    if field then
      redis.call('HINCRBY', KEYS[k], field, ARGV[i + 1])
    end
    i = i + 2
  end
  redis.call('EXPIRE', KEYS[k], ARGV[2])
end
redis.call('SET', KEYS[1], KEYS[2], 'EX', ARGV[2])
return 1
