#!/usr/bin/env python3
"""Step 0 of ownership from a Kafka consumer group (issue 25, docs/membership-design.md):
what a group of static, cooperative-sticky members (bench/group_membership.cpp) does when one
is killed, restarted, added or stopped, against a real broker cluster. Figures, not checks:
the time until every partition is assigned to a live member again, how many partitions
moved, and whether a partition was ever assigned to two live members at once.

  python3 bench/group_membership.py build/bin/bench_group BROKERS [--partitions 12]
      [--session-ms 6000] [--heartbeat-ms 1000]
(scripts/bench-group.sh starts the brokers and runs it.)"""
import argparse
import signal
import subprocess
import threading
import time
import uuid

LOCK = threading.Lock()


class Member:
    def __init__(self, run, mid):
        self.run, self.id = run, mid
        self.owned = set()
        self.live = True
        self.lines = []
        self.p = subprocess.Popen([run.exe, "member", run.brokers, run.group, run.topic, mid,
                                   str(run.session_ms), str(run.heartbeat_ms)],
                                  stdout=subprocess.PIPE, text=True)
        threading.Thread(target=self.read, daemon=True).start()

    def read(self):
        for line in self.p.stdout:
            parts = line.split()
            if len(parts) < 3:
                continue
            kind, ms = parts[0], int(parts[1]) / 1000.0
            with LOCK:
                self.lines.append((ms, line.strip()))
                if kind == "FATAL":  # fenced by a second process with its instance id
                    self.live = False
                    self.owned = set()
                    continue
                if kind not in ("ASSIGN", "REVOKE"):
                    continue
                ps = set() if len(parts) < 4 or parts[3] == "-" else {int(x) for x in parts[3].split(",")}
                if kind == "ASSIGN":
                    others = [m for m in self.run.members if m is not self and m.live and m.owned & ps]
                    if others:
                        self.run.overlaps += 1
                    self.owned |= ps
                elif kind == "REVOKE":
                    self.owned -= ps
                    if "lost=1" in line:
                        self.run.lost += 1
                self.run.changed(ms, self, kind, ps)


class Run:
    def __init__(self, a):
        self.exe, self.brokers, self.partitions = a.exe, a.brokers, a.partitions
        self.session_ms, self.heartbeat_ms = a.session_ms, a.heartbeat_ms
        self.group = "bench-group-" + uuid.uuid4().hex[:8]
        self.topic = "bench_group_" + uuid.uuid4().hex[:8]
        self.members = []
        self.overlaps = self.lost = 0
        self.covered_at = None
        self.last_change = time.time()
        self.moves = 0  # partitions newly assigned since the mark

    def changed(self, ms, m, kind, ps):
        self.last_change = time.time()
        if kind == "ASSIGN":
            self.moves += len(ps)
        if self.covered_at is None and self.covered():
            self.covered_at = ms

    def covered(self):
        owned = set()
        for m in self.members:
            if m.live:
                owned |= m.owned
        return owned == set(range(self.partitions))

    def mark(self):
        with LOCK:
            self.covered_at = None if not self.covered() else self.covered_at
            self.moves = 0

    def wait_covered(self, since, timeout_s=90):
        """Seconds from `since` until every partition is assigned to a live member."""
        deadline = time.time() + timeout_s
        while time.time() < deadline:
            with LOCK:
                if self.covered() and self.covered_at is not None:
                    return max(0.0, self.covered_at - since)
                if self.covered():
                    return max(0.0, time.time() - since)
            time.sleep(0.01)
        raise SystemExit("not every partition was assigned within %d s: %s" % (
            timeout_s, {m.id: sorted(m.owned) for m in self.members if m.live}))

    def wait_quiet(self, quiet_s=None):
        """Until no member's assignment changed for a few heartbeats."""
        quiet_s = quiet_s or max(2.0, 3 * self.heartbeat_ms / 1000.0)
        while time.time() - self.last_change < quiet_s:
            time.sleep(0.05)

    def layout(self):
        with LOCK:
            return " ".join("%s=%d" % (m.id, len(m.owned)) for m in self.members if m.live)

    def add(self, mid):
        m = Member(self, mid)
        with LOCK:
            self.members = [x for x in self.members if x.id != mid] + [m]
        return m

    def start_and_wait(self, mid):
        """Starts member `mid`; (it, seconds until its first partitions), once quiet again."""
        self.mark()
        t = time.time()
        m = self.add(mid)
        while not m.owned and time.time() - t < 60:
            time.sleep(0.01)
        took = time.time() - t
        self.wait_quiet()
        return m, took

    def stop_and_wait(self, m, sig):
        """Signals member `m` to stop (SIGTERM: leave, SIGINT: close only); seconds until every
        partition is assigned to the others, once quiet again."""
        self.mark()
        t = time.time()
        m.p.send_signal(sig)
        m.p.wait()
        with LOCK:
            m.live = False
            m.owned = set()
            self.covered_at = None
        took = self.wait_covered(t)
        self.wait_quiet()
        return took

    def kill(self, m):
        m.p.kill()
        m.p.wait()
        with LOCK:
            m.live = False
            m.owned = set()
            self.covered_at = None
            self.moves = 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("exe")
    ap.add_argument("brokers")
    ap.add_argument("--partitions", type=int, default=12)
    ap.add_argument("--session-ms", type=int, default=6000)
    ap.add_argument("--heartbeat-ms", type=int, default=1000)
    a = ap.parse_args()
    r = Run(a)
    subprocess.run([a.exe, "create", a.brokers, r.topic, str(a.partitions)], check=True)
    print("group %s, topic %s (%d partitions), session.timeout.ms=%d heartbeat.interval.ms=%d"
          % (r.group, r.topic, a.partitions, a.session_ms, a.heartbeat_ms), flush=True)
    figures = {}

    t = time.time()
    ms = [r.add("m%d" % i) for i in (1, 2, 3)]
    figures["form_s"] = r.wait_covered(t)
    r.wait_quiet()
    print("3 members: every partition assigned after %.2f s; %s" % (figures["form_s"], r.layout()), flush=True)

    # kill -9: nothing is sent; the coordinator expires the member after session.timeout.ms.
    r.mark()
    t = time.time()
    r.kill(ms[2])
    figures["kill9_s"] = r.wait_covered(t)
    r.wait_quiet()
    print("kill -9 m3: every partition assigned again after %.2f s (%d assignments); %s"
          % (figures["kill9_s"], r.moves, r.layout()), flush=True)

    # The same static member back after its expiry: a rebalance gives it a share.
    m3, figures["rejoin_s"] = r.start_and_wait("m3")
    print("m3 started again: its first partitions after %.2f s; %d partitions moved; %s"
          % (figures["rejoin_s"], r.moves, r.layout()), flush=True)

    # Quick restart within session.timeout.ms: static membership keeps the assignment.
    before = set(m3.owned)
    r.mark()
    t = time.time()
    r.kill(m3)
    time.sleep(0.5)
    m3 = r.add("m3")
    while m3.owned != before and time.time() - t < 60:
        time.sleep(0.01)
    figures["quick_restart_s"] = time.time() - t
    r.wait_quiet()
    print("kill -9 m3 and start it 0.5 s later: %s its partitions again after %.2f s; %d "
          "partitions assigned in all; %s" % ("same" if m3.owned == before else "NOT the same",
                                              figures["quick_restart_s"], r.moves, r.layout()),
          flush=True)

    # A fourth member joins (cooperative: the others keep what they keep).
    m4, figures["join_s"] = r.start_and_wait("m4")
    print("m4 joins: its first partitions after %.2f s; %d partitions moved; %s"
          % (figures["join_s"], r.moves, r.layout()), flush=True)

    # Graceful leave: unsubscribe (LeaveGroup), then close.
    figures["leave_s"] = r.stop_and_wait(ms[0], signal.SIGTERM)
    print("m1 leaves (unsubscribe, then close): every partition assigned again after %.2f s; "
          "%d partitions moved; %s" % (figures["leave_s"], r.moves, r.layout()), flush=True)

    # Close only: a static member sends no LeaveGroup.
    figures["close_only_s"] = r.stop_and_wait(ms[1], signal.SIGINT)
    print("m2 closes without leaving: every partition assigned again after %.2f s; %s"
          % (figures["close_only_s"], r.layout()), flush=True)

    # A second process with a live member's instance id (two nodes with one node id).
    with LOCK:
        overlaps_before_twin = r.overlaps
    twin = Member(r, "m4")
    t = time.time()
    while time.time() - t < 30 and twin.p.poll() is None and m4.p.poll() is None:
        time.sleep(0.05)
    said = [l for _, l in m4.lines + twin.lines if l.startswith("FATAL")]
    print("a second process joins as m4: after %.2f s %s; %s" % (
        time.time() - t,
        "the running m4 exited" if m4.p.poll() is not None else
        "the newcomer exited" if twin.p.poll() is not None else "both still run",
        said[0] if said else "no FATAL line"), flush=True)
    with LOCK:
        r.members.append(twin)
    for m in r.members:
        if m.p.poll() is None:
            m.p.terminate()
    for m in r.members:
        m.p.wait()
    print("a partition assigned to a member while another live one held it (in the order the "
          "lines arrived): %d before the second m4, %d in all; revocations as lost: %d"
          % (overlaps_before_twin, r.overlaps, r.lost), flush=True)
    print("GROUP " + " ".join("%s=%.2f" % kv for kv in figures.items()), flush=True)


if __name__ == "__main__":
    main()
