-- Sliding-window counter, as `algorithm/sliding_counter.rs`. State: 'k prev cur'.
-- ARGV: mode ('c'/'p'), P, L, n, time.
-- Returns allowed, then remaining_num, reset_after, retry_after, delay.
local key, test = KEYS[1], ARGV[5] ~= ''
local l, n = tonumber(ARGV[3]), tonumber(ARGV[4])
local st = redis.call('GET', key)
local skstr, sp, sc = '0', 0, 0
if st then
  local a = string.find(st, ' ', 1, true)
  local b = string.find(st, ' ', a + 1, true)
  skstr = string.sub(st, 1, a - 1)
  sp, sc = tonumber(string.sub(st, a + 1, b - 1)), tonumber(string.sub(st, b + 1))
end
local function str(x) return string.format('%d', x) end

-- Fast path: the window number and the time into it as exact doubles (see
-- WINDOW), a stored window no later than now's, and L*P below 2^51 so that every
-- weighted sum below is exact.
local fk, fe, fp = WINDOW(ARGV[2], NOW2(ARGV[5]))
if fk and #skstr <= 15 and tonumber(skstr) <= fk and l * fp < 2251799813685248 then
  local sk = tonumber(skstr)
  local prev, cur = 0, 0
  if sk == fk then prev, cur = sp, sc elseif sk + 1 == fk then prev = sc end
  local cap = l * fp
  local pw = prev * (fp - fe)
  local function remaining(m)
    local r = IDIV(cap - pw, fp) - m
    if r < 0 then r = 0 end
    return str(r)
  end
  local function reset_after(m)
    if m > 0 then return str(2 * fp - fe) elseif prev > 0 then return str(fp - fe) end
    return '0'
  end
  if pw + (cur + n) * fp <= cap then
    if ARGV[1] == 'c' then
      STORE2(key, str(fk) .. ' ' .. str(prev) .. ' ' .. str(cur + n), 2 * fp - fe, test)
    end
    return { 1, remaining(cur + n), reset_after(cur + n), '0', '0' }
  end
  local at
  if cur + n <= l then
    local room = IDIV((l - cur - n) * fp, prev)
    if room > fp then room = fp end
    at = fp - room - fe
  else
    local room = IDIV((l - n) * fp, cur)
    if room > fp then room = fp end
    at = 2 * fp - room - fe
  end
  if at < 0 then at = 0 end
  return { 0, remaining(cur), reset_after(cur), str(at), '0' }
end

-- Exact path, on decimal digits, for any numbers.
local p = D(ARGV[2])
local now = NOW(ARGV[5])
local sk = D(skstr)
local nk, ne = divmod(now, p)
local k, prev, cur, e
local c = cmp(nk, sk)
if c == 0 then
  k, prev, cur, e = nk, sp, sc, ne
elseif c > 0 and cmp(nk, add(sk, ONE)) == 0 then
  k, prev, cur, e = nk, sc, 0, ne
elseif c > 0 then
  k, prev, cur, e = nk, 0, 0, ne
else
  k, prev, cur, e = sk, sp, sc, ZERO
end
local start = mul(k, p)
local pw = mul(F(prev), sub(p, e))
local cap = mul(F(l), p)
local function fits(m)
  return cmp(add(pw, mul(F(m), p)), cap) <= 0
end
local function remaining(m)
  local q = divmod(sub(cap, pw), p)
  local r = G(q) - m
  if r < 0 then r = 0 end
  return string.format('%d', r)
end
local function reset_after(m)
  local w
  if m > 0 then w = add(k, F(2)) elseif prev > 0 then w = add(k, ONE) else return '0' end
  return S(sub(mul(w, p), now))
end
if fits(cur + n) then
  if ARGV[1] == 'c' then
    STORE(key, S(k) .. ' ' .. string.format('%d %d', prev, cur + n),
      sub(mul(add(k, F(2)), p), now), test)
  end
  return { 1, remaining(cur + n), reset_after(cur + n), '0', '0' }
end
local at
if cur + n <= l then
  local room = min(divmod(mul(F(l - cur - n), p), F(prev)), p)
  at = add(start, sub(p, room))
else
  local room = min(divmod(mul(F(l - n), p), F(cur)), p)
  at = add(mul(add(k, ONE), p), sub(p, room))
end
return { 0, remaining(cur), reset_after(cur), S(sub(at, now)), '0' }
