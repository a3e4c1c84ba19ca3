#pragma once
// The Kafka relay: publishes the RocksDB outbox with an idempotent librdkafka producer
// (acks=all, every option explicit) and deletes an entry only after its delivery report
// said it is on the broker. Topic = prefix + event type, key = order_id, value = the
// stored envelope, headers `type` and `traceparent`.
//
// Order per key: entries are produced in outbox order (which is commit order, so each
// order's events are in seq order), with message.timeout.ms = 0 (never given up) and an
// idempotent producer, so a broker outage delays events without reordering them. After a
// delivery error or a restart the relay starts again from the oldest unacknowledged entry:
// a message may then be published twice, always with the same event_id and seq.
// A Kafka outage never blocks a saga: the outbox only grows (bounded, see
// kafka.outbox_max_entries).
//
// Reset: after a permanent delivery failure the relay purges librdkafka's queue and
// replaces the producer before it rewinds to the oldest unacknowledged entry, so no
// message produced before the rewind can land after a re-produced one (per-order seq order
// holds). An entry that failed is then sent alone; failing kafka.max_delivery_attempts times,
// or refused by the producer itself (larger than kafka.max_message_bytes), it is a poison
// message: it goes to `<prefix>saga_dead_letter` with the reason (key = order id) and is
// counted, and the events after it go on.

#include <deque>
#include <map>
#include <set>

#include "actors/introspection.hpp"
#include "actors/messages.hpp"
#include "runtime/context.hpp"

typedef struct rd_kafka_s rd_kafka_t;

namespace saga {

struct kafka_relay_state {
  context_ptr ctx;
  caf::actor writer;
  std::string brokers;
  rd_kafka_t* producer = nullptr;
  uint64_t next_key = 1;                  // next outbox key to read
  std::map<uint64_t, int64_t> inflight;   // produced, not yet acknowledged: key -> event ts
  std::vector<uint64_t> acked;            // acknowledged, not yet deleted
  std::set<uint64_t> settled;             // acknowledged, deletion not yet durable: a
                                          // rewind skips them (fewer duplicates)
  bool deleting = false;
  bool reset_needed = false;              // a delivery failed: restart from the oldest unacked
  std::map<uint64_t, int64_t> failures;   // permanent delivery failures per entry
  std::map<uint64_t, std::string> poison; // entries to dead-letter, with the reason
  int64_t inflight_writes = 0;
  ~kafka_relay_state();
  actor_probe probe;
  static inline const char* name = "kafka_relay";
};

caf::behavior kafka_relay(caf::stateful_actor<kafka_relay_state>* self, context_ptr ctx,
                          caf::actor writer, std::string brokers);

/// W3C traceparent for an event: one trace per order, one span per event.
std::string traceparent(const std::string& order_id, uint64_t seq);

} // namespace saga
