#!/usr/bin/env bash
# Instructions the node executes per completed saga (callgrind: instructions repeat from run
# to run where seconds on a shared machine do not). The node starts under valgrind with
# instrumentation off; it is switched on for a saga-loadgen run only, so start-up is not
# counted; then the total is divided by the sagas completed.
# Usage: [CONC=8] [DURATION=30] bash scripts/callgrind-saga.sh [SAGAD [sagad args...]]
#        (prints the figure; the profile stays in $OUT, default a fresh /tmp folder, for
#        callgrind_annotate --inclusive=yes $OUT/callgrind.out)
set -u
cd "$(dirname "$0")/.."
bin=${1:-build/bin/sagad}
shift || true
work=${OUT:-$(mktemp -d /tmp/saga-callgrind-XXXXXX)}
mkdir -p "$work"
pid=""
trap '[ -n "$pid" ] && kill $pid 2>/dev/null; wait $pid 2>/dev/null' EXIT
valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$work/callgrind.out" \
  "$bin" --config cluster.conf --node node-1 --set http.port=0 --set log.level=warn \
  --set storage.dir="$work/data" "$@" > "$work/node.out" 2>&1 &
pid=$!
port=""
for _ in $(seq 1 1200); do
  port=$(grep -o 'http_port=[0-9]*' "$work/node.out" | cut -d= -f2 || true)
  [ -n "$port" ] && break
  sleep 0.1
done
[ -n "$port" ] || { echo "node did not start"; cat "$work/node.out"; exit 1; }
callgrind_control -i on "$pid" > /dev/null 2>&1
build/bin/saga-loadgen --url "http://127.0.0.1:$port" --duration-s "${DURATION:-30}" \
  --concurrency "${CONC:-8}" --json 2>/dev/null | tail -1 > "$work/run.json"
callgrind_control -i off "$pid" > /dev/null 2>&1
kill "$pid"; wait "$pid" 2>/dev/null; pid=""
total=$(callgrind_annotate "$work/callgrind.out" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1; exit}')
python3 - "$work/run.json" "$total" <<'PY'
import json, sys
run = json.load(open(sys.argv[1]))
n = max(1, run["sagas_completed"])
total = int(sys.argv[2] or 0)
print(f"sagas completed under callgrind: {run['sagas_completed']}; node instructions: "
      f"{total:,}; per saga: {total / n / 1e6:.2f} M")
PY
echo "profile: $work/callgrind.out"
