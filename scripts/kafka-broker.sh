#!/usr/bin/env bash
# A real Apache Kafka broker (KRaft, single node) on this machine, for tests and users.
#   scripts/kafka-broker.sh start DIR   # prints "KAFKA READY HOST:PORT"; data in DIR
#   scripts/kafka-broker.sh stop DIR    # SIGTERM, waits for a clean stop
#   scripts/kafka-broker.sh kill DIR    # SIGKILL (fault tests)
# The broker's jars come from Maven Central through scripts/kafka/pom.xml into .kafka/lib
# (once). Listens on 127.0.0.1 only (or $KAFKA_HOST, an address of this network namespace:
# the fault suite runs the broker in a namespace of its own), on a free port it picks (or
# $KAFKA_PORT). The address is written at the first start; later starts reuse it.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cmd=${1:?usage: kafka-broker.sh start|stop|kill DIR}
dir=${2:?usage: kafka-broker.sh start|stop|kill DIR}
mkdir -p "$dir"
dir="$(cd "$dir" && pwd)"
. "$root/scripts/kafka/lib.sh"

case "$cmd" in
  start)
    fetch_jars
    if [ ! -f "$dir/server.properties" ]; then
      port=${KAFKA_PORT:-$(free_port)}
      cport=$(free_port)
      host=${KAFKA_HOST:-127.0.0.1}
      cat > "$dir/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@$host:$cport
listeners=PLAINTEXT://$host:$port,CONTROLLER://$host:$cport
advertised.listeners=PLAINTEXT://$host:$port
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$dir/data
num.partitions=3
auto.create.topics.enable=true
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
PROPS
      echo "$port" > "$dir/port"
      echo "$host" > "$dir/host"
      format_node "$dir/server.properties" "$(new_cluster_id)"
    fi
    port=$(cat "$dir/port")
    host=$(cat "$dir/host" 2>/dev/null || echo 127.0.0.1)
    start_node "$dir"
    wait_node "$dir" "$port" 60 "$host"
    echo "KAFKA READY $host:$port"
    ;;
  stop|kill)
    stop_node "$dir" "$cmd"
    ;;
  *) echo "unknown command $cmd" >&2; exit 2 ;;
esac
