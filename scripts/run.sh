#!/usr/bin/env bash
# Installs the dependencies, builds, and starts one node on its embedded defaults
# (cluster.conf: HTTP on 127.0.0.1:8080, RocksDB in ./data/node-1). Extra arguments go to
# sagad, e.g. `bash scripts/run.sh --set http.port=9090`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
# A build directory the test command configured keeps its tests on (both commands share
# build/); a fresh one is configured without them, so running needs no test tool.
if [ -f build/CMakeCache.txt ]; then
  cmake -S . -B build >/dev/null
else
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF >/dev/null
fi
cmake --build build -j2 --target sagad
exec build/bin/sagad --config cluster.conf --node node-1 "$@"
