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
// Topics are provisioned, not assumed: before it publishes anything the relay asks the
// brokers to create every saga topic and the dead-letter topic (Admin API CreateTopics,
// kafka.topic_partitions / topic_replication_factor / topic_config); existing topics are
// confirmed by TOPIC_ALREADY_EXISTS. A topic that cannot be created is logged, counted
// (saga_kafka_topics_missing), reported in /readyz detail.kafka and asked for again with
// backoff. kafka.provision_topics = false skips this (the operator owns the topics).
//
// Errors are never silent: every delivery, produce, client and provisioning error is
// counted by code (saga_kafka_errors_total) and logged at most once per code per
// kafka.error_log_interval_ms. Retriable broker errors are retried by the producer
// kafka.produce_retries times; then the relay resets and produces again after a pause
// (doubling up to kafka.retry_backoff_max_ms). Only message-specific errors (too large,
// invalid record) count towards dead-lettering. saga_outbox_age_ms shows a stalled outbox.
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
#include <unordered_map>

#include "actors/inspect/introspection.hpp"
#include "actors/messages.hpp"
#include "runtime/context.hpp"

typedef struct rd_kafka_s rd_kafka_t;
typedef struct rd_kafka_queue_s rd_kafka_queue_t;

namespace saga {

struct kafka_relay_state {
  context_ptr ctx;
  caf::actor writer;
  std::string brokers;
  rd_kafka_t* producer = nullptr;
  uint64_t next_key = 1;                  // first outbox key not yet produced: the first waiting
                                          // entry, else scanned_to (rewinds and metrics start here)
  uint64_t scanned_to = 1;                // one past the last key the walk has reached (the next
                                          // walk starts here)
  int64_t left_behind = 0;                // entries the last walk left for their order's turn
  struct inflight_entry {
    int64_t ts;                           // event time, for saga_outbox_age_ms
    std::string order_id;
  };
  std::map<uint64_t, inflight_entry> inflight; // produced, not yet acknowledged
  /// Orders with an entry in flight (order_id -> its outbox key): an order's next entry is
  /// produced only once the one before is acknowledged. librdkafka 2.0.2's idempotent
  /// producer may have a later request of a partition written while an earlier one fails
  /// past its retries (it bumps the epoch and renumbers): the failed entry, produced again,
  /// would land after its successors. With one entry per order in flight it cannot.
  /// Different orders still go out in parallel.
  std::unordered_map<std::string, uint64_t> busy_orders;
  std::map<uint64_t, std::string> waiting; // left for their order's turn: key -> order_id
                                           // (read again, one point read, only at their turn)
  std::vector<uint64_t> acked;            // acknowledged, not yet deleted
  std::set<uint64_t> settled;             // acknowledged, deletion not yet durable: a
                                          // rewind skips them (fewer duplicates)
  bool deleting = false;
  bool reset_needed = false;              // a delivery failed: restart from the oldest unacked
  std::map<uint64_t, int64_t> failures;   // permanent delivery failures per entry
  std::map<uint64_t, std::string> poison; // entries to dead-letter, with the reason
  int64_t inflight_writes = 0;
  // topic provisioning
  bool topics_ready = false;              // every topic confirmed: publishing may start
  rd_kafka_queue_t* admin_queue = nullptr; // a CreateTopics request is outstanding
  std::vector<std::string> topics;         // every topic the relay writes to
  std::map<std::string, std::string> missing; // topic -> why it is not confirmed
  int64_t next_provision_ms = 0;
  int64_t provision_backoff_ms = 0;
  int64_t last_missing_log_ms = 0;        // the "topics missing" summary, rate-limited
  // pause after a retriable delivery failure, on the actor clock (monotonic: a jump of the
  // node's wall clock neither shortens nor lengthens it)
  int64_t paused_until_ms = 0;
  int64_t backoff_ms = 0;
  bool transient_failure = false;        // the last reset follows a retriable error
  // rate-limited error log: (where, code) -> (last logged, not logged since)
  std::map<std::pair<int, int>, std::pair<int64_t, int64_t>> error_log;
  std::string last_error;
  int64_t last_error_ts_ms = 0;
  // event time of the first unread entry (outbox age when nothing is in flight)
  uint64_t first_unread_key = 0;
  int64_t first_unread_ts = 0;
  ~kafka_relay_state();
  actor_probe probe;
  static inline const char* name = "kafka_relay";
};

/// `provision`: create missing topics before publishing (kafka.provision_topics; false for
/// the embedded mock cluster, whose topics sagad creates directly).
caf::behavior kafka_relay(caf::stateful_actor<kafka_relay_state>* self, context_ptr ctx,
                          caf::actor writer, std::string brokers, bool provision = true);

/// Every topic the relay writes to: prefix + each event type, and prefix + saga_dead_letter.
std::vector<std::string> saga_topics(const std::string& prefix);

/// W3C traceparent for an event: one trace per order, one span per event.
std::string traceparent(const std::string& order_id, uint64_t seq);

} // namespace saga
