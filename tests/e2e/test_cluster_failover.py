"""Failover on a 3-node replicated saga cluster over a real 3-broker Kafka cluster (issue 25),
started by scripts/cluster.sh with cluster.failover_after_ms set:

1. Under load from four clients spread over the two other nodes and over every node's SKUs:
   kill -9 a node and do not restart it. Its partitions are taken over by the survivors
   (fencing it, applying their changelog, loading their rows): every request succeeds
   again within the goal (10 s), and /cluster on a survivor shows no partition without a
   holder.
2. Start the dead node again: it opens its own partitions at its start (fencing the nodes
   that held them, whose steps in flight for them fail unacknowledged), the survivors
   release them, and load through every node succeeds again; nobody stops.

3. Restart during the takeover: kill -9 and start again failover_after_ms later, as the
   peers begin to take its partitions: it still runs and holds them.
4. Graceful stop (SIGTERM) under load: its peers take its partitions first; no request fails.
5. Zombie: SIGSTOP a node past the connection time-out, so its partitions move; requests
   queue at its port; SIGCONT: it answers none of them with data and stops (exit 7).

Then every acknowledged order is there with a terminal status after its verdict, stock
agrees with the completed orders (committed once each), and a read_committed consumer
sees each event_id once, with exactly each order's history.

Prints the time from kill -9 to the first success that needed a moved partition and to
the last failure ("serving again"). Usage: test_cluster_failover.py SAGAD"""
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time

from clusterlib import Cluster, AUTH, check_settled_history
from sagalib import Checks


STOCK = 100000
GOAL_S = 10.0
FAILOVER_MS = int(os.environ.get("FAILOVER_MS", "3000"))
KILLS = int(os.environ.get("FAILOVER_KILLS", "1"))  # BENCHMARKS: 5, one node after another


def client(nodes, seed, skus, log, acked, stop, lock):
    """Places orders (one or two SKUs each) through random nodes; logs (t, status, code, skus)."""
    rng = random.Random(seed)
    while not stop.is_set():
        n = rng.choice(nodes)
        picked = rng.sample(skus, rng.randint(1, 2))
        items = [{"sku": s, "quantity": 1} for s in picked]
        t = time.time()
        try:
            st, body = n.place(items)
        except Exception as e:  # noqa: BLE001 - a connection error is an outcome here
            with lock:
                log.append((t, -1, str(e)[:80], picked, ""))
            time.sleep(0.05)
            continue
        code = body.get("error", {}).get("code", "") if st != 201 else ""
        message = body.get("error", {}).get("message", "")[:160] if st != 201 else ""
        with lock:
            log.append((t, st, code, picked, message))
            if st == 201:
                acked[body["order_id"]] = items
        if st != 201:
            time.sleep(0.05)
        elif rng.random() < 0.7:
            try:
                n.wait_for(body["order_id"], lambda o: o["status"] != "PENDING", timeout_s=5)
                n.verify(body["order_id"], "succeeded" if rng.random() < 0.8 else "failed")
            except Exception:  # noqa: BLE001 - a verdict lost in a move is given at the end
                pass


def run_load(nodes, skus, seed, seconds, during, log, acked):
    lock, stop = threading.Lock(), threading.Event()
    threads = [threading.Thread(target=client, args=(nodes, seed + i, skus, log, acked, stop, lock))
               for i in range(4)]
    for t in threads:
        t.start()
    out = during()
    time.sleep(seconds)
    stop.set()
    for t in threads:
        t.join()
    return out


def holders(node):
    st, c = node.request("GET", "/cluster", headers=AUTH)
    assert st == 200, (st, c)
    return c


def claims_of(view):
    """GET /cluster "claims": (kind, partition) -> (node, offset)."""
    return {(x["kind"], x["partition"]): (x["node"], x["offset"]) for x in view.get("claims", [])}


def claims_settle(node, want, timeout_s=10.0):
    """Waits until `node`'s claims name want[(kind, p)] for every partition; the last view."""
    deadline = time.time() + timeout_s
    while True:
        got = claims_of(holders(node))
        if all(got.get(k, (None,))[0] == v for k, v in want.items()) or time.time() > deadline:
            return got
        time.sleep(0.2)


def holder_map(view):
    return {(k, p): h for k in ("orders", "inventory") for p, h in enumerate(view["holders"][k])}


CONSOLE_JS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "browser",
                          "console_cluster.js")


WATCHERS = []  # console watchers still running: main() ends them if the test fails early


def watch_console(node, seconds):
    """Opens `node`'s live console in headless Chromium (console_cluster.js), at most
    `seconds`; returns (the process, what it printed before) once the page shows the cluster
    table, or once it said why not."""
    w = subprocess.Popen(["node", CONSOLE_JS, "http://127.0.0.1:%d" % node.port, str(seconds)],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         text=True)
    WATCHERS.append(w)
    before = []
    for line in w.stdout:  # (it ends by itself: its own deadline)
        before.append(line)
        if line.startswith("CONSOLE-OPEN") or line.startswith("CONSOLE-FAIL"):
            break
    if not before or not before[-1].startswith("CONSOLE-OPEN"):
        print("console watcher: %s" % "".join(before), flush=True)
    return w, before


def console_seen(c, watcher, victim, moved):
    """Tells the watcher to read the page now and checks what the console showed against the
    moves GET /cluster reports (`moved`: (kind, p) -> its new holder): each move listed, to
    its taker; the takers' rows mark the partitions taken over, the victim's row strikes its
    own through (the victim held only its own partitions: the first kill)."""
    w, before = watcher
    try:
        w.stdin.write("read\n")
        w.stdin.close()
    except (BrokenPipeError, OSError):
        pass  # it ended already (it says why)
    out = "".join(before) + w.stdout.read()  # to its end (bounded by its own deadline)
    w.wait(timeout=30)
    line = next((x for x in out.splitlines() if x.startswith("CONSOLE ")), None)
    c.check(line is not None, "the console could be read: %s" % out[-400:])
    if line is None:
        return
    seen = json.loads(line[len("CONSOLE "):])
    c.check(not seen["errors"], "the console ran without page errors: %s" % seen["errors"])
    newest = {}
    for m in seen["moves"]:
        newest.setdefault(m["slot"], m["to"])
    want = {"%s/%d" % k: h for k, h in moved.items()}
    print("console moves: %s" % seen["moves"], flush=True)
    c.check(want and all(newest.get(slot) == h for slot, h in want.items()),
            "the console lists each move of %s's partitions, to its taker: %s (want %s)"
            % (victim, newest, want))
    rows = seen["rows"]
    c.check(all(slot in rows.get(h, {}).get("moved", []) and
                int(slot.split("/")[1]) in (rows.get(h, {}).get(slot.split("/")[0]) or [])
                for slot, h in want.items()),
            "the takers' rows show the partitions they took over: %s" % rows)
    c.check(set(want) <= set(rows.get(victim, {}).get("away", [])),
            "%s's row strikes its own partitions through: %s" % (victim, rows.get(victim)))


def kill_and_return(c, cl, victim, skus, seed, acked, logs, console=False):
    """kill -9 `victim` under load over the others and every node's SKUs, without restarting
    it; then start it again under load over every node. Returns (first success on its SKUs,
    serving again), in seconds after the kill."""
    survivors = [n for nid, n in sorted(cl.nodes.items()) if nid != victim]
    survivor_ids = [nid for nid in sorted(cl.nodes) if nid != victim]
    victim_skus = {s for s in skus if cl.sku_owner(s) == victim}
    # Standby replicas (cluster.standby_replicas = 1): each survivor reports the partitions
    # it keeps, with their lag.
    for nid, n in zip(survivor_ids, survivors):
        sb = holders(n).get("standbys", [])
        print("standby replicas at %s: %s" % (nid, [(x["kind"], x["partition"], x["lag"]) for x in sb]),
              flush=True)
        c.check(sb and all(x["lag"] is not None and x["lag"] < 200 for x in sb),
                "%s keeps standby replicas and reports their lag: %s" % (nid, sb))
    log_sizes = {nid: os.path.getsize(os.path.join(cl.dir, nid + ".log")) for nid in survivor_ids}
    # Claims (owners topic): every partition is claimed by the node that holds it.
    before = holder_map(holders(survivors[0]))
    claims0 = claims_settle(survivors[0], before)
    c.check(set(claims0) == set(before) and all(claims0[k][0] == before[k] for k in before),
            "every partition's last claim names its holder: %s" % claims0)
    # The live console of a survivor stays open across the kill (first kill only: Chromium
    # takes CPU from the nodes on two cores).
    watcher = watch_console(survivors[0], 90) if console else None
    # So does `sagactl cluster --watch` at the other survivor: a line per move.
    sagactl = os.path.join(os.path.dirname(cl.sagad), "sagactl")
    watch = subprocess.Popen([sagactl, "--url", "http://127.0.0.1:%d" % survivors[-1].port, "cluster",
                              "--watch", "--interval-ms", "200"],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) \
        if console else None
    if watch is not None:
        WATCHERS.append(watch)
    # 1. kill -9 under load, no restart.
    log = []
    t_kill = run_load(survivors, skus, seed, 22,
                      lambda: (time.sleep(4), cl.kill(victim), time.time())[2], log, acked)
    after = sorted(x for x in log if x[0] >= t_kill)
    failures = [x for x in after if x[1] != 201]
    moved_ok = [x for x in after if x[1] == 201 and victim_skus & set(x[3])]
    last_failure = failures[-1][0] - t_kill if failures else 0.0
    first_moved = moved_ok[0][0] - t_kill if moved_ok else None
    codes = {}
    for x in failures:
        codes[(x[1], x[2])] = codes.get((x[1], x[2]), 0) + 1
    serving = max(last_failure, first_moved or 0.0)
    # Throughput of the four closed-loop clients (orders acknowledged per second): before the
    # kill, over the goal's 10 s after it, and after that.
    def rate(a, b):
        return sum(1 for x in log if a <= x[0] - t_kill < b and x[1] == 201) / (b - a)
    end = max(x[0] for x in log) - t_kill
    print("THROUGHPUT kill -9 %s: %.1f orders/s before, %.1f in the 10 s after, %.1f after that"
          % (victim, rate(-4.0, 0.0), rate(0.0, GOAL_S), rate(GOAL_S, end)), flush=True)
    print("kill -9 %s: first success on its SKUs after %s s, last failure after %.2f s; "
          "%d requests after the kill, %d failed %s" %
          (victim, "%.2f" % first_moved if first_moved is not None else "never", last_failure,
           len(after), len(failures), codes), flush=True)
    c.check(first_moved is not None or not victim_skus,
            "orders with %s's SKUs succeed again" % victim)
    c.check(serving < GOAL_S, "every request succeeds again within %.0f s of the kill: "
            "%.2f s" % (GOAL_S, serving))
    c.check(all(x[1] == 503 for x in failures), "the failures meanwhile are 503s: %s" % codes)
    tail = [x for x in after if x[0] - t_kill > GOAL_S]
    c.check(len(tail) > 20 and all(x[1] == 201 for x in tail),
            "after the goal every request succeeds: %d of %d" %
            (sum(1 for x in tail if x[1] == 201), len(tail)))
    # Each takeover applied only its standby's lag, not the partition's changelog.
    applied, claim_ms = [], []
    for nid in survivor_ids:
        with open(os.path.join(cl.dir, nid + ".log"), "rb") as f:
            f.seek(log_sizes[nid])
            text = f.read().decode("utf-8", "replace")
        applied += [int(x) for x in re.findall(r"is served here now \((\d+) changelog records applied", text)]
        claim_ms += [int(x) for x in re.findall(r"(\d+) ms of it the claim at owners offset", text)]
    print("TAKEOVER kill -9 %s: changelog records applied per takeover: %s; its claim took %s ms"
          % (victim, applied, claim_ms), flush=True)
    c.check(applied and max(applied) <= 20,
            "each takeover applied only its standby's lag (at most 20 records): %s" % applied)
    view = holders(survivors[0])
    c.check(all(h and h != victim for h in view["holders"]["orders"] + view["holders"]["inventory"]),
            "every partition has a live holder: %s" % view["holders"])
    c.check(sum(holders(n)["failover"]["takeovers"] for n in survivors) > 0,
            "the survivors count their takeovers: %s" % view["failover"])
    # Each order partition a survivor serves, its own since the start or taken just now, has
    # a payment worker of its own there, and no other partition has one (the payment pool of
    # GET /inspect/summary, keyed by order partition in a cluster).
    for nid, n in zip(survivor_ids, survivors):
        st, s = n.request("GET", "/inspect/summary", headers=AUTH)
        pay = sorted(int(x["partition"]) for x in s["pools"]["payment"]) if st == 200 else (st, s)
        served = [p for p, h in enumerate(holders(n)["holders"]["orders"]) if h == nid]
        c.check(pay == served, "%s has a payment worker for each order partition it serves "
                "and no other: workers %s, serves %s" % (nid, pay, served))
        # Its worker gauges follow the takeovers (they were set once, at the start).
        inv = [q for q, h in enumerate(holders(n)["holders"]["inventory"]) if h == nid]
        g = (n.metric('saga_live_actors{kind="payment_worker"}'),
             n.metric('saga_live_actors{kind="inventory_worker"}'))
        c.check(g == (len(served), len(inv)), "%s's saga_live_actors for payment and inventory "
                "workers count what it serves now: %s, serves %d and %d" % (nid, g, len(served), len(inv)))
    # Each takeover claimed its partition after it fenced the victim: the claims every
    # survivor reads name the new holders, at higher offsets than the victim's claims.
    moved = {k: h for k, h in holder_map(view).items() if before.get(k) == victim}
    for nid, n in zip(survivor_ids, survivors):
        got = claims_settle(n, moved)
        c.check(moved and all(got.get(k, (None,))[0] == h and got[k][1] > claims0.get(k, (None, -1))[1]
                              for k, h in moved.items()),
                "%s reads the takers' claims of %s's partitions, each after the victim's: %s"
                % (nid, victim, {k: got.get(k) for k in moved}))
    if watcher is not None:
        console_seen(c, watcher, victim, moved)
    if watch is not None:
        watch.terminate()
        out = watch.communicate(timeout=30)[0]
        print("sagactl cluster --watch:\n%s" % out, flush=True)
        last = {}
        for m in re.finditer(r"^\S+ ((?:orders|inventory)/\d+): (\S+) -> (\S+)$", out, re.M):
            last[m.group(1)] = m.group(3)
        want = {"%s/%d" % k: h for k, h in moved.items()}
        c.check(want and all(last.get(slot) == h for slot, h in want.items()),
                "sagactl cluster --watch printed each move of %s's partitions, to its taker: %s "
                "(want %s)" % (victim, last, want))
    # sagactl shows the move: what each node holds now, and the takeovers.
    outs = [subprocess.run([sagactl, "--url", "http://127.0.0.1:%d" % n.port, "cluster"],
                           capture_output=True, text=True, timeout=30).stdout for n in survivors]
    c.check(all("HOLDS ORDERS" in o for o in outs) and
            any(" 0 takeover(s)" not in o and "takeover(s)" in o for o in outs),
            "sagactl cluster shows the holders and a takeover: %r" % outs[:1])
    c.check(all("CLAIMED BY" in o for o in outs),
            "sagactl cluster lists the claims: %r" % outs[:1])

    # 2. The dead node comes back: it takes its partitions back, nobody stops.
    log2 = []
    def back():
        t = time.time()
        cl.start(victim)
        print("%s restarted in %.1f s" % (victim, time.time() - t), flush=True)
        return t
    t_back = run_load(list(cl.nodes.values()), skus, seed + 100, 12, back, log2, acked)
    own = next(x for x in cl.layout["nodes"] if x["id"] == victim)["partitions"]
    deadline = time.time() + 20
    while time.time() < deadline:
        v = holders(survivors[0])
        if all(v["holders"]["orders"][p] == victim for p in own["orders"]) and \
                all(v["holders"]["inventory"][q] == victim for q in own["inventory"]):
            break
        time.sleep(0.2)
    c.check(all(v["holders"]["orders"][p] == victim for p in own["orders"]) and
            all(v["holders"]["inventory"][q] == victim for q in own["inventory"]),
            "%s holds its partitions again: %s" % (victim, v["holders"]))
    back_claims = claims_settle(survivors[0], {k: victim for k in moved})
    c.check(all(back_claims.get(k, (None,))[0] == victim and back_claims[k][1] > claims0.get(k, (None, -1))[1]
                for k in moved),
            "%s claimed its partitions again (the last claims name it): %s"
            % (victim, {k: back_claims.get(k) for k in moved}))
    back_fail = [x for x in log2 if x[0] >= t_back and x[1] != 201]
    codes2 = {}
    for x in back_fail:
        codes2[(x[1], x[2])] = codes2.get((x[1], x[2]), 0) + 1
    # Requests whose partition's actor ended as they arrived (the taker released it) are
    # sent again to the returning holder (gateway/slot_request.hpp), not answered 503.
    resends = {nid: n.metric("saga_gateway_resends_total") for nid, n in cl.nodes.items()}
    print("%s back: %d requests after its start, %d failed %s, the last %.2f s after it; "
          "saga_gateway_resends_total %s" %
          (victim, sum(1 for x in log2 if x[0] >= t_back), len(back_fail), codes2,
           back_fail[-1][0] - t_back if back_fail else 0.0, resends), flush=True)
    c.check(all(v is not None for v in resends.values()),
            "every node exports saga_gateway_resends_total: %s" % resends)
    for m in sorted({x[4] for x in back_fail if x[1] == 503})[:4]:
        print("  a 503 after the return: %s" % m, flush=True)
    late = [x for x in log2 if x[0] - t_back > GOAL_S and x[1] != 201]
    c.check(not late, "after the return every request succeeds: %s" % late[:3])
    for nid, n in cl.nodes.items():
        try:
            os.kill(n.pid, 0)
            alive = True
        except OSError:
            alive = False
        c.check(alive, "%s still runs" % nid)
    logs.extend([log, log2])
    return (first_moved if first_moved is not None else float("nan"), serving)


def graceful_stop(c, cl, victim, skus, seed, acked, logs):
    """cluster.sh stop (SIGTERM) `victim` under load over the others: its peers take its
    partitions while it still serves them. Returns (failed requests, hand-off seconds)."""
    survivors = [n for nid, n in sorted(cl.nodes.items()) if nid != victim]
    log = []
    def stop():
        time.sleep(3)
        t = time.time()
        cl.stop(victim)
        print("%s stopped in %.2f s" % (victim, time.time() - t), flush=True)
        return t
    t_stop = run_load(survivors, skus, seed, 8, stop, log, acked)
    after = [x for x in log if x[0] >= t_stop]
    failed = [x for x in after if x[1] != 201]
    with open(os.path.join(cl.dir, victim + ".log"), "rb") as f:
        text = f.read().decode(errors="replace")
    handed = [l for l in text.splitlines() if "partitions handed over in" in l]
    ms = int(handed[-1].split("handed over in ")[1].split()[0]) if handed else -1
    print("graceful stop of %s: hand-off %d ms; %d requests after the stop, %d failed %s" %
          (victim, ms, len(after), len(failed),
           sorted({(x[1], x[2], x[4]) for x in failed})[:4]), flush=True)
    c.check(handed, "%s handed its partitions over before it stopped" % victim)
    tail = text[text.rfind("signal 15 received"):]
    c.check("stopped cleanly" in tail and "exit code 7" not in tail,
            "%s stopped cleanly (exit 0): %s" % (victim, tail[-300:]))
    # Goal (issue 25): none at all. The peers hold requests for its partitions from its
    # "leaving" until the new holder is routed; only a request forwarded to it just before
    # that, whose step the takeover then fences, can still fail (measured: none).
    c.check(all(x[1] == 503 for x in failed), "the failures are 503s: %s" % failed[:3])
    c.check(len(failed) <= 2, "at most a request in flight at the moment fails: %d" % len(failed))
    settled = [x for x in after if x[0] - t_stop > ms / 1000.0 + 2.0]
    c.check(len(settled) > 10 and all(x[1] == 201 for x in settled),
            "every request succeeds 2 s after the hand-off: %d of %d" %
            (sum(1 for x in settled if x[1] == 201), len(settled)))
    cl.start(victim)
    logs.append(log)
    return len(failed), ms / 1000.0


def restart_during_takeover(c, cl, victim, skus, seed, acked, logs):
    """kill -9 `victim` under load and start it again just as its peers begin to take its
    partitions over (failover_after_ms after the kill): its start must not be fenced by a
    takeover that finishes after it opened its partitions. It keeps running, holds its
    partitions, and every request succeeds again."""
    log = []
    def kill_restart():
        time.sleep(3)
        cl.kill(victim)
        t = time.time()
        time.sleep(max(0.0, FAILOVER_MS / 1000.0 - 0.3))
        cl.start(victim)
        return t
    t_kill = run_load(list(cl.nodes.values()), skus, seed, 12, kill_restart, log, acked)
    with open(os.path.join(cl.dir, victim + ".log"), "rb") as f:
        text = f.read().decode(errors="replace")
    try:
        os.kill(cl.nodes[victim].pid, 0)
        alive = True
    except OSError:
        alive = False
    own = next(x for x in cl.layout["nodes"] if x["id"] == victim)["partitions"]
    v = holders(cl.nodes[victim])["holders"] if alive else {}
    late = [x for x in log if x[0] - t_kill > GOAL_S and x[1] != 201]
    waited = [l for l in text.splitlines() if "before opening its partitions" in l]
    print("restart during the takeover of %s: %s; %s" %
          (victim, "running" if alive else "stopped", waited[-1][-160:] if waited else "-"),
          flush=True)
    c.check(alive and "exit code 7" not in text,
            "%s started during the takeover still runs: %s" % (victim, text[-300:]))
    c.check(alive and all(v["orders"][p] == victim for p in own["orders"]) and
            all(v["inventory"][q] == victim for q in own["inventory"]),
            "%s holds its partitions: %s" % (victim, v))
    c.check(not late, "every request succeeds %.0f s after the kill: %s" % (GOAL_S, late[:3]))
    if not alive:
        cl.start(victim)
    logs.append(log)


def queue_request(port, method, path, body=b""):
    """Sends one request to a (frozen) node's HTTP port and returns the socket: the kernel
    accepts the connection and keeps the bytes until the process runs again."""
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    head = "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n" \
           "Content-Length: %d\r\nConnection: close\r\n\r\n" % (method, path, len(body))
    s.sendall(head.encode() + body)
    return s


def answer_of(s, timeout_s):
    """The status code the node answered on `s`, or None for no answer (closed, reset)."""
    s.settimeout(timeout_s)
    data = b""
    try:
        while b"\r\n" not in data:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    except OSError:
        pass
    finally:
        s.close()
    line = data.split(b"\r\n", 1)[0].split()
    return int(line[1]) if len(line) >= 2 and line[1].isdigit() else None


def zombie(c, cl, victim, skus, seed, acked, logs):
    """SIGSTOP `victim` under load over the others, past cluster.connection_timeout_ms and
    failover_after_ms: its peers cut it and take its partitions. Reads of its orders and new
    orders queue at its HTTP port meanwhile; then SIGCONT. Its store is stale now: it must
    answer none of them (503, or nothing) and stop (exit code 7, its lease lapsed), while
    the others serve. Returns the seconds from SIGSTOP until every request succeeds again."""
    survivors = [n for nid, n in sorted(cl.nodes.items()) if nid != victim]
    port, pid = cl.nodes[victim].port, cl.nodes[victim].pid
    its_orders = [oid for oid in acked if cl.order_owner(oid) == victim][:20]
    its_sku = next(s for s in skus if cl.sku_owner(s) == victim)
    log, out = [], {}
    def freeze():
        time.sleep(3)
        out["t"] = time.time()
        cl.signal(victim, signal.SIGSTOP)
        deadline = out["t"] + 40
        while time.time() < deadline:
            v = holders(survivors[0])["holders"]
            if all(h and h != victim for h in v["orders"] + v["inventory"]):
                break
            time.sleep(0.2)
        out["moved"] = time.time() - out["t"]
        body = json.dumps({"customer_id": "zombie",
                           "items": [{"sku": its_sku, "quantity": 1}]}).encode()
        out["socks"] = [queue_request(port, "GET", "/orders/" + oid) for oid in its_orders] + \
            [queue_request(port, "POST", "/orders", body) for _ in range(3)]
        cl.signal(victim, signal.SIGCONT)
        out["cont"] = time.time()
        # Its exit, timed from SIGCONT while the load goes on (not after it: that added the
        # load's 10 s to the figure).
        def watch():
            deadline = out["cont"] + 40
            while time.time() < deadline:
                try:
                    os.kill(pid, 0)
                    time.sleep(0.02)
                except OSError:
                    out["exited"] = time.time() - out["cont"]
                    return
        out["watcher"] = threading.Thread(target=watch)
        out["watcher"].start()
    run_load(survivors, skus, seed, 10, freeze, log, acked)
    answers = [answer_of(s, 15) for s in out["socks"]]
    out["watcher"].join()
    exited = out.get("exited")
    with open(os.path.join(cl.dir, victim + ".log"), "rb") as f:
        text = f.read().decode(errors="replace")
    after = sorted(x for x in log if x[0] >= out["t"])
    failures = [x for x in after if x[1] != 201]
    serving = failures[-1][0] - out["t"] if failures else 0.0
    codes = {}
    for x in failures:
        codes[(x[1], x[2])] = codes.get((x[1], x[2]), 0) + 1
    print("zombie %s: partitions moved %.2f s after SIGSTOP; every request succeeds again "
          "after %.2f s (%d of %d failed %s); after SIGCONT it answered %s and stopped after %s s"
          % (victim, out["moved"], serving, len(failures), len(after), codes, answers,
             "%.2f" % exited if exited is not None else "never"), flush=True)
    c.check(len(its_orders) >= 5, "reads of %d of its orders queued at the frozen node"
            % len(its_orders))
    c.check(all(a in (None, 503) for a in answers),
            "the woken zombie answers none of its %d queued requests with data: %s"
            % (len(answers), answers))
    c.check(exited is not None, "the woken zombie stops")
    c.check("did not run for" in text and "exit code 7" in text,
            "its log says why it stopped (lease lapsed, exit code 7): %s" % text[-400:])
    c.check(not [x for x in after if x[0] - out["t"] > out["moved"] + 3 and x[1] != 201],
            "the others serve every request 3 s after its partitions moved")
    cl.start(victim)
    # Ready means its peers were reached: reads of their orders through it succeed at once.
    st, view = cl.nodes[victim].request("GET", "/cluster", headers=AUTH)
    c.check(st == 200 and all(n["state"] == "up" for n in view["nodes"] if n["id"] != victim),
            "the restarted %s is ready only once it reached its peers: %s" % (
                victim, [(n["id"], n["state"], n.get("reason")) for n in view.get("nodes", [])]))
    logs.append(log)
    return serving


def main():
    sagad = sys.argv[1]
    seed = int(os.environ.get("SAGA_SEED", random.randrange(1 << 30)))
    print("seed", seed, flush=True)
    c = Checks()
    cl = Cluster(sagad, 3, ["--set payment.timeout_ms=600000", "--set saga.auto_complete_ms=2000",
                            "--set cluster.failover_after_ms=%d" % FAILOVER_MS],
                 replication="kafka", brokers=3)
    try:
        t0 = time.time()
        cl.up()
        print("replicated cluster up in %.1f s (brokers %s)" % (time.time() - t0, cl.kafka), flush=True)
        inv_nodes = sorted({x["id"] for x in cl.layout["nodes"] if x["partitions"]["inventory"]})
        ord_nodes = sorted({x["id"] for x in cl.layout["nodes"] if x["partitions"]["orders"]})
        victim = next((n for n in inv_nodes if n in ord_nodes), inv_nodes[-1])
        survivors = [n for nid, n in sorted(cl.nodes.items()) if nid != victim]
        skus = [cl.sku_on(nid, "fo%d" % i) for nid in inv_nodes for i in range(2)]
        for s in skus:
            survivors[0].stock(s, STOCK, 100)

        acked, logs, figures = {}, [], []
        order = [victim] + [n for n in sorted(cl.nodes) if n != victim]
        for i in range(KILLS):
            v = order[i % len(order)]
            figures.append(kill_and_return(c, cl, v, skus, seed + 1000 * i, acked, logs,
                                           console=i == 0))
        restart_during_takeover(c, cl, victim, skus, seed + 3000, acked, logs)
        failed, handoff_s = graceful_stop(c, cl, victim, skus, seed + 5000, acked, logs)
        frozen_s = zombie(c, cl, victim, skus, seed + 7000, acked, logs)
        print("FAILOVER zombie_serving_again_s=%.2f" % frozen_s, flush=True)
        print("FAILOVER graceful_stop_failed=%d handoff_s=%.3f" % (failed, handoff_s), flush=True)
        print("FAILOVER kills=%d serving_again_s=%s first_success_s=%s" %
              (len(figures), ",".join("%.2f" % f[1] for f in figures),
               ",".join("%.2f" % f[0] for f in figures)), flush=True)
        reader = cl.nodes[victim]

        # Every acknowledged order: there, settled, once in Kafka.
        unanswered = sum(1 for lg in logs for x in lg if x[1] != 201)
        final, events = check_settled_history(c, reader, acked, skus, STOCK, cl.kafka,
                                              2 * unanswered)
        print("%d acknowledged orders, %d events read_committed" % (len(final), len(events)), flush=True)
    except Exception:
        cl.dump_logs()
        raise
    finally:
        for w in WATCHERS:
            if w.poll() is None:
                w.kill()
                w.wait()
        cl.down()
    return c.done("cluster failover")


if __name__ == "__main__":
    sys.exit(main())
