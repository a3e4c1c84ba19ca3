"""Introspection against a real sagad: /inspect/summary, /inspect/actors (filters and
pagination), /inspect/orders/{id}, /inspect/stream (Server-Sent Events over a socket), the
stuck-saga detector, the admin token, and `sagactl`'s output and exit codes.

usage: test_inspect.py SAGAD SAGACTL"""
import json
import shutil
import os
import socket
import subprocess
import sys
import time

from sagalib import Checks, Node, TOKEN

LONG_LIVED = {"order_supervisor", "inventory_worker", "payment_worker", "writer", "relay",
              "inspector", "retention_sweeper"}


def get(n, path, headers=None):
    return n.request("GET", path, headers=headers)


def read_stream(port, path, seconds, during=None):
    """Reads a text/event-stream for `seconds`, calling `during()` once connected.
    Returns (status line, [(event, data dict)])."""
    s = socket.create_connection(("127.0.0.1", port), timeout=seconds + 5)
    s.sendall(("GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path).encode())
    s.settimeout(0.2)
    buf = b""
    end = time.time() + seconds
    called = False
    while time.time() < end:
        try:
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
        except socket.timeout:
            pass
        if during and not called and b"\r\n\r\n" in buf:
            called = True
            during()
    s.close()
    head, _, body = buf.partition(b"\r\n\r\n")
    events = []
    for block in body.decode(errors="replace").split("\n\n"):
        ev, data = None, None
        for line in block.splitlines():
            if line.startswith("event: "):
                ev = line[7:]
            elif line.startswith("data: "):
                data = json.loads(line[6:])
        if ev:
            events.append((ev, data))
    return head.decode(errors="replace").splitlines()[0] if head else "", head.decode(errors="replace"), events


def wait_streams_closed(n, deadline_s=10.0):
    """A closed stream's feeder lets its slot go at its next tick: wait for that."""
    deadline = time.time() + deadline_s
    while n.metric("saga_inspect_stream_clients") != 0 and time.time() < deadline:
        time.sleep(0.05)


def populate(c, n):
    """Orders in every status: completed, failed (no stock), failed (declined), and two
    waiting for their payment (past the 500 ms awaiting_payment budget: stuck)."""
    n.stock("sku-a", 100, 700)
    n.stock("sku-b", 1, 300)
    ids = {}
    st, b = n.place([{"sku": "sku-a", "quantity": 1}])
    ids["completed"] = b["order_id"]
    n.wait_for(b["order_id"], lambda o: o["status"] == "PAYMENT_INITIATED")
    n.verify(b["order_id"], "succeeded")
    n.wait_for(b["order_id"], lambda o: o["status"] == "COMPLETED")
    st, b = n.place([{"sku": "sku-b", "quantity": 5}])
    ids["no_stock"] = b["order_id"]
    n.wait_for(b["order_id"], lambda o: o["status"] == "FAILED")
    st, b = n.place([{"sku": "sku-a", "quantity": 2}])
    ids["declined"] = b["order_id"]
    n.wait_for(b["order_id"], lambda o: o["status"] == "PAYMENT_INITIATED")
    n.verify(b["order_id"], "failed")
    n.wait_for(b["order_id"], lambda o: o["status"] == "FAILED")
    for k in ("waiting1", "waiting2"):
        st, b = n.place([{"sku": "sku-a", "quantity": 1}, {"sku": "sku-b", "quantity": 1}]
                        if k == "waiting1" else [{"sku": "sku-a", "quantity": 3}])
        c.check(st == 201, "placed %s: %s %s" % (k, st, b))
        ids[k] = b["order_id"]
        n.wait_for(b["order_id"], lambda o: o["status"] == "PAYMENT_INITIATED")
    time.sleep(1.0)  # past the budget, and at least one detector tick
    return ids


def summary_checks(c, n, ids):
    st, s = get(n, "/inspect/summary")
    c.check(st == 200, "summary 200")
    o = s["orders"]
    c.check(o["by_status"] == {"PENDING": 0, "PAYMENT_INITIATED": 2, "COMPLETED": 1, "FAILED": 2},
            "orders by status: %s" % o["by_status"])
    c.check(o["live"] == 2 and o["by_step"] == {"awaiting_payment": 2},
            "live orders by step: %s %s" % (o["live"], o["by_step"]))
    c.check(o["stuck"] == 2, "both waiting orders are stuck: %s" % o["stuck"])
    c.check(sorted(a["key"] for a in o["stuck_oldest"]) == sorted([ids["waiting1"], ids["waiting2"]]),
            "stuck list names them")
    c.check(all(a["stuck"] and a["budget_ms"] == 500 and a["time_in_state_ms"] >= 500
                for a in o["stuck_oldest"]), "stuck rows carry budget and time in step")
    kinds = s["actors_by_kind"]
    c.check(kinds.get("inventory_worker") == 2 and kinds.get("payment_worker") == 3
            and kinds.get("writer") == 1 and kinds.get("relay") == 1
            and kinds.get("order_supervisor") == 3 and kinds.get("inspector") == 1
            and kinds.get("order") == 2 and "gateway_bridge" in kinds,
            "actors by kind: %s" % kinds)
    c.check(s["actors_by_state"]["order"] == {"awaiting_payment": 2}, "orders by state")
    c.check(len(s["pools"]["orders"]) == 3
            and sorted(p["partition"] for p in s["pools"]["orders"]) == ["0", "1", "2"],
            "one owner per order partition: %s" % s["pools"]["orders"])
    c.check(len(s["pools"]["inventory"]) == 2 and len(s["pools"]["payment"]) == 3
            and all(p["mailbox"] >= 0 for p in s["pools"]["inventory"] + s["pools"]["payment"]),
            "pool partitions with mailbox depth: %s" % s["pools"])
    c.check(all(a["processed"] > 0 for a in s["actors"] if a["kind"] in ("writer", "order_supervisor")),
            "writer and supervisor count their messages")
    c.check(set(s["outbox"]) >= {"depth", "age_ms"} and "restarts" in s and s["stuck"] == 2,
            "outbox, restarts and stuck in the summary")
    c.check(n.metric("saga_stuck_orders") == 2, "saga_stuck_orders in /metrics")
    st, body = n.request("POST", "/inspect/summary", {})
    c.check(st == 405, "POST /inspect/summary is 405")


def actors_checks(c, n, ids):
    st, p = get(n, "/inspect/actors?kind=order")
    c.check(st == 200 and sorted(a["key"] for a in p["actors"]) == sorted([ids["waiting1"], ids["waiting2"]])
            and p["next_cursor"] is None, "kind=order lists the live orders: %s" % p)
    c.check(all(a["state"] == "awaiting_payment" and a["processed"] >= 3 and a["mailbox"] >= 0
                for a in p["actors"]), "order rows: step, processed, mailbox")
    st, p = get(n, "/inspect/actors?kind=order&state=stuck")
    c.check(st == 200 and len(p["actors"]) == 2, "state=stuck filter")
    st, p = get(n, "/inspect/actors?kind=order&state=committing_inventory")
    c.check(st == 200 and p["actors"] == [], "a step with no orders gives an empty page")
    st, p = get(n, "/inspect/actors?kind=inventory_worker")
    c.check(st == 200 and sorted(a["key"] for a in p["actors"]) == ["0", "1"], "kind=inventory_worker")
    # Page through everything one actor at a time: each exactly once, then the end.
    seen, cursor, pages = [], None, 0
    while pages < 50:
        path = "/inspect/actors?limit=1" + ("&cursor=" + cursor if cursor else "")
        st, p = get(n, path)
        c.check(st == 200 and len(p["actors"]) <= 1, "page %d: %s" % (pages, st))
        seen += [(a["kind"], a["key"]) for a in p["actors"]]
        pages += 1
        cursor = p["next_cursor"]
        if cursor is None:
            break
    # owners, inv, pay, writer, relay, inspector, retention sweeper, orders
    expected = 3 + 2 + 3 + 1 + 1 + 1 + 1 + 2
    c.check(len(seen) == expected and len(set(seen)) == expected,
            "pagination visits every actor once: %d of %d" % (len(set(seen)), expected))
    c.check([k for k, _ in seen].count("order") == 2, "pagination reaches the orders")
    for q, what in [("limit=0", "limit 0"), ("limit=1001", "limit too big"), ("limit=abc", "limit not a number"),
                    ("kind=bogus", "unknown kind"), ("cursor=zzz", "foreign cursor"),
                    ("kind=order&state=completed", "terminal step as state")]:
        st, body = get(n, "/inspect/actors?" + q)
        c.check(st == 422 and "error" in body, "%s -> 422: %s %s" % (what, st, body))


def order_checks(c, n, ids):
    st, d = get(n, "/inspect/orders/" + ids["completed"])
    c.check(st == 200 and d["live"] is False and d["saga_step"] == "completed", "completed order inspected")
    steps = [s["step"] for s in d["timeline"]]
    c.check(steps == ["reserving_inventory", "initiating_payment", "awaiting_payment", "awaiting_completion",
                      "committing_inventory", "completed"], "timeline of a completed saga: %s" % steps)
    c.check(all(s["duration_ms"] >= 0 for s in d["timeline"]) and d["timeline"][-1]["left_at"] is None,
            "durations per step")
    c.check(d["timers"] == [], "no timers left on a completed order")
    c.check(len(d["order"]["events"]) == 6 and d["order"]["status"] == "COMPLETED", "snapshot and events")
    c.check({a["kind"] for a in d["actors"]} >= {"order_supervisor", "writer", "inventory_worker", "payment_worker"},
            "actors involved: %s" % [a["kind"] for a in d["actors"]])
    st, d = get(n, "/inspect/orders/" + ids["no_stock"])
    c.check(st == 200 and [s["step"] for s in d["timeline"]] == ["reserving_inventory", "releasing_inventory", "failed"],
            "timeline of a rejected reservation: %s" % d.get("timeline"))
    st, d = get(n, "/inspect/orders/" + ids["waiting1"])
    c.check(st == 200 and d["live"] is True and d["stuck"] is True and d["budget_ms"] == 500,
            "a waiting order is live and stuck")
    me = [a for a in d["actors"] if a["kind"] == "order"]
    c.check(len(me) == 1 and me[0]["key"] == ids["waiting1"] and me[0]["mailbox"] >= 0 and me[0]["processed"] >= 3,
            "the order actor itself answers with mailbox and counters: %s" % me)
    timers = {t["timer"]: t for t in d["timers"]}
    c.check(set(timers) == {"payment_expiry", "reservation_ttl"} and timers["payment_expiry"]["in_ms"] > 0,
            "pending timers: %s" % d["timers"])
    parts = {a["key"] for a in d["actors"] if a["kind"] == "inventory_worker"}
    c.check(len(parts) >= 1 and timers["reservation_ttl"]["owner"].count("inventory_worker/") == len(parts),
            "the reservation timer names the partitions holding the items")
    st, body = get(n, "/inspect/orders/ord_doesnotexist")
    c.check(st == 404 and body["error"]["code"] == "not_found", "unknown order -> 404")
    st, body = get(n, "/inspect/orders/" + "x" * 300)
    c.check(st == 404, "oversized id -> 404")
    st, body = get(n, "/inspect/nothing")
    c.check(st == 404, "unknown /inspect route -> 404")


def stream_checks(c, n, ids):
    placed = []

    def place():
        st, b = n.place([{"sku": "sku-a", "quantity": 1}])
        placed.append(b["order_id"])

    status, head, events = read_stream(n.port, "/inspect/stream", 2.5, place)
    c.check("200" in status and "text/event-stream" in head, "stream answers 200 text/event-stream")
    summaries = [d for e, d in events if e == "summary"]
    c.check(len(summaries) >= 2 and "orders" in summaries[0], "a summary every tick: %d" % len(summaries))
    mine = [d for e, d in events if e == "saga" and placed and d["order_id"] == placed[0]]
    types = [ev["type"] for d in mine for ev in d["events"]]
    c.check(types[:3] == ["ordercreated", "inventory_reserved", "payment_initiated"],
            "saga events of the new order as they happen: %s" % types)
    c.check(mine and mine[-1]["saga_step"] == "awaiting_payment", "the stream carries the step")
    # Filtered to another order: nothing of the new one.
    placed.clear()
    status, head, events = read_stream(n.port, "/inspect/stream?order=" + ids["completed"], 1.5, place)
    c.check(not [d for e, d in events if e == "saga"], "?order= filters saga events")
    # Bounded: with inspect.max_stream_clients = 2 a third stream is refused while two are open.
    # (a closed stream's feeder lets its slot go at its next tick: wait for that first)
    wait_streams_closed(n)
    held = [socket.create_connection(("127.0.0.1", n.port), timeout=5) for _ in range(2)]
    heads = []
    for s in held:
        s.sendall(b"GET /inspect/stream HTTP/1.1\r\nHost: x\r\n\r\n")
        heads.append(s.recv(1024).split(b"\r\n")[0])
    c.check(all(b" 200 " in h for h in heads), "two streams open: %s" % heads)
    status, head, events = read_stream(n.port, "/inspect/stream", 0.5)
    c.check(" 429 " in status and "Retry-After" in head, "third stream -> 429: %s" % status)
    for s in held:
        s.close()
    wait_streams_closed(n)
    status, head, events = read_stream(n.port, "/inspect/stream", 0.5)
    c.check("200" in status, "a stream is accepted again once the others closed")
    st, body = get(n, "/inspect/stream?order=" + "x" * 200)
    c.check(st == 422, "bad order filter -> 422")
    wait_streams_closed(n)
    c.check(n.metric("saga_inspect_stream_clients") == 0, "closed streams are let go")
    st, html = get(n, "/console")
    html = html.decode() if isinstance(html, bytes) else str(html)
    c.check(st == 200 and "<title>sagad console</title>" in html, "console page served")


def sagactl_checks(c, n, sagactl, ids):
    url = "http://127.0.0.1:%d" % n.port

    def run(*args, env=None):
        e = dict(os.environ)
        e.pop("SAGA_URL", None)
        e.pop("SAGA_ADMIN_TOKEN", None)
        e.update(env or {})
        p = subprocess.run([sagactl] + list(args), capture_output=True, text=True, timeout=30, env=e)
        return p.returncode, p.stdout, p.stderr

    rc, out, err = run("--url", url, "summary")
    c.check(rc == 0 and "orders: live 2, stuck 2" in out and "COMPLETED 1, FAILED 2" in out,
            "sagactl summary: %r" % out[:300])
    c.check("stuck sagas" in out and ids["waiting1"] in out, "sagactl summary lists stuck sagas")
    c.check(all(k in out for k in ("inventory_worker", "payment_worker", "writer", "relay")),
            "sagactl summary lists the runtime actors")
    rc, out, err = run("--url", url, "cluster")
    c.check(rc == 0 and "cluster: 1 node(s)" in out and "node-1" in out and "self" in out
            and "0,1,2" in out, "sagactl cluster: %r" % out[:400])
    # One node without replication: nothing ever moves, and the watch says why it stops.
    rc, out, err = run("--url", url, "cluster", "--watch", "--iterations", "2", "--interval-ms", "10")
    c.check(rc == 1 and "partitions never move" in err, "sagactl cluster --watch on an unreplicated "
            "node: %r %r" % (out, err))
    rc, out, err = run("--url", url, "cluster", "--watch", "--interval-ms", "0")
    c.check(rc == 2 and "positive integer" in err, "sagactl refuses a zero interval: %r" % err)
    rc, out, err = run("--url", url, "actors", "--kind", "order")
    c.check(rc == 0 and ids["waiting1"] in out and ids["waiting2"] in out and "(STUCK)" in out
            and "2 actor(s)" in out, "sagactl actors --kind order: %r" % out)
    rc, out, err = run("--url", url, "actors", "--limit", "2")
    c.check(rc == 0 and "more with --cursor a:2" in out, "sagactl actors tells the next cursor")
    rc, out, err = run("--url", url, "--json", "actors", "--limit", "1", "--all")
    c.check(rc == 0 and len(json.loads(out)["actors"]) == 14, "sagactl actors --all follows the cursors")
    rc, out, err = run("--url", url, "order", ids["completed"])
    c.check(rc == 0 and "status COMPLETED" in out and "inventory_committed" in out
            and "committing_inventory" in out and "pending timers:\nnone" in out,
            "sagactl order (completed): %r" % out[:400])
    rc, out, err = run("--url", url, "order", ids["waiting2"])
    c.check(rc == 0 and "STUCK" in out and "payment_expiry" in out and "(actor live)" in out,
            "sagactl order (waiting): %r" % out[:300])
    rc, out, err = run("--url", url, "--json", "order", ids["waiting2"])
    c.check(rc == 0 and json.loads(out)["order"]["order_id"] == ids["waiting2"], "sagactl --json order")
    rc, out, err = run("top", "--iterations", "2", "--interval-ms", "200", env={"SAGA_URL": url})
    c.check(rc == 0 and out.count("sagactl top") == 2 and "sagas finished/s" in out
            and "longest in step first" in out, "sagactl top (SAGA_URL): %r" % out[-300:])
    rc, out, err = run("--url", url, "order", "ord_nope")
    c.check(rc == 1 and "error 404" in err, "sagactl: unknown order exits 1: %r" % err)
    rc, out, err = run("--url", url, "actors", "--kind", "nope")
    c.check(rc == 1 and "unknown kind" in err, "sagactl: bad kind exits 1")
    rc, out, err = run("--url", "http://127.0.0.1:1", "summary")
    c.check(rc == 2 and "cannot reach" in err, "sagactl: unreachable node exits 2: %r" % err)
    rc, out, err = run("--url", url, "--bogus")
    c.check(rc == 2 and "unknown option --bogus" in err, "sagactl: unknown option exits 2")
    rc, out, err = run("--url", url, "actors", "--limit", "x")
    c.check(rc == 2, "sagactl: non-numeric --limit exits 2")
    rc, out, err = run("--url", url, "frobnicate")
    c.check(rc == 2 and "usage" in err, "sagactl: unknown command prints usage")


def restart_checks(c, n, ids):
    """A restart resumes the waiting orders with their step clock intact: still stuck,
    time in step measured from the step's durable start, not from the restart."""
    st, d = get(n, "/inspect/orders/" + ids["waiting1"])
    before = next(a for a in d["actors"] if a["kind"] == "order")["time_in_state_ms"]
    c.check(n.stop() == 0, "clean exit on SIGTERM")
    n.start()
    time.sleep(0.3)  # one detector tick
    st, p = get(n, "/inspect/actors?kind=order&state=stuck")
    keys = [a["key"] for a in p["actors"]]
    c.check(st == 200 and ids["waiting1"] in keys and ids["waiting2"] in keys,
            "resumed waiting orders are still stuck after a restart: %s" % keys)
    row = next((a for a in p["actors"] if a["key"] == ids["waiting1"]), {})
    c.check(row.get("time_in_state_ms", 0) >= before,
            "time in step continues across the restart (%s ms before, %s after)"
            % (before, row.get("time_in_state_ms")))
    # Waiting for their payments, they are passive after a restart: rows, no actor spawned.
    c.check(row.get("passive") is True and row.get("actor_id") == 0 and row.get("spawned_at") == 0,
            "a waiting order is passive after the restart: %s" % row)
    c.check(n.metric("saga_passive_orders") >= 2 and n.metric('saga_live_actors{kind="order"}') == 0,
            "passive orders are counted, and no order actor was spawned at start")
    rc = subprocess.run([SAGACTL, "--url", "http://127.0.0.1:%d" % n.port, "order", ids["waiting1"]],
                        capture_output=True, text=True, timeout=30)
    c.check(rc.returncode == 0 and "passive" in rc.stdout, "sagactl shows the order as passive")
    c.check(n.metric("saga_stuck_orders") >= 2, "stuck gauge after the restart")
    c.check(n.stop() == 0, "clean exit on SIGTERM after the restart")


def dev_secret_checks(c, sagad):
    """The built-in development secrets are refused off loopback, with what to set."""
    import tempfile
    d = tempfile.mkdtemp(prefix="saga-e2e-")
    try:
        p = subprocess.run([sagad, "--node", "node-1", "--set", "storage.dir=" + d,
                            "--set", "http.address=0.0.0.0", "--set", "http.port=0"],
                           capture_output=True, text=True, timeout=30)
        c.check(p.returncode != 0 and "security.admin_token and payment.provider_secret" in p.stderr
                and "--set security.admin_token=" in p.stderr,
                "dev secrets on 0.0.0.0: refused (%d) naming the keys: %s" % (p.returncode, p.stderr.strip()[-300:]))
    finally:
        shutil.rmtree(d, ignore_errors=True)


def token_checks(c, sagad, sagactl):
    """With inspect.open_on_loopback=false the node behaves as on a public address."""
    n = Node(sagad, overrides={"inspect.open_on_loopback": "false", "log.level": "debug"})
    try:
        n.start()
        for path in ("/inspect/summary", "/inspect/actors", "/inspect/stream", "/console"):
            st, body = get(n, path)
            c.check(st == 401 and body["error"]["code"] == "unauthorized", "%s without token -> 401" % path)
        st, body = get(n, "/inspect/summary", {"Authorization": "Bearer wrong"})
        c.check(st == 401, "wrong token -> 401")
        st, body = get(n, "/inspect/summary", {"Authorization": "Bearer " + TOKEN})
        c.check(st == 200, "bearer token -> 200")
        st, body = get(n, "/console?token=" + TOKEN)
        c.check(st == 200, "?token= for the console -> 200")
        st, body = get(n, "/healthz")
        c.check(st == 200, "health stays open")
        url = "http://127.0.0.1:%d" % n.port
        p = subprocess.run([sagactl, "--url", url, "summary"], capture_output=True, text=True, timeout=30)
        c.check(p.returncode == 1 and "error 401" in p.stderr, "sagactl without token exits 1")
        p = subprocess.run([sagactl, "--url", url, "--token", TOKEN, "summary"], capture_output=True,
                           text=True, timeout=30)
        c.check(p.returncode == 0 and "orders: live 0" in p.stdout, "sagactl --token")
        c.check(n.stop() == 0, "clean exit")
        with open(n.log_path, "rb") as f:
            log = f.read().decode(errors="replace")
        c.check("token=REDACTED" in log and TOKEN not in log,
                "the admin token never reaches the log (the access log redacts ?token=)")
    finally:
        n.cleanup()


def stream_churn_checks(c, sagad):
    """Event-stream clients that hang up while events flow. The node sends an event to a
    client whose FIN is already in (the send succeeds), and the hang-up's read completion
    runs before that send's completion: a regression test for a double free that crashed the
    node (glibc: "corrupted size vs. prev_size") when the console's browser closed."""
    n = Node(sagad, overrides={"inspect.tick_ms": 10, "inspect.max_stream_clients": 64,
                               "inspect.stream_max_events_per_s": 100000,
                               "log.level": "warn"})
    try:
        n.start()
        n.stock("CHURN", 1000000, 100)
        stop = []

        def load():  # saga events for every stream, besides the summary every tick
            while not stop:
                n.place([{"sku": "CHURN", "quantity": 1}])

        import threading
        t = threading.Thread(target=load, daemon=True)
        t.start()
        hung_up = 0
        end = time.time() + 4
        while time.time() < end and n.proc.poll() is None:
            socks = []
            for i in range(16):
                s = socket.create_connection(("127.0.0.1", n.port), timeout=5)
                s.sendall(b"GET /inspect/stream HTTP/1.1\r\nHost: x\r\n\r\n")
                socks.append(s)
            for i, s in enumerate(socks):
                try:
                    s.recv(4096)
                except OSError:
                    pass
                if i % 2:
                    s.shutdown(socket.SHUT_WR)  # half-close: the node reads EOF, we still read
                    time.sleep(0.001)
                s.close()
                hung_up += 1
        stop.append(1)
        t.join(timeout=30)
        alive = n.proc.poll() is None
        c.check(alive, "the node survives %d event-stream clients hanging up under load "
                       "(exit %s)" % (hung_up, n.proc.returncode))
        if not alive:
            n.dump_log()
        else:
            c.check(n.stop() == 0, "and stops cleanly afterwards")
    finally:
        n.cleanup()


SAGACTL = None


def main():
    global SAGACTL
    sagad, sagactl = sys.argv[1], sys.argv[2]
    SAGACTL = sagactl
    c = Checks()
    n = Node(sagad, overrides={"inspect.budget_ms.awaiting_payment": 500, "inspect.tick_ms": 100,
                               "payment.workers": 3, "saga.partitions": 3, "saga.auto_complete_ms": 60000,
                               "inspect.max_stream_clients": 2,
                               # the checks read live actors: no idle passivation while they run
                               # (a slow build takes longer than the 2 s default between them)
                               "saga.passivate_after_ms": 600000,
                               # intents outlast the restart of a slow build
                               "payment.timeout_ms": 600000})
    try:
        n.start()
        ids = populate(c, n)
        summary_checks(c, n, ids)
        actors_checks(c, n, ids)
        order_checks(c, n, ids)
        sagactl_checks(c, n, sagactl, ids)
        stream_checks(c, n, ids)
        restart_checks(c, n, ids)
    finally:
        n.cleanup()
    stream_churn_checks(c, sagad)
    token_checks(c, sagad, sagactl)
    dev_secret_checks(c, sagad)
    return c.done("test_inspect")


if __name__ == "__main__":
    sys.exit(main())
