-- Records which tenants watch a domain, and how often, in the partition's watch hash that serve
-- and the scheduler read (store/README.md), atomically (one key: one Redis Cluster slot).
-- api/domain_registry.cc runs it.
--
-- KEYS[1]  stswatch:{pN}:watch   (hash: domain -> JSON)
-- ARGV[1]  "set": the tenant watches the domains every ARGV[3] seconds (0: the server's
--          default); "remove": the tenant no longer watches them
-- ARGV[2]  the tenant id
-- ARGV[3]  the interval in seconds ("set")
-- ARGV[4..] the domains, all of this key's partition
--
-- Each domain's value becomes
--   {"interval_s": <smallest non-zero interval of its tenants, or 0>, "tenants": {"t-...": N}}
-- and the domain leaves the hash when no tenant is left. A value without "tenants" was written
-- by someone else (by hand, a test harness): its interval is kept as "manual_interval_s", counts
-- like a tenant's, and keeps the domain in the hash. Returns the number of domains.
local key, op, tenant, interval = KEYS[1], ARGV[1], ARGV[2], tonumber(ARGV[3]) or 0
for i = 4, #ARGV do
  local domain = ARGV[i]
  local tenants, manual = {}, nil
  local raw = redis.call('HGET', key, domain)
  if raw then
    local ok, value = pcall(cjson.decode, raw)
    if ok and type(value) == 'table' then
      if type(value.tenants) == 'table' then
        for t, n in pairs(value.tenants) do
          if type(t) == 'string' then
            tenants[t] = tonumber(n) or 0
          end
        end
        if value.manual_interval_s ~= nil then
          manual = tonumber(value.manual_interval_s) or 0
        end
      else
        manual = tonumber(value.interval_s) or 0
      end
    end
  end
  if op == 'set' then
    tenants[tenant] = interval
  else
    tenants[tenant] = nil
  end
  local ids = {}
  for t in pairs(tenants) do
    ids[#ids + 1] = t
  end
  table.sort(ids)
  if #ids == 0 and manual == nil then
    redis.call('HDEL', key, domain)
  else
    local smallest = 0
    if manual ~= nil and manual > 0 then
      smallest = manual
    end
    local parts = {}
    for _, t in ipairs(ids) do
      local n = tenants[t]
      if n > 0 and (smallest == 0 or n < smallest) then
        smallest = n
      end
      parts[#parts + 1] = cjson.encode(t) .. ':' .. string.format('%d', n)
    end
    local json = '{"interval_s":' .. string.format('%d', smallest) .. ',"tenants":{' ..
        table.concat(parts, ',') .. '}'
    if manual ~= nil then
      json = json .. ',"manual_interval_s":' .. string.format('%d', manual)
    end
    redis.call('HSET', key, domain, json .. '}')
  end
end
return #ARGV - 3
