#!/usr/bin/env bash
# A/B of two sagad builds: closed-loop sagas/s (64 connections, 15 s, log.level=warn or
# $LOG_LEVEL), alternated, fresh data each round; POST /orders p99, and the node's CPU per
# completed saga (its utime + stime over the run, from /proc/PID/stat, over the sagas).
# Usage: OLD=/path/old/sagad [NEW=/path/new/sagad] [ROUNDS=2] [LOG_LEVEL=info] [OLD_ARGS=...]
#        [NEW_ARGS=...] bash scripts/bench-ab.sh
# NEW defaults to build/bin/sagad (a test build: compare it with another test build, or give
# two builds configured alike).
# OLD_ARGS / NEW_ARGS add sagad arguments to one side (e.g. OLD=build/bin/sagad
# OLD_ARGS="--set saga.partitions=1" compares a setting on one build).
set -u
LG=$(dirname "$0")/../build/bin/saga-loadgen
for round in $(seq 1 "${ROUNDS:-2}"); do
  for which in old new; do
    bin=${OLD:?set OLD to the other sagad}; extra=${OLD_ARGS:-}
    [ $which = new ] && bin=${NEW:-$(dirname "$0")/../build/bin/sagad} && extra=${NEW_ARGS:-}
    d=$(mktemp -d)
    $bin --node node-1 --set http.port=0 --set storage.dir=$d --set log.level=${LOG_LEVEL:-warn} $extra > $d/out 2>&1 &
    pid=$!
    for i in $(seq 1 100); do grep -q "SAGAD READY" $d/out && break; sleep 0.1; done
    port=$(grep "SAGAD READY" $d/out | sed 's/.*http_port=//')
    cpu() { awk '{print $14 + $15}' /proc/$pid/stat; } # clock ticks, user + system
    c0=$(cpu)
    r=$($LG --url http://127.0.0.1:$port --duration-s 15 --concurrency 64 --json 2>/dev/null | tail -1)
    c1=$(cpu)
    echo "$which round $round: $(echo "$r" | TICKS=$((c1 - c0)) HZ=$(getconf CLK_TCK) python3 -c 'import json,os,sys; j=json.load(sys.stdin); n=max(1, j["sagas_completed"]); print(round(j["sagas_completed_per_s"]), "sagas/s, POST p99", round(j["post_orders_p99_ms"],1), "ms, node CPU", round(int(os.environ["TICKS"]) * 1000 / int(os.environ["HZ"]) / n, 3), "ms/saga")')"
    kill $pid; wait $pid 2>/dev/null; rm -rf $d
  done
done
