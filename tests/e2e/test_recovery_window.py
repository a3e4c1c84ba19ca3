"""A start after a crash under load does not drown in its own recovery: N orders that were
mid-step (created, their reservation not yet answered) are re-activated within a window of
active sagas (saga.recovery_batch), refilled as they settle, so none times out behind the
others' backlog and ends parked, every one finishes, and memory stays bounded. /readyz shows
the recovery's progress. The orders are written into the stopped node's real RocksDB by
tests/tools/midstep_orders (the node's own codecs), then a real sagad starts on it.
Usage: test_recovery_window.py SAGAD MIDSTEP_ORDERS [N]"""
import os
import re
import subprocess
import sys
import time

from sagalib import Checks, Node

TERMINAL = ("COMPLETED", "FAILED")


def status_counts(n):
    st, text = n.request("GET", "/metrics")
    text = text.decode() if isinstance(text, bytes) else str(text)
    out = {}
    for m in re.finditer(r'^saga_orders\{status="([A-Z_]+)"\} (\S+)$', text, re.M):
        out[m.group(1)] = int(float(m.group(2)))
    return out


def rss_kb(pid, field):
    with open("/proc/%d/status" % pid) as f:
        for l in f:
            if l.startswith(field + ":"):
                return int(l.split()[1])
    return 0


def main():
    sagad, tool = sys.argv[1], sys.argv[2]
    count = int(sys.argv[3]) if len(sys.argv) > 3 else 20000
    c = Checks()
    # Payments expire soon, so every re-activated saga ends (FAILED, payment_expired)
    # without a client; the default request time-out (5 s) is what a backlog would exceed.
    n = Node(sagad, overrides={"payment.timeout_ms": 3000, "saga.max_live_orders": 1000000})
    try:
        n.start()
        n.stock("R", count + 5000, 100)
        c.check(n.stop() == 0, "clean stop of the empty node")
        out = subprocess.run([tool, os.path.join(n.data_dir, "node-1"), str(count), "R", "100", "4"],
                             capture_output=True, text=True, timeout=300)
        c.check(out.returncode == 0, "mid-step orders written: %s%s" % (out.stdout, out.stderr))
        t0 = time.time()
        n.start(timeout_s=120)
        ready_s = time.time() - t0
        pid = n.proc.pid
        st, body = n.request("GET", "/readyz")
        rec = body.get("detail", {}).get("recovery", {})
        c.check(st == 200 and rec.get("window", 0) > 0 and rec.get("active", 0) <= rec.get("window", 0),
                "/readyz shows the recovery window: %s" % rec)
        deadline = time.time() + 400
        parked_max, active_max, counts = 0, 0, {}
        progress, last_done = time.time(), -1
        while time.time() < deadline and time.time() - progress < 60:
            counts = status_counts(n)
            done = sum(counts.get(s, 0) for s in TERMINAL)
            if done != last_done:
                progress, last_done = time.time(), done
            parked_max = max(parked_max, int(n.metric("saga_orders_parked") or 0))
            st, body = n.request("GET", "/readyz")
            rec = body.get("detail", {}).get("recovery", {})
            active_max = max(active_max, rec.get("active", 0))
            if sum(counts.get(s, 0) for s in TERMINAL) >= count and rec.get("pending", 1) == 0:
                break
            time.sleep(1)
        took = time.time() - t0
        hwm = rss_kb(pid, "VmHWM")
        print("recovery of %d mid-step orders: ready in %.1f s, all settled in %.1f s, peak RSS %d MB, "
              "most active at once %d, statuses %s" % (count, ready_s, took, hwm // 1024, active_max, counts))
        c.check(sum(counts.get(s, 0) for s in TERMINAL) == count,
                "every re-activated order finished: %s" % counts)
        c.check(parked_max == 0, "none parked (at most %d were)" % parked_max)
        retries, restarts = n.metric("saga_command_retries_total"), n.metric("saga_order_restarts_total")
        c.check(retries == 0 and restarts == 0,
                "no re-activated saga's command timed out behind the backlog: %s retries, %s "
                "restarts" % (retries, restarts))
        c.check(active_max <= 256, "at most saga.recovery_batch (256) re-activated sagas in flight "
                "per the last /readyz reads (%d)" % active_max)
        c.check(hwm < 1024 * 1024, "memory bounded: peak RSS %d MB < 1024 MB" % (hwm // 1024))
        r = n.sku("R")
        c.check(r["reserved"] == 0 and r["available"] == count + 5000,
                "every reservation released: %s" % r)
        c.check(n.stop() == 0, "clean stop")
    finally:
        n.cleanup()
    return c.done("test_recovery_window")


if __name__ == "__main__":
    sys.exit(main())
