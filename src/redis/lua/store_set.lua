-- RedisStore's set: the value, and an expiry rounded up to the whole second on
-- the server's timeline, as MemoryStore rounds it.
-- ARGV: value, time to live in nanoseconds ('' for none).
if ARGV[2] == '' then
  redis.call('SET', KEYS[1], ARGV[1])
  return 1
end
local now = NOW('')
local q, r = divmod(add(now, D(ARGV[2])), D('1000000000'))
if #r > 0 then q = add(q, ONE) end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('EXPIREAT', KEYS[1], S(q))
return 1
