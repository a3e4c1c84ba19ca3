#!/usr/bin/env bash
# The fault suite's long run (issue 13; the README's test command runs short ones):
#   bash scripts/fault-suite.sh [MINUTES] [SEED]     # default 30 minutes, seed from the clock
# 1. The deterministic simulation of the saga core over many seeds (actor_tests
#    '[simulation]', a tenth of the time: about 20 seeds a second here).
# 2. The fault run over real processes: 3 sagad nodes and a real Kafka broker, a seeded
#    workload over HTTP and a seeded nemesis of every kind (kill -9, kill points, zombie,
#    broker killed and paused, disk faults, clock jumps, network cuts between nodes both
#    ways and one way, a link down, a node cut from the broker; in network namespaces the
#    run makes and removes, as root), the rest of the time, then the independent checker.
#    Then 3 replicated nodes on 3 brokers with failover on (--replication kafka: kill -9
#    until the partitions moved, graceful stop, zombie past the lease, kill points) for a
#    fifth of it, and a single node for a tenth.
# Each run appends its summary row (JSON) to fault-results.jsonl and prints it; the
# history of each run is kept in fault-runs/<seed>-<nodes>/history.jsonl. Exit 1 on any
# violation or failing seed. Environment: FAULTS=kill9,zombie,... to choose kinds
# (FAULTS_REPLICATED for the replicated run).
set -euo pipefail
cd "$(dirname "$0")/.."
minutes=${1:-30}
seed=${2:-$(( $(date +%s) % 100000 ))}
bash scripts/install-deps.sh --tests
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=ON >/dev/null
cmake --build build -j2 --target sagad actor_tests
total=$(( minutes * 60 ))
sim_seeds=$(( total * 2 ))   # a tenth of the time at ~20 seeds/s
rc=0
mkdir -p fault-runs
echo "== simulation: $sim_seeds seeds from $seed =="
SAGA_SIM_FIRST_SEED=$seed SAGA_SIM_SEEDS=$sim_seeds build/bin/actor_tests '[simulation]' \
  > "fault-runs/simulation-$seed.log" 2>&1 || rc=1
grep -E "^simulation|SIMULATION FAILED|replay" "fault-runs/simulation-$seed.log" || true
cluster_s=$(( total / 2 ))
replicated_s=$(( total / 5 ))
single_s=$(( total / 10 ))
for spec in "3 $cluster_s none" "3 $replicated_s kafka" "1 $single_s none"; do
  set -- $spec
  faults=${FAULTS:-all}
  [ "$3" = kafka ] && faults=${FAULTS_REPLICATED:-all}
  echo "== fault run: $1 node(s), $2 s, replication $3, seed $seed =="
  .venv/bin/python3 tests/fault/run_faults.py build/bin/sagad --seed "$seed" --seconds "$2" \
    --nodes "$1" --rounds 1 --faults "$faults" --replication "$3" --keep "fault-runs/$seed-$1-$3" \
    --results fault-results.jsonl > "fault-runs/$seed-$1-$3.log" 2>&1 || rc=1
  grep -E "^(fault run|FAULT RUN|VIOLATION|CLIENT ERROR)" "fault-runs/$seed-$1-$3.log" || true
done
[ $rc = 0 ] && echo "FAULT SUITE PASSED" || echo "FAULT SUITE FAILED (logs in fault-runs/)"
exit $rc
