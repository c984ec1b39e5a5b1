-- Token bucket and leaky bucket (GCRA), as `algorithm/gcra.rs`. State: the TAT.
-- ARGV: mode ('c' check, 'p' peek), T, tau, T*(n-1), n*T, leaky ('1'/'0'), time.
-- Returns allowed, then remaining_num, reset_after, retry_after, delay.
local key, test = KEYS[1], ARGV[7] ~= ''
local t, tau, extra, nt = D(ARGV[2]), D(ARGV[3]), D(ARGV[4]), D(ARGV[5])
local now = NOW(ARGV[7])
local tat = D(redis.call('GET', key) or '0')
local earliest = sub(add(tat, extra), tau)
local full = add(add(now, tau), t)
if cmp(now, earliest) < 0 then
  return { 0, S(sub(full, tat)), S(sub(tat, now)), S(sub(earliest, now)), '0' }
end
local start = max(tat, now)
local nxt = add(start, nt)
local reset = sub(nxt, now)
if ARGV[1] == 'c' then
  redis.call('SET', key, S(nxt))
  EXPIRE(key, reset, test)
end
local delay = '0'
if ARGV[6] == '1' then delay = S(sub(start, now)) end
return { 1, S(sub(full, nxt)), S(reset), '0', delay }
