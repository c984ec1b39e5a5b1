-- Token bucket and leaky bucket (GCRA), as `algorithm/gcra.rs`. State: the TAT.
-- ARGV: mode ('c' check, 'p' peek), T, tau, T*(n-1), n*T, leaky ('1'/'0'), time.
-- Returns allowed, then remaining_num, reset_after, retry_after, delay.
local key, test = KEYS[1], ARGV[7] ~= ''
local stored = redis.call('GET', key) or '0'

-- Fast path: every number of the decision is a difference from now, exact in a
-- double when the parameters are below 10^15 and the TAT at most 40 days ahead
-- (any TAT at or before now decides as the TAT now would, so it counts as now).
-- Times are split into seconds and nanoseconds, each exact.
if #ARGV[2] <= 15 and #ARGV[3] <= 15 then
  local ns, nf = NOW2(ARGV[7])
  local ts, tf = SPLIT(stored)
  if ts < ns or (ts == ns and tf <= nf) then ts, tf = ns, nf end
  if ts - ns < 3456000 then
    local t, tau = tonumber(ARGV[2]), tonumber(ARGV[3])
    local extra, nt = tonumber(ARGV[4]), tonumber(ARGV[5])
    local d = (ts - ns) * 1e9 + (tf - nf)
    local function z(x) if x < 0 then return 0 end return x end
    local function str(x) return string.format('%d', x) end
    if d + extra - tau > 0 then
      return { 0, str(z(tau + t - d)), str(z(d)), str(d + extra - tau), '0' }
    end
    local ahead = z(d)
    local reset = ahead + nt
    -- TAT' = now + reset, in seconds and nanoseconds.
    if ARGV[1] == 'c' then
      local f = nf + reset
      local c = math.floor(f / 1e9)
      f = f - c * 1e9
      if f < 0 then c = c - 1; f = f + 1e9 elseif f >= 1e9 then c = c + 1; f = f - 1e9 end
      local s = ns + c
      local v
      if s > 0 then v = string.format('%d%09d', s, f) else v = str(f) end
      if test then
        redis.call('SET', key, v)
      else
        local ms = math.floor(reset / 1e6)
        if ms * 1e6 < reset then ms = ms + 1 end
        if ms < 1 then ms = 1 end
        redis.call('SET', key, v, 'PX', str(ms))
      end
    end
    local delay = '0'
    if ARGV[6] == '1' then delay = str(ahead) end
    return { 1, str(z(tau + t - reset)), str(reset), '0', delay }
  end
end

-- Exact path, on decimal digits, for any numbers.
local t, tau, extra, nt = D(ARGV[2]), D(ARGV[3]), D(ARGV[4]), D(ARGV[5])
local now = NOW(ARGV[7])
local tat = D(stored)
local earliest = sub(add(tat, extra), tau)
local full = add(add(now, tau), t)
if cmp(now, earliest) < 0 then
  return { 0, S(sub(full, tat)), S(sub(tat, now)), S(sub(earliest, now)), '0' }
end
local start = max(tat, now)
local nxt = add(start, nt)
local reset = sub(nxt, now)
if ARGV[1] == 'c' then
  STORE(key, S(nxt), reset, test)
end
local delay = '0'
if ARGV[6] == '1' then delay = S(sub(start, now)) end
return { 1, S(sub(full, nxt)), S(reset), '0', delay }
