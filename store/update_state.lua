-- stswatch: the atomic state update of one domain (store/README.md, "The update script").
--
-- Every key lives in the domain's partition: they share the hash tag {pN}, so the script runs on
-- one Redis Cluster slot.
--   KEYS[1] domain hash        KEYS[2] partition events stream   KEYS[3] domain history stream
--   KEYS[4] partition counters KEYS[5] partition index (domain -> "status mode")
-- ARGV[1] "check" or "apply"   ARGV[2] domain   ARGV[3] fencing token (20 digits)
-- ARGV[4] new state hash       ARGV[5] check time (unix ms)
-- "check" asks: is the state unchanged? If so it records the check (2 commands) and is done.
-- "apply" also passes:
-- ARGV[6] expected stored hash ("" for none)   ARGV[7] expected stored version
-- ARGV[8] snapshot JSON   ARGV[9] status   ARGV[10] mode   ARGV[11] history max length
-- ARGV[12] history min id (unix ms, 0 = keep)  ARGV[13] events stream max length
-- ARGV[14] number of events, then 5 values per event: id, kind, severity, subject, JSON.
--
-- Replies: {"refused", stored token} | {"unchanged", version} |
--          {"changed", stored hash, stored version, stored snapshot} | {"applied", version}

local current = redis.call('HMGET', KEYS[1], 'token', 'hash', 'version')
local token, hash, version = current[1], current[2], current[3]
if token and token > ARGV[3] then
  -- Fencing: a writer whose token is older than the newest one seen has lost its lease.
  redis.call('HINCRBY', KEYS[4], 'writes_refused', 1)
  return {'refused', token}
end
if hash == ARGV[4] then
  -- Unchanged (or this very write, retried after its reply was lost).
  redis.call('HSET', KEYS[1], 'token', ARGV[3], 'checked', ARGV[5])
  return {'unchanged', version}
end
hash = hash or ''
version = version or '0'
if ARGV[1] == 'check' or hash ~= ARGV[6] or version ~= ARGV[7] then
  -- The caller must diff against the stored snapshot (again: another writer got there first).
  return {'changed', hash, version, redis.call('HGET', KEYS[1], 'snapshot') or ''}
end

local next_version = tostring(tonumber(version) + 1)
redis.call('HSET', KEYS[1], 'domain', ARGV[2], 'token', ARGV[3], 'hash', ARGV[4],
           'version', next_version, 'checked', ARGV[5], 'changed', ARGV[5],
           'snapshot', ARGV[8], 'status', ARGV[9], 'mode', ARGV[10])
redis.call('HSET', KEYS[5], ARGV[2], ARGV[9] .. ' ' .. ARGV[10])
local history_max = ARGV[11]
redis.call('XADD', KEYS[3], 'MAXLEN', '~', history_max, '*', 'type', 'state',
           'version', next_version, 'hash', ARGV[4], 'status', ARGV[9], 'mode', ARGV[10],
           'time', ARGV[5])
local n = tonumber(ARGV[14])
for i = 0, n - 1 do
  local base = 15 + i * 5
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[13], '*', 'id', ARGV[base],
             'domain', ARGV[2], 'kind', ARGV[base + 1], 'severity', ARGV[base + 2],
             'subject', ARGV[base + 3], 'event', ARGV[base + 4])
  redis.call('XADD', KEYS[3], 'MAXLEN', '~', history_max, '*', 'type', 'event',
             'id', ARGV[base], 'kind', ARGV[base + 1], 'severity', ARGV[base + 2],
             'event', ARGV[base + 4])
  redis.call('HINCRBY', KEYS[4], 'events:' .. ARGV[base + 1], 1)
end
if ARGV[12] ~= '0' then
  redis.call('XTRIM', KEYS[3], 'MINID', '~', ARGV[12])
end
redis.call('HINCRBY', KEYS[4], 'state_changes', 1)
if n > 0 then
  redis.call('HINCRBY', KEYS[4], 'events', n)
end
return {'applied', next_version}
