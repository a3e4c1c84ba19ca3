# Shared by scripts/kafka-broker.sh (one broker) and scripts/kafka-cluster.sh (several):
# the broker jars, free ports, starting a KRaft node and waiting until it answers.
# Sourced; expects $root (the repository) to be set.
lib="$root/.kafka/lib"

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

# format_node PROPS CLUSTER_ID: writes the node's storage (once).
format_node() {
  java -cp "$lib/*" kafka.tools.StorageTool format -t "$2" -c "$1" >"$(dirname "$1")/format.log" 2>&1
}

new_cluster_id() {
  java -cp "$lib/*" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -1
}

# start_node DIR: starts the node configured in DIR/server.properties (pid in DIR/broker.pid).
start_node() {
  nohup java -Xms256m -Xmx768m -XX:+UseSerialGC -cp "$lib/*" kafka.Kafka "$1/server.properties" \
    >>"$1/broker.log" 2>&1 &
  echo $! > "$1/broker.pid"
}

# wait_node DIR PORT [SECONDS] [HOST]: until the node answers metadata; fails if it exits.
wait_node() {
  local n=$(( ${3:-60} * 5 )) host=${4:-127.0.0.1}
  for _ in $(seq 1 "$n"); do
    if (echo > /dev/tcp/"$host"/"$2") 2>/dev/null && kcat -b "$host":"$2" -L -m 2 >/dev/null 2>&1; then
      return 0
    fi
    if ! kill -0 "$(cat "$1/broker.pid")" 2>/dev/null; then
      echo "broker exited; see $1/broker.log" >&2
      tail -20 "$1/broker.log" >&2
      return 1
    fi
    sleep 0.2
  done
  echo "broker not ready in ${3:-60} s; see $1/broker.log" >&2
  return 1
}

# stop_node DIR stop|kill|pause|resume: SIGTERM and wait, SIGKILL, SIGSTOP or SIGCONT.
stop_node() {
  [ -f "$1/broker.pid" ] || return 0
  local pid sig
  pid=$(cat "$1/broker.pid")
  case "$2" in
    pause) kill -STOP "$pid" 2>/dev/null || true; return 0 ;;
    resume) kill -CONT "$pid" 2>/dev/null || true; return 0 ;;
    kill) sig=KILL ;;
    *) sig=TERM ;;
  esac
  kill -CONT "$pid" 2>/dev/null || true
  kill -s "$sig" "$pid" 2>/dev/null || true
  for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
  kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null || true
  rm -f "$1/broker.pid"
}
