-- Exact unsigned integers for the ratecell scripts. Lua numbers are doubles, exact
-- only below 2^53, while times on the nanosecond timeline are near 2^61: so every
-- time and product is an array of base-10^7 digits, least significant first, whose
-- digit products (below 10^14) stay exact. Decimal strings in, decimal strings out.
local R = 10000000

-- Servers before Redis 5 replicate scripts verbatim, which refuses writes after
-- TIME; replicating the effects instead lets them run (a no-op from Redis 5 on).
if redis.replicate_commands then redis.replicate_commands() end

local function norm(a)
  local n = #a
  while n > 0 and a[n] == 0 do
    a[n] = nil
    n = n - 1
  end
  return a
end

-- From a decimal string.
local function D(s)
  local a, i = {}, #s
  while i >= 1 do
    local j = i - 6
    if j < 1 then j = 1 end
    a[#a + 1] = tonumber(string.sub(s, j, i))
    i = j - 1
  end
  return norm(a)
end

-- To a decimal string.
local function S(a)
  local n = #a
  if n == 0 then return '0' end
  if n == 1 then return string.format('%d', a[1]) end
  if n == 2 then return string.format('%d%07d', a[2], a[1]) end
  if n == 3 then return string.format('%d%07d%07d', a[3], a[2], a[1]) end
  local t = { string.format('%d', a[n]) }
  for i = n - 1, 1, -1 do t[#t + 1] = string.format('%07d', a[i]) end
  return table.concat(t)
end

-- From a double holding an integer: exact below 2^53, a near value above (only
-- the division's first estimate is ever that large).
local function F(x)
  local a = {}
  x = math.floor(x)
  while x > 0 do
    local q = math.floor(x / R)
    local d = x - q * R
    if d < 0 then d = 0 elseif d >= R then d = R - 1 end
    a[#a + 1] = d
    x = q
  end
  return a
end

-- To a double, rounded (for estimates only).
local function G(a)
  local x = 0
  for i = #a, 1, -1 do x = x * R + a[i] end
  return x
end

local function cmp(a, b)
  if #a ~= #b then return #a < #b and -1 or 1 end
  for i = #a, 1, -1 do
    if a[i] ~= b[i] then return a[i] < b[i] and -1 or 1 end
  end
  return 0
end

local function add(a, b)
  local r, c = {}, 0
  local n = #a
  if #b > n then n = #b end
  for i = 1, n do
    local s = (a[i] or 0) + (b[i] or 0) + c
    if s >= R then r[i] = s - R; c = 1 else r[i] = s; c = 0 end
  end
  if c > 0 then r[n + 1] = c end
  return r
end

-- a - b, or 0 if b > a (Rust's saturating_sub).
local function sub(a, b)
  if cmp(a, b) <= 0 then return {} end
  local r, c = {}, 0
  for i = 1, #a do
    local s = a[i] - (b[i] or 0) - c
    if s < 0 then r[i] = s + R; c = 1 else r[i] = s; c = 0 end
  end
  return norm(r)
end

local function mul(a, b)
  if #a == 0 or #b == 0 then return {} end
  local r = {}
  for i = 1, #a + #b do r[i] = 0 end
  for i = 1, #a do
    local c, ai = 0, a[i]
    for j = 1, #b do
      local t = r[i + j - 1] + ai * b[j] + c
      c = math.floor(t / R)
      r[i + j - 1] = t - c * R
    end
    local k = i + #b
    while c > 0 do
      local t = r[k] + c
      c = math.floor(t / R)
      r[k] = t - c * R
      k = k + 1
    end
  end
  return norm(r)
end

-- floor(a / b) and a mod b, for b > 0: one digit at a time for a one-digit b,
-- else a double's estimate corrected exactly until the remainder is below b.
local function divmod(a, b)
  if #b == 1 then
    local d, q, r = b[1], {}, 0
    for i = #a, 1, -1 do
      local t = r * R + a[i]
      local qi = math.floor(t / d)
      q[i] = qi
      r = t - qi * d
    end
    return norm(q), F(r)
  end
  if cmp(a, b) < 0 then return {}, a end
  local fb = G(b)
  local q = F(G(a) / fb)
  while true do
    local qb = mul(q, b)
    if cmp(qb, a) > 0 then
      local dq = F(math.floor(G(sub(qb, a)) / fb) + 1)
      if cmp(dq, q) >= 0 then q = {} else q = sub(q, dq) end
    else
      local r = sub(a, qb)
      if cmp(r, b) < 0 then return q, r end
      local dq = math.floor(G(r) / fb)
      if dq < 1 then dq = 1 end
      q = add(q, F(dq))
    end
  end
end

local function max(a, b)
  if cmp(a, b) >= 0 then return a end
  return b
end

local function min(a, b)
  if cmp(a, b) <= 0 then return a end
  return b
end

local ZERO, ONE, MS = {}, { 1 }, { 1000000 }

-- The server's clock: seconds and microseconds since the epoch.
local function CLOCK()
  local t = redis.call('TIME')
  return tonumber(t[1]), tonumber(t[2])
end

-- Seconds and microseconds as nanoseconds: s*10^9 + us*10^3 is s*100 digits
-- shifted by one, plus us*1000 (below 10^9, so a carry below 100).
local function NANOS(s, us)
  local low = us * 1000
  local c = math.floor(low / R)
  local mid = s * 100 + c
  local hi = math.floor(mid / R)
  return norm({ low - c * R, mid - hi * R, hi })
end

-- A decimal time as whole seconds and nanoseconds, each exact in a double.
local function SPLIT(s)
  local n = #s
  if n <= 9 then return 0, tonumber(s) end
  return tonumber(string.sub(s, 1, n - 9)), tonumber(string.sub(s, n - 8))
end

-- The time as whole seconds and nanoseconds: the test's, or the server's.
local function NOW2(arg)
  if arg ~= '' then return SPLIT(arg) end
  local s, us = CLOCK()
  return s, us * 1000
end

-- floor(x / y) for exact doubles whose quotient's product stays below 2^53.
local function IDIV(x, y)
  local q = math.floor(x / y)
  if q * y > x then q = q - 1 elseif (q + 1) * y <= x then q = q + 1 end
  return q
end

-- Times as pairs {s, f} of whole seconds and nanoseconds (f below 10^9), each
-- exact in a double for any time below 2^63 ns: sums, differences and
-- comparisons of times stay exact without digit arrays.
local E9 = 1000000000

local function P2(str)
  local s, f = SPLIT(str)
  return { s, f }
end

local function padd(a, b)
  local s, f = a[1] + b[1], a[2] + b[2]
  if f >= E9 then s = s + 1; f = f - E9 end
  return { s, f }
end

-- a - b, or 0 if b > a.
local function psub(a, b)
  local s, f = a[1] - b[1], a[2] - b[2]
  if f < 0 then s = s - 1; f = f + E9 end
  if s < 0 then return { 0, 0 } end
  return { s, f }
end

local function pcmp(a, b)
  if a[1] ~= b[1] then return a[1] < b[1] and -1 or 1 end
  if a[2] ~= b[2] then return a[2] < b[2] and -1 or 1 end
  return 0
end

local function pstr(a)
  if a[1] > 0 then return string.format('%d%09d', a[1], a[2]) end
  return string.format('%d', a[2])
end

-- As 20 zero-padded digits, whose text order is their order.
local function ppad(a)
  return string.format('%011d%09d', a[1], a[2])
end

-- For the window scripts' fast path: the window number of the time (s, f) and the
-- time into it, as exact doubles, when the period P (decimal) is whole seconds
-- below 2^53 ns or divides a second; else nil (the exact path decides).
local function WINDOW(pstr, s, f)
  if #pstr > 15 then return nil end
  local p = tonumber(pstr)
  local m = IDIV(p, 1000000000)
  if m * 1000000000 == p then
    local k = IDIV(s, m)
    return k, (s - k * m) * 1000000000 + f, p
  end
  local j = IDIV(1000000000, p)
  if j * p == 1000000000 then
    local q = IDIV(f, p)
    local k = s * j + q
    if k >= 9007199254740992 then return nil end
    return k, f - q * p, p
  end
  return nil
end

-- Whole milliseconds, rounded up and at least 1, of an exact double of nanoseconds.
local function MS_UP(ns)
  local q = IDIV(ns, 1000000)
  if q * 1000000 < ns then q = q + 1 end
  if q < 1 then q = 1 end
  return string.format('%d', q)
end

-- Whole milliseconds, rounded up and at least 1, of a pair.
local function PMS(a)
  local q = IDIV(a[2], 1000000)
  local ms = a[1] * 1000 + q
  if q * 1000000 < a[2] then ms = ms + 1 end
  if ms < 1 then ms = 1 end
  return string.format('%d', ms)
end

-- Stores `value` for `ns` more nanoseconds (a double), never expiring under a test's
-- time.
local function STORE2(key, value, ns, test)
  if test then
    redis.call('SET', key, value)
  else
    redis.call('SET', key, value, 'PX', MS_UP(ns))
  end
end

-- The time: the test's, or the server's clock in nanoseconds since the epoch.
local function NOW(arg)
  if arg ~= '' then return D(arg) end
  return NANOS(CLOCK())
end

-- The whole milliseconds, rounded up and at least 1, that a state of `ttl`
-- nanoseconds more to mean something is kept for.
local function TTL_MS(ttl)
  local q, r = divmod(ttl, MS)
  if #r > 0 then q = add(q, ONE) end
  if #q == 0 then q = ONE end
  return S(q)
end

-- Stores `value`, kept `ttl` nanoseconds (no expiry under an injected test time,
-- which is not the server's clock).
local function STORE(key, value, ttl, test)
  if test then
    redis.call('SET', key, value)
  else
    redis.call('SET', key, value, 'PX', TTL_MS(ttl))
  end
end

-- Lets the key go once it means no state, `ttl` nanoseconds from now.
local function EXPIRE(key, ttl, test)
  if test then return end
  redis.call('PEXPIRE', key, TTL_MS(ttl))
end
