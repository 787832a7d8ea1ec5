-- Appends one cross-check event of a TLS report (tlsrpt/ingest.cc) to its domain's partition
-- events stream and history, once: the event's marker key makes a second call (the same report
-- again, a sender retrying after a failure) a no-op. Every key is in the domain's partition.
--
-- KEYS[1] the event's marker   KEYS[2] partition events stream   KEYS[3] domain history stream
-- KEYS[4] partition counters
-- ARGV[1] marker lifetime (seconds)   ARGV[2] events stream max length   ARGV[3] history max
-- ARGV[4] id   ARGV[5] domain   ARGV[6] kind   ARGV[7] severity   ARGV[8] subject
-- ARGV[9] the event as JSON
--
-- Returns 1 when appended, 0 when it was already.
if redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) == false then
  return 0
end
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], '*', 'id', ARGV[4], 'domain', ARGV[5],
           'kind', ARGV[6], 'severity', ARGV[7], 'subject', ARGV[8], 'event', ARGV[9])
redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[3], '*', 'type', 'event', 'id', ARGV[4],
           'kind', ARGV[6], 'severity', ARGV[7], 'event', ARGV[9])
redis.call('HINCRBY', KEYS[4], 'events:' .. ARGV[6], 1)
redis.call('HINCRBY', KEYS[4], 'events', 1)
return 1
