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
        conn = http.client.HTTPConnection(getattr(self, "host", "127.0.0.1"), self.port, timeout=30)
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
          "inventory_commit_failed", "order_cancelled", "inventory_released", "payment_refunded",
          "order_admin_action"]


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
        return consume_all(self.addr, prefix)


class KafkaCluster:
    """A real N-broker Apache Kafka cluster (KRaft) started by scripts/kafka-cluster.sh."""

    def __init__(self, brokers=3, auto_create=True):
        self.dir = tempfile.mkdtemp(prefix="saga-kafka-cluster-")
        self.brokers = brokers
        self.auto_create = auto_create
        self.addr = None

    def _run(self, *args, timeout=300):
        out = subprocess.run(["bash", os.path.join(ROOT, "scripts/kafka-cluster.sh")] + list(args),
                             capture_output=True, text=True, timeout=timeout)
        if out.returncode != 0:
            raise RuntimeError("kafka-cluster.sh %s failed: %s%s" % (args, out.stdout, out.stderr))
        return out.stdout

    def start(self):
        args = ["start", self.dir, "--brokers", str(self.brokers)]
        if not self.auto_create:
            args.append("--no-auto-create")
        self.addr = self._run(*args).strip().split()[-1]
        return self

    def broker(self, how, broker_id):
        """how: start, stop, kill, pause, resume (one broker, 1..N)."""
        self._run(how + "-broker", self.dir, str(broker_id))

    def admin(self):
        from confluent_kafka.admin import AdminClient
        return AdminClient({"bootstrap.servers": self.addr})

    def leader(self, topic, partition=0):
        md = self.admin().list_topics(topic, timeout=10)
        return md.topics[topic].partitions[partition].leader

    def consume_all(self, prefix=""):
        return consume_all(self.addr, prefix)

    def cleanup(self):
        try:
            self._run("kill", self.dir, timeout=120)
        except Exception as e:  # noqa: BLE001 - cleanup goes on
            print("cluster cleanup:", e)
        shutil.rmtree(self.dir, ignore_errors=True)


EVENT_SCHEMA = os.path.join(ROOT, "gateway", "events.schema.json")


def event_validator():
    """jsonschema validators of the published contract: (envelope, dead letter)."""
    import jsonschema
    with open(EVENT_SCHEMA) as f:
        schema = json.load(f)
    dead = dict(schema, **{"$ref": "#/definitions/dead_letter"})
    return jsonschema.Draft7Validator(schema), jsonschema.Draft7Validator(dead)


def consume_all(bootstrap, prefix="", dead_letter=False, timeout_s=120):
    """Every message of every saga topic from the beginning (duplicates kept), read with
    confluent-kafka by partition assignment up to each partition's end. Each envelope gets
    _topic, _partition, _offset, _key and _headers (a dict). Every message is validated
    against gateway/events.schema.json (AssertionError naming the first violation)."""
    from confluent_kafka import Consumer, KafkaError, TopicPartition
    envelope_v, dead_v = event_validator()
    topics = [prefix + t for t in TOPICS] + ([prefix + "saga_dead_letter"] if dead_letter else [])
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "e2e-reader-%d" % time.time_ns(),
                  "enable.auto.commit": False, "enable.partition.eof": True,
                  "auto.offset.reset": "earliest"})
    events = []
    try:
        deadline = time.time() + timeout_s
        parts = []
        for t in topics:
            while True:
                md = c.list_topics(t, timeout=10).topics.get(t)
                if md is not None and md.error is None:
                    parts += [TopicPartition(t, p, 0) for p in md.partitions]  # offset 0: beginning
                    break
                if md is not None and md.error.code() == KafkaError.UNKNOWN_TOPIC_OR_PART:
                    break  # never written to (auto-created topics only)
                if time.time() > deadline:
                    raise RuntimeError("no metadata for %s: %s" % (t, md and md.error))
                time.sleep(0.5)
        if not parts:
            return events
        c.assign(parts)
        pending = {(p.topic, p.partition) for p in parts}
        while pending:
            if time.time() > deadline:
                raise RuntimeError("partitions not read to their end: %s" % sorted(pending)[:5])
            m = c.poll(1.0)
            if m is None:
                continue
            if m.error():
                if m.error().code() == KafkaError._PARTITION_EOF:
                    pending.discard((m.topic(), m.partition()))
                continue  # transient (leader moving): the consumer retries by itself
            env = json.loads(m.value())
            v = dead_v if m.topic() == prefix + "saga_dead_letter" else envelope_v
            err = next(iter(v.iter_errors(env)), None)
            assert err is None, "message on %s breaks gateway/events.schema.json: %s at %s: %s" % (
                m.topic(), err.message, list(err.absolute_path), m.value()[:300])
            env["_topic"] = m.topic()[len(prefix):]
            env["_partition"] = m.partition()
            env["_offset"] = m.offset()
            env["_key"] = m.key().decode() if m.key() is not None else None
            env["_headers"] = {k: v.decode() for k, v in (m.headers() or [])}
            events.append(env)
    finally:
        c.close()
    return events
