#!/usr/bin/env bash
# A real Apache Kafka broker (KRaft, single node) on this machine, for tests and users.
#   scripts/kafka-broker.sh start DIR   # prints "KAFKA READY 127.0.0.1:PORT"; data in DIR
#   scripts/kafka-broker.sh stop DIR    # SIGTERM, waits for a clean stop
#   scripts/kafka-broker.sh kill DIR    # SIGKILL (fault tests)
# The broker's jars come from Maven Central through scripts/kafka/pom.xml into .kafka/lib
# (once). Listens on 127.0.0.1 only, on a free port it picks (or $KAFKA_PORT).
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
      cat > "$dir/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port
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
      format_node "$dir/server.properties" "$(new_cluster_id)"
    fi
    port=$(cat "$dir/port")
    start_node "$dir"
    wait_node "$dir" "$port" 60
    echo "KAFKA READY 127.0.0.1:$port"
    ;;
  stop|kill)
    stop_node "$dir" "$cmd"
    ;;
  *) echo "unknown command $cmd" >&2; exit 2 ;;
esac
