-- Fixed window, as `algorithm/fixed_window.rs`. State: 'k count' (window, count).
-- ARGV: mode ('c'/'p'), P, L, n, time.
-- Returns allowed, then remaining_num, reset_after, retry_after, delay.
local key, test = KEYS[1], ARGV[5] ~= ''
local p, l, n = D(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local now = NOW(ARGV[5])
local st = redis.call('GET', key)
local sk, sc = ZERO, 0
if st then
  local sp = string.find(st, ' ', 1, true)
  sk, sc = D(string.sub(st, 1, sp - 1)), tonumber(string.sub(st, sp + 1))
end
local k, count = divmod(now, p), 0
if cmp(k, sk) <= 0 then k, count = sk, sc end
local reset = sub(mul(add(k, ONE), p), now)
if count + n > l then
  return { 0, string.format('%d', l - count), S(reset), S(reset), '0' }
end
if ARGV[1] == 'c' then
  STORE(key, S(k) .. ' ' .. string.format('%d', count + n), reset, test)
end
return { 1, string.format('%d', l - count - n), S(reset), '0', '0' }
