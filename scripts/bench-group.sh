#!/usr/bin/env bash
# Step 0 of ownership from a Kafka consumer group (issue 25, docs/membership-design.md): a
# real 3-broker Kafka cluster on loopback, then bench/group_membership.py drives members of
# one static, cooperative-sticky group (bench_group, the project's librdkafka): kill -9,
# restart, a fourth joining, a graceful leave, a close without leaving. Prints the figures
# (BENCHMARKS.md "Membership from a consumer group").
#   bash scripts/bench-group.sh                        # session.timeout.ms 6000, heartbeats 1000
#   BENCH_SESSION_MS=45000 BENCH_HEARTBEAT_MS=3000 bash scripts/bench-group.sh  # librdkafka's defaults
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/bench-lib.sh
bench_build bench_group
bench_kafka kafka-cluster.sh --brokers 3
python3 bench/group_membership.py build/bin/bench_group "$brokers" \
  --session-ms "${BENCH_SESSION_MS:-6000}" --heartbeat-ms "${BENCH_HEARTBEAT_MS:-1000}" \
  --partitions "${BENCH_PARTITIONS:-12}"
