#!/usr/bin/env python3
"""The checker must be able to fail: it is run on a history, an API (a small HTTP server
here that serves a crafted final state) and Kafka events (a file) that break each invariant
once, and must name every violation; on a consistent set it must pass."""
import json
import os
import subprocess
import sys
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HERE = os.path.dirname(os.path.abspath(__file__))


def order(oid, status, sku, qty, pay, reason=None, n_events=None):
    types = {"COMPLETED": ["ordercreated", "inventory_reserved", "payment_initiated", "payment_succeeded",
                           "order_completed", "inventory_committed"],
             "FAILED": ["ordercreated", "inventory_reserved", "payment_initiated", "payment_failed",
                        "order_cancelled", "inventory_released"],
             "PAYMENT_INITIATED": ["ordercreated", "inventory_reserved", "payment_initiated"]}[status]
    evs = [{"seq": i + 1, "type": t} for i, t in enumerate(types[:n_events or len(types)])]
    return {"order_id": oid, "status": status, "saga_step": status.lower(), "failure_reason": reason,
            "items": [{"sku": sku, "quantity": qty}], "payment": {"status": pay}, "events": evs}


def kafka_of(o, skip=()):
    return [{"event_id": "%s-%d" % (o["order_id"], e["seq"]), "order_id": o["order_id"], "seq": e["seq"],
             "type": e["type"], "data": {}, "_topic": e["type"], "_partition": 0, "_offset": 0}
            for e in o["events"] if e["seq"] not in skip]


def run(orders, skus, history, events):
    class H(BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_GET(self):
            if self.path.startswith("/orders/"):
                body = orders.get(self.path[len("/orders/"):])
            elif self.path.startswith("/inventory/"):
                body = skus.get(self.path[len("/inventory/"):])
            elif self.path == "/metrics":
                text = b"saga_outbox_depth 0\n"
                self.send_response(200)
                self.send_header("Content-Length", str(len(text)))
                self.end_headers()
                self.wfile.write(text)
                return
            else:
                body = None
            text = json.dumps(body or {"error": "not_found"}).encode()
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(text)))
            self.end_headers()
            self.wfile.write(text)

    srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    d = tempfile.mkdtemp(prefix="saga-checker-test-")
    hp, kp = os.path.join(d, "history.jsonl"), os.path.join(d, "kafka.jsonl")
    with open(hp, "w") as f:
        for i, h in enumerate(history):
            f.write(json.dumps(h) + "\n")
    with open(kp, "w") as f:
        for e in events:
            f.write(json.dumps(e) + "\n")
    out = subprocess.run([sys.executable, os.path.join(HERE, "check_history.py"), "--history", hp,
                          "--api", "http://127.0.0.1:%d" % srv.server_address[1], "--kafka-dump", kp,
                          "--settle", "2"], capture_output=True, text=True, timeout=120)
    srv.shutdown()
    summary = json.loads([l for l in out.stdout.splitlines() if l.startswith("CHECK ")][0][6:])
    return out.returncode, summary, out.stdout


def place(i, oid):
    return [{"id": i, "process": 0, "type": "invoke", "f": "place", "t": 0},
            {"id": i, "process": 0, "type": "ok", "f": "place", "order_id": oid, "t": 0}]


def main():
    failed = 0

    def check(cond, what):
        nonlocal failed
        print(("ok   " if cond else "FAIL ") + what, flush=True)
        failed += 0 if cond else 1

    stock = [{"id": 100, "process": "setup", "type": "invoke", "f": "stock", "sku": "A", "on_hand": 10, "t": 0},
             {"id": 100, "process": "setup", "type": "ok", "f": "stock", "t": 0}]
    good = {"o1": order("o1", "COMPLETED", "A", 2, "SUCCEEDED"),
            "o2": order("o2", "FAILED", "A", 1, "FAILED", "payment_failed")}
    verify = [{"id": 3, "process": 0, "type": "invoke", "f": "verify", "order_id": "o2", "status": "failed", "t": 0},
              {"id": 3, "process": 0, "type": "ok", "f": "verify", "payment_status": "FAILED", "t": 0}]
    sku_ok = {"A": {"sku": "A", "on_hand": 8, "available": 8, "reserved": 0, "committed": 2, "price_cents": 1}}
    hist = stock + place(1, "o1") + place(2, "o2") + verify
    events = kafka_of(good["o1"]) + kafka_of(good["o2"]) + kafka_of(good["o1"])[:1]  # one duplicate
    rc, s, out = run(good, sku_ok, hist, events)
    check(rc == 0 and s["duplicates"] == 1 and s["orders"] == 2, "a consistent run passes, its duplicate counted: %s" % s)

    # lost: an acknowledged order the API does not know
    rc, s, _ = run({"o1": good["o1"]}, sku_ok, hist, kafka_of(good["o1"]))
    check(rc == 1 and s["lost"] == 1, "an acknowledged order that is gone is lost: %s" % s)
    # stuck: an order that never ends
    stuck = dict(good, o2=order("o2", "PAYMENT_INITIATED", "A", 1, "PENDING"))
    sku_held = {"A": dict(sku_ok["A"], available=7, reserved=1)}
    rc, s, _ = run(stuck, sku_held, stock + place(1, "o1") + place(2, "o2"), kafka_of(good["o1"]) + kafka_of(stuck["o2"]))
    check(rc == 1 and s["stuck"] == 1 and s["oversell"] == 1, "a stuck order, and the stock it holds: %s" % s)
    # oversell: more committed than the completed orders
    sku_over = {"A": dict(sku_ok["A"], committed=3, available=7)}
    rc, s, _ = run(good, sku_over, hist, kafka_of(good["o1"]) + kafka_of(good["o2"]))
    check(rc == 1 and s["oversell"] == 1, "units sold that no completed order holds: %s" % s)
    # double charge: a completed order with two succeeded payments in Kafka
    twice = kafka_of(good["o1"]) + [dict(kafka_of(good["o1"])[3], event_id="other", seq=4)] + kafka_of(good["o2"])
    rc, s, _ = run(good, sku_ok, hist, twice)
    check(rc == 1 and s["double_charge"] >= 1, "a second succeeded payment is a double charge: %s" % s)
    # a failed order with its payment kept
    kept = dict(good, o2=order("o2", "FAILED", "A", 1, "SUCCEEDED", "inventory_commit_failed"))
    rc, s, _ = run(kept, sku_ok, stock + place(1, "o1") + place(2, "o2"), kafka_of(good["o1"]) + kafka_of(kept["o2"]))
    check(rc == 1 and s["double_charge"] >= 1, "a failed order that keeps the money: %s" % s)
    # paid late, not completed, not refunded: a success answered REFUNDED (a late capture)
    # while the order shows its payment only EXPIRED
    late = dict(good, o2=order("o2", "FAILED", "A", 1, "EXPIRED", "payment_expired"))
    late_verify = [{"id": 3, "process": 0, "type": "invoke", "f": "verify", "order_id": "o2", "status": "succeeded", "t": 0},
                   {"id": 3, "process": 0, "type": "ok", "f": "verify", "payment_status": "REFUNDED", "t": 0}]
    rc, s, _ = run(late, sku_ok, stock + place(1, "o1") + place(2, "o2") + late_verify,
                   kafka_of(good["o1"]) + kafka_of(late["o2"]))
    check(rc == 1 and s["double_charge"] >= 1, "a late payment not refunded on its order: %s" % s)
    # contradicted: the verify said FAILED, the order completed
    contra = dict(good, o2=order("o2", "COMPLETED", "A", 1, "SUCCEEDED"))
    sku_c = {"A": dict(sku_ok["A"], committed=3, available=7)}
    rc, s, _ = run(contra, sku_c, hist, kafka_of(good["o1"]) + kafka_of(contra["o2"]))
    check(rc == 1 and s["contradicted"] == 1, "an acknowledged verify the order does not show: %s" % s)
    # a terminal status a client read, later another
    read = [{"id": 7, "process": 0, "type": "invoke", "f": "get", "order_id": "o1", "t": 0},
            {"id": 7, "process": 0, "type": "ok", "f": "get", "order_status": "FAILED", "t": 0}]
    rc, s, _ = run(good, sku_ok, hist + read, kafka_of(good["o1"]) + kafka_of(good["o2"]))
    check(rc == 1 and s["contradicted"] == 1, "a terminal status read by a client never changes: %s" % s)
    # Kafka gap: one event missing
    rc, s, _ = run(good, sku_ok, hist, kafka_of(good["o1"], skip=(4,)) + kafka_of(good["o2"]))
    check(rc == 1 and s["kafka_gaps"] == 1, "an event missing in Kafka is a gap: %s" % s)
    # a duplicate with other content
    bad_dup = kafka_of(good["o1"]) + kafka_of(good["o2"]) + [dict(kafka_of(good["o1"])[0], seq=9)]
    rc, s, _ = run(good, sku_ok, hist, bad_dup)
    check(rc == 1 and s["kafka_gaps"] >= 1, "a copy with another seq is not a duplicate: %s" % s)
    # indeterminate: a POST with no answer may have happened (its order found in Kafka) or not
    maybe = [{"id": 9, "process": 1, "type": "invoke", "f": "place", "t": 0},
             {"id": 9, "process": 1, "type": "info", "f": "place", "t": 0}]
    rc, s, _ = run(good, sku_ok, stock + place(1, "o1") + maybe + verify, kafka_of(good["o1"]) + kafka_of(good["o2"]))
    check(rc == 0 and s["indeterminate"] == 1 and s["orders"] == 2,
          "an indeterminate create is accepted, and its order (found in Kafka) is checked: %s" % s)
    print("test_checker: %d failed" % failed)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
