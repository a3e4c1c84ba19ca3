#pragma once
// An event's Kafka envelope (spec §4), as stored in the outbox (and in the events family of
// format-1 data directories): JSON, built once when the event is decided.

#include <cstdint>
#include <string>

#include "actors/order/saga.hpp"

namespace saga {

/// The envelope of `x` as `node` publishes it.
std::string encode(const saga_event& x, const std::string& node);
/// False on malformed or unknown data.
bool decode(const std::string& s, saga_event& x);
/// The id consumers deduplicate by: one per order and seq.
std::string event_id(const std::string& order_id, uint64_t seq);

} // namespace saga
