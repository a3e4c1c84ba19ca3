#pragma once
// Inside the Kafka relay (kafka_relay.hpp): what its files share.
//   kafka_relay.cpp       the actor: produce from the outbox, delete what is acknowledged,
//                         dead-letter poison entries, reset the producer, its tick
//   kafka_producer.cpp    the librdkafka producer: its options, its callbacks, error reports
//   kafka_provision.cpp   the topics: CreateTopics at start, and what is still missing
// Nothing outside actors/sink/ includes this header.

#include <chrono>
#include <string>

#include <librdkafka/rdkafka.h>

#include "actors/sink/kafka_relay.hpp"

namespace saga::relay {

using self_ptr = caf::stateful_actor<kafka_relay_state>*;
using poll_atom = timer_atom;

/// Milliseconds on the actor clock (monotonic), for the relay's own pauses and back-offs:
/// the node's wall clock may jump.
inline int64_t mono_ms(self_ptr self) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
           self->clock().now().time_since_epoch())
    .count();
}

/// The opaque of a dead-letter message: the entry's key with the top bit set.
constexpr uint64_t dead_letter_bit = uint64_t{1} << 63;

// ---- the producer (kafka_producer.cpp) ----
const char* kafka_error_name(int code);
/// Errors that belong to the message itself (they count towards dead-lettering).
bool message_specific(rd_kafka_resp_err_t e);
/// Counts a Kafka error by where it was seen and its code, remembers it for /readyz, and
/// logs it (rate-limited per where and code).
void report_error(kafka_relay_state& st, metrics::kafka_where where, int code,
                  const std::string& what, spdlog::level::level_enum lvl = spdlog::level::warn);
/// A producer with every option set explicitly, its callbacks bound to `st`.
rd_kafka_t* make_producer(kafka_relay_state& st);

// ---- the relay (kafka_relay.cpp) ----
/// Produces from the oldest unacknowledged outbox entry, as far as the window allows.
void produce_more(self_ptr self);

// ---- provisioning (kafka_provision.cpp) ----
/// Asks the brokers to create every topic; the answer is read by poll_provisioning.
void start_provisioning(self_ptr self);
void poll_provisioning(self_ptr self);

} // namespace saga::relay
