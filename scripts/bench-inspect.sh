#!/usr/bin/env bash
# The cost of introspection (issue: "the cost with inspection on is measured and noted"):
#   1. closed-loop saga throughput with inspect.enabled=true vs false, alternated ROUNDS
#      times on fresh data directories (same binary, same settings otherwise);
#   2. the same with one /inspect/stream client attached (the console open);
#   3. latency of the inspection endpoints with PARKED orders in flight.
# Prints a Markdown table for BENCHMARKS.md. Everything runs on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake --build build -j2 --target sagad saga-loadgen sagactl >/dev/null
secs=${BENCH_SECONDS:-20}
rounds=${BENCH_ROUNDS:-3}
conc=${BENCH_CONCURRENCY:-64}
parked=${BENCH_PARKED:-50000}
work=$(mktemp -d /tmp/saga-bench-inspect-XXXXXX)
pid=""
spid=""
cleanup() {
  [ -n "$spid" ] && kill "$spid" 2>/dev/null || true
  [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

. scripts/bench-lib.sh
cpu_ticks() { awk '{print $14 + $15}' /proc/$pid/stat; } # utime + stime of the node
stop_node() { kill -9 "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; pid=""; }

run_load() { # $1 = label, rest = overrides; appends "label sagas/s p50 p99" to results
  local label=$1; shift
  start_node "$work/$label-$RANDOM" "$@"
  if [ "${STREAM:-0}" = 1 ]; then
    curl -s -N "$url/inspect/stream" > "$work/stream.txt" &
    spid=$!
  fi
  local cpu0 cpu1
  cpu0=$(cpu_ticks)
  build/bin/saga-loadgen --url "$url" --duration-s "$secs" --concurrency "$conc" --json \
    > "$work/load.txt" 2>/dev/null
  cpu1=$(cpu_ticks)
  # CPU of the node per completed saga: more sensitive than throughput, which the fsyncs bound.
  tail -1 "$work/load.txt" | python3 -c '
import json, os, sys
j = json.loads(sys.stdin.read())
sagas = j["sagas_completed_per_s"] * float(sys.argv[2])
cpu_ms = (int(sys.argv[4]) - int(sys.argv[3])) * 1000.0 / os.sysconf("SC_CLK_TCK")
print(sys.argv[1], "%.0f" % j["sagas_completed_per_s"], "%.1f" % j["saga_p50_ms"], "%.1f" % j["saga_p99_ms"],
      "%.3f" % (cpu_ms / sagas if sagas else 0), j["invariants_ok"])
' "$label" "$secs" "$cpu0" "$cpu1" | tee -a "$work/results.txt"
  if [ -n "$spid" ]; then
    kill "$spid" 2>/dev/null || true
    spid=""
    echo "  stream client received $(grep -c '^event: saga' "$work/stream.txt" || true) saga events, $(grep -c '^event: summary' "$work/stream.txt" || true) summaries"
  fi
  stop_node
}

echo "== 1. closed loop, $conc connections, ${secs}s, inspection on vs off, $rounds rounds"
for r in $(seq 1 "$rounds"); do
  run_load on
  run_load off --set inspect.enabled=false
done
echo "== 2. inspection on, one /inspect/stream client attached"
STREAM=1 run_load on+stream

echo "== 3. inspection endpoints with $parked orders in flight"
start_node "$work/parked" --set saga.max_live_orders=1000000
build/bin/saga-loadgen --url "$url" --concurrency "$conc" --park "$parked" > /dev/null 2>&1
t() { curl -s -o /dev/null -w '%{time_total}' "$url$1"; }
for path in /inspect/summary "/inspect/actors?kind=order&limit=1000" \
            "/inspect/actors?kind=order&state=stuck&limit=100"; do
  best=999
  for _ in 1 2 3 4 5; do
    v=$(t "$path"); best=$(python3 -c "print(min($best, $v))")
  done
  echo "$path best of 5: $(python3 -c "print('%.1f ms' % ($best*1000))")" | tee -a "$work/endpoints.txt"
done
rss=$(awk '/VmRSS/ {print $2}' /proc/$pid/status)
echo "node RSS with $parked parked orders: $((rss / 1024)) MiB" | tee -a "$work/endpoints.txt"
stop_node

echo
echo "| run | sagas/s | saga p50 ms | saga p99 ms | node CPU ms per saga | invariants |"
echo "|---|---|---|---|---|---|"
awk '{printf "| %s | %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5, $6}' "$work/results.txt"
python3 - "$work/results.txt" <<'PY'
import sys, statistics
rows = [l.split() for l in open(sys.argv[1])]
for col, name in ((1, "sagas/s"), (4, "node CPU ms per saga")):
    on = [float(r[col]) for r in rows if r[0] == "on"]
    off = [float(r[col]) for r in rows if r[0] == "off"]
    if on and off:
        m_on, m_off = statistics.mean(on), statistics.mean(off)
        print("mean %s: on %.3f, off %.3f (on/off %+.1f%%; spread on %.3f..%.3f, off %.3f..%.3f)"
              % (name, m_on, m_off, 100 * (m_on - m_off) / m_off, min(on), max(on), min(off), max(off)))
PY
