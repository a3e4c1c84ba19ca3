"""HTTP tests against real sagad processes: every saga branch driven only through the
public endpoints, then a table of malformed requests, each of which must get its status
code and leave the node serving with its state unchanged."""
import json
import os
import socket
import sys
import time

import contract
from sagalib import Checks, Node, sign, TOKEN

TERMINAL = ("COMPLETED", "FAILED")


def types(order):
    return [e["type"] for e in order["events"]]


def gapless(order):
    return [e["seq"] for e in order["events"]] == list(range(1, len(order["events"]) + 1))


def saga_branches(c, n):
    n.stock("A", 10, 250)
    n.stock("B", 5, 1000)
    # happy path
    st, body = n.place([{"sku": "A", "quantity": 2}, {"sku": "B", "quantity": 1}])
    c.check(st == 201 and body["status"] == "PENDING" and body["selling_price_cents"] == 1500,
            "201 PENDING with selling price: %s %s" % (st, body))
    oid = body["order_id"]
    o = n.wait_for(oid, lambda o: o["status"] == "PAYMENT_INITIATED")
    c.check(o["payment"]["status"] == "PENDING" and o["payment"]["payment_id"] == "pay_" + oid,
            "payment intent pending")
    c.check(n.sku("A")["reserved"] == 2, "A reserved")
    st, body = n.verify(oid, "succeeded")
    c.check(st == 200 and body["payment_status"] == "SUCCEEDED", "verify 200: %s" % body)
    o = n.wait_for(oid, lambda o: o["status"] == "COMPLETED")
    c.check(types(o) == ["ordercreated", "inventory_reserved", "payment_initiated",
                         "payment_succeeded", "order_completed", "inventory_committed"],
            "happy events: %s" % types(o))
    c.check(gapless(o), "happy seq gapless")
    c.check(o["payment"]["status"] == "SUCCEEDED" and o["failure_reason"] is None, "happy payment")
    a = n.sku("A")
    c.check(a["committed"] == 2 and a["available"] == 8 and a["reserved"] == 0, "A committed: %s" % a)
    st, _ = n.verify(oid, "succeeded")
    c.check(st == 200, "repeated verify is idempotent")
    st, _ = n.verify(oid, "failed")
    c.check(st == 409, "contradicting verify is 409")
    st, body = n.request("POST", "/order/complete", {"order_id": oid})
    c.check(st == 200, "repeated complete is idempotent: %s" % st)

    # out of stock
    st, body = n.place([{"sku": "A", "quantity": 1}, {"sku": "B", "quantity": 50}])
    oid = body["order_id"]
    o = n.wait_for(oid, lambda o: o["status"] in TERMINAL)
    c.check(o["status"] == "FAILED" and o["failure_reason"] == "inventory_reservation_failed",
            "out of stock fails: %s" % o["failure_reason"])
    c.check(types(o) == ["ordercreated", "inventory_reservation_failed", "order_cancelled",
                         "inventory_released"], "out-of-stock events: %s" % types(o))
    c.check(n.sku("A")["available"] == 8 and n.sku("B")["available"] == 4, "stock untouched")

    # payment failed
    st, body = n.place([{"sku": "A", "quantity": 3}])
    oid = body["order_id"]
    n.wait_for(oid, lambda o: o["status"] == "PAYMENT_INITIATED")
    st, _ = n.request("POST", "/order/complete", {"order_id": oid})
    c.check(st == 409, "complete before payment is 409")
    st, body = n.verify(oid, "failed")
    c.check(st == 200 and body["payment_status"] == "FAILED", "verify failed: %s" % body)
    o = n.wait_for(oid, lambda o: o["status"] in TERMINAL)
    c.check(o["failure_reason"] == "payment_failed" and o["payment"]["status"] == "FAILED",
            "payment failed path")
    c.check(types(o)[-3:] == ["payment_failed", "order_cancelled", "inventory_released"],
            "payment failed events")
    c.check(n.sku("A")["available"] == 8, "released after payment failure")

    # payment expired (payment.timeout_ms = 1500 on this node)
    st, body = n.place([{"sku": "A", "quantity": 1}])
    oid = body["order_id"]
    o = n.wait_for(oid, lambda o: o["status"] in TERMINAL, timeout_s=10)
    c.check(o["failure_reason"] == "payment_expired" and o["payment"]["status"] == "EXPIRED",
            "payment expired path: %s" % o["failure_reason"])
    st, _ = n.verify(oid, "failed")
    c.check(st == 409, "a decline after expiry is 409")
    # A success after expiry: the provider captured the money late. Recorded and refunded,
    # once, and the answer says so.
    st, body = n.verify(oid, "succeeded")
    c.check(st == 200 and body.get("payment_status") == "REFUNDED" and "late" in body.get("message", ""),
            "a late success is refunded and the answer says so: %s %s" % (st, body))
    o = n.wait_for(oid, lambda o: (o.get("payment") or {}).get("status") == "REFUNDED", timeout_s=10)
    last = types(o)[-2:]
    c.check(o["status"] == "FAILED" and o["payment"]["status"] == "REFUNDED"
            and last == ["payment_succeeded", "payment_refunded"],
            "the failed order records the late capture and its refund: %s %s" % (o["payment"], last))
    st, body = n.verify(oid, "succeeded")
    o2 = n.request("GET", "/orders/" + oid)[1]
    c.check(st == 200 and body.get("payment_status") == "REFUNDED" and len(o2["events"]) == len(o["events"]),
            "a repeated late success is refunded once")
    c.check(n.sku("A")["available"] == 8, "released after expiry")


def commit_failed_branch(c, n):
    n.stock("C", 4, 100)
    st, body = n.place([{"sku": "C", "quantity": 2}])
    oid = body["order_id"]
    n.wait_for(oid, lambda o: o["status"] == "PAYMENT_INITIATED")
    time.sleep(0.6)  # inventory.reservation_ttl_ms = 300: the reservation expires
    deadline = time.time() + 10  # released by a timer: later on a slow build
    while n.sku("C")["reserved"] != 0 and time.time() < deadline:
        time.sleep(0.05)
    c.check(n.sku("C")["reserved"] == 0, "reservation expired")
    st, body = n.verify(oid, "succeeded")
    c.check(st == 200, "verify after reservation expiry accepted")
    o = n.wait_for(oid, lambda o: o["status"] in TERMINAL)
    c.check(o["failure_reason"] == "inventory_commit_failed", "commit failed: %s" % o["failure_reason"])
    c.check(o["payment"]["status"] == "REFUNDED", "refunded: %s" % o["payment"])
    c.check(types(o)[-5:] == ["order_completed", "inventory_commit_failed", "order_cancelled",
                              "inventory_released", "payment_refunded"], "refund events: %s" % types(o))
    s = n.sku("C")
    c.check(s["available"] == 4 and s["committed"] == 0, "stock back: %s" % s)


def malformed_table(c, n):
    n.stock("M", 5, 100)
    st, body = n.place([{"sku": "M", "quantity": 1}])
    oid = body["order_id"]
    n.wait_for(oid, lambda o: o["status"] == "PAYMENT_INITIATED")
    auth = {"Authorization": "Bearer " + TOKEN}
    good_item = [{"sku": "M", "quantity": 1}]
    big = '{"customer_id":"' + "x" * 70000 + '","items":[]}'
    pid = "pay_" + oid
    table = [
        ("POST", "/orders", "{", {}, 400),
        ("POST", "/orders", '{"customer_id":"c","items":[', {}, 400),
        ("POST", "/orders", "[]", {}, 400),
        ("POST", "/orders", "null", {}, 400),
        ("POST", "/orders", "42", {}, 400),
        ("POST", "/orders", '"x"', {}, 400),
        ("POST", "/orders", "", {}, 400),
        ("POST", "/orders", '{"items":[{"sku":"M","quantity":1}]}', {}, 422),
        ("POST", "/orders", '{"customer_id":7,"items":[{"sku":"M","quantity":1}]}', {}, 422),
        ("POST", "/orders", '{"customer_id":"","items":[{"sku":"M","quantity":1}]}', {}, 422),
        ("POST", "/orders", '{"customer_id":"' + "c" * 200 + '","items":[{"sku":"M","quantity":1}]}', {}, 422),
        ("POST", "/orders", '{"customer_id":"c"}', {}, 422),
        ("POST", "/orders", '{"customer_id":"c","items":{}}', {}, 422),
        ("POST", "/orders", '{"customer_id":"c","items":[]}', {}, 422),
        ("POST", "/orders", '{"customer_id":"c","items":[' + ",".join(['{"sku":"M%d","quantity":1}' % i for i in range(101)]) + "]}", {}, 422),
        ("POST", "/orders", '{"customer_id":"c","items":[5]}', {}, 422),
        ("POST", "/orders", '{"customer_id":"c","items":[{"quantity":1}]}', {}, 422),
        ("POST", "/orders", '{"customer_id":"c","items":[{"sku":5,"quantity":1}]}', {}, 422),
        ("POST", "/orders", '{"customer_id":"c","items":[{"sku":"","quantity":1}]}', {}, 422),
        ("POST", "/orders", '{"customer_id":"c","items":[{"sku":"M"}]}', {}, 422),
        ("POST", "/orders", '{"customer_id":"c","items":[{"sku":"M","quantity":"1"}]}', {}, 422),
        ("POST", "/orders", '{"customer_id":"c","items":[{"sku":"M","quantity":0}]}', {}, 422),
        ("POST", "/orders", '{"customer_id":"c","items":[{"sku":"M","quantity":-1}]}', {}, 422),
        ("POST", "/orders", '{"customer_id":"c","items":[{"sku":"M","quantity":1.5}]}', {}, 422),
        ("POST", "/orders", '{"customer_id":"c","items":[{"sku":"M","quantity":1000000000000}]}', {}, 422),
        ("POST", "/orders", '{"customer_id":"c","items":[{"sku":"M","quantity":18446744073709551616}]}', {}, 422),
        ("POST", "/orders", '{"customer_id":"c","items":[{"sku":"M","quantity":true}]}', {}, 422),
        ("POST", "/orders", '{"customer_id":"c","items":[{"sku":"M","quantity":1},{"sku":"M","quantity":2}]}', {}, 422),
        ("POST", "/orders", '{"customer_id":"c","items":[{"sku":"NOPE","quantity":1}]}', {}, 422),
        ("POST", "/orders", b'{"customer_id":"\xff\xfe","items":[{"sku":"M","quantity":1}]}', {}, 400),
        ("POST", "/orders", big, {}, 413),
        ("PUT", "/orders", '{}', {}, 405),
        ("GET", "/orders/ord_does_not_exist", None, {}, 404),
        ("GET", "/orders/" + "z" * 300, None, {}, 404),
        ("DELETE", "/orders/" + oid, None, {}, 405),
        ("POST", "/payment/verify", "{", {}, 400),
        ("POST", "/payment/verify", '{"order_id":"%s","payment_id":"%s","status":"succeeded","signature":"%s"}' % (oid, pid, "0" * 64), {}, 401),
        ("POST", "/payment/verify", '{"order_id":"%s","payment_id":"%s","status":"succeeded","signature":"%s"}' % (oid, pid, sign(oid, pid, "failed")), {}, 401),
        ("POST", "/payment/verify", '{"order_id":"ord_x","payment_id":"pay_ord_x","status":"succeeded","signature":"%s"}' % sign("ord_x", "pay_ord_x", "succeeded"), {}, 404),
        ("POST", "/payment/verify", '{"order_id":"%s","payment_id":"%s","status":"maybe","signature":"%s"}' % (oid, pid, sign(oid, pid, "maybe")), {}, 422),
        ("POST", "/payment/verify", '{"order_id":"%s","payment_id":"%s","status":"succeeded"}' % (oid, pid), {}, 422),
        ("POST", "/payment/verify", '{"order_id":"%s","payment_id":1,"status":"succeeded","signature":"x"}' % oid, {}, 422),
        ("GET", "/payment/verify", None, {}, 405),
        ("POST", "/order/complete", '{"order_id":"ord_nope"}', {}, 404),
        ("POST", "/order/complete", '{}', {}, 422),
        ("POST", "/order/complete", '{"order_id":"%s"}' % oid, {}, 409),
        ("POST", "/order/complete", '{"order_id":["x"]}', {}, 422),
        ("PUT", "/inventory/M", '{"on_hand":1,"price_cents":1}', {}, 401),
        ("PUT", "/inventory/M", '{"on_hand":1,"price_cents":1}', {"Authorization": "Bearer wrong"}, 401),
        ("PUT", "/inventory/M", '{"on_hand":-1,"price_cents":1}', auth, 422),
        ("PUT", "/inventory/M", '{"on_hand":1,"price_cents":"1"}', auth, 422),
        ("PUT", "/inventory/M", '{"price_cents":1}', auth, 422),
        ("PUT", "/inventory/M", '{"on_hand":0,"price_cents":1}', auth, 409),  # below reserved
        ("PUT", "/inventory/M", 'garbage', auth, 400),
        ("DELETE", "/inventory/M", None, auth, 405),
        ("GET", "/inventory/NOPE", None, {}, 404),
        ("GET", "/nope", None, {}, 404),
        ("POST", "/healthz", "", {}, 405),
    ]
    c.check(len(table) >= 40, "at least 40 malformed requests (%d)" % len(table))
    before_sku = n.sku("M")
    before_order = n.order(oid)
    for method, path, raw, headers, expected in table:
        st, body = n.request(method, path, raw=raw, headers=headers)
        label = "%s %s %r" % (method, path[:40], (raw[:60] if raw else raw))
        c.check(st == expected, "%s -> %s, expected %s (%s)" % (label, st, expected, body))
        if st >= 400:
            c.check(isinstance(body, dict) and "code" in body.get("error", {})
                    and "message" in body["error"], "JSON error body for %s" % label)
        hst, _ = n.request("GET", "/healthz")
        c.check(hst == 200, "still serving after %s" % label)
    c.check(n.sku("M") == before_sku, "inventory unchanged by bad requests")
    after = n.order(oid)
    c.check(after["events"] == before_order["events"] and after["status"] == before_order["status"],
            "order unchanged by bad requests")
    print("malformed requests tested: %d" % len(table), flush=True)


def api_extras(c, n):
    """Idempotency-Key, long-poll, metrics, the cluster layout."""
    import threading
    # GET /cluster (checked against the contract by n.request): one node, owning everything
    st, b = n.request("GET", "/cluster")
    nodes = b.get("nodes", []) if st == 200 else []
    c.check(st == 200 and b["self"] == "node-1" and len(nodes) == 1 and nodes[0]["state"] == "self"
            and nodes[0]["since"] > 0
            and nodes[0]["partitions"]["orders"] == list(range(b["partitions"]["orders"]))
            and nodes[0]["partitions"]["inventory"] == list(range(b["partitions"]["inventory"])),
            "GET /cluster: this node, self, owns every order and SKU partition: %s %s" % (st, b))
    st, _ = n.request("POST", "/cluster", {})
    c.check(st == 405, "POST /cluster is 405 (%s)" % st)
    n.stock("I", 10, 100)
    body = {"customer_id": "c9", "items": [{"sku": "I", "quantity": 1}]}
    st1, b1 = n.request("POST", "/orders", body, {"Idempotency-Key": "key-1"})
    st2, b2 = n.request("POST", "/orders", body, {"Idempotency-Key": "key-1"})
    c.check(st1 == 201 and st2 == 200 and b1["order_id"] == b2["order_id"],
            "same Idempotency-Key returns the same order: %s %s" % (st1, st2))
    st3, b3 = n.request("POST", "/orders", body, {"Idempotency-Key": "key-2"})
    c.check(st3 == 201 and b3["order_id"] != b1["order_id"], "another key makes another order")
    # an order whose total would overflow is refused before anything is written
    for i in range(3):
        n.stock("BIG%d" % i, 10, 100000000000)
    big = {"customer_id": "c9", "items": [{"sku": "BIG%d" % i, "quantity": 1000000} for i in range(3)]}
    st, b = n.request("POST", "/orders", big)
    c.check(st == 422 and b["error"]["code"] == "out_of_range" and "total" in b["error"]["message"],
            "an order total over 2^53 cents is 422 out_of_range: %s %s" % (st, b))
    c.check(n.sku("BIG0")["reserved"] == 0, "the refused order reserved nothing")
    # a key is bound to its request and scoped by customer
    other = {"customer_id": "c9", "items": [{"sku": "I", "quantity": 2}]}
    st, b = n.request("POST", "/orders", other, {"Idempotency-Key": "key-1"})
    c.check(st == 422 and b["error"]["code"] == "idempotency_key_reused",
            "same key, different body -> 422 idempotency_key_reused: %s %s" % (st, b))
    respelled = '{ "items": [ {"quantity": 1, "sku": "I"} ], "customer_id": "c9" }'
    st, b = n.request("POST", "/orders", None, {"Idempotency-Key": "key-1"}, raw=respelled)
    c.check(st == 200 and b["order_id"] == b1["order_id"],
            "same key, same request spelled differently -> the first order: %s %s" % (st, b))
    eve = {"customer_id": "eve", "items": [{"sku": "I", "quantity": 1}]}
    st, b = n.request("POST", "/orders", eve, {"Idempotency-Key": "key-1"})
    c.check(st == 201 and b["order_id"] != b1["order_id"],
            "another customer's key never returns c9's order: %s %s" % (st, b))
    n.wait_for(b1["order_id"], lambda o: o["status"] == "PAYMENT_INITIATED")
    n.wait_for(b["order_id"], lambda o: o["status"] == "PAYMENT_INITIATED")
    c.check(n.sku("I")["reserved"] == 3, "exactly three orders reserved stock")
    st, b = n.request("POST", "/orders", body, {"Idempotency-Key": "k" * 200})
    c.check(st == 422, "oversized Idempotency-Key is 422")
    # long-poll: answers as soon as the order completes, without the client polling
    oid = b1["order_id"]
    result = {}
    def poll():
        t0 = time.time()
        result["st"], result["body"] = n.request("GET", "/orders/%s?wait=COMPLETED&timeout_ms=10000" % oid)
        result["s"] = time.time() - t0
    t = threading.Thread(target=poll)
    t.start()
    time.sleep(0.3)
    n.verify(oid, "succeeded")
    t.join()
    c.check(result["st"] == 200 and result["body"]["status"] == "COMPLETED" and result["s"] < 5,
            "long-poll returns on completion: %s after %.2fs" % (result.get("body", {}).get("status"), result["s"]))
    t0 = time.time()
    st, b = n.request("GET", "/orders/%s?wait=COMPLETED&timeout_ms=300" % b3["order_id"])
    dt = time.time() - t0
    c.check(st == 200 and b["status"] == "PAYMENT_INITIATED" and 0.25 <= dt < 3,
            "long-poll time-out answers the current state after ~300 ms (%.2fs)" % dt)
    for q, what in (("wait=DONE", "unknown status"), ("wait=COMPLETED&timeout_ms=abc", "bad timeout"),
                    ("wait=COMPLETED&timeout_ms=999999", "timeout too long"),
                    ("wait=", "empty wait"), ("wait", "wait without a value"),
                    ("timeout_ms=-5", "negative timeout without wait"),
                    ("timeout_ms=x", "non-numeric timeout without wait"),
                    ("wait=COMPLETED&timeout_ms=+5", "signed timeout"),
                    ("wiat=COMPLETED", "misspelt parameter")):
        st, b = n.request("GET", "/orders/%s?%s" % (oid, q))
        c.check(st == 422 and b["error"]["code"] == "invalid_query",
                "long-poll %s is 422 invalid_query (%s %s)" % (what, st, b))
    st, b = n.request("GET", "/orders/%s?timeout_ms=100" % oid)
    c.check(st == 200 and b["order_id"] == oid, "a valid timeout_ms without wait is a plain read")
    # empty Idempotency-Key: refused, not silently treated as absent
    st, b = n.request("POST", "/orders", body, {"Idempotency-Key": ""})
    c.check(st == 422 and b["error"]["code"] == "invalid_header", "empty Idempotency-Key is 422 (%s)" % st)
    # the contract is served, byte for byte the document in the repository
    st, served = n.request("GET", "/openapi.json")
    c.check(st == 200 and served == contract.DOC and served["openapi"].startswith("3.1"),
            "GET /openapi.json serves gateway/openapi.json (OpenAPI 3.1)")
    st, served = n.request("GET", "/asyncapi.json")
    with open(os.path.join(os.path.dirname(contract.__file__), "..", "..", "gateway", "asyncapi.json")) as f:
        want = json.load(f)
    c.check(st == 200 and served == want and served["asyncapi"].startswith("3.")
            and set(served["channels"]) >= {"ordercreated", "payment_refunded", "saga_dead_letter"},
            "GET /asyncapi.json serves gateway/asyncapi.json (AsyncAPI 3)")
    st, text = n.request("GET", "/metrics")
    text = text.decode() if isinstance(text, bytes) else str(text)
    c.check(st == 200 and 'saga_http_requests_total{route="POST /orders",code="2xx"}' in text,
            "metrics count requests per route")
    c.check('saga_orders{status="COMPLETED"}' in text and "saga_http_request_duration_seconds_bucket" in text
            and 'saga_live_actors{kind="order"}' in text, "metrics have orders, latencies, actors")


def overload(c, n):
    """saga.max_live_orders = 1: a second saga in flight is refused with 429."""
    n.stock("O", 10, 100)
    st1, b1 = n.place([{"sku": "O", "quantity": 1}])
    st2, b2 = n.request("POST", "/orders", {"customer_id": "c", "items": [{"sku": "O", "quantity": 1}]})
    c.check(st1 == 201 and st2 == 429 and b2["error"]["code"] == "overloaded",
            "second saga in flight is 429: %s %s" % (st1, st2))
    c.check(n.sku("O")["reserved"] == 1, "the refused order changed nothing")


def slowloris(c, n):
    # read_timeout_ms = 700 on this node: a client that never finishes its headers is cut off
    s = socket.create_connection(("127.0.0.1", n.port))
    s.sendall(b"POST /orders HTTP/1.1\r\nHost: x\r\n")
    s.settimeout(5)
    start = time.time()
    try:
        data = s.recv(100)
    except socket.timeout:
        data = None
    c.check(data == b"" and time.time() - start < 4, "slow client disconnected")
    s.close()
    st, _ = n.request("GET", "/healthz")
    c.check(st == 200, "serving after slow client")


def idempotency_expiry(c, n):
    """http.idempotency_retention_ms: a key returns its order until it expires."""
    n.stock("X", 10, 100)
    body = {"customer_id": "cx", "items": [{"sku": "X", "quantity": 1}]}
    st1, b1 = n.request("POST", "/orders", body, {"Idempotency-Key": "exp-1"})
    st2, b2 = n.request("POST", "/orders", body, {"Idempotency-Key": "exp-1"})
    c.check(st1 == 201 and st2 == 200 and b2["order_id"] == b1["order_id"], "key held within retention")
    time.sleep(1.3)
    st3, b3 = n.request("POST", "/orders", body, {"Idempotency-Key": "exp-1"})
    c.check(st3 == 201 and b3["order_id"] != b1["order_id"],
            "after http.idempotency_retention_ms the key makes a new order: %s %s" % (st3, b3))
    deadline = time.time() + 5
    while time.time() < deadline and n.metric("saga_idempotency_keys_expired_total") < 1:
        time.sleep(0.05)
    c.check(n.metric("saga_idempotency_keys_expired_total") >= 1,
            "the retention sweeper removed the expired key from the store")
    c.check(n.metric("saga_idempotency_keys") == 1, "one key stored: the new one (%s)"
            % n.metric("saga_idempotency_keys"))


def main():
    sagad = sys.argv[1]
    c = Checks()
    a = Node(sagad, overrides={"payment.timeout_ms": 1500, "http.read_timeout_ms": 700,
                               "saga.auto_complete_ms": 60000})
    b = Node(sagad, overrides={"inventory.reservation_ttl_ms": 300, "saga.auto_complete_ms": 50,
                               "http.idempotency_retention_ms": 1000})
    o = Node(sagad, overrides={"saga.max_live_orders": 1})
    try:
        a.start()
        saga_branches(c, a)
        # The rest holds orders at PAYMENT_INITIATED across many requests: with the 1.5 s
        # payment time-out the branches need, a slow build (the sanitizer pass) would see
        # them expire midway. Restarted with a long one.
        c.check(a.stop() == 0, "clean exit on SIGTERM (after the branches)")
        a.overrides["payment.timeout_ms"] = 600000
        a.start()
        malformed_table(c, a)
        api_extras(c, a)
        slowloris(c, a)
        c.check(a.stop() == 0, "clean exit on SIGTERM")
        b.start()
        commit_failed_branch(c, b)
        idempotency_expiry(c, b)
        c.check(b.stop() == 0, "clean exit on SIGTERM")
        o.start()
        overload(c, o)
        c.check(o.stop() == 0, "clean exit on SIGTERM")
    finally:
        a.cleanup()
        b.cleanup()
        o.cleanup()
    return c.done("test_http")


if __name__ == "__main__":
    sys.exit(main())
