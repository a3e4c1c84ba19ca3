#!/bin/bash
# fdatasync calls per completed saga: strace on a running sagad under saga-loadgen.
# Usage: [CONC=64] bash scripts/fsync-count.sh SAGAD   (run from the checkout root)
bin=$1
d=$(mktemp -d)
$bin --node node-1 --set http.port=0 --set storage.dir=$d --set log.level=warn > $d/out 2>&1 &
pid=$!
for i in $(seq 1 100); do grep -q "SAGAD READY" $d/out && break; sleep 0.1; done
port=$(grep "SAGAD READY" $d/out | sed 's/.*http_port=//')
strace -f -qq -e trace=fdatasync,fsync -c -o $d/strace -p $pid &
spid=$!
sleep 1
r=$(build/bin/saga-loadgen --url http://127.0.0.1:$port --duration-s 10 --concurrency ${CONC:-64} --json 2>/dev/null | tail -1)
sleep 1
kill -INT $spid; wait $spid 2>/dev/null
kill $pid; wait $pid 2>/dev/null
n=$(echo "$r" | python3 -c 'import json,sys; j=json.load(sys.stdin); print(j.get("sagas_completed", 0), round(j["sagas_completed_per_s"]))')
echo "sagas(total, per s): $n"
grep -E "fdatasync|fsync|total" $d/strace
rm -rf $d
