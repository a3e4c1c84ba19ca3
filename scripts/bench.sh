#!/usr/bin/env bash
# The standard benchmark: builds (Release), starts a fresh node (fsync on, embedded Kafka)
# and measures, the same way every time:
#   1. wrk against GET /healthz: the ceiling of the HTTP layer on this machine
#   2. saga-loadgen closed loop: peak completed sagas/s
#   3. saga-loadgen open-loop sweep at 20..100% of that peak: latency against throughput
#      (plot: bench/results/sweep.png)
#   4. memory per in-flight order: RSS growth with N orders parked at PAYMENT_INITIATED
#   5. recovery: kill -9 with those N orders in flight, time from start to /readyz
# Prints a table at the end; raw results in bench/results/.
#   bash scripts/bench.sh            # N = 100000, 20 s runs
#   BENCH_PARKED=20000 BENCH_SECONDS=10 bash scripts/bench.sh   # quicker
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh --tests
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=ON >/dev/null
cmake --build build -j2 --target sagad saga-loadgen >/dev/null
out=bench/results
mkdir -p "$out"
secs=${BENCH_SECONDS:-20}
parked=${BENCH_PARKED:-100000}
conc=${BENCH_CONCURRENCY:-64}
work=$(mktemp -d /tmp/saga-bench-XXXXXX)
pid=""
cleanup() { [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

. scripts/bench-lib.sh

echo "== 1. HTTP ceiling: wrk GET /healthz (${secs}s, 1 thread, 64 connections)"
start_node "$work/d1"
wrk -t1 -c64 -d"${secs}s" "$url/healthz" | tee "$out/wrk_healthz.txt"
healthz_rps=$(awk '/Requests\/sec/ {print $2}' "$out/wrk_healthz.txt")

echo "== 2. peak: closed loop, $conc connections, ${secs}s"
build/bin/saga-loadgen --url "$url" --duration-s "$secs" --concurrency "$conc" --json | tee "$out/closed.txt"
tail -1 "$out/closed.txt" > "$out/closed.json"
peak=$(python3 -c 'import json;print(json.load(open("bench/results/closed.json"))["sagas_completed_per_s"])')

echo "== 3. open-loop sweep (latency against throughput)"
echo "target_per_s achieved_per_s saga_p50_ms saga_p99_ms post_orders_p99_ms errors" > "$out/sweep.dat"
for pct in 20 40 60 70 80 90 100; do
  rate=$(python3 -c "print(max(1, round($peak * $pct / 100)))")
  build/bin/saga-loadgen --url "$url" --duration-s "$secs" --concurrency 512 --rate "$rate" --json \
    > "$out/open_$pct.txt" 2>/dev/null || true
  tail -1 "$out/open_$pct.txt" | python3 -c "import json,sys; j=json.load(sys.stdin); print($rate, round(j['sagas_completed_per_s'],1), round(j['saga_p50_ms'],2), round(j['saga_p99_ms'],2), round(j['post_orders_p99_ms'],2), j['errors'])" >> "$out/sweep.dat"
  tail -1 "$out/sweep.dat"
done
gnuplot <<GP
set terminal pngcairo size 900,540
set output "$out/sweep.png"
set title "Order saga: latency against throughput (open loop, 2 cores, fsync on)"
set xlabel "completed sagas per second"
set ylabel "latency (ms)"
set logscale y
set key left top
set grid
plot "$out/sweep.dat" using 2:4 with linespoints title "saga p99", \
     "$out/sweep.dat" using 2:3 with linespoints title "saga p50", \
     "$out/sweep.dat" using 2:5 with linespoints title "POST /orders p99"
GP
kill -TERM "$pid"; wait "$pid" || true; pid=""

echo "== 4. memory: $parked orders parked at PAYMENT_INITIATED"
start_node "$work/d2" --set payment.timeout_ms=36000000 --set inventory.reservation_ttl_ms=36000000 \
  --set saga.max_live_orders=10000000
rss_before=$(awk '/VmRSS/ {print $2}' /proc/$pid/status)
t0=$(date +%s.%N)
build/bin/saga-loadgen --url "$url" --concurrency "$conc" --park "$parked" > "$out/park.txt" 2>/dev/null
t1=$(date +%s.%N)
sleep 2
rss_after=$(awk '/VmRSS/ {print $2}' /proc/$pid/status)
per_order=$(python3 -c "print(round(($rss_after - $rss_before) * 1024 / $parked))")
echo "RSS ${rss_before} kB -> ${rss_after} kB: ${per_order} bytes per in-flight order (parked in $(python3 -c "print(round($t1-$t0,1))") s)"

echo "== 5. recovery: kill -9 with $parked orders in flight, start to /readyz"
kill -9 "$pid"; wait "$pid" 2>/dev/null || true; pid=""
t0=$(date +%s.%N)
start_node "$work/d2" --set payment.timeout_ms=36000000 --set inventory.reservation_ttl_ms=36000000 \
  --set saga.max_live_orders=10000000
until curl -sf "$url/readyz" >/dev/null; do sleep 0.02; done
t1=$(date +%s.%N)
recovery_s=$(python3 -c "print(round($t1-$t0,2))")
rss_recovered=$(awk '/VmRSS/ {print $2}' /proc/$pid/status)
echo "ready ${recovery_s} s after start; RSS ${rss_recovered} kB"
kill -TERM "$pid"; wait "$pid" || true; pid=""

python3 - "$out" "$healthz_rps" "$per_order" "$recovery_s" "$parked" <<'PY'
import json, sys
out, healthz, per_order, recovery, parked = sys.argv[1:]
closed = json.load(open(out + "/closed.json"))
rows = [l.split() for l in open(out + "/sweep.dat").read().splitlines()[1:]]
p70 = next((r for r in rows if abs(float(r[0]) - 0.7 * closed["sagas_completed_per_s"]) < 1.5), None)
print()
print("| measure | goal | measured |")
print("|---|---|---|")
print("| GET /healthz (wrk, HTTP ceiling) | - | %s req/s |" % healthz)
print("| completed sagas/s, closed loop, every step durable | 5,000 | %.0f |" % closed["sagas_completed_per_s"])
print("| saga p50 / p99 at peak (closed loop) | - | %.1f / %.1f ms |" % (closed["saga_p50_ms"], closed["saga_p99_ms"]))
if p70:
    print("| POST /orders p99 at 70%% of peak (open loop, %s sagas/s) | < 5 ms | %s ms |" % (p70[0], p70[4]))
print("| memory per in-flight order (%s parked) | <= 2 KiB | %s bytes |" % (parked, per_order))
print("| recovery of %s in-flight orders to /readyz | < 5 s | %s s |" % (parked, recovery))
print("| invariants after the closed-loop run | ok | %s |" % closed["invariants_ok"])
PY
