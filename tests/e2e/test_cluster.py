"""A 3-node cluster of real sagad processes (scripts/cluster.sh, a real Kafka broker):
- the layout: every node sees the others up and every partition has one owner;
- every saga branch with SKUs owned by two other nodes, driven through a third node's
  gateway; a multi-SKU order across two remote nodes is all reserved or all released;
- any node answers GET for any order;
- kill -9 of one node under load from several clients: requests that need its partitions
  get 503 node_unavailable naming it, the rest succeed (both counted); after its restart
  every acknowledged order is terminal, stock is conserved summed over the nodes and
  nothing is committed twice; Kafka has every event of every order in seq order;
- SIGSTOP of a node: marked down within the time-out; after SIGCONT its stale requests
  change nothing (one payment, one commit, no event with a new event_id).
Prints its seed; SAGA_SEED=... reproduces a run's choices."""
import os
import random
import signal
import subprocess
import sys
import threading
import time

import sagalib
from clusterlib import CONNECTION_TIMEOUT_MS, HEARTBEAT_MS, SCALE, Cluster
from sagalib import Checks

TERMINAL = ("COMPLETED", "FAILED")


def types(o):
    return [e["type"] for e in o["events"]]


def check_layout(c, cl):
    digests = set()
    for nid, n in sorted(cl.nodes.items()):
        st, v = n.request("GET", "/cluster")
        c.check(st == 200, "GET /cluster on %s" % nid)
        digests.add(v["layout_digest"])
        states = {x["id"]: x["state"] for x in v["nodes"]}
        c.check(states[nid] == "self" and all(s == "up" for i, s in states.items() if i != nid),
                "%s sees every peer up: %s" % (nid, states))
    c.check(len(digests) == 1, "one layout digest on every node: %s" % digests)
    for kind in ("orders", "inventory"):
        owned = sorted(p for x in cl.layout["nodes"] for p in x["partitions"][kind])
        c.check(owned == list(range(cl.layout["partitions"][kind])),
                "every %s partition has exactly one owner: %s" % (kind, owned))


def branches(c, cl):
    """Every branch through the gateway of a node that owns none of the SKUs."""
    inv_nodes = [x["id"] for x in cl.layout["nodes"] if x["partitions"]["inventory"]]
    c.check(len(inv_nodes) >= 2, "two nodes own SKU partitions: %s" % inv_nodes)
    a_node, b_node = inv_nodes[0], inv_nodes[1]
    # The driver: a node other than these two when there is one, owning order partitions.
    others = [x["id"] for x in cl.layout["nodes"]
              if x["id"] not in (a_node, b_node) and x["partitions"]["orders"]]
    driver = cl.nodes[others[0]] if others else cl.nodes[a_node]
    print("SKUs on %s and %s, orders through %s" % (a_node, b_node, driver.id), flush=True)
    ska, skb = cl.sku_on(a_node, "br"), cl.sku_on(b_node, "br")
    driver.stock(ska, 10, 100)
    driver.stock(skb, 10, 250)
    for n in cl.nodes.values():  # any node answers for any SKU
        c.check(n.sku(ska)["on_hand"] == 10 and n.sku(skb)["price_cents"] == 250,
                "%s reads both SKUs" % n.id)
    items = [{"sku": ska, "quantity": 2}, {"sku": skb, "quantity": 1}]

    def place():
        st, body = driver.place(items)
        c.check(st == 201, "placed through %s: %s %s" % (driver.id, st, body))
        oid = body["order_id"]
        c.check(cl.order_owner(oid) == driver.id, "an order without a key lives on the node that took it")
        return oid

    def every_node_reads(oid):
        views = [n.order(oid) for n in cl.nodes.values()]
        c.check(all(v == views[0] for v in views), "every node answers GET %s alike" % oid)
        return views[0]

    # 1. Paid: reserved on both nodes, completed, committed on both.
    oid = place()
    driver.wait_for(oid, lambda o: o["status"] == "PAYMENT_INITIATED")
    c.check(cl.nodes[a_node].sku(ska)["reserved"] == 2 and cl.nodes[b_node].sku(skb)["reserved"] == 1,
            "both remote SKUs reserved")
    st, body = cl.any(but=(driver.id,)).verify(oid, "succeeded")
    c.check(st == 200, "verify through another node: %s %s" % (st, body))
    o = driver.wait_for(oid, lambda o: o["saga_step"] == "completed")
    c.check(o["status"] == "COMPLETED", "paid order completed")
    o = every_node_reads(oid)
    c.check(types(o)[-1] == "inventory_committed", "committed: %s" % types(o))
    sa, sb = driver.sku(ska), driver.sku(skb)
    c.check((sa["committed"], sa["reserved"], sb["committed"], sb["reserved"]) == (2, 0, 1, 0),
            "committed on both nodes: %s %s" % (sa, sb))

    # 2. Payment failed: released on both nodes.
    oid = place()
    driver.wait_for(oid, lambda o: o["status"] == "PAYMENT_INITIATED")
    st, _ = driver.verify(oid, "failed")
    c.check(st == 200, "verify failed")
    o = driver.wait_for(oid, lambda o: o["saga_step"] == "failed")
    c.check("inventory_released" in types(o), "released: %s" % types(o))
    every_node_reads(oid)
    sa, sb = driver.sku(ska), driver.sku(skb)
    c.check((sa["available"], sa["reserved"], sb["available"], sb["reserved"]) == (8, 0, 9, 0),
            "failed payment gives back both: %s %s" % (sa, sb))

    # 3. All or nothing across nodes: enough on A, too little on B: nothing held on either.
    st, body = driver.place([{"sku": ska, "quantity": 3}, {"sku": skb, "quantity": 50}])
    c.check(st == 201, "placed (the stock check is the saga's)")
    o = driver.wait_for(body["order_id"], lambda o: o["saga_step"] == "failed")
    c.check("inventory_reservation_failed" in types(o) and "inventory_reserved" not in types(o),
            "rejected: %s" % types(o))
    sa, sb = driver.sku(ska), driver.sku(skb)
    c.check((sa["available"], sa["reserved"], sb["available"], sb["reserved"]) == (8, 0, 9, 0),
            "nothing reserved on either node: %s %s" % (sa, sb))

    # 4. The payment expires (payment.timeout_ms): released on both.
    oid = place()
    o = driver.wait_for(oid, lambda o: o["saga_step"] == "failed", timeout_s=30 * SCALE)
    c.check(o["payment"]["status"] == "EXPIRED" and "inventory_released" in types(o),
            "expired payment: %s %s" % (o["payment"], types(o)))

    # 5. The reservation expires before the payment succeeds: the commit fails on the
    #    remote node and the payment is refunded.
    oid = place()
    driver.wait_for(oid, lambda o: o["status"] == "PAYMENT_INITIATED")
    time.sleep(3.5 * SCALE)  # inventory.reservation_ttl_ms = 3000 (x SCALE)
    st, _ = driver.verify(oid, "succeeded")
    o = driver.wait_for(oid, lambda o: o["saga_step"] in ("failed", "completed"), timeout_s=30)
    c.check(o["status"] == "FAILED" and "payment_refunded" in types(o),
            "expired reservation: refunded, failed: %s" % types(o))
    sa, sb = driver.sku(ska), driver.sku(skb)
    c.check((sa["available"], sa["reserved"], sa["committed"], sb["available"], sb["reserved"], sb["committed"])
            == (8, 0, 2, 9, 0, 1), "stock back on both: %s %s" % (sa, sb))

    # 6. Complete requested through a third node's gateway.
    oid = place()
    driver.wait_for(oid, lambda o: o["status"] == "PAYMENT_INITIATED")
    driver.verify(oid, "succeeded")
    st, body = cl.nodes[a_node].request("POST", "/order/complete", {"order_id": oid})
    # The owner answers: completing (or already completing), or 409 once completed.
    c.check(st == 200 or (st == 409 and body["error"]["code"] == "conflict"),
            "complete through %s: %s %s" % (a_node, st, body))
    o = driver.wait_for(oid, lambda o: o["saga_step"] == "completed")
    c.check(o["status"] == "COMPLETED", "completed")

    # 7. Unknown order through any node: 404 from its owner.
    for n in cl.nodes.values():
        st, body = n.request("GET", "/orders/ord_0002000000000000")
        c.check(st == 404, "unknown order on %s: %s" % (n.id, st))


def client(node_list, rng_seed, skus, acked, counts, stop, lock):
    rng = random.Random(rng_seed)
    while not stop.is_set():
        live = [n for n in node_list if not getattr(n, "dead", False)]
        n = rng.choice(live)
        items = [{"sku": s, "quantity": rng.randint(1, 2)} for s in rng.sample(skus, rng.randint(1, 2))]
        try:
            st, body = n.place(items)
        except Exception:
            with lock:
                counts["connection"] += 1
            continue
        with lock:
            if st == 201:
                counts["ok"] += 1
                acked[body["order_id"]] = (n, items)
            elif st == 503 and body["error"]["code"] == "node_unavailable":
                counts["unavailable"] += 1
                counts["unavailable_nodes"].add(body["error"]["node"])
            else:
                counts["other"] += 1
                counts["other_samples"].append((st, body))
        if st == 201 and rng.random() < 0.7:
            try:
                n.wait_for(body["order_id"], lambda o: o["status"] != "PENDING", timeout_s=5)
                n.verify(body["order_id"], "succeeded" if rng.random() < 0.8 else "failed")
            except Exception:
                pass


def kill9_under_load(c, cl, seed, victim):
    survivors = [n for nid, n in sorted(cl.nodes.items()) if nid != victim]
    inv_nodes = sorted({x["id"] for x in cl.layout["nodes"] if x["partitions"]["inventory"]})
    skus = [cl.sku_on(nid, "load%d" % i) for nid in inv_nodes for i in range(2)]
    stocked = {}
    for s in skus:
        survivors[0].stock(s, 300, 100)
        stocked[s] = 300
    acked, lock, stop = {}, threading.Lock(), threading.Event()
    counts = {"ok": 0, "unavailable": 0, "other": 0, "connection": 0,
              "unavailable_nodes": set(), "other_samples": []}
    threads = [threading.Thread(target=client, args=(survivors, seed + i, skus, acked, counts, stop, lock))
               for i in range(4)]
    for t in threads:
        t.start()
    time.sleep(3)
    before = dict(counts)
    cl.kill(victim)
    t_kill = time.time()
    took = cl.wait_state(survivors[0].id, victim, "down", 5 * SCALE)
    print("killed %s marked down after %.2f s" % (victim, took), flush=True)
    # sagactl shows it too, with the reason.
    sagactl = os.path.join(os.path.dirname(cl.sagad), "sagactl")
    out = subprocess.run([sagactl, "--url", "http://127.0.0.1:%d" % survivors[0].port, "cluster"],
                         capture_output=True, text=True, timeout=30).stdout
    line = next((l for l in out.splitlines() if l.startswith(victim)), "")
    c.check(" down " in line and ("%s: " % victim) in out, "sagactl cluster shows %s down: %r" % (victim, out))
    # 6 s: under the sanitizers all four clients can spend the first seconds in waits for
    # orders that needed the dead node (a 4 s window once saw a single request end in it).
    time.sleep(max(0.0, 6 - (time.time() - t_kill)))
    during = {k: counts[k] - before[k] for k in ("ok", "unavailable")}
    cl.start(victim)
    print("restarted %s after %.1f s" % (victim, time.time() - t_kill), flush=True)
    time.sleep(3)
    stop.set()
    for t in threads:
        t.join()
    print("kill -9 %s under load: %s; while it was down: %s" % (victim, {k: counts[k] for k in (
        "ok", "unavailable", "other", "connection")}, during), flush=True)
    c.check(during["unavailable"] > 0 or counts["unavailable"] > 0,
            "requests for the dead node's partitions got 503 node_unavailable: %d while it was "
            "down, %d in all" % (during["unavailable"], counts["unavailable"]))
    c.check(during["ok"] > 0, "requests that did not need it succeeded meanwhile")
    c.check(counts["unavailable_nodes"] <= {victim}, "503s name the dead node: %s" % counts["unavailable_nodes"])
    c.check(counts["other"] == 0, "no other failure: %s" % counts["other_samples"][:3])
    reader = cl.nodes[victim]
    for oid in acked:
        try:
            reader.wait_for(oid, lambda o: o["status"] in TERMINAL, timeout_s=60)
        except AssertionError as e:
            c.check(False, "acknowledged order terminal: %s" % e)
    committed = {s: 0 for s in skus}
    for oid in acked:
        o = reader.order(oid)
        c.check(o["status"] in TERMINAL, "terminal: %s %s" % (oid, o["status"]))
        if o["status"] == "COMPLETED":
            for it in o["items"]:
                committed[it["sku"]] += it["quantity"]
    for s in skus:
        x = reader.sku(s)
        c.check(x["available"] + x["reserved"] + x["committed"] == stocked[s] and x["reserved"] == 0,
                "stock of %s conserved: %s" % (s, x))
        c.check(x["committed"] == committed[s],
                "%s committed once per completed order: %s vs %s" % (s, x["committed"], committed[s]))
    return acked


def zombie(c, cl):
    """SIGSTOP the node that owns an order; a verify is queued to it; SIGCONT."""
    owners = [x["id"] for x in cl.layout["nodes"] if x["partitions"]["orders"]]
    victim = owners[-1]
    inv = [x["id"] for x in cl.layout["nodes"] if x["partitions"]["inventory"] and x["id"] != victim]
    observer = cl.nodes[inv[0]]
    sku = cl.sku_on(inv[0], "zombie")
    observer.stock(sku, 5, 100)
    n_victim = cl.nodes[victim]
    st, body = n_victim.place([{"sku": sku, "quantity": 1}])
    c.check(st == 201, "placed on %s" % victim)
    oid = body["order_id"]
    n_victim.wait_for(oid, lambda o: o["status"] == "PAYMENT_INITIATED")
    cl.signal(victim, signal.SIGSTOP)
    t0 = time.time()
    # A verify queued to the frozen node (through a peer's forwarder) before it is noticed.
    got = {}
    t = threading.Thread(target=lambda: got.update(r=observer.verify(oid, "succeeded")))
    t.start()
    took = cl.wait_state(observer.id, victim, "down", 15)
    print("frozen %s marked down after %.1f s" % (victim, took), flush=True)
    bound = (CONNECTION_TIMEOUT_MS + HEARTBEAT_MS) / 1000 + 1.0 * SCALE
    c.check(took < bound, "marked down within cluster.connection_timeout_ms + a heartbeat + %.0f s: "
            "%.1f s (bound %.1f s)" % (SCALE, took, bound))
    t.join()
    st1, b1 = got["r"]
    c.check(st1 == 503 and b1["error"]["code"] == "node_unavailable" and b1["error"]["node"] == victim,
            "verify while frozen: 503 node_unavailable naming %s: %s %s" % (victim, st1, b1))
    # Everything else goes on meanwhile.
    other = cl.nodes[inv[0]]
    sku2 = cl.sku_on(inv[0], "alive")
    other.stock(sku2, 5, 100)
    st, b = other.place([{"sku": sku2, "quantity": 1}])
    if st == 201:  # an order partition of a live node took it
        o = other.wait_for(b["order_id"], lambda o: o["status"] == "PAYMENT_INITIATED")
        c.check(o["saga_step"] == "awaiting_payment", "an order on a live node goes on")
    else:
        c.check(st == 503, "else a clear 503: %s %s" % (st, b))
    time.sleep(1)
    cl.signal(victim, signal.SIGCONT)
    cl.wait_state(observer.id, victim, "up", 20)
    # The client retries its verify; the stale one may have landed first.
    st2, b2 = observer.verify(oid, "succeeded")
    c.check(st2 == 200, "verify again after SIGCONT: %s %s" % (st2, b2))
    o = observer.wait_for(oid, lambda o: o["status"] in TERMINAL, timeout_s=30)
    t = types(o)
    # Completed, or (the freeze outlasted inventory.reservation_ttl_ms) failed with the
    # commit refused and the payment refunded: either way once, and never both.
    c.check(t.count("payment_succeeded") == 1 and t.count("order_completed") <= 1
            and t.count("inventory_committed") + t.count("payment_refunded") == 1,
            "one payment, one outcome: %s" % t)
    ids = [e.get("seq") for e in o["events"]]
    c.check(ids == list(range(1, len(ids) + 1)), "gapless events: %s" % ids)
    x = observer.sku(sku)
    want = 1 if o["status"] == "COMPLETED" else 0
    c.check(x["committed"] == want and x["reserved"] == 0, "committed %d: %s" % (want, x))
    return [oid]


def refused_layout(c, cl):
    """A node started with another partition count is refused by its peers, both sides
    naming the difference; it never serves their partitions. Then the real one is back."""
    victim = sorted(cl.nodes)[-1]
    observer = cl.nodes[sorted(cl.nodes)[0]]
    cl.kill(victim)
    cl.wait_state(observer.id, victim, "down", 10)
    other_dir = os.path.join(cl.dir, "other-layout")
    log = open(os.path.join(cl.dir, "other-layout.log"), "wb")
    args = [cl.sagad, "--config", os.path.join(cl.dir, "cluster.conf"), "--node", victim,
            "--set", "http.port=%d" % cl.nodes[victim].port, "--set", "storage.dir=" + other_dir,
            "--set", "saga.partitions=8"]
    for a in cl.ARGS:  # "--set key=value" each
        args += a.split(" ", 1)
    p = subprocess.Popen(args, stdout=log, stderr=log)
    try:
        deadline = time.time() + 20 * SCALE
        reason = ""
        while time.time() < deadline and "saga.partitions" not in reason:
            st, v = observer.request("GET", "/cluster")
            n = next(x for x in v["nodes"] if x["id"] == victim)
            reason = n.get("reason", "")
            c.check(n["state"] == "down", "a node with another layout is never up: %s" % n)
            time.sleep(0.2)
        c.check("saga.partitions: 8 here, 6 at %s" % observer.id in reason,
                "the refusal names the difference: %r" % reason)
        st, body = observer.request("GET", "/metrics")
        text = body.decode() if isinstance(body, bytes) else str(body)
        c.check('saga_cluster_peer_refused_total{peer="%s"}' % victim in text
                and 'saga_cluster_peer_up{peer="%s"} 0' % victim in text,
                "/metrics counts the refusal and shows the peer not up")
        c.check("saga_cluster_resends_total" in text, "/metrics has the re-sends")
    finally:
        p.terminate()
        p.wait(timeout=30)
    cl.start(victim)
    cl.wait_state(observer.id, victim, "up", 20 * SCALE)


class _Broker:
    def __init__(self, addr):
        self.addr = addr

    def consume_all(self, prefix=""):
        return sagalib.consume_all(self.addr, prefix)


def main():
    sagad = sys.argv[1]
    seed = int(os.environ.get("SAGA_SEED", random.randrange(1 << 30)))
    print("seed", seed, flush=True)
    c = Checks()
    cl = Cluster(sagad, 3, ["--set inventory.reservation_ttl_ms=%d" % int(3000 * SCALE),
                            "--set payment.timeout_ms=%d" % int(5000 * SCALE),
                            "--set saga.auto_complete_ms=2000"])
    try:
        t0 = time.time()
        cl.up()
        print("cluster up in %.1f s" % (time.time() - t0), flush=True)
        check_layout(c, cl)
        branches(c, cl)
        inv_nodes = [x["id"] for x in cl.layout["nodes"] if x["partitions"]["inventory"]]
        kill9_under_load(c, cl, seed, victim=inv_nodes[-1])
        zombie(c, cl)
        refused_layout(c, cl)
        # Kafka: every event of every acknowledged order, per-order seq order, no gap,
        # duplicates only with the same event_id; `node` names the writer (the owner).
        import test_kafka
        addr = "127.0.0.1:" + open(os.path.join(cl.dir, "kafka", "port")).read().strip()
        test_kafka.check_sink(c, _Broker(addr), list(cl.nodes.values()), "cluster")
        events = sagalib.consume_all(addr)
        wrong = [e for e in events if e.get("node") != cl.order_owner(e["order_id"])]
        c.check(not wrong, "every event's node is its order's owner: %s" % wrong[:1])
    finally:
        cl.down()
    return c.done("cluster")


if __name__ == "__main__":
    sys.exit(main())
