#!/usr/bin/env bash
# A real Apache Kafka cluster of N brokers (default 3) on loopback, KRaft, every node both
# broker and controller (a 3-voter quorum), replication factor N, min.insync.replicas 2:
# the shape of a production cluster, for tests and users.
#   scripts/kafka-cluster.sh start DIR [--brokers N] [--no-auto-create]
#        starts every broker not running (formats them the first time) and prints
#        "KAFKA READY 127.0.0.1:P1,127.0.0.1:P2,..." (the bootstrap list)
#   scripts/kafka-cluster.sh stop|kill DIR              # every broker (SIGTERM / SIGKILL)
#   scripts/kafka-cluster.sh start-broker DIR ID        # one broker (1..N), waits until ready
#   scripts/kafka-cluster.sh stop-broker|kill-broker|pause-broker|resume-broker DIR ID
# --no-auto-create sets auto.create.topics.enable=false, as on most production clusters.
# Failure detection is shortened for a loopback cluster (broker.session.timeout.ms 4000,
# heartbeats every 1000 ms): a dead leader is replaced within about 4-6 s.
# Jars as for scripts/kafka-broker.sh (Maven Central, once, into .kafka/lib).
# KAFKA_HOST: listen on that address of this network namespace instead of 127.0.0.1 (the
# fault suite runs the brokers in a namespace of their own: scripts/cluster.sh CLUSTER_NETNS).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
usage="usage: kafka-cluster.sh start|stop|kill DIR [--brokers N] [--no-auto-create] | start-broker|stop-broker|kill-broker|pause-broker|resume-broker DIR ID"
cmd=${1:?$usage}
dir=${2:?$usage}
shift 2
mkdir -p "$dir"
dir="$(cd "$dir" && pwd)"
. "$root/scripts/kafka/lib.sh"

brokers=3
auto_create=true
host=${KAFKA_HOST:-127.0.0.1}
id=""
while [ $# -gt 0 ]; do
  case "$1" in
    --brokers) brokers=${2:?--brokers N}; shift 2 ;;
    --no-auto-create) auto_create=false; shift ;;
    [0-9]*) id=$1; shift ;;
    *) echo "$usage" >&2; exit 2 ;;
  esac
done

configure() {
  [ -f "$dir/bootstrap" ] && return 0
  local voters="" ports=() cports=() i cluster_id
  for i in $(seq 1 "$brokers"); do
    ports[$i]=$(free_port); cports[$i]=$(free_port)
    voters+="${voters:+,}$i@$host:${cports[$i]}"
  done
  local min_isr=$(( brokers >= 3 ? 2 : 1 ))
  cluster_id=$(new_cluster_id)
  for i in $(seq 1 "$brokers"); do
    mkdir -p "$dir/b$i"
    cat > "$dir/b$i/server.properties" <<PROPS
process.roles=broker,controller
node.id=$i
controller.quorum.voters=$voters
listeners=PLAINTEXT://$host:${ports[$i]},CONTROLLER://$host:${cports[$i]}
advertised.listeners=PLAINTEXT://$host:${ports[$i]}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$dir/b$i/data
num.partitions=3
default.replication.factor=$brokers
min.insync.replicas=$min_isr
auto.create.topics.enable=$auto_create
offsets.topic.replication.factor=$brokers
transaction.state.log.replication.factor=$brokers
transaction.state.log.min.isr=$min_isr
group.initial.rebalance.delay.ms=0
broker.heartbeat.interval.ms=1000
broker.session.timeout.ms=4000
PROPS
    echo "${ports[$i]}" > "$dir/b$i/port"
    format_node "$dir/b$i/server.properties" "$cluster_id"
  done
  local list=""
  for i in $(seq 1 "$brokers"); do list+="${list:+,}$host:${ports[$i]}"; done
  echo "$list" > "$dir/bootstrap"
}

running() { [ -f "$1/broker.pid" ] && kill -0 "$(cat "$1/broker.pid")" 2>/dev/null; }

nodes() { ls -d "$dir"/b[0-9]* 2>/dev/null; }

case "$cmd" in
  start)
    fetch_jars
    configure
    for b in $(nodes); do running "$b" || start_node "$b"; done
    for b in $(nodes); do wait_node "$b" "$(cat "$b/port")" 120 "$host"; done
    echo "KAFKA READY $(cat "$dir/bootstrap")"
    ;;
  stop|kill)
    for b in $(nodes); do stop_node "$b" "$cmd" & done
    wait
    ;;
  start-broker)
    b="$dir/b${id:?broker id}"
    running "$b" || start_node "$b"
    wait_node "$b" "$(cat "$b/port")" 120 "$host"
    echo "KAFKA BROKER $id READY $host:$(cat "$b/port")"
    ;;
  stop-broker|kill-broker|pause-broker|resume-broker)
    stop_node "$dir/b${id:?broker id}" "${cmd%-broker}"
    ;;
  *) echo "$usage" >&2; exit 2 ;;
esac
