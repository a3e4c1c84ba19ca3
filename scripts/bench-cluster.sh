#!/usr/bin/env bash
# Cluster figures (BENCHMARKS.md, "Cluster"): a 3-node cluster from scripts/cluster.sh (a
# real Kafka broker, three sagad processes on this machine's cores), then
#   1. sagas whose SKUs the order's own node owns, against sagas whose SKUs another node
#      owns, through the same node, one after the other (closed loop, same concurrency);
#   2. the cross-node command round trip (order actor -> remote inventory worker -> reply)
#      from that node's saga_cluster_request_duration_seconds histogram;
#   3. the whole cluster: one closed-loop load generator per node at once, each with SKUs
#      spread over every node.
# Usage: bash scripts/bench-cluster.sh [SECONDS] [CONCURRENCY]   (default 20 s, 32)
# REPLICATION=kafka runs the 3 nodes replicated (one broker; BROKERS=3 for three), where a
# node's own partitions sit behind forwarders too: the "local" figures then include that
# hop. SAGAD=/path/to/sagad compares another build (scripts/cluster.sh).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
secs=${1:-20}
conc=${2:-32}
dir=$(mktemp -d /tmp/saga-bench-cluster.XXXX)
loadgen=$root/build/bin/saga-loadgen
[ -x "$loadgen" ] || cmake --build "$root/build" -j2 --target saga-loadgen sagad
trap 'bash "$root/scripts/cluster.sh" down "$dir" >/dev/null 2>&1 || true; rm -rf "$dir"' EXIT
# Sagas go through the whole path (verify right away); the auto-complete is not waited for.
export SAGAD_ARGS="--set log.level=warn"
# Baseline: one node with the same real broker, the same load generator.
base=$(mktemp -d /tmp/saga-bench-one.XXXX)
bash "$root/scripts/cluster.sh" up "$base" --nodes 1 --replication none >/dev/null
"$loadgen" --url "http://127.0.0.1:$(awk '{ print $3 }' "$base/nodes")" --duration-s "$secs" \
  --concurrency "$conc" --mix-out-of-stock 0 --mix-payment-failed 0 --mix-payment-expired 0 --json \
  2>/dev/null | tail -n 1 | python3 -c 'import json,sys; j=json.load(sys.stdin); l=j["latency_ms"]
print("%-30s %7.1f sagas/s  POST p50 %5.2f p99 %6.2f ms  saga p50 %5.1f p99 %6.1f ms" % ("one node, real broker",
  j["sagas_completed_per_s"], l["post_orders"]["p50"], l["post_orders"]["p99"], l["saga"]["p50"], l["saga"]["p99"]))'
bash "$root/scripts/cluster.sh" down "$base" >/dev/null
rm -rf "$base"
if [ "${REPLICATION:-none}" = kafka ]; then
  bash "$root/scripts/cluster.sh" up "$dir" --nodes 3 --replication kafka --brokers "${BROKERS:-1}" \
    | grep -E "NODE|READY"
else
  bash "$root/scripts/cluster.sh" up "$dir" --nodes 3 --replication none | grep -E "NODE|READY"
fi
port() { awk -v id="$1" '$1 == id { print $3 }' "$dir/nodes"; }

# SKU names by owner, and the driver: a node owning order and SKU partitions.
read -r driver local_skus remote_skus all_skus <<<"$(python3 - "$(port node-1)" <<'PY'
import json, sys, urllib.request
c = json.load(urllib.request.urlopen("http://127.0.0.1:%s/cluster" % sys.argv[1]))
n_inv = c["partitions"]["inventory"]
def fnv(s):
    h = 1469598103934665603
    for b in s.encode():
        h = ((h ^ b) * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    return h
owner = {p: n["id"] for n in c["nodes"] for p in n["partitions"]["inventory"]}
driver = next(n["id"] for n in c["nodes"] if n["partitions"]["orders"] and n["partitions"]["inventory"])
mine, theirs, every = [], [], []
for i in range(100000):
    s = "BC-%d" % i
    (mine if owner[fnv(s) % n_inv] == driver else theirs).append(s)
    if len(mine) >= 16 and len(theirs) >= 16:
        break
every = mine[:8] + theirs[:8]
print(driver, ",".join(mine[:16]), ",".join(theirs[:16]), ",".join(every))
PY
)"
echo "driver $driver (owns order and SKU partitions)"
run() { # label url skus [concurrency]
  "$loadgen" --url "$2" --duration-s "$secs" --concurrency "${4:-$conc}" --mix-out-of-stock 0 \
    --mix-payment-failed 0 --mix-payment-expired 0 --sku-names "$3" --json 2>/dev/null | tail -n 1 \
    | python3 -c 'import json,sys; j=json.load(sys.stdin); l=j["latency_ms"]
print("%-30s %7.1f sagas/s  POST p50 %5.2f p99 %6.2f ms  saga p50 %5.1f p99 %6.1f ms  errors %d  invariants %s" % (
  sys.argv[1], j["sagas_completed_per_s"], l["post_orders"]["p50"], l["post_orders"]["p99"],
  l["saga"]["p50"], l["saga"]["p99"], j["errors"], "ok" if j["invariants_ok"] else "VIOLATED"))' "$1"
}
url="http://127.0.0.1:$(port "$driver")"
# The cross-node round trips between two snapshots of the driver's histogram.
snapshot() { curl -s "$url/metrics" | grep '^saga_cluster_request_duration_seconds_bucket' > "$1" || true; }
rtt() { # label before after
  python3 - "$@" <<'PY'
import sys
def read(f):
    out = []
    for l in open(f):
        le = l.split('le="')[1].split('"')[0]
        out.append((float("inf") if le == "+Inf" else float(le), int(l.split()[-1])))
    return out
a, b = read(sys.argv[2]), read(sys.argv[3])
d = [(le, n - m) for (le, n), (_, m) in zip(b, a)]
total = d[-1][1] if d else 0
def q(p):
    for le, n in d:
        if n >= p * total:
            return le * 1000
print("%-30s %d order commands to another node: p50 <= %.2f ms, p99 <= %.2f ms (bucket bounds)"
      % (sys.argv[1], total, q(0.5), q(0.99)))
PY
}
# One hop alone: GET /inventory/{sku} on the driver, one client, the SKU on the driver vs on
# another node (an in-memory read at the worker; the difference is the cross-node hop).
python3 - "$url" "$local_skus" "$remote_skus" <<'PY'
import http.client, sys, time
host, port = sys.argv[1][7:].split(":")
conn = http.client.HTTPConnection(host, int(port))
def lat(sku, n=3000):
    xs = []
    for _ in range(n):
        t = time.perf_counter()
        conn.request("GET", "/inventory/" + sku)
        r = conn.getresponse(); r.read()
        assert r.status == 200, r.status
        xs.append((time.perf_counter() - t) * 1000)
    xs.sort()
    return xs[len(xs) // 2], xs[int(len(xs) * 0.99)]
for sku in (sys.argv[2].split(",")[0], sys.argv[3].split(",")[0]):
    conn.request("PUT", "/inventory/" + sku, body='{"on_hand": 1000, "price_cents": 100}',
                 headers={"Authorization": "Bearer dev-admin-token"})
    r = conn.getresponse(); r.read()
    assert r.status == 200, r.status
lat(sys.argv[2].split(",")[0], 300)  # warm up
l50, l99 = lat(sys.argv[2].split(",")[0])
r50, r99 = lat(sys.argv[3].split(",")[0])
print("GET /inventory, one client: local p50 %.3f p99 %.3f ms; remote p50 %.3f p99 %.3f ms; "
      "the hop adds p50 %.3f ms" % (l50, l99, r50, r99, r50 - l50))
PY
snapshot "$dir/h0"
run "remote SKUs, one client" "$url" "$remote_skus" 1
snapshot "$dir/h1"
rtt "round trip, one client" "$dir/h0" "$dir/h1"
run "local SKUs (same node)" "$url" "$local_skus"
snapshot "$dir/h2"
run "remote SKUs (another node)" "$url" "$remote_skus"
snapshot "$dir/h3"
rtt "round trip under load" "$dir/h2" "$dir/h3"
# The whole cluster: a load generator per node at once (distinct SKU names per generator,
# each set spread over every node's partitions).
pids=()
for id in node-1 node-2 node-3; do
  skus=$(echo "$all_skus" | tr ',' '\n' | sed "s/^/$id-/" | paste -sd, -)
  run "cluster, through $id" "http://127.0.0.1:$(port "$id")" "$skus" > "$dir/$id.out" &
  pids+=($!)
done
wait "${pids[@]}"
cat "$dir"/node-*.out
python3 - "$dir" <<'PY'
import glob, re, sys
total = sum(float(re.search(r"([\d.]+) sagas/s", open(f).read()).group(1)) for f in glob.glob(sys.argv[1] + "/node-*.out"))
print("cluster total: %.1f sagas/s (three nodes and three load generators sharing 2 cores)" % total)
PY
