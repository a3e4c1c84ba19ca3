#!/usr/bin/env python3
"""The fault suite's checker (Jepsen-style). It trusts nothing the nodes say about
themselves: it reads only
  - the history the clients wrote (one JSON line per operation: invoke, then ok / fail /
    info; `info` is indeterminate: a time-out, a reset connection, a 5xx),
  - the final state through the public HTTP API (GET /orders/{id}, GET /inventory/{sku}),
  - every saga topic in Kafka, consumed from the beginning (when --kafka is given),
and never RocksDB or a node's memory. It checks every invariant of spec section 7:
  lost         an acknowledged order (201/200) that GET does not know
  stuck        an order (acknowledged, or seen in Kafka) not COMPLETED or FAILED in the end
  oversell     per SKU: available < 0, stock held in the end, or committed units that are
               not exactly those of the COMPLETED orders; available + committed must equal
               the stock put
  double_charge  a COMPLETED order without exactly one succeeded payment, or a FAILED order
               with a succeeded payment not refunded (from the Kafka payment events, and the
               API's payment status)
  contradicted an acknowledged verify whose outcome the order does not show
  kafka_gaps   an order whose events in Kafka are not exactly its events (seq 1..n, no gap,
               same types), or are out of seq order in their topic-partition
  duplicates   Kafka copies of an event (same event_id, seq and content): counted, allowed
An indeterminate operation may or may not have taken effect; both are accepted.

Usage: check_history.py --history FILE --api URL[,URL...] [--kafka BOOTSTRAP] [--settle S]
(its own test: tests/fault/test_checker.py)
Prints the violations, then one summary line `CHECK {json}`; exit 1 on any violation."""
import argparse
import http.client
import json
import os
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))

TERMINAL = ("COMPLETED", "FAILED")


class Api:
    def __init__(self, urls):
        self.urls = [urllib.parse.urlparse(u) for u in urls]

    def get(self, path):
        """(status, body) from the first node that answers; 503s are tried on the next."""
        last = None
        for u in self.urls:
            try:
                c = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
                c.request("GET", path)
                r = c.getresponse()
                body = r.read()
                c.close()
                if r.status == 503:
                    last = (r.status, body)
                    continue
                return r.status, (json.loads(body) if body else None)
            except OSError as e:
                last = (None, str(e))
        return last


    def outbox_depths(self):
        out = []
        for u in self.urls:
            depth = None
            try:
                c = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
                c.request("GET", "/metrics")
                r = c.getresponse()
                for line in r.read().decode().splitlines():
                    if line.startswith("saga_outbox_depth "):
                        depth = float(line.split()[-1])
                c.close()
            except OSError:
                pass
            out.append(depth)
        return out


def read_history(path):
    ops = {}        # op id -> {"invoke": line, "done": line}
    nemesis = []
    stock = {}      # sku -> on_hand put (acknowledged)
    for line in open(path):
        h = json.loads(line)
        if h.get("process") == "nemesis":
            nemesis.append(h)
            continue
        op = ops.setdefault(h["id"], {})
        op[h["type"] if h["type"] == "invoke" else "done"] = h
    for op in ops.values():
        inv, done = op.get("invoke"), op.get("done")
        if inv and inv["f"] == "stock" and done and done["type"] == "ok":
            stock[inv["sku"]] = inv["on_hand"]
    return ops, nemesis, stock


def await_terminal(api, pending, final, deadline):
    """Reads each order until it is COMPLETED or FAILED (404: unknown), or the deadline."""
    while pending:
        nxt = []
        for oid in pending:
            st, o = api.get("/orders/" + oid)
            if st == 200 and o["status"] in TERMINAL:
                final[oid] = o
            elif st == 404:
                final[oid] = None
            else:
                nxt.append(oid)
                final[oid] = o if st == 200 else {"status": "unreadable (%s)" % st}
        pending = nxt
        if pending and time.time() < deadline:
            time.sleep(0.5)
        elif pending:
            break


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--history", required=True)
    ap.add_argument("--api", required=True, help="comma-separated base URLs of the nodes")
    ap.add_argument("--kafka", help="bootstrap servers; without it the Kafka checks are skipped")
    ap.add_argument("--kafka-dump", help="read the events from this JSON-lines file instead "
                    "of a broker (the checker's own test)")
    ap.add_argument("--settle", type=float, default=120,
                    help="seconds to wait for every order to end and Kafka to catch up")
    a = ap.parse_args()
    api = Api(a.api.split(","))
    ops, nemesis, stock = read_history(a.history)
    v = {k: [] for k in ("lost", "stuck", "oversell", "double_charge", "contradicted", "kafka_gaps")}
    counts = {"ops": 0, "ok": 0, "fail": 0, "indeterminate": 0}
    acked, verified, seen_terminal = set(), {}, {}
    for op in ops.values():
        inv, done = op.get("invoke"), op.get("done")
        if not inv:
            continue
        counts["ops"] += 1
        t = done["type"] if done else "info"   # a client that died mid-call: indeterminate
        counts["indeterminate" if t == "info" else t] += 1
        if t != "ok":
            continue
        if inv["f"] == "place":
            acked.add(done["order_id"])
        elif inv["f"] == "verify":
            verified[inv["order_id"]] = done.get("payment_status")
        elif inv["f"] == "get" and done.get("order_status") in TERMINAL:
            seen_terminal[inv["order_id"]] = done["order_status"]

    # Kafka: every order ever created appears there (its ordercreated event), so orders of
    # indeterminate POSTs are found and checked too. It is read once every known order has
    # ended and every node's public /metrics says its outbox is empty (events wait there
    # while the broker is away), or the settle time is over; the orders it adds are then
    # awaited too.
    events = []
    deadline = time.time() + a.settle
    known = set(acked)
    final = {}
    await_terminal(api, sorted(known), final, deadline)
    if a.kafka_dump:
        a.kafka = a.kafka_dump
        events = [json.loads(line) for line in open(a.kafka_dump)]
        known |= {e["order_id"] for e in events}
        await_terminal(api, sorted(known), final, deadline)
    elif a.kafka:
        import sagalib
        while time.time() < deadline and any(d != 0 for d in api.outbox_depths()):
            time.sleep(0.5)
        depths = api.outbox_depths()
        if any(d != 0 for d in depths):
            v["kafka_gaps"].append("outboxes not drained within the settle time: %s" % depths)
        events = sagalib.consume_all(a.kafka, timeout_s=max(900, a.settle))
        more = {e["order_id"] for e in events} - known
        if more:
            known |= more
            await_terminal(api, sorted(more), final, deadline)
            while time.time() < deadline and any(d != 0 for d in api.outbox_depths()):
                time.sleep(0.5)
            events = sagalib.consume_all(a.kafka, timeout_s=max(900, a.settle))
    for oid in sorted(known):
        o = final.get(oid)
        if o is None:
            if oid in acked:
                v["lost"].append(oid)
            continue
        if o["status"] not in TERMINAL:
            v["stuck"].append("%s %s/%s" % (oid, o.get("status"), o.get("saga_step")))
        want = verified.get(oid)
        pay = (o.get("payment") or {}).get("status")
        if want == "SUCCEEDED" and (pay not in ("SUCCEEDED", "REFUNDED") or o.get("failure_reason") in ("payment_failed", "payment_expired")):
            v["contradicted"].append("%s: a verify answered SUCCEEDED, the order ended %s/%s with payment %s"
                                     % (oid, o["status"], o.get("failure_reason"), pay))
        if seen_terminal.get(oid, o["status"]) != o["status"]:
            v["contradicted"].append("%s: a client read %s, the order ended %s" % (oid, seen_terminal[oid], o["status"]))
        if want == "FAILED" and (o["status"] != "FAILED" or pay != "FAILED"):
            v["contradicted"].append("%s: a verify answered FAILED, the order ended %s with payment %s" % (oid, o["status"], pay))
        if o["status"] == "COMPLETED" and pay != "SUCCEEDED":
            v["double_charge"].append("%s: COMPLETED with payment %s" % (oid, pay))
        if o["status"] == "FAILED" and pay == "SUCCEEDED":
            v["double_charge"].append("%s: FAILED with a payment kept (SUCCEEDED, not refunded)" % oid)
        # Paid, not completed, not refunded: a success answered (on time or late) whose order
        # failed without a refund on record.
        if want in ("SUCCEEDED", "REFUNDED") and o["status"] == "FAILED" and pay != "REFUNDED":
            v["double_charge"].append("%s: a verify answered %s, the order FAILED with payment %s "
                                      "(paid, not completed, not refunded)" % (oid, want, pay))

    # Stock: nothing held at the end, and the units sold are exactly the completed orders'.
    sold = {}
    for oid, o in final.items():
        if o and o["status"] == "COMPLETED":
            for it in o["items"]:
                sold[it["sku"]] = sold.get(it["sku"], 0) + it["quantity"]
    for sku, put in sorted(stock.items()):
        st, s = api.get("/inventory/" + urllib.parse.quote(sku))
        if st != 200:
            v["oversell"].append("%s unreadable (%s)" % (sku, st))
            continue
        if s["available"] < 0 or s["reserved"] != 0 or s["committed"] != sold.get(sku, 0) \
                or s["available"] + s["committed"] != put:
            v["oversell"].append("%s: %s, put %d, completed orders hold %d" % (sku, s, put, sold.get(sku, 0)))

    # Kafka: each order's events exactly as the API lists them, seq 1..n in topic order.
    duplicates = 0
    if a.kafka:
        by_order, copies = {}, {}
        for e in events:
            prev = copies.get(e["event_id"])
            key = (e["seq"], e["type"], json.dumps(e["data"], sort_keys=True), e["order_id"])
            if prev is not None:
                duplicates += 1
                if prev != key:
                    v["kafka_gaps"].append("event %s copied with other content" % e["event_id"])
                continue
            copies[e["event_id"]] = key
            by_order.setdefault(e["order_id"], []).append(e)
        charged = {}
        for oid, evs in by_order.items():
            for e in evs:
                if e["type"] == "payment_succeeded":
                    charged[oid] = charged.get(oid, 0) + 1
                elif e["type"] == "payment_refunded":
                    charged[oid] = charged.get(oid, 0) - 1
        for oid in sorted(known):
            o = final.get(oid)
            if not o or o["status"] not in TERMINAL:
                continue
            want = [(e["seq"], e["type"]) for e in o["events"]]
            got = sorted((e["seq"], e["type"]) for e in by_order.get(oid, []))
            if got != want or [s for s, _ in got] != list(range(1, len(got) + 1)):
                v["kafka_gaps"].append("%s: Kafka %s, API %s" % (oid, got, want))
            c = charged.get(oid, 0)
            if (o["status"] == "COMPLETED" and c != 1) or (o["status"] == "FAILED" and c != 0):
                v["double_charge"].append("%s: %s with %d net succeeded payments in Kafka" % (oid, o["status"], c))
        last = {}
        for e in sorted(events, key=lambda e: (e["_topic"], e["_partition"], e["_offset"])):
            k = (e["_topic"], e["_partition"], e["order_id"])
            if e["seq"] < last.get(k, 0):
                v["kafka_gaps"].append("%s: seq %d after %d in %s/%d" % (e["order_id"], e["seq"], last[k], k[0], k[1]))
            last[k] = max(last.get(k, 0), e["seq"])

    faults = {}
    for n in nemesis:
        if n["type"] == "start":
            faults[n["f"]] = faults.get(n["f"], 0) + 1
    statuses = {}
    for o in final.values():
        s = o["status"] if o else "404"
        statuses[s] = statuses.get(s, 0) + 1
    summary = dict(counts, orders=len(known), acknowledged=len(acked), statuses=statuses,
                   faults=faults, lost=len(v["lost"]), stuck=len(v["stuck"]),
                   oversell=len(v["oversell"]), double_charge=len(v["double_charge"]),
                   contradicted=len(v["contradicted"]),
                   kafka_gaps=len(v["kafka_gaps"]) if a.kafka else None,
                   duplicates=duplicates if a.kafka else None, kafka_messages=len(events))
    bad = 0
    for k, items in v.items():
        for x in items[:10]:
            print("VIOLATION %s: %s" % (k, x))
        bad += len(items)
    print("CHECK " + json.dumps(summary, sort_keys=True), flush=True)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
