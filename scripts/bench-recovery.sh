#!/usr/bin/env bash
# Memory per waiting order and recovery after kill -9 (BENCHMARKS.md, issue #10):
#   1. a fresh node (fsync on, embedded Kafka); N orders placed and left waiting for their
#      payment (saga-loadgen --park); RSS growth per order, measured after the orders had
#      time to go passive (saga.passivate_after_ms + 3 s);
#   2. kill -9, start again on the same data: time from start to /readyz, RSS;
#   3. a sample of those orders is paid and completed through the API: time until every
#      one is COMPLETED (the node is ready *and* its sagas move).
#   bash scripts/bench-recovery.sh                # N = 100000
#   BENCH_PARKED=20000 bash scripts/bench-recovery.sh
#   BENCH_BIN=/path/to/build/bin BENCH_CONF=/path/to/cluster.conf bash scripts/bench-recovery.sh
#                                   # another build and its configuration (before/after)
#   BENCH_HISTORY_S=60 BENCH_PARKED=10000 bash scripts/bench-recovery.sh
#                                   # first 60 s of closed-loop sagas (finished orders: a
#                                   # history the start should not have to read)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${BENCH_BIN:-build/bin}
conf=${BENCH_CONF:-cluster.conf}
if [ -z "${BENCH_BIN:-}" ]; then
  bash scripts/install-deps.sh --tests >/dev/null
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=ON >/dev/null
  cmake --build build -j2 --target sagad saga-loadgen >/dev/null
fi
parked=${BENCH_PARKED:-100000}
sample=${BENCH_SAMPLE:-20}
work=$(mktemp -d /tmp/saga-bench-recovery-XXXXXX)
pid=""
cleanup() {
  [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null || true
  cp "$work/node.out" /tmp/saga-bench-recovery-last.log 2>/dev/null || true # the restarted node's log
  rm -rf "$work"
}
trap cleanup EXIT
opts=(--set payment.timeout_ms=36000000 --set inventory.reservation_ttl_ms=36000000
      --set saga.max_live_orders=10000000)
SAGAD=$bin/sagad SAGA_CONF=$conf
. scripts/bench-lib.sh
start() { start_node "$1" "${opts[@]}" "${@:2}"; } # $1 = data dir, then more --set
rss() { awk '/VmRSS/ {print $2}' "/proc/$pid/status"; }

echo "== memory: $parked orders left waiting for their payment ($bin)"
start "$work/d"
if [ "${BENCH_HISTORY_S:-0}" != 0 ]; then
  "$bin/saga-loadgen" --url "$url" --concurrency 64 --duration-s "$BENCH_HISTORY_S" --json \
    2>/dev/null | tail -1 | python3 -c 'import json,sys; j=json.load(sys.stdin); print("history:", j["sagas_completed"], "sagas finished before the parked ones")'
fi
rss_before=$(rss)
t0=$(date +%s.%N)
"$bin/saga-loadgen" --url "$url" --concurrency 64 --park "$parked" > "$work/park.txt" 2>/dev/null
t1=$(date +%s.%N)
sleep 5 # saga.passivate_after_ms (2 s) and a margin: the waiting orders went passive
rss_after=$(rss)
per_order=$(python3 -c "print(round(($rss_after - $rss_before) * 1024 / $parked))")
echo "RSS $rss_before kB -> $rss_after kB: $per_order bytes per waiting order (placed in $(python3 -c "print(round($t1-$t0,1))") s)"
curl -s "$url/metrics" | grep -E '^saga_(passive_orders|live_actors\{kind="order"\}|rocksdb_(memtable|block_cache)_bytes)' || true
curl -s "$url/inspect/actors?kind=order&limit=$sample" \
  | python3 -c 'import json,sys; print("\n".join(a["key"] for a in json.load(sys.stdin)["actors"]))' \
  > "$work/sample.txt"

echo "== recovery: kill -9 with $parked orders in flight"
kill -9 "$pid"; wait "$pid" 2>/dev/null || true; pid=""
t0=$(date +%s.%N)
start "$work/d" --set log.level=info # its log splits the recovery (open, load, start)
until curl -sf "$url/readyz" >/dev/null; do sleep 0.01; done
t1=$(date +%s.%N)
ready_s=$(python3 -c "print(round($t1-$t0,2))")
echo "ready $ready_s s after start; RSS $(rss) kB"
grep -o 'recovery took.*' "$work/node.out" || true
curl -s "$url/metrics" | grep -E '^saga_rocksdb_(memtable|block_cache)_bytes' || true

echo "== a sample of $sample waiting orders paid and completed through the API"
python3 - "$url" "$work/sample.txt" <<'PY'
import hashlib, hmac, json, sys, time, urllib.error, urllib.request
url, ids = sys.argv[1], open(sys.argv[2]).read().split()
t0 = time.time()
def call(method, path, body=None):
    while True:  # a node still busy with its recovery may answer 503/429: that time counts
        req = urllib.request.Request(url + path, method=method,
                                     data=None if body is None else json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return json.loads(r.read())
        except urllib.error.HTTPError as e:
            if e.code not in (429, 503) or time.time() - t0 > 120:
                raise
            time.sleep(0.05)
for i in ids:
    pid = "pay_" + i
    sig = hmac.new(b"dev-provider-secret", ("%s|%s|succeeded" % (i, pid)).encode(), hashlib.sha256).hexdigest()
    call("POST", "/payment/verify", {"order_id": i, "payment_id": pid, "status": "succeeded", "signature": sig})
    call("POST", "/order/complete", {"order_id": i})
left = set(ids)
while left and time.time() - t0 < 120:
    left = {i for i in left if call("GET", "/orders/" + i)["status"] != "COMPLETED"}
    time.sleep(0.05)
print("sample: %d of %d completed %.2f s after the node was ready" % (len(ids) - len(left), len(ids), time.time() - t0))
sys.exit(1 if left or not ids else 0)
PY
kill -TERM "$pid"; wait "$pid" || true; pid=""
