# Shared by the benchmark scripts (sourced): start one sagad on a free 127.0.0.1 port.
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
