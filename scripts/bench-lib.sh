# Shared by the benchmark scripts (sourced).
# Needs $work (a scratch folder); sets $pid, $port and $url. $SAGAD and $SAGA_CONF choose
# another build and its configuration (before/after runs).
start_node() { # $1 = data dir, rest = --set overrides
  local dir=$1; shift
  "${SAGAD:-build/bin/sagad}" --config "${SAGA_CONF:-cluster.conf}" --node node-1 --set http.port=0 --set log.level=warn \
    --set storage.dir="$dir" "$@" > "$work/node.out" 2>&1 &
  pid=$!
  port=""
  for _ in $(seq 1 3600); do   # up to 180 s: recovery of many orders is slow (BENCHMARKS.md)
    port=$(grep -o 'http_port=[0-9]*' "$work/node.out" | cut -d= -f2 || true)
    [ -n "$port" ] && break
    sleep 0.05
  done
  [ -n "$port" ] || { echo "node did not start"; cat "$work/node.out"; exit 1; }
  url=http://127.0.0.1:$port
}

# Installs what the tests need, builds one target (Release) and makes a scratch folder $work
# that is removed at exit, with the brokers `bench_kafka` started in it (stopped first).
bench_build() { # $1 = CMake target
  bash scripts/install-deps.sh --tests >/dev/null
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=ON >/dev/null
  cmake --build build -j2 --target "$1" >/dev/null
  work=$(mktemp -d "/tmp/saga-$1-XXXXXX")
  kafka_script=""
  trap 'if [ -n "$kafka_script" ]; then bash "scripts/$kafka_script" stop "$work/kafka" >/dev/null 2>&1 || true; fi; rm -rf "$work"' EXIT
}

# Starts real brokers in $work/kafka and sets $brokers to the bootstrap list.
#   bench_kafka kafka-broker.sh          # one broker
#   bench_kafka kafka-cluster.sh --brokers 3
bench_kafka() {
  kafka_script=$1; shift
  brokers=$(bash "scripts/$kafka_script" start "$work/kafka" "$@" | sed -n 's/^KAFKA READY //p')
}
