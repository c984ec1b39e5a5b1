#!/usr/bin/env bash
# HTTP layer overhead: one hello-world axum app (benches/examples/http_hello.rs)
# with no limiter, the floor of any layer that sends the IETF fields, ratecell's
# layer and tower-governor's layer, loaded by wrk with one client key and with
# 100,000 (X-Forwarded-For from scripts/http_keys.lua).
#
# All four servers run at once, pinned to core 0 (an idle server costs nothing),
# and wrk, pinned to core 1, loads them in turn for short windows, round after
# round, in an order that rotates: a machine whose speed drifts slows the four
# alike within a round, so the ratios within each round hold still when the
# absolute figures do not. Both processes' CPU use is shown so that a saturated
# wrk (the load generator as the bottleneck) is visible.
#
#   scripts/http_bench.sh            # ROUNDS=10 DURATION=4 CONNECTIONS=64
#
# Needs wrk (Debian: apt-get update && apt-get install -y wrk) and two cores.
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-10}
DURATION=${DURATION:-4}
WARMUP=${WARMUP:-2}
CONNECTIONS=${CONNECTIONS:-64}
PORT=${PORT:-18080}
MODES=(none floor ratecell governor)

command -v wrk >/dev/null || { echo "wrk is missing: apt-get update && apt-get install -y wrk" >&2; exit 1; }
command -v taskset >/dev/null || { echo "taskset is missing (util-linux)" >&2; exit 1; }
((DURATION >= 3)) || { echo "DURATION must be at least 3 (s)" >&2; exit 1; }

cargo build --release --quiet -p ratecell-benches --features http --example http_hello
bin="${CARGO_TARGET_DIR:-target}/release/examples/http_hello"
results=$(mktemp)
servers=()
cleanup() {
    for pid in "${servers[@]}"; do kill "$pid" 2>/dev/null || true; done
    rm -f "$results"
}
trap cleanup EXIT

# CPU ticks (user + system) a process has used so far.
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

declare -A pid port
for i in "${!MODES[@]}"; do
    mode=${MODES[$i]}
    port[$mode]=$((PORT + i))
    taskset -c 0 "$bin" "$mode" "127.0.0.1:${port[$mode]}" >/dev/null &
    pid[$mode]=$!
    servers+=("$!")
done
for mode in "${MODES[@]}"; do
    for _ in $(seq 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/${port[$mode]}") 2>/dev/null && break
        sleep 0.05
    done
done

script_for() { [[ $1 == 100k ]] && echo "-s scripts/http_keys.lua" || true; }

# Warm every server with both loads: the 100k keys are resident from here on.
for mode in "${MODES[@]}"; do
    for keys in 1 100k; do
        # shellcheck disable=SC2046
        taskset -c 1 wrk -t1 -c"$CONNECTIONS" -d"${WARMUP}s" $(script_for $keys) \
            "http://127.0.0.1:${port[$mode]}/" >/dev/null
    done
done

run_one() {
    local mode=$1 keys=$2 round=$3 server=${pid[$1]}
    local s0 out
    s0=$(ticks "$server")
    out=$(mktemp)
    # shellcheck disable=SC2046
    taskset -c 1 wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" --latency $(script_for $keys) \
        "http://127.0.0.1:${port[$mode]}/" >"$out" &
    local load=$!
    sleep 1
    local w0 w1
    w0=$(ticks "$load")
    sleep $((DURATION - 2))
    w1=$(ticks "$load")
    wait "$load"
    local s1 hz
    s1=$(ticks "$server")
    hz=$(getconf CLK_TCK)
    python3 - "$out" "$mode" "$keys" "$round" "$(( (s1 - s0) * 1000 / (hz * DURATION) ))" \
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
    echo "round $round, $keys key(s), $mode: $(tail -1 "$results")" >&2
}

for keys in 1 100k; do
    for round in $(seq "$ROUNDS"); do
        for i in "${!MODES[@]}"; do
            run_one "${MODES[$(( (i + round) % ${#MODES[@]} ))]}" "$keys" "$round"
        done
    done
done

python3 - "$results" "$ROUNDS" "$DURATION" "$CONNECTIONS" <<'PY'
import statistics, sys
path, rounds, duration, conns = sys.argv[1:]
rows = [l.split() for l in open(path)]
def med(mode, keys, col):
    return statistics.median(float(r[col]) for r in rows if r[0] == mode and r[1] == keys)
print(f"\nmedians of {rounds} rounds, {duration} s per server per round, wrk -t1 -c{conns}; "
      "servers on core 0, wrk on core 1\n")
# Requests per second of server CPU: the work each request costs the server,
# which holds still when another process takes part of the server's core.
for r in rows:
    r.append(float(r[3]) / max(float(r[5]), 0.1) * 100)
print("| keys | layer | requests/s | p99 latency | server CPU | wrk CPU | requests per server CPU-s | non-2xx |")
print("|---|---|---:|---:|---:|---:|---:|---:|")
for keys in ["1", "100k"]:
    for mode in ["none", "floor", "ratecell", "governor"]:
        bad = sum(int(r[7]) for r in rows if r[0] == mode and r[1] == keys)
        print(f"| {keys} | {mode} | {med(mode, keys, 3):,.0f} | {med(mode, keys, 4):,.0f} µs "
              f"| {med(mode, keys, 5):.0f}% | {med(mode, keys, 6):.0f}% | {med(mode, keys, 8):,.0f} | {bad} |")
# Ratios within each round (its four windows back to back), then their median
# and range: drift between rounds cancels out of these.
print(f"\nratios of requests/s within each round: median (min-max) of {rounds}\n")
pairs = [("floor", "none"), ("ratecell", "none"), ("governor", "none"),
         ("ratecell", "governor"), ("ratecell", "floor")]
print("| keys | " + " | ".join(f"{a} / {b}" for a, b in pairs) + " |")
print("|---|" + "---:|" * len(pairs))
for keys in ["1", "100k"]:
    by_round = {}
    for r in rows:
        if r[1] == keys:
            by_round.setdefault(r[2], {})[r[0]] = float(r[3])
    cells = []
    for a, b in pairs:
        xs = [m[a] / m[b] for m in by_round.values() if a in m and b in m]
        cells.append(f"{statistics.median(xs):.3f} ({min(xs):.3f}-{max(xs):.3f})")
    print(f"| {keys} | " + " | ".join(cells) + " |")
# Every request must take the admission path, or the servers did different work.
if any(int(r[7]) for r in rows):
    sys.exit("some answers were not 2xx: the figures do not compare like with like")
PY
