#!/usr/bin/env python3
"""Rebuilds every order's history from the saga's Kafka topics: a consumer in another
language than the node, with nothing but the published contract (GET /asyncapi.json).

  pip install confluent-kafka==2.6.1
  python3 examples/order_history_consumer.py --bootstrap 127.0.0.1:9092 \
      --asyncapi http://127.0.0.1:8080/asyncapi.json [--group order-history] [--prefix ""]

It subscribes to every event topic in a consumer group, reads until it has seen the end of
every partition and nothing new arrived for --idle-ms, and prints one JSON document:
  {"messages": N, "duplicates": D, "gaps": [...], "orders": {order_id: [[seq, type], ...]}}
Delivery is at least once: a message may arrive twice, always with the same event_id, so
duplicates are dropped by event_id. Per order, seq runs 1, 2, 3, ... without gaps; the
events of one order are spread over several topics (one per type), so the history is
ordered by seq, not by arrival. Offsets are committed after each batch is applied.
"""
import argparse
import json
import sys
import time
import urllib.request

from confluent_kafka import Consumer, KafkaError

EVENT_TYPES = ["ordercreated", "inventory_reserved", "inventory_reservation_failed",
               "payment_initiated", "payment_succeeded", "payment_failed", "order_completed",
               "inventory_committed", "inventory_commit_failed", "order_cancelled",
               "inventory_released", "payment_refunded", "order_admin_action"]


def topics_from_asyncapi(url, prefix):
    """Event topics from the node's AsyncAPI document (every channel but the dead letter)."""
    with urllib.request.urlopen(url, timeout=10) as r:
        doc = json.load(r)
    return [prefix + c["address"].replace("{prefix}", "") for name, c in doc["channels"].items()
            if name != "saga_dead_letter"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--asyncapi", help="URL of the node's /asyncapi.json (else the built-in list)")
    ap.add_argument("--prefix", default="", help="kafka.topic_prefix of the node")
    ap.add_argument("--group", default="order-history")
    ap.add_argument("--idle-ms", type=int, default=3000)
    ap.add_argument("--timeout-s", type=int, default=120)
    args = ap.parse_args()
    topics = (topics_from_asyncapi(args.asyncapi, args.prefix) if args.asyncapi
              else [args.prefix + t for t in EVENT_TYPES])
    consumer = Consumer({"bootstrap.servers": args.bootstrap, "group.id": args.group,
                         "auto.offset.reset": "earliest", "enable.auto.commit": False,
                         "enable.partition.eof": True})
    consumer.subscribe(topics)
    histories = {}   # order_id -> {seq: type}
    seen = set()     # event_ids applied
    messages = duplicates = 0
    at_eof = set()
    last_new = time.time()
    deadline = time.time() + args.timeout_s
    try:
        while time.time() < deadline:
            batch = consumer.consume(num_messages=500, timeout=0.5)
            for m in batch:
                if m.error():
                    if m.error().code() == KafkaError._PARTITION_EOF:
                        at_eof.add((m.topic(), m.partition()))
                        continue
                    raise SystemExit("kafka error: %s" % m.error())
                at_eof.discard((m.topic(), m.partition()))
                messages += 1
                last_new = time.time()
                event = json.loads(m.value())
                if event["event_id"] in seen:
                    duplicates += 1  # the same event again (at-least-once delivery)
                    continue
                seen.add(event["event_id"])
                histories.setdefault(event["order_id"], {})[event["seq"]] = event["type"]
            if batch:
                consumer.commit(asynchronous=False)
            assigned = {(p.topic, p.partition) for p in consumer.assignment()}
            if assigned and assigned <= at_eof and time.time() - last_new > args.idle_ms / 1000:
                break
        else:
            raise SystemExit("not at the end of every partition within %d s" % args.timeout_s)
    finally:
        consumer.close()
    gaps = [oid for oid, h in histories.items() if sorted(h) != list(range(1, len(h) + 1))]
    json.dump({"messages": messages, "duplicates": duplicates, "gaps": gaps,
               "orders": {oid: [[s, h[s]] for s in sorted(h)] for oid, h in histories.items()}},
              sys.stdout)
    print()


if __name__ == "__main__":
    main()
