#!/bin/bash
# What one completed saga costs the node, from its own counters: RocksDB reads by column
# family, the writer's commits (with and without fdatasync) and barrier groups, gateway
# bridges spawned, and node CPU. /metrics is read before and after a saga-loadgen run and
# the differences are divided by the sagas completed (the mix's failed sagas and the
# stocking count in the numerator).
# Usage: [CONC=64] [DURATION=10] bash scripts/per-saga.sh [SAGAD [sagad args...]]
#        (run from the checkout root; SAGAD defaults to build/bin/sagad)
set -u
bin=${1:-build/bin/sagad}
shift || true
d=$(mktemp -d)
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf $d' EXIT
$bin --node node-1 --set http.port=0 --set storage.dir=$d --set log.level=warn "$@" > $d/out 2>&1 &
pid=$!
for i in $(seq 1 100); do grep -q "SAGAD READY" $d/out && break; sleep 0.1; done
port=$(grep "SAGAD READY" $d/out | sed 's/.*http_port=//')
[ -n "$port" ] || { echo "per-saga: sagad did not start"; cat $d/out; exit 1; }
cpu() { awk '{print $14 + $15}' /proc/$pid/stat; }
curl -s http://127.0.0.1:$port/metrics > $d/m0
c0=$(cpu)
build/bin/saga-loadgen --url http://127.0.0.1:$port --duration-s ${DURATION:-10} \
  --concurrency ${CONC:-64} --json 2>/dev/null | tail -1 > $d/run.json
c1=$(cpu)
curl -s http://127.0.0.1:$port/metrics > $d/m1
TICKS=$((c1 - c0)) HZ=$(getconf CLK_TCK) python3 - $d/m0 $d/m1 $d/run.json <<'PY'
import json, os, re, sys
def read(path):
    out = {}
    for line in open(path):
        m = re.match(r'^(saga_(?:storage_[a-z_]+|gateway_bridges_spawned_total))(\{[^}]*\})? (\S+)$', line)
        if m:
            out[m.group(1) + (m.group(2) or '')] = float(m.group(3))
    return out
m0, m1 = read(sys.argv[1]), read(sys.argv[2])
run = json.load(open(sys.argv[3]))
n = max(1, run["sagas_completed"])
print(f"sagas completed: {run['sagas_completed']} ({round(run['sagas_completed_per_s'])}/s, "
      f"{os.environ.get('CONC', '64')} connections)")
reads = 0.0
for k in sorted(m1):
    d = m1[k] - m0.get(k, 0.0)
    if k.startswith("saga_storage_reads_total"):
        reads += d
    if d:
        print(f"  {k:58s} {d / n:8.3f} per saga")
print(f"  {'storage reads, all families':58s} {reads / n:8.3f} per saga")
cpu_ms = int(os.environ["TICKS"]) * 1000 / int(os.environ["HZ"]) / n
print(f"  {'node CPU (utime + stime)':58s} {cpu_ms:8.3f} ms per saga")
PY
