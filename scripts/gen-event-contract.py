#!/usr/bin/env python3
"""The published event contract, generated from one description:
  gateway/events.schema.json  JSON Schema (draft-07) of every Kafka message sagad publishes
  gateway/asyncapi.json       AsyncAPI 3.0 document: topics, key, headers, payloads (served
                              at GET /asyncapi.json, beside /openapi.json)
  python3 scripts/gen-event-contract.py          # writes both
  python3 scripts/gen-event-contract.py --check  # fails if either differs (a test runs it)
Sources: actors/order/saga.cpp (event data), actors/sink/event_envelope.cpp encode(saga_event) (envelope),
actors/sink/kafka_relay.cpp dead_letter() (dead-letter message), gateway/requests.{hpp,cpp}
(input limits), actors/order/owner_idempotency.cpp new_order_id(), actors/inventory/inventory_book.cpp
(reason strings)."""
import json

ORDER_ID = "^ord_[0-9a-f]{16}$"
PAYMENT_ID = "^pay_ord_[0-9a-f]{16}$"

# type -> (source, description)
TYPES = {
    "ordercreated": ("order", "The order was accepted and made durable (POST /orders)."),
    "inventory_reserved": ("inventory", "Every inventory partition reserved the order's items."),
    "inventory_reservation_failed": ("inventory", "A partition refused the reservation."),
    "payment_initiated": ("order", "The payment worker holds the payment intent."),
    "payment_succeeded": ("payment", "The provider's signed verdict was 'succeeded' (with late: a capture after "
                                     "the intent expired or the order was compensated, refunded at once)."),
    "payment_failed": ("payment", "The provider declined the payment or the intent expired."),
    "order_completed": ("order", "Completion was requested (or the auto-complete timer fired); commit follows."),
    "inventory_committed": ("inventory", "The reservation was committed: the order is COMPLETED."),
    "inventory_commit_failed": ("inventory", "The commit was refused (reservation expired/released/missing)."),
    "order_cancelled": ("order", "Compensation started: the reservation is released next."),
    "inventory_released": ("inventory", "The reservation was released (compensation)."),
    "payment_refunded": ("payment", "A succeeded payment was refunded after a failed commit or compensation, "
                                    "or (with late) a late capture was refunded."),
    "order_admin_action": ("admin", "An operator's retry or compensate on a parked order."),
}

STEPS_NON_TERMINAL = ["reserving_inventory", "initiating_payment", "awaiting_payment",
                      "awaiting_completion", "committing_inventory", "releasing_inventory",
                      "refunding_payment"]


def empty(desc):
    return {"type": "object", "description": desc + " Always an empty object (no data).",
            "properties": {}, "additionalProperties": False}


payment_id = {"$ref": "#/definitions/payment_id"}
amount = {"type": "integer", "minimum": 0, "maximum": 9007199254740992,
          "description": "The order's selling_price_cents (sum of quantity x unit_price_cents); "
                         "POST /orders refuses a total over 2^53 (422 out_of_range)."}

late = {"const": True,
        "description": "Present only on a late capture: the provider's success came after the intent expired or "
                       "after the order was compensated; the payment is refunded at once (payment_refunded with "
                       "late follows), and the order stays FAILED."}


data = {
    "ordercreated": {
        "type": "object",
        "description": "Data of ordercreated (saga.cpp create_order).",
        "required": ["customer_id", "items", "selling_price_cents"],
        "additionalProperties": False,
        "properties": {
            "customer_id": {"type": "string", "minLength": 1, "maxLength": 128,
                            "description": "Customer id from POST /orders (1..128 UTF-8 bytes, any characters)."},
            "items": {"type": "array", "minItems": 1, "maxItems": 100, "uniqueItems": True,
                      "description": "The order lines in request order; SKUs are distinct.",
                      "items": {"$ref": "#/definitions/order_item"}},
            "selling_price_cents": dict(amount, description=amount["description"].replace(
                "The order's selling_price_cents", "Total price in cents")),
        },
    },
    "inventory_reserved": empty("Data of inventory_reserved."),
    "inventory_reservation_failed": {
        "type": "object",
        "description": "Data of inventory_reservation_failed.",
        "required": ["reason"], "additionalProperties": False,
        "properties": {"reason": {
            "type": "string", "minLength": 1,
            "pattern": "^(insufficient stock for sku .+|unknown sku .+|invalid quantity for sku .+"
                       "|reservation was already (released|expired))$",
            "description": "The first refusing partition's reason (inventory_book::reserve), "
                           "e.g. 'insufficient stock for sku A'."}},
    },
    "payment_initiated": {
        "type": "object",
        "description": "Data of payment_initiated.",
        "required": ["payment_id", "amount_cents", "expires_at_ms"], "additionalProperties": False,
        "properties": {
            "payment_id": payment_id,
            "amount_cents": dict(amount, description="Amount of the intent: " + amount["description"]),
            "expires_at_ms": {"type": "integer",
                              "description": "Wall-clock ms when the intent expires: time of inventory_reserved + payment.timeout_ms."},
        },
    },
    "payment_succeeded": {
        "type": "object", "description": "Data of payment_succeeded.",
        "required": ["payment_id"], "additionalProperties": False,
        "properties": {"payment_id": payment_id, "late": late},
    },
    "payment_failed": {
        "type": "object", "description": "Data of payment_failed.",
        "required": ["payment_id", "reason"], "additionalProperties": False,
        "properties": {
            "payment_id": payment_id,
            "reason": {"enum": ["declined", "expired", "cancelled"],
                       "description": "'declined': verified with status failed; 'expired': no verdict before "
                                      "expires_at_ms; 'cancelled': the order was compensated by an operator while "
                                      "its payment was open, and the pending intent was cancelled (a later "
                                      "success is a late capture: recorded and refunded)."},
        },
    },
    "order_completed": {
        "type": "object", "description": "Data of order_completed.",
        "required": ["trigger"], "additionalProperties": False,
        "properties": {"trigger": {"enum": ["request", "timer"],
                                   "description": "'request': POST /order/complete or a succeeded /payment/verify; 'timer': saga.auto_complete_ms elapsed."}},
    },
    "inventory_committed": empty("Data of inventory_committed."),
    "inventory_commit_failed": {
        "type": "object", "description": "Data of inventory_commit_failed.",
        "required": ["reason"], "additionalProperties": False,
        "properties": {"reason": {
            "enum": ["reservation expired", "reservation was released", "no reservation for this order"],
            "description": "Why the first refusing partition refused the commit (inventory_book::commit)."}},
    },
    "order_cancelled": {
        "type": "object", "description": "Data of order_cancelled.",
        "required": ["reason"], "additionalProperties": False,
        "properties": {"reason": {
            "enum": ["inventory_reservation_failed", "payment_failed", "payment_expired",
                     "inventory_commit_failed", "cancelled"],
            "description": "The order's failure_reason; 'cancelled' after an operator's compensate."}},
    },
    "inventory_released": empty("Data of inventory_released."),
    "payment_refunded": {
        "type": "object", "description": "Data of payment_refunded.",
        "required": ["payment_id", "amount_cents"], "additionalProperties": False,
        "properties": {
            "payment_id": payment_id,
            "amount_cents": dict(amount, description="Refunded amount: " + amount["description"]),
            "late": late,
        },
    },
    "order_admin_action": {
        "type": "object", "description": "Data of order_admin_action (saga.cpp admin()).",
        "required": ["action", "step"], "additionalProperties": False,
        "properties": {
            "action": {"enum": ["retry", "compensate"],
                       "description": "POST /admin/orders/{id}/retry or /compensate."},
            "step": {"enum": STEPS_NON_TERMINAL,
                     "description": "The saga step the parked order was in when the action was taken (never a terminal step)."},
            "note": {"type": "string", "minLength": 1, "maxLength": 500,
                     "description": "The operator's note from the request body; omitted when absent or empty (at most 500 UTF-8 bytes)."},
        },
    },
}

defs = {
    "order_id": {"type": "string", "pattern": ORDER_ID,
                 "description": "Order id generated by the node: 'ord_' + 16 lowercase hex digits; the first four are its partition (saga.partitions)."},
    "payment_id": {"type": "string", "pattern": PAYMENT_ID,
                   "description": "Payment intent id: always 'pay_' + the order_id."},
    "event_id": {"type": "string", "pattern": "^ord_[0-9a-f]{16}-[1-9][0-9]*$",
                 "description": "order_id + '-' + seq; stable across re-publication, the de-duplication key."},
    "seq": {"type": "integer", "minimum": 1, "maximum": 18446744073709551615,
            "description": "The order's gapless event sequence number (uint64), starting at 1."},
    "event_type": {"enum": list(TYPES), "description": "Event name; also the topic (after kafka.topic_prefix)."},
    "order_item": {
        "type": "object", "description": "One order line.",
        "required": ["sku", "quantity", "unit_price_cents"], "additionalProperties": False,
        "properties": {
            "sku": {"type": "string", "pattern": "^[!-~]{1,64}$",
                    "description": "A stocked SKU: 1..64 printable ASCII characters (PUT /inventory validation)."},
            "quantity": {"type": "integer", "minimum": 1, "maximum": 1000000,
                         "description": "Units ordered (1..1,000,000)."},
            "unit_price_cents": {"type": "integer", "minimum": 0, "maximum": 100000000000,
                                 "description": "Catalog price per unit at order time (0..1e11 cents)."},
        },
    },
}
for t, d in data.items():
    defs["data_" + t] = d

defs["envelope"] = {
    "type": "object",
    "description": "Value of every message on an event topic (actors/sink/event_envelope.cpp encode(saga_event)); "
                   "key = order_id, headers 'type' and 'traceparent'.",
    "required": ["event_id", "type", "order_id", "seq", "ts", "node", "source", "data"],
    "additionalProperties": False,
    "properties": {
        "event_id": {"$ref": "#/definitions/event_id"},
        "type": {"$ref": "#/definitions/event_type"},
        "order_id": {"$ref": "#/definitions/order_id"},
        "seq": {"$ref": "#/definitions/seq"},
        "ts": {"type": "integer", "description": "Wall-clock time of the event, ms since the Unix epoch (int64)."},
        "node": {"type": "string", "minLength": 1, "description": "Id of the node that recorded the event (--node, listed in cluster.nodes)."},
        "source": {"enum": ["order", "inventory", "payment", "admin"],
                   "description": "Component the event is attributed to; fixed per type."},
        "data": {"type": "object", "description": "Type-specific payload; see data_<type>."},
    },
    "allOf": [
        {"if": {"properties": {"type": {"const": t}}, "required": ["type"]},
         "then": {"properties": {"source": {"const": src}, "data": {"$ref": "#/definitions/data_" + t}}}}
        for t, (src, _) in TYPES.items()
    ],
}

defs["dead_letter"] = {
    "type": "object",
    "description": "Value of a message on <prefix>saga_dead_letter (kafka_relay.cpp dead_letter()): an outbox "
                   "entry the producer refused or that failed kafka.max_delivery_attempts times. Key = order_id, header type=saga_dead_letter.",
    "required": ["reason", "topic", "outbox_key", "node", "ts", "size_bytes", "truncated", "envelope"],
    "additionalProperties": False,
    "properties": {
        "reason": {"type": "string", "minLength": 1,
                   "description": "Why: 'refused by the producer: ...' or 'delivery failed N times: ...'."},
        "topic": {"type": "string", "minLength": 1,
                  "description": "Topic the event was meant for: kafka.topic_prefix + type."},
        "outbox_key": {"type": "integer", "minimum": 1, "maximum": 9223372036854775807,
                       "description": "Key of the entry in the RocksDB outbox (starts at 1; top bit never set)."},
        "node": {"type": "string", "minLength": 1, "description": "Id of the node whose relay dead-lettered it."},
        "ts": {"type": "integer", "description": "Wall-clock ms when it was dead-lettered (not the event's ts)."},
        "size_bytes": {"type": "integer", "minimum": 0, "description": "Size in bytes of the full envelope."},
        "truncated": {"type": "boolean", "description": "True when size_bytes > kafka.max_message_bytes / 2, i.e. envelope was cut."},
        "envelope": {"type": "string",
                     "description": "The envelope's JSON text, cut at kafka.max_message_bytes / 2 bytes (so it may not parse; a cut UTF-8 sequence becomes U+FFFD)."},
        "event_id": {"$ref": "#/definitions/event_id"},
        "order_id": {"$ref": "#/definitions/order_id"},
        "seq": {"$ref": "#/definitions/seq"},
        "type": {"$ref": "#/definitions/event_type"},
    },
}
# descriptions on the $ref'd copied fields (draft-07 ignores siblings of $ref, so wrap in allOf)
for k, desc in [("event_id", "Copied from the envelope (present when the stored entry parses as a JSON object)."),
                ("order_id", "Copied from the envelope (when present)."),
                ("seq", "Copied from the envelope (when present)."),
                ("type", "Copied from the envelope (when present).")]:
    defs["dead_letter"]["properties"][k] = {"description": desc, "allOf": [defs["dead_letter"]["properties"][k]]}
for k, desc in [("event_id", "Unique event id: order_id + '-' + seq."),
                ("type", "Event name (one of the 13 types); the topic is kafka.topic_prefix + type."),
                ("order_id", "The order the event belongs to; also the Kafka message key."),
                ("seq", "Position of the event in the order's history: 1, 2, 3, ... without gaps.")]:
    defs["envelope"]["properties"][k] = {"description": desc, "allOf": [defs["envelope"]["properties"][k]]}
for t in ["payment_initiated", "payment_succeeded", "payment_failed", "payment_refunded"]:
    defs["data_" + t]["properties"]["payment_id"] = {
        "description": "The order's payment intent id ('pay_' + order_id).", "allOf": [payment_id]}
defs["data_ordercreated"]["properties"]["items"]["items"] = {
    "description": "One line: sku, quantity, unit price.", "allOf": [{"$ref": "#/definitions/order_item"}]}

schema = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "$id": "urn:saga:events.schema.json",
    "title": "Order saga Kafka event envelope",
    "description": "Value of each Kafka message sagad publishes on an event topic (spec SAGA.md §2.2, §4). "
                   "The dead-letter topic's messages use #/definitions/dead_letter.",
    "$ref": "#/definitions/envelope",
    "definitions": defs,
}


def ref_to_components(x):
    """The same schemas inside the AsyncAPI document: #/definitions/X -> #/components/schemas/X."""
    if isinstance(x, dict):
        return {k: (v.replace("#/definitions/", "#/components/schemas/") if k == "$ref" else ref_to_components(v))
                for k, v in x.items()}
    if isinstance(x, list):
        return [ref_to_components(v) for v in x]
    return x


def asyncapi():
    schemas = {k: ref_to_components(v) for k, v in defs.items()}
    schemas["headers"] = {
        "type": "object",
        "description": "Kafka headers of every event message.",
        "required": ["type", "traceparent"],
        "properties": {
            "type": {"type": "string", "description": "The event type (the topic without its prefix)."},
            "traceparent": {"type": "string", "pattern": "^00-[0-9a-f]{32}-[0-9a-f]{16}-01$",
                            "description": "W3C trace context: one trace per order, one span per event."},
        },
    }
    schemas["dead_letter_headers"] = {
        "type": "object", "required": ["type"],
        "properties": {"type": {"const": "saga_dead_letter"}},
    }
    channels, operations, messages = {}, {}, {}
    prefix_param = {"prefix": {"description": "kafka.topic_prefix of the node's cluster.conf (empty by default)."}}
    key = {"kafka": {"key": {"type": "string", "pattern": ORDER_ID,
                             "description": "order_id: every event of an order is in one partition, in seq order."},
                     "bindingVersion": "0.5.0"}}
    for t, (src, desc) in TYPES.items():
        schemas["event_" + t] = {
            "description": "Envelope of a " + t + " event.",
            "allOf": [{"$ref": "#/components/schemas/envelope"},
                      {"properties": {"type": {"const": t}, "source": {"const": src},
                                      "data": {"$ref": "#/components/schemas/data_" + t}}}],
        }
        messages[t] = {"name": t, "title": t, "summary": desc, "contentType": "application/json",
                       "headers": {"$ref": "#/components/schemas/headers"},
                       "payload": {"$ref": "#/components/schemas/event_" + t}, "bindings": key}
        channels[t] = {"address": "{prefix}" + t, "title": t, "description": desc,
                       "parameters": prefix_param,
                       "messages": {t: {"$ref": "#/components/messages/" + t}}}
        operations["consume_" + t] = {"action": "receive", "channel": {"$ref": "#/channels/" + t},
                                      "summary": "A consumer reads " + t + " events.",
                                      "messages": [{"$ref": "#/channels/" + t + "/messages/" + t}]}
    messages["saga_dead_letter"] = {
        "name": "saga_dead_letter", "title": "saga_dead_letter", "contentType": "application/json",
        "summary": "An event the brokers refused for good (too large, invalid), with the reason.",
        "headers": {"$ref": "#/components/schemas/dead_letter_headers"},
        "payload": {"$ref": "#/components/schemas/dead_letter"}, "bindings": key}
    channels["saga_dead_letter"] = {
        "address": "{prefix}saga_dead_letter", "title": "saga_dead_letter", "parameters": prefix_param,
        "description": "Poison events, so that the events after them go on.",
        "messages": {"saga_dead_letter": {"$ref": "#/components/messages/saga_dead_letter"}}}
    operations["consume_saga_dead_letter"] = {
        "action": "receive", "channel": {"$ref": "#/channels/saga_dead_letter"},
        "messages": [{"$ref": "#/channels/saga_dead_letter/messages/saga_dead_letter"}]}
    return {
        "asyncapi": "3.0.0",
        "id": "urn:saga:events",
        "info": {
            "title": "Order saga events",
            "version": "1.0.0",
            "description": "Every saga event sagad records is published to Kafka from its RocksDB outbox "
                           "(idempotent producer, acks=all), one topic per event type, key = order_id. "
                           "Per order the events carry seq 1, 2, 3, ... without gaps; a message may be "
                           "delivered twice, always with the same event_id: consumers drop duplicates by "
                           "event_id. Topics are created by the node at start (kafka.provision_topics).",
        },
        "defaultContentType": "application/json",
        "servers": {"kafka": {"host": "127.0.0.1:9092", "protocol": "kafka",
                              "description": "Any cluster named by kafka.brokers in cluster.conf."}},
        "channels": channels,
        "operations": operations,
        "components": {"schemas": schemas, "messages": messages},
    }


def main():
    import os
    import sys
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    outputs = {os.path.join(root, "gateway", "events.schema.json"): schema,
               os.path.join(root, "gateway", "asyncapi.json"): asyncapi()}
    stale = []
    for path, doc in outputs.items():
        text = json.dumps(doc, indent=1, ensure_ascii=False) + "\n"
        if "--check" in sys.argv:
            if not os.path.exists(path) or open(path).read() != text:
                stale.append(path)
        else:
            with open(path, "w") as f:
                f.write(text)
    if stale:
        print("out of date (run python3 scripts/gen-event-contract.py): " + ", ".join(stale))
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
