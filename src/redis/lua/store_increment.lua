-- RedisStore's increment: adds to a 32-bit value (0 if none); a key it creates
-- expires after the time to live (rounded up to the whole second), an existing key
-- keeps its expiry; an overflow changes nothing and answers -1.
-- ARGV: by, time to live in nanoseconds ('' for none).
local old = redis.call('GET', KEYS[1])
local by = tonumber(ARGV[1])
local v = by
if old then v = tonumber(old) + by end
if v > 4294967295 then return -1 end
redis.call('SET', KEYS[1], string.format('%d', v), 'KEEPTTL')
if not old and ARGV[2] ~= '' then
  local q, r = divmod(add(NOW(''), D(ARGV[2])), D('1000000000'))
  if #r > 0 then q = add(q, ONE) end
  redis.call('EXPIREAT', KEYS[1], S(q))
end
return v
