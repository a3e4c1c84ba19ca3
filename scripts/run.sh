#!/usr/bin/env bash
# Installs the dependencies, builds, and starts one node on its embedded defaults
# (cluster.conf: HTTP on 127.0.0.1:8080, RocksDB in ./data/node-1). Extra arguments go to
# sagad, e.g. `bash scripts/run.sh --set http.port=9090`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=ON >/dev/null
cmake --build build -j2 --target sagad
exec build/bin/sagad --config cluster.conf --node node-1 "$@"
