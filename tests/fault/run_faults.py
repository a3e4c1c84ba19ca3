#!/usr/bin/env python3
"""The fault suite's runner: a seeded workload and a seeded nemesis against real sagad
processes (scripts/cluster.sh: N nodes and a real Kafka broker on loopback), then the
independent checker (check_history.py) over the history it wrote.

Clients (threads, each with its own RNG from the seed) drive orders through the public
HTTP API only, on a random node each time: place (one or two SKUs, with an Idempotency-Key;
an indeterminate one is retried with the same key), read until the payment is initiated,
then verify succeeded (and complete, or leave it to the auto-complete), verify failed, or
let the payment expire (for half of those, a success arrives a second after the expiry: a
late capture, which the order must show refunded). Every call is a history line: invoke, then ok / fail / info
(indeterminate: time-out, reset, 5xx).

The nemesis injects one fault at a time, every few seconds, each kind once per round in
an order drawn from the seed, on a node drawn from it:
  kill9         kill -9 of a random node, restarted after a pause
  killpoint     a node restarted with SAGA_FAULT_KILL_POINT=<point>[@step]:<n>; it kills
                itself with SIGKILL inside a saga step (before persist, after persist before
                the commands are sent, after the send before the reply), then restarts clean
  zombie        SIGSTOP of a node, SIGCONT after the pause
  broker_kill   kill -9 of the Kafka broker, restarted after the pause
  broker_pause  SIGSTOP of the broker, SIGCONT after the pause
  disk          the node's disk fails every write (a fault-injecting RocksDB file system,
                SAGA_FAULT_DISK_TRIGGER): it must stop by itself without acknowledging, and
                is restarted on a healthy disk
  clock         the node's clock jumps forward (SIGUSR2, SAGA_FAULT_CLOCK_JUMP_MS), and back
                after the pause
Network cuts (every node and the broker in a network namespace of its own, on a bridge;
the runner re-runs itself in another one, the clients' namespace; all made and removed by
the run, needs root):
  partition         the node and every other node cannot reach each other (clients and
                    the broker still reach it): both ways
  partition_oneway  one way only: the node's packets to the other nodes are dropped, or
                    theirs to it (the direction drawn from the seed)
  link_down         the node's link is down: no node, client or broker reaches it
  broker_cut        the node and the broker cannot reach each other
The two partition kinds need two nodes or more; a single-node run leaves them out.
With --replication kafka the cluster runs on 3 brokers with every partition replicated
through the changelog and failover on (cluster.failover_after_ms); `all` is then the node
kinds and the failover ones (issue 25):
  kill_failover  kill -9 of a node, not restarted until the others hold all of its
                 partitions (a takeover, fenced and replayed from the changelog), then
                 started again (it takes them back)
  graceful_stop  SIGTERM (cluster.sh stop): its partitions are handed over before it exits;
                 started again after the pause
  zombie         as above; a freeze longer than the failover lease stops the node by itself
                 (exit 7, its partitions moved meanwhile): it is started again
  cut_failover   (by name, in namespaces) the node cut from its peers, not from the brokers
                 or clients, until the others hold all of its partitions, then healed: it
                 must keep running (it releases what it lost, no exit 7) and hold its own
                 partitions again within 30 s (it takes them back)
The same seed gives the same schedule and the same client choices (the timing of real
processes still differs from run to run, as in Jepsen).

Usage: run_faults.py SAGAD [--seed N] [--seconds S] [--faults all|k1,k2] [--nodes N]
                           [--clients C] [--rounds R] [--keep DIR] [--results FILE]
                           [--net auto|netns|loopback] [--replication none|kafka]
--net auto (the default) uses namespaces when a network kind is asked for; loopback runs
everything on 127.0.0.1 (without the network kinds). As `all` without root, the network
kinds are left out, loudly.
Exit 0 only if the checker finds no violation. Prints `FAULT RUN {json}` (the summary row)."""
import argparse
import http.client
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))

import clusterlib  # noqa: E402
import contract  # noqa: E402
import netns  # noqa: E402
from sagalib import ROOT, SECRET, TOKEN, sign  # noqa: E402

NET_KINDS = ["partition", "partition_oneway", "link_down", "broker_cut"]
PAIR_KINDS = ["partition", "partition_oneway"]  # between nodes: two or more
KINDS = ["kill9", "killpoint", "zombie", "broker_kill", "broker_pause", "disk", "clock"] + NET_KINDS
# --replication kafka (3 brokers, failover on): the node kinds, and the failover ones. The
# broker and network kinds stay with the single-broker runs (they address one broker).
FAILOVER_KINDS = ["kill_failover", "graceful_stop"]
REPL_KINDS = ["kill9", "killpoint", "zombie"] + FAILOVER_KINDS
# Replicated, in namespaces (root): a node cut from its peers (the brokers and clients still
# reach it) until its partitions moved, then healed: it must not stop, and takes its own
# partitions back (cluster.take_back_after_ms). Asked for by name (not in `all`).
REPL_NET_KINDS = ["cut_failover"]
POINTS = ["before_persist", "after_persist", "after_send"]
STEPS = ["reserving_inventory", "initiating_payment", "awaiting_payment", "awaiting_completion",
         "committing_inventory", "releasing_inventory", "refunding_payment", "completed", "failed"]
SCALE = clusterlib.SCALE
PAYMENT_TIMEOUT_S = 4.0 * SCALE  # payment.timeout_ms of every node
FAILOVER_MS = 3000  # --replication kafka: cluster.failover_after_ms
LEASE_MS = FAILOVER_MS  # the shorter of it and cluster.connection_timeout_ms (3000 by default)


class History:
    def __init__(self, path):
        self.f = open(path, "w")
        self.lock = threading.Lock()
        self.next_id = 0
        self.t0 = time.time()

    def write(self, line):
        line["t"] = round(time.time() - self.t0, 3)
        with self.lock:
            self.f.write(json.dumps(line) + "\n")
            self.f.flush()

    def invoke(self, process, f, **kw):
        with self.lock:
            self.next_id += 1
            i = self.next_id
        self.write(dict(id=i, process=process, type="invoke", f=f, **kw))
        return i

    def done(self, i, process, f, kind, **kw):
        self.write(dict(id=i, process=process, type=kind, f=f, **kw))


class Suite:
    def __init__(self, a):
        self.a = a
        self.rng = random.Random(a.seed)
        self.stop = threading.Event()
        self.errors = []          # contract violations, client crashes: the run fails
        self.hist = None
        self.lock = threading.Lock()

    # ---- HTTP, classified as Jepsen does ----
    def call(self, node, method, path, body=None, headers=None):
        """("ok"|"fail"|"info", status, body). fail: certainly not applied (connection
        refused, 4xx); info: may or may not have been applied."""
        h = {"Content-Type": "application/json"}
        h.update(headers or {})
        try:
            c = http.client.HTTPConnection(node.host, node.port, timeout=5 * SCALE)
            c.request(method, path, body=json.dumps(body) if body is not None else None, headers=h)
            r = c.getresponse()
            text = r.read()
            c.close()
        except ConnectionRefusedError:
            return "fail", None, "connection refused"
        except (OSError, http.client.HTTPException) as e:
            return "info", None, type(e).__name__
        try:
            contract.check_response(method, path, r.status, r.getheader("Content-Type"),
                                    text.decode(errors="replace"))
        except AssertionError as e:
            self.errors.append("contract: %s" % e)
        parsed = json.loads(text) if text and r.getheader("Content-Type", "").startswith("application/json") else None
        if 200 <= r.status < 300:
            return "ok", r.status, parsed
        if r.status >= 500:
            return "info", r.status, parsed
        return "fail", r.status, parsed

    # ---- clients ----
    def client(self, idx):
        rng = random.Random(self.a.seed * 1000 + idx)
        nodes = sorted(self.c.nodes)
        pick = lambda: self.c.nodes[rng.choice(nodes)]  # noqa: E731
        H = self.hist
        late = []  # (due time, order id): a success the provider sends after the expiry
        while not self.stop.is_set():
            while late and late[0][0] <= time.time() and not self.stop.is_set():
                self.verify(idx, pick, late.pop(0)[1], "succeeded")  # a late capture
            n_items = 1 if rng.random() < 0.6 else 2
            items = [{"sku": s, "quantity": rng.randint(1, 3)} for s in rng.sample(self.skus, n_items)]
            key = str(uuid.UUID(int=rng.getrandbits(128)))
            oid = None
            for attempt in range(4):
                node = pick()
                i = H.invoke(idx, "place", items=items, key=key, node=node.id, attempt=attempt)
                kind, st, body = self.call(node, "POST", "/orders",
                                           {"customer_id": "c%d" % idx, "items": items},
                                           {"Idempotency-Key": key})
                if kind == "ok":
                    oid = body["order_id"]
                    H.done(i, idx, "place", kind, status=st, order_id=oid)
                    break
                H.done(i, idx, "place", kind, status=st, error=str(body)[:200])
                if kind == "fail" and st is not None and st != 429:
                    break  # refused for good (out of stock is not an error: 201 then FAILED)
                time.sleep(0.3 * (attempt + 1))
            if oid is None or self.stop.is_set():
                continue
            # Read until the payment is initiated (or the order failed).
            status = None
            t_end = time.time() + 10 * SCALE
            while time.time() < t_end and not self.stop.is_set():
                node = pick()
                i = H.invoke(idx, "get", order_id=oid, node=node.id)
                kind, st, body = self.call(node, "GET", "/orders/%s?wait=PAYMENT_INITIATED&timeout_ms=2000" % oid)
                H.done(i, idx, "get", kind, status=st, order_status=(body or {}).get("status") if isinstance(body, dict) else None)
                if kind == "ok":
                    status = body["status"]
                    if status != "PENDING":
                        break
                else:
                    time.sleep(0.2)
            if status != "PAYMENT_INITIATED":
                continue
            r = rng.random()
            if r < 0.2:
                # Let the payment expire; for half of these the provider's success comes
                # after the expiry (a late capture: refunded, recorded on the failed order).
                if rng.random() < 0.5:
                    late.append((time.time() + PAYMENT_TIMEOUT_S + 1.0, oid))
                continue
            verdict = "succeeded" if r < 0.85 else "failed"
            ok = self.verify(idx, pick, oid, verdict)
            if ok and verdict == "succeeded" and rng.random() < 0.5:
                for attempt in range(3):
                    node = pick()
                    i = H.invoke(idx, "complete", order_id=oid, node=node.id, attempt=attempt)
                    kind, st, body = self.call(node, "POST", "/order/complete", {"order_id": oid})
                    H.done(i, idx, "complete", kind, status=st)
                    if kind != "info":
                        break
                    time.sleep(0.3)

    def verify(self, idx, pick, oid, verdict):
        """The provider's signed verdict, repeated on an indeterminate answer or a 503 (as a
        provider's webhook is); True once answered 2xx."""
        H = self.hist
        pid = "pay_" + oid
        for attempt in range(5):
            if self.stop.is_set():
                break
            node = pick()
            i = H.invoke(idx, "verify", order_id=oid, status=verdict, node=node.id, attempt=attempt)
            kind, st, body = self.call(node, "POST", "/payment/verify",
                                       {"order_id": oid, "payment_id": pid, "status": verdict,
                                        "signature": sign(oid, pid, verdict)})
            H.done(i, idx, "verify", kind, status=st,
                   payment_status=body.get("payment_status") if isinstance(body, dict) else None)
            if kind == "ok":
                return True
            if kind == "fail" and st is not None:
                return False
            time.sleep(0.3 * (attempt + 1))
        return False

    # ---- nemesis ----
    def pid_alive(self, pid):
        try:
            os.kill(pid, 0)
        except OSError:
            return False
        try:
            with open("/proc/%d/stat" % pid) as f:
                return f.read().split(")")[-1].split()[0] != "Z"
        except OSError:
            return False

    def start_node(self, nid, env=None):
        saved = self.c.env
        if env:
            self.c.env = dict(saved, **env)
        try:
            for _ in range(3):
                try:
                    self.c.start(nid)
                    return True
                except RuntimeError as e:
                    # A kill point may fire while the node resumes its sagas, before READY.
                    if env:
                        return False
                    print("nemesis: restart of %s failed, again: %s" % (nid, str(e)[-300:]), flush=True)
                    time.sleep(1)
            raise RuntimeError("%s does not restart" % nid)
        finally:
            self.c.env = saved

    def broker(self, how, kdir, timeout=180):
        # in its namespace: a start binds the broker's address there
        pre = self.net.exec_in(netns.BROKER) if self.net else []
        return subprocess.run(pre + ["bash", os.path.join(ROOT, "scripts/kafka-broker.sh"), how, kdir],
                              capture_output=True, text=True, timeout=timeout)

    def start_broker(self, kdir):
        """Restarts the broker; a start that does not come up in time (a JVM on two busy
        cores) is killed and tried again."""
        for attempt in range(3):
            out = self.broker("start", kdir)
            if out.returncode == 0:
                return
            print("nemesis: broker restart failed (attempt %d): %s" % (attempt + 1, (out.stdout + out.stderr)[-300:]),
                  flush=True)
            self.broker("kill", kdir)
        raise RuntimeError("the Kafka broker does not restart")

    def wait_exit(self, pid, timeout):
        t_end = time.time() + timeout
        while time.time() < t_end:
            if not self.pid_alive(pid):
                return True
            time.sleep(0.05)
        return False

    def cut(self, f, nid, direction):
        me = netns.node_member(nid)
        others = [netns.node_member(o) for o in sorted(self.c.nodes) if o != nid]
        if f == "link_down":
            self.net.link(me, False)
        elif f == "broker_cut":
            self.net.drop(me, netns.BROKER)
            self.net.drop(netns.BROKER, me)
        else:
            for o in others:
                if f == "partition" or direction == "out":
                    self.net.drop(me, o)
                if f == "partition" or direction == "in":
                    self.net.drop(o, me)

    def down_now(self):
        """(observer, node) pairs some node's GET /cluster shows down right now."""
        out = set()
        for obs in sorted(self.c.nodes):
            node = self.c.nodes[obs]
            try:
                c = http.client.HTTPConnection(node.host, node.port, timeout=0.5)
                c.request("GET", "/cluster", headers=clusterlib.AUTH)
                out |= {(obs, n["id"]) for n in json.loads(c.getresponse().read())["nodes"]
                        if n["state"] == "down"}
                c.close()
            except (OSError, http.client.HTTPException, ValueError, KeyError):
                pass
        return out

    def observe(self, f, nid, hold, before):
        """What the cut did, as the nodes tell it (for the history, so a run shows that its
        cuts bit): which node saw which other down, and after how long (a node already
        down before the cut, `before`, does not count); for a broker cut, the cut node's
        outbox at its deepest (events wait there for the broker)."""
        t0 = time.time()
        seen, deepest = {}, 0
        while time.time() - t0 < hold:
            for obs in sorted(self.c.nodes):
                node = self.c.nodes[obs]
                try:
                    c = http.client.HTTPConnection(node.host, node.port, timeout=0.5)
                    if f == "broker_cut":
                        if obs != nid:
                            continue
                        c.request("GET", "/metrics")
                        for line in c.getresponse().read().decode().splitlines():
                            if line.startswith("saga_outbox_depth "):
                                deepest = max(deepest, int(float(line.split()[-1])))
                    else:
                        c.request("GET", "/cluster", headers=clusterlib.AUTH)
                        for n in json.loads(c.getresponse().read())["nodes"]:
                            if n["state"] == "down" and (obs, n["id"]) not in seen \
                                    and (obs, n["id"]) not in before:
                                seen[(obs, n["id"])] = time.time() - t0
                    c.close()
                except (OSError, http.client.HTTPException, ValueError, KeyError):
                    pass  # cut off from the clients too (link_down)
            time.sleep(0.2)
        if f == "broker_cut":
            return "%s's outbox at most %d events deep" % (nid, deepest)
        return "; ".join("%s saw %s down after %.1f s" % (o, n, t) for (o, n), t in sorted(seen.items())) \
            or "nobody saw a node down"

    def wait_holders(self, nid, timeout, done, pid=None):
        """Seconds until another node's GET /cluster `holders` satisfy `done` (None: not
        within `timeout`, or process `pid` ended meanwhile)."""
        t0 = time.time()
        while time.time() - t0 < timeout and (pid is None or self.pid_alive(pid)):
            for obs in sorted(self.c.nodes):
                if obs == nid:
                    continue
                node = self.c.nodes[obs]
                try:
                    c = http.client.HTTPConnection(node.host, node.port, timeout=1)
                    c.request("GET", "/cluster", headers=clusterlib.AUTH)
                    view = json.loads(c.getresponse().read())
                    c.close()
                    if done(view["holders"]):
                        return time.time() - t0
                except (OSError, http.client.HTTPException, ValueError, KeyError, IndexError):
                    pass
            time.sleep(0.2)
        return None

    def wait_moved(self, nid, timeout):
        """Seconds until every partition is held by a node other than `nid`."""
        return self.wait_holders(nid, timeout, lambda h: all(
            x and x != nid for x in h["orders"] + h["inventory"]))

    def wait_back(self, nid, timeout, pid):
        """Seconds until `nid` holds every partition the layout gives it again (None: not
        within `timeout`, or process `pid` ended meanwhile)."""
        own = [n["partitions"] for n in self.c.layout["nodes"] if n["id"] == nid][0]
        return self.wait_holders(nid, timeout, lambda h: all(
            h[k][p] == nid for k in ("orders", "inventory") for p in own[k]), pid)

    def nemesis(self, kinds):
        try:
            self._nemesis(kinds)
        except Exception as e:  # the run fails: a fault that cannot be injected or healed
            import traceback
            traceback.print_exc()
            self.errors.append("nemesis: %r" % e)

    def _nemesis(self, kinds):
        rng = self.rng
        H = self.hist
        kdir = os.path.join(self.c.dir, "kafka")
        time.sleep(rng.uniform(1, 2) * SCALE)
        order = []
        while not self.stop.is_set():
            # Every kind once per round, in an order drawn from the seed.
            if not order:
                order = list(kinds)
                rng.shuffle(order)
                self.rounds += 1
            f = order.pop(0)
            nid = rng.choice(sorted(self.c.nodes))
            hold = rng.uniform(1.0, 4.0) * SCALE
            node = self.c.nodes[nid]
            info = {"f": f, "node": nid, "hold_s": round(hold, 2)}
            if f == "killpoint":
                info["point"] = "%s%s:%d" % (rng.choice(POINTS),
                                             ("@" + rng.choice(STEPS)) if rng.random() < 0.5 else "",
                                             rng.randint(1, 15))
            if f == "partition_oneway":
                info["direction"] = rng.choice(["out", "in"])
            if f.startswith("broker_") and f != "broker_cut":
                info.pop("node")
            H.write(dict(process="nemesis", type="start", **info))
            result = ""
            if f == "kill9":
                self.c.kill(nid)
                time.sleep(hold)
                self.start_node(nid)
            elif f == "killpoint":
                self.c.kill(nid)
                started = self.start_node(nid, {"SAGA_FAULT_KILL_POINT": info["point"]})
                fired = not started or self.wait_exit(self.c.nodes[nid].pid, hold + 4 * SCALE)
                result = "fired" if fired else "not reached"
                if not fired:
                    self.c.kill(nid)
                self.start_node(nid)
            elif f == "zombie":
                os.kill(node.pid, signal.SIGSTOP)
                time.sleep(hold)
                os.kill(node.pid, signal.SIGCONT)
                if self.replicated:
                    # Frozen past the lease (the shorter of failover_after_ms and the
                    # connection time-out), it stops by itself: then it is started again.
                    # (The lease is checked on the ownership actor's tick, a quarter of it:
                    # a freeze a little shorter may stop it too.)
                    maybe = hold * 1000 > LEASE_MS - 1000
                    must = hold * 1000 > LEASE_MS + 500
                    if self.wait_exit(node.pid, (20 if maybe else 1) * SCALE):
                        result = "stopped by itself (lease)"
                        self.start_node(nid)
                    elif must:
                        result = "frozen past the lease and still running"
                        self.errors.append("nemesis: %s was frozen %.1f s (lease %d ms) and did not "
                                           "stop" % (nid, hold, LEASE_MS))
            elif f == "kill_failover":
                self.c.kill(nid)
                moved = self.wait_moved(nid, 30 * SCALE)
                result = ("its partitions moved after %.1f s" % moved) if moved is not None \
                    else "its partitions did not move"
                if moved is None:
                    self.errors.append("nemesis: %s's partitions were not taken over within %d s"
                                       % (nid, 30 * SCALE))
                time.sleep(hold / 2)
                self.start_node(nid)
            elif f == "cut_failover":
                self.cut("partition", nid, None)
                moved = self.wait_moved(nid, 30 * SCALE)
                time.sleep(hold / 2)  # still cut: its commits are fenced meanwhile
                self.net.heal()
                t_heal = time.time()
                back = self.wait_back(nid, 30 * SCALE, node.pid) if moved is not None else None
                if back is not None:
                    time.sleep(1.0)  # and it stays up once it holds them
                alive = self.pid_alive(node.pid)
                result = ("its partitions moved after %.1f s; healed: %s" % (
                    moved, ("it holds its own again after %.1f s" % back) if back is not None
                    else "it did not take them back")) if moved is not None \
                    else "its partitions did not move"
                if moved is None:
                    self.errors.append("nemesis: %s's partitions were not taken over within %d s "
                                       "of the cut" % (nid, 30 * SCALE))
                elif not alive:
                    result += "; it stopped"
                    self.errors.append("nemesis: %s stopped after its cut healed (seen %.1f s "
                                       "after the heal): a fenced node releases its partitions "
                                       "instead" % (nid, time.time() - t_heal))
                elif back is None:
                    self.errors.append("nemesis: %s did not hold its own partitions again within "
                                       "%d s of the heal" % (nid, 30 * SCALE))
                if not alive:
                    self.start_node(nid)
            elif f == "graceful_stop":
                t_stop = time.time()
                self.c.stop(nid)
                result = "stopped in %.1f s" % (time.time() - t_stop)
                time.sleep(hold)
                self.start_node(nid)
            elif f == "broker_kill":
                self.broker("kill", kdir)
                time.sleep(hold)
                self.start_broker(kdir)
            elif f == "broker_pause":
                bpid = int(open(os.path.join(kdir, "broker.pid")).read())
                os.kill(bpid, signal.SIGSTOP)
                time.sleep(hold)
                os.kill(bpid, signal.SIGCONT)
            elif f == "disk":
                trigger = os.path.join(self.c.dir, "data", nid, "fail-writes")
                open(trigger, "w").close()
                stopped = self.wait_exit(node.pid, hold + 10 * SCALE)
                os.remove(trigger)
                if not stopped:
                    result = "no write during the fault: killed"
                    self.c.kill(nid)
                else:
                    result = "stopped by itself"
                self.start_node(nid)
            elif f in NET_KINDS:
                before = self.down_now() if f != "broker_cut" else set()
                self.cut(f, nid, info.get("direction"))
                result = self.observe(f, nid, hold, before)
                self.net.heal()
            elif f == "clock":
                os.kill(node.pid, signal.SIGUSR2)  # forward ...
                time.sleep(hold)
                if self.pid_alive(node.pid):
                    os.kill(node.pid, signal.SIGUSR2)  # ... and back, as a corrected step
            H.write(dict(process="nemesis", type="end", f=f, result=result))
            with self.lock:
                self.faults[f] = self.faults.get(f, 0) + 1
                if not order:
                    self.full_rounds += 1
            # the gap until the next fault
            t_gap = time.time() + rng.uniform(1.0, 3.0) * SCALE
            while time.time() < t_gap and not self.stop.is_set():
                time.sleep(0.1)

    def run(self, kinds):
        a = self.a
        self.net = netns.Net(a.inside_netns, netns.cluster_members(a.nodes)) if a.inside_netns else None
        extra = ["--set payment.timeout_ms=%d" % int(PAYMENT_TIMEOUT_S * 1000),
                 "--set inventory.reservation_ttl_ms=%d" % int(15000 * SCALE),
                 "--set saga.auto_complete_ms=%d" % int(1500 * SCALE)]
        os.environ["SAGA_FAULT_DISK_TRIGGER"] = "fail-writes"  # relative: each node's data dir
        os.environ["SAGA_FAULT_CLOCK_JUMP_MS"] = str(int(20000 * SCALE))
        self.replicated = a.replication == "kafka"
        if self.replicated:
            extra.append("--set cluster.failover_after_ms=%d" % FAILOVER_MS)
        self.c = clusterlib.Cluster(a.sagad, nodes=a.nodes, extra=extra, netns=a.inside_netns,
                                    replication=a.replication, brokers=3 if self.replicated else 1)
        self.faults = {}
        self.rounds = self.full_rounds = 0
        t0 = time.time()
        rc = 1
        try:
            self.c.up()
            out = a.keep or self.c.dir
            os.makedirs(out, exist_ok=True)
            hpath = os.path.join(out, "history.jsonl")
            self.hist = History(hpath)
            self.skus = []
            any_node = self.c.any()
            # scarce SKUs run out (the out-of-stock branch and the oversell check), the
            # others never do; one SKU per node at least, so sagas cross nodes
            owners = sorted(n["id"] for n in self.c.layout["nodes"] if n["partitions"]["inventory"])
            for i in range(3 * len(owners)):
                sku = self.c.sku_on(owners[i % len(owners)], "f%d" % i)
                on_hand = 150 if i % 3 == 0 else 100000
                idn = self.hist.invoke("setup", "stock", sku=sku, on_hand=on_hand)
                any_node.stock(sku, on_hand, 100 + i)
                self.hist.done(idn, "setup", "stock", "ok")
                self.skus.append(sku)
            print("fault run: seed=%d seconds=%s faults=%s nodes=%d clients=%d net=%s dir=%s"
                  % (a.seed, a.seconds, ",".join(kinds), a.nodes, a.clients,
                     "namespaces " + a.inside_netns if self.net else "loopback", self.c.dir), flush=True)
            threads = [threading.Thread(target=self.client, args=(i,), daemon=True) for i in range(a.clients)]
            nem = threading.Thread(target=self.nemesis, args=(kinds,), daemon=True) if kinds else None
            for t in threads:
                t.start()
            if nem:
                nem.start()
            time.sleep(a.seconds)
            # --rounds: go on until every kind was injected that many times
            while nem and self.full_rounds < a.rounds and nem.is_alive():
                time.sleep(0.2)
            self.stop.set()
            if nem:
                nem.join(timeout=300)
            for t in threads:
                t.join(timeout=120)
            # Healed: every link up, every node back and seen by every other before the check.
            if self.net:
                self.net.heal()
            for nid in self.c.nodes:
                if not self.pid_alive(self.c.nodes[nid].pid):
                    self.start_node(nid)
            for obs in self.c.nodes:
                for nid in self.c.nodes:
                    if nid != obs:
                        self.c.wait_state(obs, nid, "up", 60 * SCALE)
            duration = time.time() - t0
            kdir = os.path.join(self.c.dir, "kafka")
            kafka = "%s:%s" % (open(os.path.join(kdir, "host")).read().strip(),
                               open(os.path.join(kdir, "port")).read().strip()) \
                if os.path.exists(os.path.join(kdir, "port")) else None
            if self.replicated:
                kafka = self.c.kafka  # the 3 brokers' bootstrap list (read_committed)
            urls = ",".join("http://%s:%d" % (self.c.nodes[n].host, self.c.nodes[n].port)
                            for n in sorted(self.c.nodes))
            cmd = [sys.executable, os.path.join(HERE, "check_history.py"), "--history", hpath,
                   "--api", urls, "--settle", str(int(90 * SCALE))]
            if kafka:
                cmd += ["--kafka", kafka]
            chk = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
            sys.stdout.write(chk.stdout)
            sys.stderr.write(chk.stderr)
            summary = None
            for line in chk.stdout.splitlines():
                if line.startswith("CHECK "):
                    summary = json.loads(line[6:])
            if summary is None:
                print("the checker gave no summary (exit %d)" % chk.returncode, flush=True)
                return 1
            row = dict(seed=a.seed, nodes=a.nodes, seconds=a.seconds, duration_s=round(duration),
                       net="netns" if self.net else "loopback", replication=a.replication,
                       faults_done=self.faults, **summary)
            for e in self.errors[:10]:
                print("CLIENT ERROR:", e, flush=True)
            print("FAULT RUN " + json.dumps(row, sort_keys=True), flush=True)
            if a.results:
                with open(a.results, "a") as f:
                    f.write(json.dumps(row, sort_keys=True) + "\n")
            rc = 0 if chk.returncode == 0 and not self.errors else 1
            if kinds and not self.faults:
                print("no fault was injected", flush=True)
                rc = 1
            return rc
        finally:
            self.stop.set()
            if self.net:
                try:
                    self.net.heal()  # a node cut off when the nemesis stopped must be able to stop
                except RuntimeError as e:
                    print("heal: %s" % e, flush=True)
            if rc != 0:
                self.c.dump_logs(30)
            if rc != 0 and a.keep:  # a failed run keeps the nodes' data and logs to look at
                subprocess.run(["bash", os.path.join(ROOT, "scripts/cluster.sh"), "down", self.c.dir],
                               capture_output=True, env=self.c.env)
                print("the cluster's data and logs are kept in %s" % self.c.dir, flush=True)
            else:
                self.c.down()


def main():
    # ctest's time-out (SIGTERM) still stops the nodes and the broker (they run in their
    # own sessions): the `finally` of Suite.run brings the cluster down. Once: a second
    # signal must not cut that clean-up short.
    def stop(*_):
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        sys.exit(143)
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("sagad")
    ap.add_argument("--seed", type=int, default=int(time.time()) % 100000)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--faults", default="all")
    ap.add_argument("--nodes", type=int, default=3)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=0,
                    help="run on past --seconds until every fault kind was injected this often")
    ap.add_argument("--keep", help="write the history here (kept after the run; after a failed "
                    "run the nodes' data and logs are kept too)")
    ap.add_argument("--results", help="append the summary row (JSON) to this file")
    ap.add_argument("--net", choices=["auto", "netns", "loopback"], default="auto",
                    help="namespaces for the network cuts (auto: when a network kind is asked for)")
    ap.add_argument("--replication", choices=["none", "kafka"], default="none",
                    help="kafka: 3 brokers, every partition replicated, failover on (its kinds: %s)"
                    % ", ".join(REPL_KINDS))
    ap.add_argument("--inside-netns", help=argparse.SUPPRESS)  # the re-run in the clients' namespace
    a = ap.parse_args()
    # (kill_failover waits for a takeover: only a replicated cluster has one.)
    known = REPL_KINDS + REPL_NET_KINDS if a.replication == "kafka" else KINDS + ["graceful_stop"]
    kinds = (REPL_KINDS if a.replication == "kafka" else KINDS) if a.faults == "all" \
        else [k for k in a.faults.split(",") if k]
    bad = [k for k in kinds if k not in known]
    if bad:
        print("unknown fault kind(s) %s for --replication %s; known: %s"
              % (bad, a.replication, ", ".join(known)), file=sys.stderr)
        return 2
    if a.replication == "kafka" and a.nodes < 3:
        print("--replication kafka needs 3 nodes or more (failover needs a majority left)",
              file=sys.stderr)
        return 2
    if a.nodes < 2 and any(k in PAIR_KINDS for k in kinds):
        print("a single node has no other node to be cut from: leaving out %s"
              % ", ".join(k for k in kinds if k in PAIR_KINDS), flush=True)
        kinds = [k for k in kinds if k not in PAIR_KINDS]
    wants_net = any(k in NET_KINDS + REPL_NET_KINDS for k in kinds)
    net = a.net if a.net != "auto" else ("netns" if wants_net else "loopback")
    if net == "netns" and os.geteuid() != 0:
        if a.faults != "all":
            print("the network kinds need root (network namespaces)", file=sys.stderr)
            return 77
        print("NOT ROOT: the network cuts are left out of this run (they need network namespaces)",
              flush=True)
        net = "loopback"
    if net == "loopback":
        if a.faults != "all" and wants_net:
            print("--net loopback cannot cut links: %s" % ", ".join(k for k in kinds if k in NET_KINDS + REPL_NET_KINDS),
                  file=sys.stderr)
            return 2
        kinds = [k for k in kinds if k not in NET_KINDS + REPL_NET_KINDS]
    if a.inside_netns or net == "loopback":
        return Suite(a).run(kinds)
    return run_in_namespaces(a)


def run_in_namespaces(a):
    """Makes the namespaces, re-runs this program in the clients' one, removes them."""
    prefix = "sf%d" % (os.getpid() % 100000)
    net = netns.Net(prefix, netns.cluster_members(a.nodes)).setup()
    inner = None
    try:
        cmd = net.exec_in(netns.CLIENT) + [sys.executable, os.path.abspath(__file__)] + sys.argv[1:] \
            + ["--inside-netns", prefix]
        inner = subprocess.Popen(cmd)
        return inner.wait()
    finally:
        if inner is not None and inner.poll() is None:  # SIGTERM here: the inner run stops its cluster
            inner.send_signal(signal.SIGTERM)
            try:
                inner.wait(timeout=120)
            except subprocess.TimeoutExpired:
                inner.kill()
        net.teardown()


if __name__ == "__main__":
    sys.exit(main())
