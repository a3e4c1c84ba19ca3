"""Start never drops state silently: a stored record that does not decode stops the start
with a message naming its column family and key (and changes nothing); with
storage.quarantine_corrupt = true it is moved aside (meta quarantine/<family>/<key>),
counted in /metrics and /readyz, and the node starts. The record is damaged with RocksDB's
own `ldb` tool (Debian's rocksdb-tools), in the node's real data directory. A start with
another saga.partitions than the data directory was created with is refused too.
Usage: test_corrupt_start.py SAGAD"""
import subprocess
import sys

from sagalib import Checks, Node, SECRET, TOKEN


def ldb(db, *args):
    p = subprocess.run(["ldb", "--db=" + db] + list(args), capture_output=True, text=True,
                       timeout=60)
    return p.returncode, p.stdout.strip(), p.stderr.strip()


def main():
    sagad = sys.argv[1]
    c = Checks()
    # intents outlast five starts of a slow (sanitizer) build
    n = Node(sagad, overrides={"payment.timeout_ms": 600000})
    try:
        n.start()
        n.stock("Q", 10, 100)
        st, body = n.place([{"sku": "Q", "quantity": 1}])
        oid = body["order_id"]
        n.wait_for(oid, lambda o: o["status"] == "PAYMENT_INITIATED")
        st, other = n.place([{"sku": "Q", "quantity": 2}])
        n.wait_for(other["order_id"], lambda o: o["status"] == "PAYMENT_INITIATED")
        c.check(n.stop() == 0, "clean stop before the damage")
        db = n.data_dir + "/node-1"
        rc, out, err = ldb(db, "--column_family=orders", "put", oid, "not-a-snapshot")
        c.check(rc == 0, "ldb wrote a damaged snapshot (%s %s)" % (out, err))

        # 1. refused, naming the family and the key, nothing changed
        args = [sagad, "--node", "node-1", "--set", "http.port=0", "--set", "storage.dir=" + n.data_dir,
                "--set", "payment.provider_secret=" + SECRET, "--set", "security.admin_token=" + TOKEN]
        p = subprocess.run(args, capture_output=True, text=True, timeout=60)
        c.check(p.returncode != 0 and "column family 'orders'" in p.stderr and oid in p.stderr
                and "storage.quarantine_corrupt" in p.stderr,
                "start refused, naming family and key (exit %d): %s" % (p.returncode, p.stderr.strip()[-400:]))
        rc, out, _ = ldb(db, "--column_family=orders", "get", oid)
        c.check(out == "not-a-snapshot", "the refused start changed nothing (%r)" % out)

        # 2. quarantine: moved aside, counted, the node starts and serves the rest
        n.overrides["storage.quarantine_corrupt"] = "true"
        n.start()
        c.check(n.metric("saga_quarantined_records") == 1, "quarantined record counted in /metrics")
        st, ready = n.request("GET", "/readyz")
        c.check(st == 200 and ready["detail"]["quarantined_records"] == 1,
                "/readyz is ready and shows the quarantined record: %s" % ready)
        st, _ = n.request("GET", "/orders/" + oid)
        c.check(st == 404, "the damaged order is out of the orders family (%d)" % st)
        st, o2 = n.request("GET", "/orders/" + other["order_id"])
        c.check(st == 200 and o2["status"] == "PAYMENT_INITIATED", "the other order is intact")
        with open(n.log_path, "rb") as f:
            log = f.read().decode(errors="replace")
        c.check("quarantined: record '%s' in column family 'orders'" % oid in log,
                "the log names the quarantined record")
        c.check(n.stop() == 0, "clean stop")
        rc, out, _ = ldb(db, "--column_family=meta", "get", "quarantine/orders/" + oid)
        c.check(out == "not-a-snapshot", "the raw bytes are kept under meta quarantine/orders/<id>")

        # 3. a later start without quarantine: nothing left to refuse, the count stays visible
        del n.overrides["storage.quarantine_corrupt"]
        n.start()
        c.check(n.metric("saga_quarantined_records") == 1, "the quarantine stays counted after restart")
        c.check(n.stop() == 0, "clean stop")

        # 4. the number of order partitions is fixed with the data directory: another is refused
        p = subprocess.run(args + ["--set", "saga.partitions=8"], capture_output=True, text=True,
                           timeout=60)
        c.check(p.returncode == 3 and "created with saga.partitions = 4" in p.stderr
                and "this start has saga.partitions = 8" in p.stderr,
                "a changed saga.partitions is refused (exit %d): %s" % (p.returncode, p.stderr.strip()[-300:]))
        n.start()
        st, o2 = n.request("GET", "/orders/" + other["order_id"])
        c.check(st == 200 and o2["status"] == "PAYMENT_INITIATED", "the refused start changed nothing")
        c.check(n.stop() == 0, "clean stop")
    finally:
        n.cleanup()
    return c.done("test_corrupt_start")


if __name__ == "__main__":
    sys.exit(main())
