"""A failed RocksDB write is never acknowledged: the node stops with a clear message
(exit code 7) instead of carrying on with memory ahead of the disk, and a restart recovers
from what is durable. A failed read is never taken for "not there": a start whose reads fail
refuses to serve (a partial scan of the orders in flight would never resume the rest) and
changes nothing. The disk faults are real to RocksDB: a fault-injecting file system
(storage/fault_fs.cpp, on through SAGA_FAULT_DISK_TRIGGER and SAGA_FAULT_READ_TRIGGER) fails
every write and sync, or every read of a table file, while its trigger file exists.
Usage: test_disk_fault.py SAGAD"""
import os
import sys
import time

from sagalib import Checks, Node, sign


def main():
    sagad = sys.argv[1]
    c = Checks()
    n = Node(sagad, overrides={"saga.auto_complete_ms": 300,
                               # intents outlast the slow restarts of a sanitizer build
                               "payment.timeout_ms": 600000})
    trigger = os.path.join(n.data_dir, "fail-writes")
    n.env = {"SAGA_FAULT_DISK_TRIGGER": trigger}
    try:
        n.start()
        n.stock("D", 100, 250)
        acked = []
        for _ in range(3):
            st, body = n.place([{"sku": "D", "quantity": 2}])
            c.check(st == 201, "order acknowledged before the fault (%d)" % st)
            acked.append(body["order_id"])
        for oid in acked:
            n.wait_for(oid, lambda o: o["status"] == "PAYMENT_INITIATED")

        open(trigger, "w").close()  # the disk starts failing
        try:
            st, body = n.request("POST", "/orders",
                                 {"customer_id": "c1", "items": [{"sku": "D", "quantity": 1}]})
        except (ConnectionError, OSError) as e:
            st, body = None, str(e)
        c.check(st != 201 and st != 200, "an order whose write failed is not acknowledged (%s %s)" % (st, body))
        try:
            code = n.proc.wait(timeout=30)
        except Exception:
            code = None
        c.check(code == 7, "the node stops by itself with exit code 7 (%s)" % code)
        with open(n.log_path, "rb") as f:
            log = f.read().decode(errors="replace")
        c.check("stopping the node: RocksDB write failed" in log and "injected disk fault" in log,
                "the log says why it stopped")

        os.remove(trigger)  # the disk is fine again
        n.env = None
        n.start()
        c.check(n.sku("D")["reserved"] == 6, "only the three acknowledged reservations are durable (%s)"
                % n.sku("D"))
        for oid in acked:
            st, o = n.request("GET", "/orders/" + oid)
            c.check(st == 200 and o["status"] == "PAYMENT_INITIATED", "acknowledged order %s kept" % oid)
        # Reads: the orders in flight are in table files (a start flushes what it replays),
        # and the disk now fails every read of them.
        c.check(n.stop() == 0, "clean stop before the read faults")
        read_trigger = os.path.join(n.data_dir, "fail-reads")
        open(read_trigger, "w").close()
        n.env = {"SAGA_FAULT_READ_TRIGGER": read_trigger}
        try:
            n.start()
            code = None
            n.stop()
        except RuntimeError:
            code = n.proc.wait(timeout=30)
        c.check(code not in (None, 0), "a start whose reads fail does not serve (exit %s)" % code)
        with open(n.log_path, "rb") as f:
            log = f.read().decode(errors="replace")
        c.check("RocksDB read failed" in log and "injected disk fault" in log,
                "the log says which read failed")
        os.remove(read_trigger)
        n.env = None
        n.start()
        for oid in acked:
            st, o = n.request("GET", "/orders/" + oid)
            c.check(st == 200 and o["status"] == "PAYMENT_INITIATED",
                    "in-flight order %s kept through the failed start (%s)" % (oid, o.get("status")))
        oid = acked[0]
        st, _ = n.verify(oid, "succeeded")
        done = n.wait_for(oid, lambda o: o["status"] == "COMPLETED")
        c.check(done["status"] == "COMPLETED", "a saga goes on after the restart")
        c.check(n.stop() == 0, "clean stop")
    finally:
        n.cleanup()
    return c.done("test_disk_fault")


if __name__ == "__main__":
    sys.exit(main())
