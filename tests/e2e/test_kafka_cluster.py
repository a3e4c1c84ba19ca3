"""The Kafka sink on a production-shaped cluster: three real Apache Kafka brokers (KRaft,
scripts/kafka-cluster.sh) with auto.create.topics.enable=false, topics created by the node
with replication factor 3 and min.insync.replicas=2. Under load:
  1. the node provisions every topic before it publishes (none exists at start);
  2. kill -9 of the leader of a partition the sink writes to: nothing lost, no duplicate
     with a new event_id, per-order seq order in every topic-partition; the time until the
     outbox is back under 500 ms of age is printed;
  3. two of three brokers down (no ISR quorum): sagas go on, the outbox grows and shows its
     age, /readyz says so; everything drains once the brokers are back (time printed).
Every message consumed is validated against gateway/events.schema.json, and the README's
consumer example rebuilds every order's history at the end."""
import sys
import threading
import time

from sagalib import Checks, KafkaCluster, Node
from test_kafka import check_sink, example_consumer, load, wait_drained
import test_http

TOPIC_COUNT = 14


def start_load(n, sku, threads=4):
    stop = threading.Event()
    ts = [threading.Thread(target=load, args=(n, stop, sku)) for _ in range(threads)]
    for t in ts:
        t.start()
    return stop, ts


def stop_load(stop, ts):
    stop.set()
    for t in ts:
        t.join()


def kafka_errors(n):
    st, text = n.request("GET", "/metrics")
    text = text.decode() if isinstance(text, bytes) else str(text)
    return [l for l in text.splitlines() if l.startswith("saga_kafka_errors_total{")]


def main():
    sagad = sys.argv[1]
    c = Checks()
    cluster = KafkaCluster(brokers=3, auto_create=False)
    n = None
    figures = {}
    try:
        t0 = time.time()
        cluster.start()
        print("3-broker cluster at %s in %.1f s" % (cluster.addr, time.time() - t0), flush=True)
        admin = cluster.admin()
        existing = [t for t in admin.list_topics(timeout=10).topics if not t.startswith("__")]
        c.check(existing == [], "no saga topic exists before the node starts: %s" % existing)
        n = Node(sagad, overrides={"kafka.brokers": cluster.addr, "kafka.topic_partitions": 3,
                                   "kafka.topic_replication_factor": 3,
                                   "kafka.topic_config": "min.insync.replicas=2",
                                   "payment.timeout_ms": 1500, "saga.auto_complete_ms": 60000})
        n.start()

        # 1. topics provisioned (auto-create is off)
        deadline = time.time() + 60
        kafka = {}
        while time.time() < deadline:
            st, body = n.request("GET", "/readyz")
            kafka = body["detail"]["kafka"]
            if kafka["state"] in ("idle", "publishing"):
                break
            time.sleep(0.2)
        c.check(kafka.get("state") in ("idle", "publishing") and kafka.get("missing_topics") == [],
                "the node provisions its topics on a cluster without auto-create: %s" % kafka)
        # Brokers learn of new topics from the KRaft controller asynchronously: the broker
        # this client asks may lag behind the one that answered the node (seen under load).
        deadline = time.time() + 30
        while True:
            md = admin.list_topics(timeout=10).topics
            saga_topics = {t: m for t, m in md.items() if not t.startswith("__")}
            full = all(len(m.partitions) == 3 and all(len(p.replicas) == 3 for p in m.partitions.values())
                       for m in saga_topics.values())
            if (len(saga_topics) == TOPIC_COUNT and full) or time.time() > deadline:
                break
            time.sleep(0.5)
        c.check(len(saga_topics) == TOPIC_COUNT, "%d topics created: %s" % (TOPIC_COUNT, sorted(saga_topics)))
        shapes = {(len(m.partitions), len(m.partitions[0].replicas)) for m in saga_topics.values()}
        c.check(shapes == {(3, 3)}, "every topic has 3 partitions with 3 replicas: %s" % shapes)
        from confluent_kafka.admin import ConfigResource
        res = ConfigResource(ConfigResource.Type.TOPIC, "ordercreated")
        # The same lag as above, per broker: the one that answers DescribeConfigs may not
        # know the topic yet (UNKNOWN_TOPIC_OR_PART seen in CI 13 s after the cluster started).
        deadline = time.time() + 30
        while True:
            try:
                cfg = list(admin.describe_configs([res]).values())[0].result(timeout=10)
                break
            except Exception as e:
                if time.time() > deadline:
                    raise
                print("describe_configs not answered yet (%s), asking again" % e, flush=True)
                time.sleep(0.5)
        c.check(cfg["min.insync.replicas"].value == "2", "topic config min.insync.replicas=2 applied")
        c.check(n.metric("saga_kafka_topics_missing") == 0, "saga_kafka_topics_missing is 0")
        test_http.saga_branches(c, n)
        wait_drained(c, n, "branches")

        # 2. kill -9 of a partition leader under load
        n.stock("LK", 10 ** 6, 10)
        stop, ts = start_load(n, "LK")
        time.sleep(2)
        leader = cluster.leader("ordercreated", 0)
        published_before = n.metric("saga_kafka_published_total")
        t_kill = time.time()
        cluster.broker("kill", leader)
        print("killed broker %d, leader of ordercreated/0" % leader, flush=True)
        stalled, recovered, max_age = False, None, 0
        while time.time() - t_kill < 60:
            age = n.metric("saga_outbox_age_ms") or 0
            max_age = max(max_age, age)
            if age > 1000:
                stalled = True
            elif stalled and age < 500:
                recovered = time.time() - t_kill
                break
            if not stalled and time.time() - t_kill > 15:
                recovered = 0.0  # no stall visible
                break
            time.sleep(0.1)
        figures["leader_kill_recovered_s"] = recovered
        figures["leader_kill_max_outbox_age_ms"] = max_age
        c.check(recovered is not None, "the outbox drains again after the leader kill (max age %d ms)" % max_age)
        c.check(n.metric("saga_kafka_published_total") > published_before, "events published after the kill")
        time.sleep(1)
        stop_load(stop, ts)
        cluster.broker("start", leader)
        wait_drained(c, n, "leader kill", timeout_s=120)
        dups_leader = check_sink(c, cluster, [n], "leader kill")

        # 3. two of three brokers down: no ISR quorum
        stop, ts = start_load(n, "LK")
        time.sleep(1)
        down = [b for b in (1, 2, 3) if b != leader][:1] + [leader]
        for b in down:
            cluster.broker("kill", b)
        t_down = time.time()
        before = len(n.placed)
        time.sleep(8)
        during = n.placed[before:]
        done = sum(1 for oid in during[:30] if n.order(oid)["status"] != "PENDING")
        depth = n.metric("saga_outbox_depth") or 0
        age = n.metric("saga_outbox_age_ms") or 0
        st, ready = n.request("GET", "/readyz")
        figures["two_down_placed_in_8s"] = len(during)
        figures["two_down_outbox_depth"] = depth
        figures["two_down_outbox_age_ms"] = age
        c.check(len(during) > 20 and done > 0, "sagas go on with 2 of 3 brokers down (%d placed, %d of the first "
                "30 moved on)" % (len(during), done))
        c.check(depth > 0 and age > 3000, "the outbox grows and shows its age (depth %d, age %d ms)" % (depth, age))
        c.check(st == 200 and ready["detail"]["outbox_depth"] > 0 and ready["detail"]["outbox_age_ms"] > 3000,
                "/readyz stays ready and shows the backlog: %s" % ready)
        errors = kafka_errors(n)
        print("kafka errors while 2 of 3 are down:\n  " + "\n  ".join(errors), flush=True)
        c.check(errors, "Kafka errors are counted by code in /metrics")
        for b in down:
            cluster.broker("start", b)
        t_back = time.time()
        time.sleep(1)
        stop_load(stop, ts)
        wait_drained(c, n, "two down", timeout_s=180)
        figures["two_down_drained_s_after_return"] = round(time.time() - t_back, 1)
        figures["two_down_outage_s"] = round(t_back - t_down, 1)
        dups_two = check_sink(c, cluster, [n], "two down")
        figures["duplicates_same_event_id"] = dups_two
        example_consumer(c, cluster.addr, n, "cluster", "order-history-cluster")
        print("FIGURES " + " ".join("%s=%s" % kv for kv in figures.items()) +
              " (duplicates after leader kill %d)" % dups_leader, flush=True)
        c.check(n.stop() == 0, "node stops cleanly")
        if c.failed:
            import subprocess
            print(subprocess.run("grep -iE 'kafka|relay' %s | grep -v 'http ' | tail -40" % n.log_path, shell=True,
                                 capture_output=True, text=True).stdout, flush=True)
    finally:
        if n is not None:
            n.cleanup()
        cluster.cleanup()
    return c.done("test_kafka_cluster")


if __name__ == "__main__":
    sys.exit(main())
