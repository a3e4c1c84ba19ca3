#!/usr/bin/env bash
# A real Apache Kafka broker (KRaft, single node) on this machine, for tests and users.
#   scripts/kafka-broker.sh start DIR   # prints "KAFKA READY 127.0.0.1:PORT"; data in DIR
#   scripts/kafka-broker.sh stop DIR    # SIGTERM, waits for a clean stop
#   scripts/kafka-broker.sh kill DIR    # SIGKILL (fault tests)
# The broker's jars come from Maven Central through scripts/kafka/pom.xml into .kafka/lib
# (once). Listens on 127.0.0.1 only, on a free port it picks (or $KAFKA_PORT).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
lib="$root/.kafka/lib"
cmd=${1:?usage: kafka-broker.sh start|stop|kill DIR}
dir=${2:?usage: kafka-broker.sh start|stop|kill DIR}
mkdir -p "$dir"
dir="$(cd "$dir" && pwd)"

fetch_jars() {
  if [ ! -f "$lib/.complete" ]; then
    mvn -q -B -f "$root/scripts/kafka/pom.xml" dependency:copy-dependencies \
      -DoutputDirectory="$lib" -DincludeScope=runtime
    touch "$lib/.complete"
  fi
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

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
      id=$(java -cp "$lib/*" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -1)
      java -cp "$lib/*" kafka.tools.StorageTool format -t "$id" -c "$dir/server.properties" >"$dir/format.log" 2>&1
    fi
    port=$(cat "$dir/port")
    nohup java -Xms256m -Xmx768m -XX:+UseSerialGC -cp "$lib/*" kafka.Kafka "$dir/server.properties" \
      >>"$dir/broker.log" 2>&1 &
    echo $! > "$dir/broker.pid"
    for _ in $(seq 1 300); do
      if (echo > /dev/tcp/127.0.0.1/"$port") 2>/dev/null; then
        # the port accepts; wait until the broker answers metadata
        if kcat -b 127.0.0.1:"$port" -L -m 2 >/dev/null 2>&1; then
          echo "KAFKA READY 127.0.0.1:$port"
          exit 0
        fi
      fi
      if ! kill -0 "$(cat "$dir/broker.pid")" 2>/dev/null; then
        echo "broker exited; see $dir/broker.log" >&2
        tail -20 "$dir/broker.log" >&2
        exit 1
      fi
      sleep 0.2
    done
    echo "broker not ready in 60 s; see $dir/broker.log" >&2
    exit 1
    ;;
  stop|kill)
    [ -f "$dir/broker.pid" ] || exit 0
    pid=$(cat "$dir/broker.pid")
    sig=TERM; [ "$cmd" = kill ] && sig=KILL
    kill -s "$sig" "$pid" 2>/dev/null || true
    for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null || true
    rm -f "$dir/broker.pid"
    ;;
  *) echo "unknown command $cmd" >&2; exit 2 ;;
esac
