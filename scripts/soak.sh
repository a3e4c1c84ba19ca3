#!/usr/bin/env bash
# The long soak behind BENCHMARKS.md ("bounded by design"): two equal phases of closed-loop
# sagas through one node (~200,000 sagas in all with the default 150 s per phase on the
# 2-core machine), then the books, the restart bookkeeping and RSS besides RocksDB's own
# memory are compared. The test command runs the same test with 10 s phases.
#   bash scripts/soak.sh [SECONDS_PER_PHASE]
set -euo pipefail
cd "$(dirname "$0")/.."
cmake --build build -j2 --target sagad saga-loadgen >/dev/null
SAGA_SOAK_SECONDS="${1:-150}" .venv/bin/python3 tests/e2e/test_soak.py build/bin/sagad build/bin/saga-loadgen
