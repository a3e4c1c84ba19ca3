#!/usr/bin/env bash
# Takeover time against standby lag (BENCHMARKS.md "Failover", issue 25): a real Kafka
# broker on loopback, then bench_takeover (bench/takeover_lag.cpp): a partition's changelog
# of RECORDS records, taken over by a store 0, BEHIND and RECORDS records behind.
#   bash scripts/bench-takeover.sh                          # 100000 records, 10000 behind
#   BENCH_RECORDS=200000 BENCH_BEHIND=50000 BENCH_RECORD_BYTES=1200 bash scripts/bench-takeover.sh
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/bench-lib.sh
bench_build bench_takeover
bench_kafka kafka-broker.sh
build/bin/bench_takeover "$brokers" "${BENCH_RECORDS:-100000}" "${BENCH_BEHIND:-10000}" \
  "${BENCH_RECORD_BYTES:-300}"
