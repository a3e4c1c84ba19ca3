#!/bin/bash
# What one completed saga costs the node, from its own counters: RocksDB reads by column
# family, the writer's commits (with and without fdatasync) and barrier groups, gateway
# bridges spawned, outbox entries the relay read, allocation requests (jemalloc builds),
# messages handled by the long-lived actors (GET /inspect/actors; order actors and bridges
# not included), and node CPU. /metrics is read before and after a saga-loadgen run and
# the differences are divided by the sagas completed (the mix's failed sagas and the
# stocking count in the numerator).
# Usage: [CONC=64] [DURATION=10] bash scripts/per-saga.sh [SAGAD [sagad args...]]
#        (SAGAD relative to the checkout root, default build/bin/sagad; the node starts
#        through bench-lib.sh, as in bench.sh)
set -u
cd "$(dirname "$0")/.."
bin=${1:-build/bin/sagad}
shift || true
work=$(mktemp -d)
pid=""
trap '[ -n "$pid" ] && kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf $work' EXIT
. scripts/bench-lib.sh
SAGAD=$bin start_node "$work/data" "$@"
d=$work
cpu() { awk '{print $14 + $15}' /proc/$pid/stat; }
curl -s $url/metrics > $d/m0
curl -s $url/inspect/actors > $d/a0
c0=$(cpu)
build/bin/saga-loadgen --url $url --duration-s ${DURATION:-10} \
  --concurrency ${CONC:-64} --json 2>/dev/null | tail -1 > $d/run.json
c1=$(cpu)
curl -s $url/metrics > $d/m1
curl -s $url/inspect/actors > $d/a1
TICKS=$((c1 - c0)) HZ=$(getconf CLK_TCK) python3 - $d/m0 $d/m1 $d/run.json $d/a0 $d/a1 <<'PY'
import json, os, re, sys
def read(path):
    out = {}
    for line in open(path):
        m = re.match(r'^(saga_(?:storage_[a-z_]+|gateway_bridges_spawned_total|allocations_total|kafka_relay_walked_total))(\{[^}]*\})? (\S+)$', line)
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
def handled(path):  # messages the long-lived actors handled (their probes' counters)
    try:
        j = json.load(open(path))
    except ValueError:
        return None
    rows = j.get("actors", []) if isinstance(j, dict) else j
    return sum(int(a.get("processed", 0)) for a in rows)
h0, h1 = handled(sys.argv[4]), handled(sys.argv[5])
if h0 is not None and h1 is not None:
    print(f"  {'messages handled by the long-lived actors':58s} {(h1 - h0) / n:8.3f} per saga")
cpu_ms = int(os.environ["TICKS"]) * 1000 / int(os.environ["HZ"]) / n
print(f"  {'node CPU (utime + stime)':58s} {cpu_ms:8.3f} ms per saga")
PY
