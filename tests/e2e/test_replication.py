"""Replicated partitions (cluster.replication = kafka, issue 24) against a real Apache Kafka
broker (KRaft, Maven Central's jars):

1. Every saga branch, then load from four clients; kill -9 of the node in the middle of it,
   and its data directory deleted. The node starts again, rebuilds every partition from the
   changelog, and: every order answered 201 is there, the orders finished before the load
   read back byte for byte, its sagas finish, stock and payments agree, and a
   read_committed consumer of every event topic sees each event_id exactly once, with no
   gap in any order's seq.
2. Fencing: a second process opens the same partitions (same cluster name) with an empty
   data directory. It rebuilds the same state, and the first owner is fenced: its next
   write fails, it answers that step with no success, and it stops (exit code 7, the reason
   in its log). Its aborted transaction stays invisible to read_committed readers.
3. Zombie: that owner frozen with SIGSTOP under load, a third process opens the partitions
   (aborting the frozen one's open transaction), SIGCONT: the old owner stops, and every
   order it answered 201 is in the changelog (the third process has it); still each event
   once under read_committed.

Usage: test_replication.py SAGAD"""
import os
import shutil
import signal
import sys
import tempfile
import threading
import time

from sagalib import Broker, Checks, Node, consume_all

SKUS = ["R-0", "R-1", "R-2"]


def load(node, stop, acked, sent):
    i = 0
    while not stop.is_set():
        sku = SKUS[i % len(SKUS)]
        try:
            st, body = node.request("POST", "/orders", {"customer_id": "load-%d" % (i % 5),
                                                        "items": [{"sku": sku, "quantity": 1}]})
            sent[0] += 1
            if st == 201:
                acked.append(body["order_id"])
        except Exception:  # noqa: BLE001 - the node was killed: no answer, nothing acked
            time.sleep(0.05)
        i += 1


class Load:
    """Four clients placing orders on `node` until stop(); `acked` the ids answered 201."""

    def __init__(self, node, clients=4):
        self.stop_event = threading.Event()
        self.acked, self.sent = [], [0]
        self.threads = [threading.Thread(target=load, args=(node, self.stop_event, self.acked, self.sent))
                        for _ in range(clients)]
        for t in self.threads:
            t.start()

    def stop(self):
        self.stop_event.set()
        for t in self.threads:
            t.join()


def settle(c, n, oid, label):
    """Drives an order to a terminal status: pays for it if it waits for payment."""
    try:
        o = n.wait_for(oid, lambda o: o["status"] in ("PAYMENT_INITIATED", "COMPLETED", "FAILED"),
                       timeout_s=60)
        if o["status"] == "PAYMENT_INITIATED":
            st, body = n.verify(oid, "succeeded")
            c.check(st in (200, 202), "%s: verify %s answered %s %s" % (label, oid, st, body))
        return n.wait_for(oid, lambda o: o["status"] in ("COMPLETED", "FAILED"), timeout_s=60)
    except AssertionError as e:
        c.check(False, "%s: %s" % (label, e))
        return None


def settle_all(c, n, oids, label, workers=4):
    """settle() for every order, four at a time; their final records by id."""
    out = {}
    todo = list(oids)
    lock = threading.Lock()

    def run():
        while True:
            with lock:
                if not todo:
                    return
                oid = todo.pop()
            o = settle(c, n, oid, label)
            if o is not None:
                with lock:
                    out[oid] = o
    threads = [threading.Thread(target=run) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


def check_events(c, broker, n, oids, label):
    """read_committed: every event once, exactly the orders' histories (read now), gapless."""
    orders = {oid: n.order(oid) for oid in oids}
    events = consume_all(broker.addr)
    ids = {}
    by_order = {}
    for e in events:
        ids[e["event_id"]] = ids.get(e["event_id"], 0) + 1
        by_order.setdefault(e["order_id"], []).append(e)
    dup = {k: v for k, v in ids.items() if v > 1}
    c.check(not dup, "%s: no event_id twice under read_committed: %s" % (label, list(dup.items())[:5]))
    for oid, o in orders.items():
        want = [(e["seq"], e["type"]) for e in o["events"]]
        got = sorted((e["seq"], e["type"]) for e in by_order.get(oid, []))
        c.check(got == want, "%s: Kafka has exactly %s's events: %s vs %s" % (label, oid, got, want))
        c.check([s for s, _ in got] == list(range(1, len(got) + 1)), "%s: gapless seq for %s" % (label, oid))
    return len(events)


def main(sagad):
    c = Checks()
    broker = Broker().start()
    base = tempfile.mkdtemp(prefix="saga-repl-")
    over = {"cluster.replication": "kafka", "kafka.brokers": broker.addr,
            "kafka.topic_partitions": 3, "saga.passivate_after_ms": 500,
            # Settling hundreds of orders one transaction at a time takes longer than the
            # default 30 s: no intent may expire meanwhile (that is another test's branch).
            "payment.timeout_ms": 600000}
    n = Node(sagad, data_dir=base, overrides=over)
    n2 = None
    n3 = None
    try:
        t0 = time.time()
        n.start(timeout_s=120)
        print("replicated node ready in %.1f s" % (time.time() - t0), flush=True)
        st, ready = n.request("GET", "/readyz")
        c.check(st == 200 and ready["detail"]["kafka"]["state"] == "replicated",
                "/readyz says the node is replicated: %s %s" % (st, ready))
        for i, s in enumerate(SKUS):
            n.stock(s, 100000, 100 + i)
        n.stock("SCARCE", 1, 999)
        # Every branch: completed, payment failed, reservation failed, waiting for payment.
        branches = {}
        for verdict in ["succeeded", "succeeded", "failed", None, None]:
            st, body = n.place([{"sku": "R-0", "quantity": 2}])
            c.check(st == 201, "placed: %s %s" % (st, body))
            oid = body["order_id"]
            n.wait_for(oid, lambda o: o["status"] == "PAYMENT_INITIATED", timeout_s=30)
            if verdict:
                n.verify(oid, verdict)
                n.wait_for(oid, lambda o: o["status"] in ("COMPLETED", "FAILED"), timeout_s=30)
            branches[oid] = verdict
        st, body = n.place([{"sku": "SCARCE", "quantity": 2}])
        c.check(st == 201, "placed scarce: %s" % st)
        n.wait_for(body["order_id"], lambda o: o["status"] == "FAILED", timeout_s=30)
        branches[body["order_id"]] = "no stock"
        before = {oid: n.request("GET", "/orders/" + oid)[1] for oid in branches}

        # Load, then kill -9 in the middle of it, and the data directory is lost.
        first = Load(n)
        time.sleep(4)
        deadline = time.time() + 20  # a slow build: until enough orders are placed
        while len(first.acked) < 30 and time.time() < deadline:
            time.sleep(0.1)
        n.kill9()
        first.stop()
        acked = first.acked
        print("load: %d POSTs, %d answered 201 before kill -9" % (first.sent[0], len(acked)), flush=True)
        c.check(len(acked) >= 20, "the load placed orders before the kill: %d" % len(acked))
        shutil.rmtree(os.path.join(base, "node-1"))
        c.check(not os.path.exists(os.path.join(base, "node-1")), "the data directory is gone")

        t0 = time.time()
        n.start(timeout_s=120)
        rebuilt_s = time.time() - t0
        with open(n.log_path, "rb") as f:
            lines = [l for l in f.read().decode(errors="replace").splitlines()
                     if l.startswith("REPLICATION")]
        applied = int(lines[-1].split("applied=")[1].split()[0]) if lines else 0
        print("rebuilt from the changelog in %.1f s: %s" % (rebuilt_s, lines[-1] if lines else "?"),
              flush=True)
        c.check(applied > len(acked), "the changelog was applied: %d records" % applied)
        for oid, o in before.items():
            st, now = n.request("GET", "/orders/" + oid)
            c.check(st == 200 and now == o, "finished order %s reads back the same after the rebuild" % oid)
        missing = [oid for oid in acked if n.request("GET", "/orders/" + oid)[0] != 200]
        c.check(not missing, "every acknowledged order is there after the rebuild: missing %s" % missing[:5])

        # Its sagas finish; stock and payments agree.
        final = settle_all(c, n, list(branches) + acked, "after rebuild")
        for oid, o in final.items():
            pay = o.get("payment") or {}
            if o["status"] == "COMPLETED":
                c.check(pay.get("status") == "SUCCEEDED", "completed %s is paid: %s" % (oid, pay))
        # Every load order holds one unit of its SKU; the branches hold two units of R-0.
        unanswered = 0
        for s in SKUS:
            # Orders of this SKU created before the kill but never answered are in the
            # changelog too: count every completed order of the SKU the node knows.
            inv = n.sku(s)
            # An order whose creation committed while its client waited at the kill exists
            # too (no 201 was sent): it waits for its payment, holding one unit. At most one
            # per client thread.
            unanswered += inv["reserved"]
            c.check(inv["available"] + inv["reserved"] == inv["on_hand"]
                    and inv["on_hand"] + inv["committed"] == 100000,
                    "%s: available + reserved = on_hand, on_hand + committed = stocked: %s" % (s, inv))
            mine = [o for o in final.values() if o["items"][0]["sku"] == s and o["status"] == "COMPLETED"]
            units = sum(o["items"][0]["quantity"] for o in mine)
            c.check(inv["committed"] >= units, "%s: committed %d covers the %d units of the "
                    "acknowledged completed orders" % (s, inv["committed"], units))
        c.check(unanswered <= len(first.threads), "reserved units belong only to orders in flight "
                "at the kill, unanswered: %d (clients: %d)" % (unanswered, len(first.threads)))
        count = check_events(c, broker, n, final, "after rebuild")
        print("read_committed: %d events, %d orders checked" % (count, len(final)), flush=True)

        # A node that needs more changelog partitions than the topic has refuses to start.
        wider = Node(sagad, overrides=dict(over, **{"saga.partitions": 8}), log_name="wider")
        try:
            wider.start(timeout_s=120)
            c.check(False, "a node with saga.partitions = 8 started against a 6-partition changelog")
        except RuntimeError:
            code = wider.proc.wait(timeout=30)
            with open(wider.log_path, "rb") as f:
                text = f.read().decode(errors="replace")
            c.check(code == 8 and "saga_changelog has 6 partitions; this cluster needs 10" in text,
                    "refused with exit code 8, naming the changelog and the count: %s" % code)
        finally:
            wider.cleanup()

        # Fencing: a second owner opens the same partitions.
        sample = {oid: n.request("GET", "/orders/" + oid)[1] for oid in list(final)[:30]}
        n2 = Node(sagad, overrides=over, log_name="second-owner").start(timeout_s=120)
        same = [oid for oid, o in sample.items() if n2.request("GET", "/orders/" + oid)[1] == o]
        c.check(len(same) == len(sample), "the second owner rebuilt the same orders (%d of %d)"
                % (len(same), len(sample)))
        try:
            st, body = n.place([{"sku": "R-1", "quantity": 1}], customer="zombie")
        except Exception as e:  # noqa: BLE001 - the fenced node closed the connection
            st, body = None, str(e)
        c.check(st != 201, "the fenced owner acknowledged nothing: %s %s" % (st, body))
        try:
            code = n.proc.wait(timeout=30)
        except Exception:  # noqa: BLE001
            code = None
        c.check(code == 7, "the fenced owner stopped with exit code 7: %s" % code)
        with open(n.log_path, "rb") as f:
            text = f.read().decode(errors="replace")
        c.check("is fenced" in text, "the fenced owner logged why")
        if st == 201 and isinstance(body, dict):
            final[body["order_id"]] = None
        # The new owner serves; the old owner's aborted transaction is invisible.
        st, body = n2.place([{"sku": "R-2", "quantity": 1}])
        c.check(st == 201, "the new owner serves: %s %s" % (st, body))
        if st == 201:
            settle(c, n2, body["order_id"], "new owner")
            final[body["order_id"]] = None
        check_events(c, broker, n2, final, "after fencing")

        # Zombie: the owner frozen (SIGSTOP) under load, with transactions in flight; a third
        # process opens its partitions, then the frozen one goes on (SIGCONT).
        second = Load(n2)
        acked2 = second.acked
        time.sleep(2)
        os.kill(n2.proc.pid, signal.SIGSTOP)
        frozen_acked = len(acked2)
        n3 = Node(sagad, overrides=over, log_name="third-owner").start(timeout_s=120)
        os.kill(n2.proc.pid, signal.SIGCONT)
        try:
            code = n2.proc.wait(timeout=60)
        except Exception:  # noqa: BLE001
            code = None
        second.stop()
        print("zombie: %d answered 201 before SIGSTOP, %d in all; it exited with %s"
              % (frozen_acked, len(acked2), code), flush=True)
        c.check(code == 7, "the frozen owner, fenced, stopped with exit code 7: %s" % code)
        missing = [oid for oid in acked2 if n3.request("GET", "/orders/" + oid)[0] != 200]
        c.check(not missing, "every order the zombie acknowledged is in the changelog: missing %s"
                % missing[:5])
        settled = settle_all(c, n3, acked2, "after the zombie")
        for oid in settled:
            final[oid] = None
        check_events(c, broker, n3, final, "after the zombie")
    finally:
        if n3 is not None:
            n3.stop()
            n3.cleanup()
        n.cleanup()
        if n2 is not None:
            n2.stop()
            n2.cleanup()
        if c.failed and os.environ.get("SAGA_KEEP_FAILED"):
            print("kept for inspection:", base, flush=True)
        else:
            shutil.rmtree(base, ignore_errors=True)
        broker.cleanup()
    return c.done("replication")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
