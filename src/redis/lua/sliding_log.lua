-- Sliding-window log, as `algorithm/sliding_log.rs`: a sorted set of the last L
-- admitted units, every score 0 so that members sort by their text, which is the
-- unit's time and a sequence number, each as 20 zero-padded digits (time order is
-- text order, and units stamped the same time stay distinct). Times are pairs of
-- seconds and nanoseconds (see num.lua): the log only adds, subtracts and compares.
-- ARGV: mode ('c'/'p'), P, L, n, time.
-- Returns allowed, then remaining_num, reset_after, retry_after, delay.
local key, test = KEYS[1], ARGV[5] ~= ''
local p, l, n = P2(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local now = { NOW2(ARGV[5]) }
local function time_of(m)
  return { tonumber(string.sub(m, 1, 11)), tonumber(string.sub(m, 12, 20)) }
end
local newest = redis.call('ZRANGE', key, -1, -1)[1]
local t_last, seq = { 0, 0 }, 0
if newest then t_last, seq = time_of(newest), tonumber(string.sub(newest, 21)) end
local now_eff = now
if pcmp(t_last, now) > 0 then now_eff = t_last end
local young = pcmp(now_eff, p) < 0
local cutoff = psub(now_eff, p)
local filled = redis.call('ZCARD', key)
-- The units later than the cutoff, which are the newest ones.
local function live()
  if young then return filled end
  return redis.call('ZLEXCOUNT', key, '(' .. ppad(cutoff) .. string.rep('9', 20), '+')
end
if filled + n > l then
  local rank = filled + n - l - 1
  local blocker = time_of(redis.call('ZRANGE', key, rank, rank)[1])
  if young or pcmp(blocker, cutoff) > 0 then
    return { 0, string.format('%d', l - live()), pstr(psub(padd(t_last, p), now)),
      pstr(psub(padd(blocker, p), now)), '0' }
  end
end
local older = filled + n
if older > l then older = l end
older = older - n
local live_older = live()
if live_older > older then live_older = older end
local reset = psub(padd(now_eff, p), now)
if ARGV[1] == 'c' then
  local stamp = ppad(now_eff)
  local batch = {}
  for i = 1, n do
    batch[#batch + 1] = 0
    batch[#batch + 1] = stamp .. string.format('%020d', seq + i)
    if #batch >= 2000 or i == n then
      redis.call('ZADD', key, unpack(batch))
      batch = {}
    end
  end
  if filled + n > l then redis.call('ZREMRANGEBYRANK', key, 0, filled + n - l - 1) end
  if not test then redis.call('PEXPIRE', key, PMS(reset)) end
end
return { 1, string.format('%d', l - n - live_older), pstr(reset), '0', '0' }
