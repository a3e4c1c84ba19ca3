#!/bin/bash
# A CPU profile of one node under the closed loop (issue 26): perf samples the node for 8 s
# of a 16 s saga-loadgen run (64 connections), then writes folded stacks (one line per
# stack, root first, with its sample count: the input of any flame graph viewer, e.g.
# speedscope or inferno-flamegraph) and prints the share of the frames named below.
# Usage: [SAGAD=build/bin/sagad] [OUT=/tmp/saga-profile] bash scripts/profile.sh [FRAME...]
#   FRAME: substrings of frames whose inclusive share to print (defaults below).
set -u
cd "$(dirname "$0")/.."
out=${OUT:-/tmp/saga-profile}
mkdir -p "$out"
work=$(mktemp -d); pid=""
trap '[ -n "$pid" ] && kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf $work' EXIT
. scripts/bench-lib.sh
start_node "$work/data"
build/bin/saga-loadgen --url $url --duration-s 16 --concurrency 64 --json 2>/dev/null \
  | tail -1 > "$out/run.json" &
lg=$!
sleep 3
perf record -F 499 -g --call-graph dwarf,16384 -p $pid -o "$out/perf.data" -- sleep 8 \
  > /dev/null 2>&1
wait $lg
perf script -i "$out/perf.data" 2>/dev/null > "$out/perf.txt"
python3 scripts/profile/fold.py "$out/perf.txt" "$out/folded.txt"
echo "sagas/s: $(python3 -c 'import json,sys; print(round(json.load(open(sys.argv[1]))["sagas_completed_per_s"]))' "$out/run.json")"
echo "folded stacks: $out/folded.txt"
if [ $# -eq 0 ]; then
  set -- "saga::relay::produce_more" "nlohmann" "thread_safe_actor_clock" \
    "storage::store::commit" "local_actor::cleanup" "finish_task_switch" \
    "operator new\|operator delete\|free"
fi
python3 scripts/profile/share.py "$out/folded.txt" "$@"
