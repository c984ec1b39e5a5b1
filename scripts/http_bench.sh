#!/usr/bin/env bash
# HTTP layer overhead: one hello-world axum app (benches/examples/http_hello.rs)
# with no limiter, the floor of any layer that sends the IETF fields, ratecell's
# layer and tower-governor's layer, loaded by wrk with
# one client key and with 100,000 (X-Forwarded-For from scripts/http_keys.lua).
# The server is pinned to core 0, wrk to core 1; both processes' CPU use is shown
# so that a saturated wrk (the load generator as the bottleneck) is visible.
#
#   scripts/http_bench.sh            # RUNS=3 DURATION=10 CONNECTIONS=64
#
# Needs wrk (Debian: apt-get update && apt-get install -y wrk) and two cores.
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-3}
DURATION=${DURATION:-10}
WARMUP=${WARMUP:-2}
CONNECTIONS=${CONNECTIONS:-64}
PORT=${PORT:-18080}
MODES=(none floor ratecell governor)

command -v wrk >/dev/null || { echo "wrk is missing: apt-get update && apt-get install -y wrk" >&2; exit 1; }
command -v taskset >/dev/null || { echo "taskset is missing (util-linux)" >&2; exit 1; }

cargo build --release --quiet -p ratecell-benches --features http --example http_hello
bin="${CARGO_TARGET_DIR:-target}/release/examples/http_hello"
results=$(mktemp)
trap 'rm -f "$results"' EXIT

# CPU ticks (user + system) a process has used so far.
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

run_one() {
    local mode=$1 keys=$2 run=$3
    taskset -c 0 "$bin" "$mode" "127.0.0.1:$PORT" >/dev/null &
    local server=$!
    for _ in $(seq 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
        sleep 0.05
    done
    local script=()
    [[ $keys == 100k ]] && script=(-s scripts/http_keys.lua)
    taskset -c 1 wrk -t1 -c"$CONNECTIONS" -d"${WARMUP}s" "${script[@]}" "http://127.0.0.1:$PORT/" >/dev/null
    local s0 out
    s0=$(ticks "$server")
    out=$(mktemp)
    taskset -c 1 wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" --latency "${script[@]}" \
        "http://127.0.0.1:$PORT/" >"$out" &
    local load=$!
    sleep 1
    local w0 w1
    w0=$(ticks "$load")
    sleep $((DURATION - 2))
    w1=$(ticks "$load")
    wait "$load"
    local s1
    s1=$(ticks "$server")
    kill "$server"
    wait "$server" 2>/dev/null || true
    local hz
    hz=$(getconf CLK_TCK)
    python3 - "$out" "$mode" "$keys" "$run" "$(( (s1 - s0) * 1000 / (hz * DURATION) ))" \
        "$(( (w1 - w0) * 1000 / (hz * (DURATION - 2)) ))" >>"$results" <<'PY'
import re, sys
path, mode, keys, run, server_cpu, wrk_cpu = sys.argv[1:]
text = open(path).read()
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
m = re.search(r"99%\s+([\d.]+)(us|ms|s)\b", text)
p99 = float(m.group(1)) * {"us": 1, "ms": 1e3, "s": 1e6}[m.group(2)]
errors = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
# CPU shares in tenths of a percent of one core.
print(mode, keys, run, rps, p99, int(server_cpu) / 10, int(wrk_cpu) / 10,
      errors.group(1) if errors else 0)
PY
    rm -f "$out"
    echo "run $run, $keys key(s), $mode: $(tail -1 "$results")" >&2
}

for run in $(seq "$RUNS"); do
    for keys in 1 100k; do
        # The order rotates each run, so that drift over time favours no mode.
        for i in "${!MODES[@]}"; do
            run_one "${MODES[$(( (i + run) % ${#MODES[@]} ))]}" "$keys" "$run"
        done
    done
done

python3 - "$results" "$RUNS" "$DURATION" "$CONNECTIONS" <<'PY'
import statistics, sys
path, runs, duration, conns = sys.argv[1:]
rows = [l.split() for l in open(path)]
def med(mode, keys, col):
    return statistics.median(float(r[col]) for r in rows if r[0] == mode and r[1] == keys)
print(f"\nmedians of {runs} runs, {duration} s each, wrk -t1 -c{conns}; server on core 0, wrk on core 1\n")
# Requests per second of server CPU: the work each request costs the server,
# which holds still when another process takes part of the server's core.
for r in rows:
    r.append(float(r[3]) / max(float(r[5]), 0.1) * 100)
print("| keys | layer | requests/s | vs none | p99 latency | server CPU | wrk CPU | requests per server CPU-s | vs none | non-2xx |")
print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
for keys in ["1", "100k"]:
    base, base_eff = med("none", keys, 3), med("none", keys, 8)
    for mode in ["none", "floor", "ratecell", "governor"]:
        rps, eff = med(mode, keys, 3), med(mode, keys, 8)
        bad = sum(int(r[7]) for r in rows if r[0] == mode and r[1] == keys)
        print(f"| {keys} | {mode} | {rps:,.0f} | {rps / base:.3f} | {med(mode, keys, 4):,.0f} µs "
              f"| {med(mode, keys, 5):.0f}% | {med(mode, keys, 6):.0f}% | {eff:,.0f} | {eff / base_eff:.3f} | {bad} |")
    print(f"| {keys} | ratecell / governor | {med('ratecell', keys, 3) / med('governor', keys, 3):.3f} "
          f"| | | | | {med('ratecell', keys, 8) / med('governor', keys, 8):.3f} | | |")
    print(f"| {keys} | ratecell / floor | {med('ratecell', keys, 3) / med('floor', keys, 3):.3f} "
          f"| | | | | {med('ratecell', keys, 8) / med('floor', keys, 8):.3f} | | |")
# Ratios within each run (its four servers ran back to back), then their median
# and range: drift between runs cancels out of these.
print("\nper-run ratios of requests/s: median (min-max)\n")
print("| keys | floor / none | ratecell / none | governor / none | ratecell / governor |")
print("|---|---:|---:|---:|---:|")
for keys in ["1", "100k"]:
    by_run = {}
    for r in rows:
        if r[1] == keys:
            by_run.setdefault(r[2], {})[r[0]] = float(r[3])
    cells = []
    for a, b in [("floor", "none"), ("ratecell", "none"), ("governor", "none"), ("ratecell", "governor")]:
        xs = [m[a] / m[b] for m in by_run.values() if a in m and b in m]
        cells.append(f"{statistics.median(xs):.3f} ({min(xs):.3f}-{max(xs):.3f})")
    print(f"| {keys} | " + " | ".join(cells) + " |")
PY
