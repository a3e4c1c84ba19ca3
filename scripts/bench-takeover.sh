#!/usr/bin/env bash
# Takeover time against standby lag (BENCHMARKS.md "Failover", issue 25): a real Kafka
# broker on loopback, then bench_takeover (bench/takeover_lag.cpp): a partition's changelog
# of RECORDS records, taken over by a store 0, BEHIND and RECORDS records behind.
#   bash scripts/bench-takeover.sh                          # 100000 records, 10000 behind
#   BENCH_RECORDS=200000 BENCH_BEHIND=50000 BENCH_RECORD_BYTES=1200 bash scripts/bench-takeover.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh --tests >/dev/null
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=ON >/dev/null
cmake --build build -j2 --target bench_takeover >/dev/null
work=$(mktemp -d /tmp/saga-bench-takeover-XXXXXX)
cleanup() {
  bash scripts/kafka-broker.sh stop "$work/kafka" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
brokers=$(bash scripts/kafka-broker.sh start "$work/kafka" | sed -n 's/^KAFKA READY //p')
build/bin/bench_takeover "$brokers" "${BENCH_RECORDS:-100000}" "${BENCH_BEHIND:-10000}" \
  "${BENCH_RECORD_BYTES:-300}"
