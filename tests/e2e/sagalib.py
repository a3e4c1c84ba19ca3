"""Helpers for multi-process tests: start real sagad processes on free ports with their
own RocksDB directory, talk HTTP to them, kill them with SIGKILL."""
import hashlib
import hmac
import http.client
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time

import contract

SECRET = "e2e-secret"
TOKEN = "e2e-token"


class Node:
    def __init__(self, sagad, data_dir=None, overrides=None, log_name="sagad", env=None):
        self.env = env  # extra environment variables of the sagad process
        self.sagad = sagad
        self.own_dir = data_dir is None
        self.data_dir = data_dir or tempfile.mkdtemp(prefix="saga-e2e-")
        self.overrides = dict(overrides or {})
        self.proc = None
        self.port = None
        self.log_path = os.path.join(self.data_dir, log_name + ".log")
        self.placed = []  # order ids answered 201 by this node

    def start(self, timeout_s=30):
        args = [self.sagad, "--node", "node-1",
                "--set", "http.port=0",
                "--set", "storage.dir=" + self.data_dir,
                "--set", "payment.provider_secret=" + SECRET,
                "--set", "security.admin_token=" + TOKEN]
        for k, v in self.overrides.items():
            args += ["--set", "%s=%s" % (k, v)]
        self.log = open(self.log_path, "ab", buffering=0)
        env = dict(os.environ, **self.env) if self.env else None
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=self.log, env=env)
        deadline = time.time() + timeout_s
        while time.time() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError("sagad exited before ready; see " + self.log_path)
            self.log.write(line)
            if line.startswith(b"SAGAD READY"):
                self.port = int(line.split(b"http_port=")[1])
                break
        else:
            raise RuntimeError("sagad not ready in time")
        # keep draining stdout (logs) so the process never blocks on a full pipe
        import threading
        def drain(p=self.proc, out=self.log):
            for l in p.stdout:
                out.write(l)
        threading.Thread(target=drain, daemon=True).start()
        return self

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                code = self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                raise RuntimeError("sagad did not stop on SIGTERM")
            return code
        return self.proc.returncode if self.proc else None

    def dump_log(self, lines=60):
        try:
            with open(self.log_path, "rb") as f:
                tail = f.read().decode(errors="replace").splitlines()[-lines:]
            print("---- last lines of %s ----" % self.log_path)
            print("\n".join(tail), flush=True)
        except OSError:
            pass

    def cleanup(self):
        import sys as _sys
        if _sys.exc_info()[0] is not None:
            self.dump_log()
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.own_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    # ---- HTTP ----
    def request(self, method, path, body=None, headers=None, raw=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        h = {"Content-Type": "application/json"}
        h.update(headers or {})
        data = raw if raw is not None else (json.dumps(body) if body is not None else None)
        conn.request(method, path, body=data, headers=h)
        resp = conn.getresponse()
        text = resp.read()
        conn.close()
        # Every answer is checked against the API contract (gateway/openapi.json).
        contract.check_response(method, path, resp.status, resp.getheader("Content-Type"),
                                text.decode(errors="replace"))
        try:
            parsed = json.loads(text) if text else None
        except ValueError:
            parsed = text
        return resp.status, parsed

    def stock(self, sku, on_hand, price_cents):
        st, body = self.request("PUT", "/inventory/" + sku,
                                {"on_hand": on_hand, "price_cents": price_cents},
                                {"Authorization": "Bearer " + TOKEN})
        assert st == 200, (st, body)
        return body

    def sku(self, sku):
        st, body = self.request("GET", "/inventory/" + sku)
        assert st == 200, (st, body)
        return body

    def order(self, oid):
        st, body = self.request("GET", "/orders/" + oid)
        assert st == 200, (st, body)
        return body

    def place(self, items, customer="c1"):
        st, body = self.request("POST", "/orders", {"customer_id": customer, "items": items})
        if st == 201:
            self.placed.append(body["order_id"])
        return st, body

    def metric(self, name):
        """Value of an unlabelled Prometheus metric."""
        st, text = self.request("GET", "/metrics")
        text = text.decode() if isinstance(text, bytes) else str(text)
        for l in text.splitlines():
            if l.startswith(name + " "):
                return float(l.split()[-1])
        return None

    def verify(self, oid, status, signature=None):
        pid = "pay_" + oid
        sig = signature or sign(oid, pid, status)
        return self.request("POST", "/payment/verify",
                            {"order_id": oid, "payment_id": pid, "status": status, "signature": sig})

    def wait_for(self, oid, pred, timeout_s=20):
        deadline = time.time() + timeout_s
        while time.time() < deadline:
            o = self.order(oid)
            if pred(o):
                return o
            time.sleep(0.02)
        raise AssertionError("order %s did not reach the expected state: %s" % (oid, self.order(oid)))


def sign(order_id, payment_id, status, secret=SECRET):
    msg = ("%s|%s|%s" % (order_id, payment_id, status)).encode()
    return hmac.new(secret.encode(), msg, hashlib.sha256).hexdigest()


def conserved(sku):
    return sku["available"] >= 0 and sku["reserved"] >= 0 and sku["committed"] >= 0


class Checks:
    def __init__(self):
        self.failed = 0
        self.passed = 0

    def check(self, cond, what):
        if cond:
            self.passed += 1
        else:
            self.failed += 1
            print("FAIL:", what, flush=True)

    def done(self, name):
        print("%s: %d checks passed, %d failed; %d answers matched the API contract"
              % (name, self.passed, self.failed, contract.checked["responses"]), flush=True)
        return 1 if self.failed else 0


ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOPICS = ["ordercreated", "inventory_reserved", "inventory_reservation_failed", "payment_initiated",
          "payment_succeeded", "payment_failed", "order_completed", "inventory_committed",
          "inventory_commit_failed", "order_cancelled", "inventory_released", "payment_refunded"]


class Broker:
    """A real Apache Kafka broker (KRaft) started by scripts/kafka-broker.sh."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="saga-kafka-")
        self.addr = None

    def start(self):
        out = subprocess.run(["bash", os.path.join(ROOT, "scripts/kafka-broker.sh"), "start", self.dir],
                             capture_output=True, text=True, timeout=300)
        if out.returncode != 0:
            raise RuntimeError("broker did not start: " + out.stdout + out.stderr)
        self.addr = out.stdout.strip().split()[-1]
        return self

    def stop(self, how="stop"):
        subprocess.run(["bash", os.path.join(ROOT, "scripts/kafka-broker.sh"), how, self.dir],
                       capture_output=True, timeout=120)

    def cleanup(self):
        self.stop("kill")
        shutil.rmtree(self.dir, ignore_errors=True)

    def consume_all(self, prefix=""):
        """Every message of every saga topic, as parsed envelopes (duplicates kept)."""
        events = []
        for t in TOPICS:
            # Right after a broker restart a partition may have no leader yet and kcat
            # stops with an error: read the topic again until it is read cleanly.
            for attempt in range(30):
                out = subprocess.run(["kcat", "-C", "-b", self.addr, "-t", prefix + t, "-e", "-o", "beginning",
                                      "-f", "%h\t%s\n"], capture_output=True, text=True, timeout=120)
                if out.returncode == 0 and "ERROR" not in out.stderr and "rror" not in out.stderr:
                    break
                if "Unknown topic" in out.stderr or "UNKNOWN_TOPIC" in out.stderr:
                    out.stdout = ""
                    break
                time.sleep(1)
            else:
                raise RuntimeError("kcat could not read %s: %s" % (t, out.stderr[-500:]))
            for line in out.stdout.splitlines():
                if not line.strip():
                    continue
                headers, _, value = line.partition("\t")
                env = json.loads(value)
                env["_topic"] = t
                env["_headers"] = headers
                events.append(env)
        return events
