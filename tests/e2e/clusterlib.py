"""A local saga cluster for tests: scripts/cluster.sh (a real Kafka broker and N sagad
processes on loopback), with a sagalib.Node client per node."""
import os
import shutil
import signal
import subprocess
import tempfile
import time

import sagalib
from sagalib import ROOT, SECRET, TOKEN

AUTH = {"Authorization": "Bearer " + TOKEN}  # GET /cluster off loopback


def fnv1a(s):
    """directory::hash: FNV-1a 64 of the UTF-8 bytes (SKU partitions)."""
    h = 1469598103934665603
    for b in s.encode():
        h ^= b
        h = (h * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    return h


def order_partition(oid, partitions):
    """directory::order_partition: the first four hex digits after "ord_"."""
    return int(oid[4:8], 16) % partitions


# Time budgets scale on slow builds: the AddressSanitizer pass (ASAN_OPTIONS is set) runs a
# Debug build several times slower on the same 2 cores. SAGA_TIME_SCALE overrides.
SCALE = float(os.environ.get("SAGA_TIME_SCALE", "3" if "ASAN_OPTIONS" in os.environ else "1"))
HEARTBEAT_MS = int(250 * SCALE)
CONNECTION_TIMEOUT_MS = int(1500 * SCALE)


class Cluster:
    # Short failure detection and deadlines, so the tests see them happen.
    ARGS = ["--set payment.provider_secret=" + SECRET, "--set security.admin_token=" + TOKEN,
            "--set cluster.heartbeat_ms=%d" % HEARTBEAT_MS,
            "--set cluster.connection_timeout_ms=%d" % CONNECTION_TIMEOUT_MS,
            "--set cluster.reconnect_backoff_max_ms=1000",
            "--set saga.request_timeout_ms=%d" % int(2000 * SCALE)]

    def __init__(self, sagad, nodes=3, extra=(), netns=None, replication="none", brokers=3):
        """netns: a namespace prefix (tests/e2e/netns.py has made them): every node and the
        broker in its own namespace, on a bridge with the caller's (CLUSTER_NETNS).
        replication: "none" (one broker; each node's disk is its partitions' only copy: the
        tests written before issue 24 check that shape) or "kafka" (`brokers` brokers,
        every node replicated through the changelog)."""
        self.sagad = sagad
        self.n = nodes
        self.replication = replication
        self.brokers = brokers
        self.dir = tempfile.mkdtemp(prefix="saga-cluster-")
        self.env = dict(os.environ, SAGAD=sagad, SAGAD_ARGS=" ".join(self.ARGS + list(extra)),
                        CLUSTER_ADMIN_TOKEN=TOKEN)
        if netns:
            self.env["CLUSTER_NETNS"] = netns
        self.nodes = {}  # id -> sagalib.Node (a client: the process is cluster.sh's)
        self.layout = None

    def _run(self, *args, timeout=300):
        out = subprocess.run(["bash", os.path.join(ROOT, "scripts/cluster.sh")] + list(args),
                             capture_output=True, text=True, timeout=timeout, env=self.env)
        if out.returncode != 0:
            raise RuntimeError("cluster.sh %s failed: %s%s" % (args, out.stdout, out.stderr))
        return out.stdout

    def _parse(self, out):
        for line in out.splitlines():
            if line.startswith("NODE "):
                parts = dict(p.split("=", 1) for p in line.split()[2:])
                nid = line.split()[1]
                node = self.nodes.get(nid) or sagalib.Node(self.sagad, data_dir=self.dir, log_name=nid)
                node.host, node.port = parts["http"].split("//", 1)[1].rsplit(":", 1)
                node.port = int(node.port)
                node.pid = int(parts["pid"])
                node.id = nid
                self.nodes[nid] = node

    def up(self):
        out = self._run("up", self.dir, "--nodes", str(self.n), "--replication", self.replication,
                        "--brokers", str(self.brokers), timeout=600)
        self.kafka = next((l.split()[1] for l in out.splitlines() if l.startswith("KAFKA ")), None)
        assert "CLUSTER READY" in out, out
        self._parse(out)
        st, self.layout = self.any().request("GET", "/cluster", headers=AUTH)
        assert st == 200, (st, self.layout)
        return self

    def any(self, but=()):
        for nid in sorted(self.nodes):
            if nid not in but:
                return self.nodes[nid]
        raise AssertionError("no node left")

    def owner(self, kind, p):
        for n in self.layout["nodes"]:
            if p in n["partitions"][kind]:
                return n["id"]
        raise AssertionError("no owner of %s/%d" % (kind, p))

    def sku_owner(self, sku):
        return self.owner("inventory", fnv1a(sku) % self.layout["partitions"]["inventory"])

    def order_owner(self, oid):
        return self.owner("orders", order_partition(oid, self.layout["partitions"]["orders"]))

    def sku_on(self, node_id, prefix="sku"):
        """A SKU name whose partition the node owns."""
        for i in range(10000):
            s = "%s-%s-%d" % (prefix, node_id, i)
            if self.sku_owner(s) == node_id:
                return s
        raise AssertionError("%s owns no SKU partition" % node_id)

    def wipe(self, nid):
        """Deletes a stopped node's data directory (cluster.sh wipe)."""
        self._run("wipe", self.dir, nid)

    def kafka_cluster(self, how, broker_id):
        """how: kill-broker, start-broker, ... on broker 1..B (replication = kafka)."""
        subprocess.run(["bash", os.path.join(ROOT, "scripts/kafka-cluster.sh"), how,
                        os.path.join(self.dir, "kafka"), str(broker_id)],
                       check=True, capture_output=True, timeout=300)

    def kill(self, nid):
        self._run("kill", self.dir, nid)

    def stop(self, nid):
        """SIGTERM, and wait for the process to end (cluster.sh stop)."""
        self._run("stop", self.dir, nid)

    def start(self, nid):
        self._parse(self._run("start", self.dir, nid))

    def signal(self, nid, sig):
        os.kill(self.nodes[nid].pid, sig)

    def wait_state(self, observer, nid, state, timeout_s):
        """Seconds until `observer`'s GET /cluster shows node `nid` in `state`."""
        t0 = time.time()
        while time.time() - t0 < timeout_s:
            st, c = self.nodes[observer].request("GET", "/cluster", headers=AUTH)
            if st == 200 and any(n["id"] == nid and n["state"] == state for n in c["nodes"]):
                return time.time() - t0
            time.sleep(0.05)
        raise AssertionError("%s does not see %s %s within %s s" % (observer, nid, state, timeout_s))

    def dump_logs(self, lines=40):
        for nid in sorted(self.nodes):
            self.nodes[nid].dump_log(lines)

    def down(self):
        import sys
        if sys.exc_info()[0] is not None:
            self.dump_logs()
        try:
            for nid in self.nodes:  # a paused node must be able to stop
                try:
                    os.kill(self.nodes[nid].pid, signal.SIGCONT)
                except OSError:
                    pass
            self._run("down", self.dir)
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


def check_settled_history(c, reader, acked, skus, stock, kafka, reserved_bound):
    """Every acknowledged order (ids in `acked`) reaches a terminal status through `reader`
    (PAYMENT_INITIATED ones get a successful verdict), each SKU's stock is conserved and
    committed once per completed order, at most `reserved_bound` units stay reserved, and a
    read_committed consumer of `kafka` has each event_id once and exactly each order's
    history. Returns (final orders by id, every event read)."""
    terminal = ("COMPLETED", "FAILED")
    final = {}
    for oid in acked:
        try:
            o = reader.wait_for(oid, lambda o: o["status"] != "PENDING", timeout_s=60)
            if o["status"] == "PAYMENT_INITIATED":
                reader.verify(oid, "succeeded")
            final[oid] = reader.wait_for(oid, lambda o: o["status"] in terminal, timeout_s=60)
        except AssertionError as e:
            c.check(False, "acknowledged order settles: %s" % e)
    c.check(len(final) == len(acked), "every acknowledged order is there: %d of %d" % (len(final), len(acked)))
    committed = {s: 0 for s in skus}
    for o in final.values():
        if o["status"] == "COMPLETED":
            for it in o["items"]:
                committed[it["sku"]] += it["quantity"]
    reserved = 0
    for s in skus:
        x = reader.sku(s)
        reserved += x["reserved"]
        c.check(x["available"] + x["reserved"] + x["committed"] == stock,
                "stock of %s conserved: %s" % (s, x))
        c.check(x["committed"] == committed[s],
                "%s committed once per completed order: %s vs %s" % (s, x["committed"], committed[s]))
    c.check(reserved <= reserved_bound, "reserved units belong only to unanswered requests: "
            "%d reserved, at most %d" % (reserved, reserved_bound))
    events = sagalib.consume_all(kafka)
    ids, by_order = {}, {}
    for e in events:
        ids[e["event_id"]] = ids.get(e["event_id"], 0) + 1
        by_order.setdefault(e["order_id"], []).append(e)
    dup = [k for k, v in ids.items() if v > 1]
    c.check(not dup, "read_committed: no event_id twice: %s" % dup[:5])
    for oid in final:
        o = reader.order(oid)
        want = [(e["seq"], e["type"]) for e in o["events"]]
        got = sorted((e["seq"], e["type"]) for e in by_order.get(oid, []))
        c.check(got == want, "Kafka has exactly %s's events: %s vs %s" % (oid, got, want))
    return final, events
