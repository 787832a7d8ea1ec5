-- Adds or updates domains in one tenant's domains hash, within the tenant's limit, atomically
-- (one key: one Redis Cluster slot). api/domain_registry.cc runs it.
--
-- KEYS[1]  <prefix>:tenant:<id>:domains   (hash: domain -> settings JSON)
-- ARGV[1]  "add": add the domains not there yet, update the others;
--          "update": update the domains that are there, leave the others alone
-- ARGV[2]  the most domains the tenant may have
-- ARGV[3]  the settings JSON to store for each domain
-- ARGV[4..] the domains
--
-- Returns one integer per domain: 1 added, 0 was there (settings replaced), -1 not added because
-- the tenant has reached its limit, -2 not there ("update").
local key, op, limit, settings = KEYS[1], ARGV[1], tonumber(ARGV[2]), ARGV[3]
local count = redis.call('HLEN', key)
local out = {}
for i = 4, #ARGV do
  local domain = ARGV[i]
  if redis.call('HEXISTS', key, domain) == 1 then
    redis.call('HSET', key, domain, settings)
    out[#out + 1] = 0
  elseif op ~= 'add' then
    out[#out + 1] = -2
  elseif count >= limit then
    out[#out + 1] = -1
  else
    redis.call('HSET', key, domain, settings)
    count = count + 1
    out[#out + 1] = 1
  end
end
return out
