"""kill -9 mid-saga: many orders in flight against a real sagad with fsync'd RocksDB; the
node is SIGKILLed twice (under load, then again while it resumes), restarted on the same
directory, and every acknowledged order must reach a terminal status with stock conserved
(spec §7). Prints its seed; SAGA_SEED=... reproduces a run's choices."""
import os
import random
import sys
import threading
import time

from sagalib import Checks, Node

SKUS = {"K1": 400, "K2": 250, "K3": 600}


def client(node, rng_seed, acked, stop, lock):
    rng = random.Random(rng_seed)
    while not stop.is_set():
        items = [{"sku": s, "quantity": rng.randint(1, 3)} for s in rng.sample(sorted(SKUS), rng.randint(1, 2))]
        try:
            st, body = node.place(items)
        except Exception:
            return  # the node died under us
        if st != 201:
            continue
        oid = body["order_id"]
        with lock:
            acked[oid] = items
        # drive some orders on; leave the rest to expire
        choice = rng.random()
        try:
            if choice < 0.7:
                node.wait_for(oid, lambda o: o["status"] != "PENDING", timeout_s=5)
                node.verify(oid, "succeeded" if choice < 0.55 else "failed")
        except Exception:
            return


def main():
    sagad = sys.argv[1]
    seed = int(os.environ.get("SAGA_SEED", random.randrange(1 << 30)))
    print("seed", seed, flush=True)
    c = Checks()
    overrides = {"payment.timeout_ms": 2000, "saga.auto_complete_ms": 500,
                 "inventory.reservation_ttl_ms": 30000, "storage.sync": "true"}
    n = Node(sagad, overrides=overrides)
    acked = {}
    lock = threading.Lock()
    try:
        n.start()
        for sku, qty in SKUS.items():
            n.stock(sku, qty, 100)
        stop = threading.Event()
        threads = [threading.Thread(target=client, args=(n, seed + i, acked, stop, lock)) for i in range(8)]
        for t in threads:
            t.start()
        # at least 1.5 s of load, and enough orders before the kill (a slow build takes longer)
        time.sleep(1.5)
        deadline = time.time() + 20
        while len(acked) <= 30 and time.time() < deadline:
            time.sleep(0.1)
        n.kill9()  # mid-saga, under load
        stop.set()
        for t in threads:
            t.join()
        print("acknowledged orders before kill -9:", len(acked), flush=True)
        c.check(len(acked) > 20, "enough load before the kill (%d orders)" % len(acked))
        # restart, and kill again while resuming
        n.start()
        time.sleep(0.3)
        n.kill9()
        n.start()
        st, _ = n.request("GET", "/readyz")
        c.check(st == 200, "ready after restart")
        completed = {s: 0 for s in SKUS}
        statuses = {}
        for oid, items in acked.items():
            try:
                o = n.wait_for(oid, lambda o: o["status"] in ("COMPLETED", "FAILED"), timeout_s=30)
            except AssertionError as e:
                c.check(False, str(e))
                continue
            statuses[o["status"]] = statuses.get(o["status"], 0) + 1
            seqs = [e["seq"] for e in o["events"]]
            c.check(seqs == list(range(1, len(seqs) + 1)), "gapless seq for %s: %s" % (oid, seqs))
            if o["status"] == "COMPLETED":
                c.check(o["payment"]["status"] == "SUCCEEDED", "completed order paid: %s" % oid)
                for it in items:
                    completed[it["sku"]] += it["quantity"]
            else:
                c.check(o["payment"] is None or o["payment"]["status"] in ("FAILED", "EXPIRED", "REFUNDED"),
                        "failed order holds no payment: %s %s" % (oid, o["payment"]))
        print("terminal statuses:", statuses, flush=True)
        # Orders made durable just before a kill whose 201 never arrived are resumed too:
        # wait until the node holds no order in flight at all (from /metrics).
        deadline = time.time() + 30
        in_flight = None
        while time.time() < deadline:
            st, text = n.request("GET", "/metrics")
            text = text.decode() if isinstance(text, bytes) else str(text)
            in_flight = sum(int(l.split()[-1]) for l in text.splitlines()
                            if l.startswith('saga_orders{status="PENDING"}')
                            or l.startswith('saga_orders{status="PAYMENT_INITIATED"}'))
            if in_flight == 0:
                break
            time.sleep(0.1)
        c.check(in_flight == 0, "no order left in flight on the node (%s)" % in_flight)
        for sku, initial in SKUS.items():
            s = n.sku(sku)
            c.check(s["reserved"] == 0, "%s: nothing left reserved: %s" % (sku, s))
            c.check(s["available"] + s["reserved"] + s["committed"] == initial,
                    "%s: stock conserved: %s" % (sku, s))
            c.check(s["committed"] == completed[sku],
                    "%s: committed %d == sold in completed orders %d" % (sku, s["committed"], completed[sku]))
            c.check(s["available"] >= 0, "%s: no oversell" % sku)
        c.check(n.stop() == 0, "clean exit on SIGTERM")
    finally:
        n.cleanup()
    return c.done("test_kill9")


if __name__ == "__main__":
    sys.exit(main())
