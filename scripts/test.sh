#!/usr/bin/env bash
# Installs the dependencies, builds, and runs every test through ctest: unit, actor
# (deterministic), HTTP end-to-end and kill -9 recovery against real sagad processes, the
# inspection API and sagactl, the console in headless Chromium, the real Kafka broker.
# Then, unless SAGA_SANITIZE=0, the same tests again in an ASan+UBSan build.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh --tests
jobs=2
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=ON >/dev/null
cmake --build build -j"$jobs"
# The unit and actor tests two at a time (2 cores); the end-to-end ones, which start real
# processes, brokers and Chromium, one at a time. Together they are every test
# (`--no-tests=error` on each half).
# A failure in the first half does not skip the second: every failing test is reported.
run_tests() {
  local rc=0
  ctest --output-on-failure --no-tests=error -LE e2e -j"$jobs" || rc=1
  ctest --output-on-failure --no-tests=error -L e2e -j1 || rc=1
  return "$rc"
}
(cd build && run_tests)
if [ "${SAGA_SANITIZE:-1}" != "0" ]; then
  echo "== AddressSanitizer + UndefinedBehaviorSanitizer build =="
  cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DSAGA_SANITIZE=ON -DBUILD_TESTING=ON >/dev/null
  cmake --build build-asan -j"$jobs"
  # CAF's and RocksDB's own libraries are not instrumented; leaks inside them at exit are
  # not ours to fix, so leak detection is off; every other ASan/UBSan finding fails.
  export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1
  export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
  (cd build-asan && run_tests)
fi
# A short coverage-guided fuzz run of the request parsers (longer: bash scripts/fuzz.sh 600).
if [ "${SAGA_FUZZ_SECONDS:-60}" != "0" ]; then
  echo "== libFuzzer: request parsing, ${SAGA_FUZZ_SECONDS:-60} s =="
  bash scripts/fuzz.sh "${SAGA_FUZZ_SECONDS:-60}" 2>&1 | tail -6
  test "${PIPESTATUS[0]}" -eq 0
fi
