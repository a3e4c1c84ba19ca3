"""Bounded by design: memory grows with work in flight and configured retention, never
with history. A warm-up, then two equal phases of closed-loop sagas (saga-loadgen, every branch mixed in)
through one node; after each, once nothing is in flight, the in-memory books and the
restart bookkeeping are empty and RSS after the second phase is where it was after the
first (history doubled, memory did not). SAGA_SOAK_SECONDS sets a phase's length (default
10; `bash scripts/soak.sh` runs the 200,000-saga figure of BENCHMARKS.md).
Usage: test_soak.py SAGAD SAGA_LOADGEN"""
import json
import os
import subprocess
import sys
import time

from sagalib import Checks, Node, SECRET, TOKEN


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def drained(n, timeout_s=120):
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        if n.metric('saga_live_actors{kind="order"}') == 0:
            return True
        time.sleep(0.2)
    return False


def phase(c, n, loadgen, seconds, seed):
    url = "http://127.0.0.1:%d" % n.port
    p = subprocess.run([loadgen, "--url", url, "--duration-s", str(seconds), "--concurrency", "32",
                        "--secret", SECRET, "--admin-token", TOKEN, "--seed", str(seed),
                        "--mix-out-of-stock", "0.05", "--mix-payment-failed", "0.05", "--json"],
                       capture_output=True, text=True, timeout=seconds + 300)
    c.check(p.returncode == 0, "loadgen run ok (%d): %s" % (p.returncode, p.stderr[-400:]))
    out = json.loads(p.stdout.strip().splitlines()[-1])
    c.check(drained(n), "every saga of the phase finished")
    time.sleep(1.5)  # the last forgets and timers settle
    books = {b: n.metric('saga_book_entries{book="%s"}' % b) for b in ("reservations", "intents", "restarts")}
    c.check(books == {"reservations": 0, "intents": 0, "restarts": 0},
            "nothing in flight, nothing in the books: %s" % books)
    memtables = (n.metric("saga_rocksdb_memtable_bytes") + n.metric("saga_rocksdb_block_cache_bytes")) // 1024
    return out.get("sagas_completed", 0), rss_kib(n.proc.pid) - memtables, memtables


def main():
    sagad, loadgen = sys.argv[1], sys.argv[2]
    seconds = int(os.environ.get("SAGA_SOAK_SECONDS", "10"))
    c = Checks()
    # Kafka off: the embedded mock cluster keeps every message in memory (development only).
    n = Node(sagad, overrides={"log.level": "warn", "payment.timeout_ms": 3000,
                               "saga.auto_complete_ms": 200, "kafka.enabled": "false"})
    try:
        n.start()
        phase(c, n, loadgen, seconds, 0)  # warm-up: caches, arenas and memtables fill once
        done1, rss1, mem1 = phase(c, n, loadgen, seconds, 1)
        done2, rss2, mem2 = phase(c, n, loadgen, seconds, 2)
        print("soak: phase 1 %d sagas, RSS %d KiB besides %d KiB of RocksDB memtables and block cache; phase 2 %d more "
              "(history x%.1f), RSS %d KiB besides %d KiB of RocksDB memtables and block cache"
              % (done1, rss1, mem1, done2, (done1 + done2) / max(done1, 1), rss2, mem2), flush=True)
        c.check(done1 > 0 and done2 > 0, "sagas completed in both phases")
        # The books above are the exact check. RSS over 10 s phases moves by tens of MB with
        # the allocator's high-water marks (seen: +42 MB, -33 MB between equal phases), so
        # here it is a loose bound; scripts/soak.sh measures it over long phases.
        c.check(rss2 <= rss1 + 64 * 1024,
                "RSS did not grow with history: %d KiB after phase 1 (%d sagas), %d KiB after "
                "phase 2 (%d more)" % (rss1, done1, rss2, done2))
        c.check(n.stop() == 0, "clean stop")
    finally:
        n.cleanup()
    return c.done("test_soak")


if __name__ == "__main__":
    sys.exit(main())
