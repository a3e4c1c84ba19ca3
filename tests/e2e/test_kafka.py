"""The Kafka sink against a real Apache Kafka broker (KRaft, started from Maven Central's
jars): every saga branch's events consumed back with kcat and compared with the orders'
own event streams; a broker outage under load; a kill -9 of the node while the relay has
unacknowledged messages. Duplicates (same event_id) are counted and reported."""
import subprocess
import sys
import threading
import time

from sagalib import ROOT, Broker, Checks, Node
import test_http


def check_sink(c, broker, nodes, label):
    # Compare finished histories only: every order terminal, every event acknowledged.
    for n in nodes:
        for oid in n.placed:
            try:
                n.wait_for(oid, lambda o: o["status"] in ("COMPLETED", "FAILED"), timeout_s=60)
            except AssertionError as e:
                c.check(False, "%s: %s" % (label, e))
        wait_drained(c, n, label)
    events = broker.consume_all()
    by_order = {}
    ids = {}
    for e in events:
        by_order.setdefault(e["order_id"], []).append(e)
        ids[e["event_id"]] = ids.get(e["event_id"], 0) + 1
    duplicates = sum(n - 1 for n in ids.values())
    checked = 0
    for n in nodes:
        for oid in n.placed:
            o = n.order(oid)
            want = [(e["seq"], e["type"]) for e in o["events"]]
            got_events = {}
            for e in by_order.get(oid, []):
                prev = got_events.get(e["event_id"])
                c.check(prev is None or prev == (e["seq"], e["type"], e["data"]),
                        "a duplicate carries the same seq and content: %s" % e["event_id"])
                got_events[e["event_id"]] = (e["seq"], e["type"], e["data"])
            got = sorted((s, t) for s, t, _ in got_events.values())
            c.check(got == want, "%s: Kafka has exactly the order's events for %s: %s vs %s" % (label, oid, got, want))
            c.check([s for s, _ in got] == list(range(1, len(got) + 1)), "%s: gapless seq for %s" % (label, oid))
            checked += 1
    # Per order and topic-partition, in offset order, first copies come in seq order (a
    # duplicate may come later, with the same event_id).
    firsts = {}
    out_of_order = []
    for e in sorted(events, key=lambda e: (e["_topic"], e["_partition"], e["_offset"])):
        k = (e["_topic"], e["_partition"], e["order_id"])
        seen, last = firsts.setdefault(k, (set(), 0))
        if e["event_id"] in seen:
            continue
        if e["seq"] <= last:
            out_of_order.append((k, last, e["seq"]))
        seen.add(e["event_id"])
        firsts[k] = (seen, e["seq"])
    c.check(not out_of_order, "%s: per-order seq order in every topic-partition: %s" % (label, out_of_order[:3]))
    bad = [e for e in events if not (e["_topic"] == e["type"] and e["_key"] == e["order_id"]
                                     and e["_headers"].get("type") == e["type"]
                                     and e["_headers"].get("traceparent", "").startswith("00-"))]
    c.check(not bad, "%s: topic = type, key = order_id, headers type and traceparent: %s" % (label, bad[:1]))
    # (every message was validated against gateway/events.schema.json while consumed)
    print("%s: %d orders, %d messages, %d duplicates (same event_id)" % (label, checked, len(events), duplicates),
          flush=True)
    return duplicates


def example_consumer(c, bootstrap, n, label, group):
    """examples/order_history_consumer.py (the README's consumer, confluent-kafka in a
    consumer group, topics from GET /asyncapi.json) rebuilds every order's history."""
    import json
    import os
    import subprocess
    script = os.path.join(ROOT, "examples", "order_history_consumer.py")
    out = subprocess.run([sys.executable, script, "--bootstrap", bootstrap, "--group", group,
                          "--asyncapi", "http://127.0.0.1:%d/asyncapi.json" % n.port],
                         capture_output=True, text=True, timeout=300)
    c.check(out.returncode == 0, "%s: example consumer ran: %s" % (label, out.stderr[-500:]))
    if out.returncode != 0:
        return
    got = json.loads(out.stdout)
    c.check(not got["gaps"], "%s: example consumer sees no gap: %s" % (label, got["gaps"][:3]))
    wrong = []
    for oid in n.placed:
        want = [[e["seq"], e["type"]] for e in n.order(oid)["events"]]
        if got["orders"].get(oid) != want:
            wrong.append((oid, got["orders"].get(oid), want))
    c.check(not wrong, "%s: example consumer rebuilt every order's history (%d orders, %d messages, "
            "%d duplicates dropped): %s" % (label, len(n.placed), got["messages"], got["duplicates"], wrong[:2]))
    print("%s: example consumer: %d orders, %d messages, %d duplicates dropped" %
          (label, len(got["orders"]), got["messages"], got["duplicates"]), flush=True)


def wait_drained(c, n, label, timeout_s=60):
    deadline = time.time() + timeout_s
    depth = None
    while time.time() < deadline:
        depth = n.metric("saga_outbox_depth")
        if depth == 0:
            return
        time.sleep(0.1)
    c.check(False, "%s: outbox drained (depth %s)" % (label, depth))


def load(n, stop, sku):
    while not stop.is_set():
        st, body = n.place([{"sku": sku, "quantity": 1}])
        if st != 201:
            continue
        try:
            n.wait_for(body["order_id"], lambda o: o["status"] != "PENDING", timeout_s=10)
            n.verify(body["order_id"], "succeeded")
        except AssertionError:
            pass


def main():
    sagad = sys.argv[1]
    c = Checks()
    broker = Broker()
    nodes = []
    try:
        broker.start()
        print("broker at", broker.addr, flush=True)
        kafka = {"kafka.brokers": broker.addr}
        # a misconfigured sink: topics that cannot be created (replication factor 3 on one
        # broker) are reported, nothing is published, nothing is lost; fixed, all drains
        bad = Node(sagad, overrides=dict(kafka, **{"kafka.topic_replication_factor": 3,
                                                   "kafka.retry_backoff_max_ms": 1000}))
        nodes.append(bad)
        bad.start()
        bad.stock("MIS", 100, 10)
        st, body = bad.place([{"sku": "MIS", "quantity": 1}])
        c.check(st == 201, "orders are taken while the topics are missing")
        deadline, k = time.time() + 30, {}
        while time.time() < deadline:
            st, ready = bad.request("GET", "/readyz")
            k = ready["detail"]["kafka"]
            if k["state"] == "topics_missing":
                break
            time.sleep(0.2)
        c.check(st == 200 and k["state"] == "topics_missing" and len(k["missing_topics"]) == 14
                and "INVALID_REPLICATION_FACTOR" in k["missing_topics"][0],
                "/readyz names the missing topics and why: %s" % k)
        c.check(bad.metric("saga_kafka_topics_missing") == 14, "saga_kafka_topics_missing = 14")
        c.check((bad.metric('saga_kafka_errors_total{where="provision",code="INVALID_REPLICATION_FACTOR"}') or 0) >= 1,
                "provisioning errors counted by code")
        bad.wait_for(body["order_id"], lambda o: len(o["events"]) >= 2, timeout_s=10)
        time.sleep(1.5)
        c.check(bad.metric("saga_kafka_published_total") == 0 and bad.metric("saga_outbox_depth") >= 2
                and bad.metric("saga_outbox_age_ms") > 1000,
                "nothing published, the outbox keeps the events and shows their age")
        with open(bad.log_path) as f:
            log = f.read()
        c.check("topic ordercreated is missing and cannot be created" in log and "nothing is published until" in log,
                "the log says which topic is missing and why")
        c.check(bad.stop() == 0, "misconfigured node stops cleanly")
        bad.overrides["kafka.topic_replication_factor"] = -1
        bad.start()
        wait_drained(c, bad, "misconfiguration fixed")
        c.check(bad.metric("saga_kafka_topics_missing") == 0 and bad.metric("saga_kafka_published_total") >= 2,
                "once the topics can be created, everything is published")
        c.check(bad.stop() == 0, "node stops cleanly")
        broker_topics = subprocess.run(["kcat", "-b", broker.addr, "-L", "-J"], capture_output=True, text=True)
        c.check('"ordercreated"' in broker_topics.stdout, "topics exist on the broker")

        # every saga branch, then the events in Kafka
        a = Node(sagad, overrides=dict(kafka, **{"payment.timeout_ms": 1500, "saga.auto_complete_ms": 60000}))
        b = Node(sagad, overrides=dict(kafka, **{"inventory.reservation_ttl_ms": 300, "saga.auto_complete_ms": 50,
                                                 "payment.timeout_ms": 3000}))
        nodes += [a, b]
        a.start()
        test_http.saga_branches(c, a)
        wait_drained(c, a, "branches")
        check_sink(c, broker, [a], "branches")
        c.check(a.stop() == 0, "node a stops cleanly")
        b.start()
        test_http.commit_failed_branch(c, b)
        wait_drained(c, b, "commit failed")
        check_sink(c, broker, [b], "commit failed")

        # broker outage under load: sagas go on, the outbox grows, then drains. The 300 ms
        # reservation TTL of the branch above would fail sagas of a slow (sanitizer) build.
        c.check(b.stop() == 0, "node b stops cleanly (before the outage)")
        b.overrides["inventory.reservation_ttl_ms"] = 120000
        b.start()
        b.stock("OUT", 100000, 10)
        stop = threading.Event()
        threads = [threading.Thread(target=load, args=(b, stop, "OUT")) for _ in range(4)]
        for t in threads:
            t.start()
        time.sleep(1)
        broker.stop("kill")
        before = len(b.placed)
        time.sleep(3)
        during = len(b.placed) - before
        depth = b.metric("saga_outbox_depth")
        completed_during = sum(1 for oid in b.placed[before:before + 20] if b.order(oid)["status"] == "COMPLETED")
        c.check(during > 10 and completed_during > 0, "sagas go on during the outage (%d placed, %d of the first 20 completed)"
                % (during, completed_during))
        c.check(depth is not None and depth > 0, "outbox grows during the outage (%s)" % depth)
        st, body = b.request("GET", "/readyz")
        c.check(body["detail"]["outbox_depth"] > 0, "readyz shows the outbox depth: %s" % body)
        broker.start()
        time.sleep(1)
        stop.set()
        for t in threads:
            t.join()
        wait_drained(c, b, "outage")
        dups_outage = check_sink(c, broker, [b], "after outage")

        # kill -9 of the node while the relay holds unacknowledged messages
        broker.stop("stop")
        for _ in range(20):
            b.place([{"sku": "OUT", "quantity": 1}])
        time.sleep(0.5)
        c.check((b.metric("saga_outbox_depth") or 0) > 0, "unacknowledged events before the kill")
        b.kill9()
        broker.start()
        b.start()
        wait_drained(c, b, "kill -9")
        dups_kill = check_sink(c, broker, [b], "after kill -9")
        example_consumer(c, broker.addr, b, "after kill -9", "order-history-single")
        print("duplicates: outage+kill cumulative %d (after outage %d)" % (dups_kill, dups_outage), flush=True)
        c.check(b.stop() == 0, "node b stops cleanly")
        if c.failed:
            print(subprocess.run("grep -iE 'kafka|relay' %s | grep -v 'http ' | tail -40" % b.log_path, shell=True,
                                 capture_output=True, text=True).stdout, flush=True)
    finally:
        for n in nodes:
            n.cleanup()
        broker.cleanup()
    return c.done("test_kafka")


if __name__ == "__main__":
    sys.exit(main())
