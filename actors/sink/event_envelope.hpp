#pragma once
// An event's Kafka envelope (spec §4), as stored in the outbox (and in the events family of
// format-1 data directories): JSON, built once when the event is decided.
//
// `encode` writes the fields the publishers need first, in a fixed order
// (`{"type":..,"order_id":..,"seq":..,"ts":..,` then the rest, `data` last and copied as it
// is), so `read_head` takes them without parsing the whole envelope (issue 26: the relay
// and the transactional producer parsed every envelope to read four fields). JSON does not
// order an object's members: consumers see the same envelope.

#include <cstdint>
#include <string>
#include <string_view>

#include "actors/order/saga.hpp"

namespace saga {

/// The envelope of `x` as `node` publishes it.
std::string encode(const saga_event& x, const std::string& node);
/// False on malformed or unknown data.
bool decode(const std::string& s, saga_event& x);
/// What a publisher needs of an envelope: its topic (`type`), key and trace, and its time.
struct envelope_head {
  std::string type;
  std::string order_id;
  uint64_t seq = 0;
  int64_t ts = 0;
};
/// The head of an envelope: read in place when it starts as `encode` writes it, else by
/// parsing it (entries written by older builds). False when it is not a JSON object.
bool read_head(std::string_view envelope, envelope_head& out);

/// The id consumers deduplicate by: one per order and seq.
std::string event_id(const std::string& order_id, uint64_t seq);

} // namespace saga
