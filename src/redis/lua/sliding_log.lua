-- Sliding-window log, as `algorithm/sliding_log.rs`: a sorted set of the last L
-- admitted units, every score 0 so that members sort by their text, which is the
-- unit's time and a sequence number, each as 20 zero-padded digits (time order is
-- text order, and units stamped the same time stay distinct).
-- ARGV: mode ('c'/'p'), P, L, n, time.
-- Returns allowed, then remaining_num, reset_after, retry_after, delay.
local key, test = KEYS[1], ARGV[5] ~= ''
local p, l, n = D(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local now = NOW(ARGV[5])
local function pad(s) return string.rep('0', 20 - #s) .. s end
local function time_of(m) return D(string.sub(m, 1, 20)) end
local newest = redis.call('ZRANGE', key, -1, -1)[1]
local t_last, seq = ZERO, 0
if newest then t_last, seq = time_of(newest), tonumber(string.sub(newest, 21)) end
local now_eff = max(now, t_last)
local cutoff = sub(now_eff, p)
local young = cmp(now_eff, p) < 0
local filled = redis.call('ZCARD', key)
-- The units later than the cutoff, which are the newest ones.
local function live()
  if young then return filled end
  return redis.call('ZLEXCOUNT', key, '(' .. pad(S(cutoff)) .. string.rep('9', 20), '+')
end
if filled + n > l then
  local rank = filled + n - l - 1
  local blocker = time_of(redis.call('ZRANGE', key, rank, rank)[1])
  if young or cmp(blocker, cutoff) > 0 then
    return { 0, string.format('%d', l - live()), S(sub(add(t_last, p), now)),
      S(sub(add(blocker, p), now)), '0' }
  end
end
local older = filled + n
if older > l then older = l end
older = older - n
local live_older = live()
if live_older > older then live_older = older end
local reset = sub(add(now_eff, p), now)
if ARGV[1] == 'c' then
  local stamp = pad(S(now_eff))
  local batch = {}
  for i = 1, n do
    batch[#batch + 1] = 0
    batch[#batch + 1] = stamp .. pad(string.format('%d', seq + i))
    if #batch >= 2000 or i == n then
      redis.call('ZADD', key, unpack(batch))
      batch = {}
    end
  end
  if filled + n > l then redis.call('ZREMRANGEBYRANK', key, 0, filled + n - l - 1) end
  EXPIRE(key, reset, test)
end
return { 1, string.format('%d', l - n - live_older), S(reset), '0', '0' }
