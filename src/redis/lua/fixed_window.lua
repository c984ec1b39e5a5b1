-- Fixed window, as `algorithm/fixed_window.rs`. State: 'k count' (window, count).
-- ARGV: mode ('c'/'p'), P, L, n, time.
-- Returns allowed, then remaining_num, reset_after, retry_after, delay.
local key, test = KEYS[1], ARGV[5] ~= ''
local l, n = tonumber(ARGV[3]), tonumber(ARGV[4])
local st = redis.call('GET', key)
local skstr, sc = '0', 0
if st then
  local sp = string.find(st, ' ', 1, true)
  skstr, sc = string.sub(st, 1, sp - 1), tonumber(string.sub(st, sp + 1))
end
local function str(x) return string.format('%d', x) end

-- Fast path: the window number and the time into it as exact doubles (see
-- WINDOW), and a stored window no later than now's.
local nk, e, pp = WINDOW(ARGV[2], NOW2(ARGV[5]))
if nk and #skstr <= 15 and tonumber(skstr) <= nk then
  local count = 0
  if tonumber(skstr) == nk then count = sc end
  local reset = pp - e
  if count + n > l then
    return { 0, str(l - count), str(reset), str(reset), '0' }
  end
  if ARGV[1] == 'c' then
    STORE2(key, str(nk) .. ' ' .. str(count + n), reset, test)
  end
  return { 1, str(l - count - n), str(reset), '0', '0' }
end

-- Exact path, on decimal digits, for any numbers.
local p = D(ARGV[2])
local now = NOW(ARGV[5])
local sk = D(skstr)
local k, count = divmod(now, p), 0
if cmp(k, sk) <= 0 then k, count = sk, sc end
local reset = sub(mul(add(k, ONE), p), now)
if count + n > l then
  return { 0, str(l - count), S(reset), S(reset), '0' }
end
if ARGV[1] == 'c' then
  STORE(key, S(k) .. ' ' .. str(count + n), reset, test)
end
return { 1, str(l - count - n), S(reset), '0', '0' }
