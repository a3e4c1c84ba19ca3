#!/usr/bin/env bash
# A local saga cluster: a real Apache Kafka cluster and N sagad nodes on free loopback ports.
#   bash scripts/cluster.sh up DIR [--nodes N] [--replication kafka|none] [--brokers B]
#        N = 3 nodes by default; prints one line per node,
#        "NODE <id> http=http://127.0.0.1:<port> pid=<pid>", then "CLUSTER READY" once every
#        node sees every other one up. --replication kafka (the default): B brokers
#        (default 3) from scripts/kafka-cluster.sh, topics with replication factor min(B, 3)
#        and min.insync.replicas 2 (1 with fewer than 3 brokers), and every node with
#        cluster.replication = kafka (README, "Replicated partitions"). --replication none:
#        one broker (scripts/kafka-broker.sh), each node's data directory its only copy.
#   bash scripts/cluster.sh kill DIR <id>        # kill -9 one node
#   bash scripts/cluster.sh start DIR <id>       # (re)start one node (same ports, same data)
#   bash scripts/cluster.sh stop DIR <id>        # SIGTERM one node, wait for it
#   bash scripts/cluster.sh wipe DIR <id>        # delete a stopped node's data directory
#   bash scripts/cluster.sh down DIR             # stop every node, then the broker(s)
# DIR holds cluster.conf, the logs (<id>.log), the nodes' RocksDB (data/<id>) and the
# broker. Extra sagad arguments for every node: SAGAD_ARGS="--set cluster.heartbeat_ms=500".
# SAGAD overrides the binary (default build/bin/sagad, built once if missing).
# CLUSTER_NETNS=PREFIX runs node-<i> in the network namespace PREFIX-n<i> on 10.77.0.<i> and
# the broker (or, with --replication kafka, every broker) in PREFIX-k on 10.77.0.200, instead of everything on 127.0.0.1. The namespaces
# must exist, joined by a bridge (tests/e2e/netns.py makes them); the caller runs in one on
# the same bridge. The fault suite uses this to cut links between nodes. Off loopback, GET
# /cluster needs the admin token: CLUSTER_ADMIN_TOKEN (the one given to the nodes).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
usage="usage: cluster.sh up DIR [--nodes N] [--replication kafka|none] [--brokers B] | kill|start|stop|wipe DIR ID | down DIR"
cmd=${1:?$usage}
dir=${2:?$usage}
mkdir -p "$dir"
dir="$(cd "$dir" && pwd)"
sagad=${SAGAD:-$root/build/bin/sagad}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

alive() { # PID [ID]: running (a killed process whose parent has not reaped it is not);
  # with ID, only if PID is still that node's sagad: a recorded pid that the system gave to
  # another process since (pids wrap) does not count.
  kill -0 "$1" 2>/dev/null && [ "$(ps -o stat= -p "$1" 2>/dev/null | cut -c1)" != "Z" ] || return 1
  [ -z "${2:-}" ] || tr '\0' ' ' < "/proc/$1/cmdline" 2>/dev/null | grep -q -- "--node $2 "
}

http_port_of() { # ID -> its HTTP port, from DIR/nodes
  awk -v id="$1" '$1 == id { print $3 }' "$dir/nodes"
}

host_of() { # ID -> its address (DIR/nodes' 4th column; 127.0.0.1 if none)
  awk -v id="$1" '$1 == id { print ($4 == "" ? "127.0.0.1" : $4) }' "$dir/nodes"
}

netns_of() { # ID -> "ip netns exec NS" if the node runs in a namespace (5th column)
  awk -v id="$1" '$1 == id && $5 != "" { print "ip netns exec " $5 }' "$dir/nodes"
}

start_node() { # ID: starts it in the background, waits for SAGAD READY
  local id=$1 port host
  port=$(http_port_of "$id")
  host=$(host_of "$id")
  [ -n "$port" ] || { echo "cluster.sh: no node '$id' in $dir/nodes" >&2; exit 2; }
  if [ -f "$dir/$id.pid" ] && alive "$(cat "$dir/$id.pid")" "$id"; then
    echo "cluster.sh: $id is running (pid $(cat "$dir/$id.pid"))" >&2
    exit 1
  fi
  local from
  from=$( (wc -l < "$dir/$id.log") 2>/dev/null || echo 0)
  # shellcheck disable=SC2086
  setsid $(netns_of "$id") "$sagad" --config "$dir/cluster.conf" --node "$id" --set "http.port=$port" \
    --set "http.address=$host" ${SAGAD_ARGS:-} >>"$dir/$id.log" 2>&1 </dev/null &
  local pid=$!
  echo "$pid" > "$dir/$id.pid"
  for _ in $(seq 1 600); do
    # this start's line (the log is appended to)
    if tail -n +$((from + 1)) "$dir/$id.log" | grep -q "SAGAD READY"; then
      echo "NODE $id http=http://$host:$port pid=$pid"
      return 0
    fi
    if ! alive "$pid"; then
      echo "cluster.sh: $id exited during start; its log:" >&2
      tail -n 20 "$dir/$id.log" >&2
      exit 1
    fi
    sleep 0.1
  done
  echo "cluster.sh: $id not ready after 60 s (see $dir/$id.log)" >&2
  exit 1
}

wait_all_up() { # every node's GET /cluster shows every node up (or self)
  local urls
  urls=$(awk '{ printf "%s:%s\n", ($4 == "" ? "127.0.0.1" : $4), $3 }' "$dir/nodes")
  for _ in $(seq 1 300); do
    local all=1
    for u in $urls; do
      if ! python3 - "$u" <<'PY' 2>/dev/null; then all=0; break; fi
import json, os, sys, urllib.request
req = urllib.request.Request("http://%s/cluster" % sys.argv[1])
if os.environ.get("CLUSTER_ADMIN_TOKEN"):  # off loopback, GET /cluster needs the admin token
    req.add_header("Authorization", "Bearer " + os.environ["CLUSTER_ADMIN_TOKEN"])
c = json.load(urllib.request.urlopen(req, timeout=2))
sys.exit(0 if all(n["state"] in ("up", "self") for n in c["nodes"]) else 1)
PY
    done
    [ $all = 1 ] && return 0
    sleep 0.2
  done
  echo "cluster.sh: the nodes did not all see each other within 60 s" >&2
  exit 1
}

case "$cmd" in
  up)
    n=3
    replication=kafka
    brokers=3
    shift 2
    while [ $# -gt 0 ]; do
      case "$1" in
        --nodes) n=${2:?--nodes N}; shift 2 ;;
        --replication) replication=${2:?--replication kafka|none}; shift 2 ;;
        --brokers) brokers=${2:?--brokers B}; shift 2 ;;
        *) echo "cluster.sh: unknown option $1; $usage" >&2; exit 2 ;;
      esac
    done
    [ "$n" -ge 1 ] 2>/dev/null || { echo "cluster.sh: --nodes must be a number >= 1" >&2; exit 2; }
    [ "$brokers" -ge 1 ] 2>/dev/null || { echo "cluster.sh: --brokers must be a number >= 1" >&2; exit 2; }
    case "$replication" in
      kafka|none) ;;
      *) echo "cluster.sh: --replication must be kafka or none" >&2; exit 2 ;;
    esac
    if [ ! -x "$sagad" ]; then
      bash "$root/scripts/install-deps.sh" --tests
      cmake -S "$root" -B "$root/build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=ON >/dev/null
      cmake --build "$root/build" -j2 --target sagad
    fi
    # A start that fails part-way stops what it started (nodes run in their own sessions).
    trap 'if [ "${started:-0}" != 1 ]; then echo "cluster.sh: start failed; stopping what was started" >&2; bash "$0" down "$dir" >/dev/null 2>&1 || true; fi' EXIT
    if [ "$replication" = kafka ] && [ -n "${CLUSTER_NETNS:-}" ]; then
      echo cluster > "$dir/kafka-kind" # every broker in the namespace PREFIX-k, 10.77.0.200
      kafka=$(KAFKA_HOST=10.77.0.200 ip netns exec "$CLUSTER_NETNS-k" \
        bash "$root/scripts/kafka-cluster.sh" start "$dir/kafka" --brokers "$brokers" --no-auto-create \
        | awk '/KAFKA READY/ { print $3 }')
    elif [ "$replication" = kafka ]; then
      echo cluster > "$dir/kafka-kind"
      kafka=$(bash "$root/scripts/kafka-cluster.sh" start "$dir/kafka" --brokers "$brokers" --no-auto-create \
        | awk '/KAFKA READY/ { print $3 }')
    elif [ -n "${CLUSTER_NETNS:-}" ]; then
      kafka=$(KAFKA_HOST=10.77.0.200 ip netns exec "$CLUSTER_NETNS-k" \
        bash "$root/scripts/kafka-broker.sh" start "$dir/kafka" | awk '/KAFKA READY/ { print $3 }')
    else
      kafka=$(bash "$root/scripts/kafka-broker.sh" start "$dir/kafka" | awk '/KAFKA READY/ { print $3 }')
    fi
    [ -n "$kafka" ] || { echo "cluster.sh: the Kafka broker did not start" >&2; exit 1; }
    if [ ! -f "$dir/nodes" ]; then
      : > "$dir/nodes"
      for i in $(seq 1 "$n"); do
        if [ -n "${CLUSTER_NETNS:-}" ]; then # a namespace per node: its ports are its own
          echo "node-$i 4100 8080 10.77.0.$i $CLUSTER_NETNS-n$i" >> "$dir/nodes"
        else
          echo "node-$i $(free_port) $(free_port)" >> "$dir/nodes"
        fi
      done
    fi
    list=$(awk '{ printf "%s%s@%s:%s:%s", (NR > 1 ? ", " : ""), $1, ($4 == "" ? "127.0.0.1" : $4), $2, $3 }' "$dir/nodes")
    cat > "$dir/cluster.conf" <<CONF
; Written by scripts/cluster.sh: every other key has the default of the repository's
; cluster.conf (see there). Every node reads this same file.
[cluster]
nodes = "$list"

[storage]
dir = "$dir/data"

[saga]
partitions = 6                       ; spread over the nodes (rendezvous hashing)

[inventory]
workers = 6                          ; SKU partitions, spread the same way

[kafka]
brokers = "$kafka"
CONF
    if [ "$replication" = kafka ]; then
      rf=$(( brokers < 3 ? brokers : 3 ))
      isr=$(( brokers < 3 ? 1 : 2 ))
      cat >> "$dir/cluster.conf" <<CONF
topic_replication_factor = $rf
topic_config = "min.insync.replicas=$isr"

[cluster]
replication = "kafka"                ; every partition's writes committed to the changelog first
CONF
    fi
    echo "KAFKA $kafka"
    for id in $(awk '{ print $1 }' "$dir/nodes"); do
      start_node "$id"
    done
    wait_all_up
    started=1
    echo "CLUSTER READY"
    ;;
  start)
    id=${3:?$usage}
    start_node "$id"
    ;;
  kill)
    id=${3:?$usage}
    pid=$(cat "$dir/$id.pid")
    kill -9 "$pid" 2>/dev/null || true # already gone: nothing to do
    for _ in $(seq 1 400); do alive "$pid" "$id" || break; sleep 0.05; done
    ;;
  stop)
    id=${3:?$usage}
    pid=$(cat "$dir/$id.pid")
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 300); do alive "$pid" || break; sleep 0.1; done
    ;;
  wipe)
    id=${3:?$usage}
    [ -n "$(http_port_of "$id")" ] || { echo "cluster.sh: no node '$id' in $dir/nodes" >&2; exit 2; }
    if [ -f "$dir/$id.pid" ] && alive "$(cat "$dir/$id.pid")" "$id"; then
      echo "cluster.sh: $id is running (pid $(cat "$dir/$id.pid")): stop or kill it first" >&2
      exit 1
    fi
    rm -rf "${dir:?}/data/$id"
    echo "WIPED $dir/data/$id"
    ;;
  down)
    for f in "$dir"/*.pid; do
      [ -f "$f" ] || continue
      kill -CONT "$(cat "$f")" 2>/dev/null || true # a paused node stops too
      kill -TERM "$(cat "$f")" 2>/dev/null || true
    done
    for f in "$dir"/*.pid; do
      [ -f "$f" ] || continue
      pid=$(cat "$f")
      for _ in $(seq 1 300); do alive "$pid" || break; sleep 0.1; done
      kill -9 "$pid" 2>/dev/null || true
    done
    if [ -f "$dir/kafka-kind" ]; then
      bash "$root/scripts/kafka-cluster.sh" stop "$dir/kafka" || true
    elif [ -d "$dir/kafka" ]; then
      bash "$root/scripts/kafka-broker.sh" stop "$dir/kafka" || true
    fi
    echo "CLUSTER DOWN"
    ;;
  *) echo "$usage" >&2; exit 2 ;;
esac
