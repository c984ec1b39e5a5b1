-- wrk script for scripts/http_bench.sh: 100,000 client addresses in
-- X-Forwarded-For, every request built once in init, none formatted per request.
local n = 100000
local reqs = {}
local i = 0

function init(args)
  for k = 1, n do
    local x = k - 1
    local ip = string.format("10.%d.%d.%d",
      math.floor(x / 65536) % 256, math.floor(x / 256) % 256, x % 256)
    reqs[k] = wrk.format("GET", "/", { ["X-Forwarded-For"] = ip })
  end
end

function request()
  i = i % n + 1
  return reqs[i]
end
