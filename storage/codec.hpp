#pragma once
// Encoding of every stored record. Decoders return false on malformed or unknown data.
// - An order is one binary record (its snapshot and every event of its saga so far), read
//   with one point read: a version byte (order_record_v2) first, then varints and
//   length-prefixed strings (see codec.cpp). The JSON snapshot of older data directories
//   ("v": 1, first byte '{') still decodes, without events; `upgrade_orders` converts them.
// - Inventory, reservations and payments are JSON with "v": 1.
// - An event's Kafka envelope (outbox) is JSON, built once when the event is decided.

#include <string>
#include <string_view>
#include <vector>

#include "actors/inventory_book.hpp"
#include "actors/payment_book.hpp"
#include "actors/saga.hpp"

namespace storage {

/// First byte of a binary order record (format 2). Format 1 is JSON and starts with '{'.
constexpr char order_record_v2 = 0x02;

/// The order record: the snapshot and the events of its saga (`history`, in `seq` order).
std::string encode(const saga::order_state& x, const std::vector<saga::saga_event>& history);
/// Decodes an order record of either format; `history` (optional) gets its events, which a
/// format-1 record does not hold (`*has_history` tells, when given).
bool decode(std::string_view s, saga::order_state& x,
            std::vector<saga::saga_event>* history = nullptr, bool* has_history = nullptr);
/// The format-1 JSON snapshot (kept for converting and testing older data directories).
std::string encode_v1(const saga::order_state& x);

/// The meta key that marks an order in flight (not terminal): start reads only these.
inline std::string inflight_key(const std::string& order_id) { return "inflight/" + order_id; }
/// The store counter of stored orders with `status` (meta "count/orders/<STATUS>").
inline std::string order_status_counter(saga::order_status status) {
  return std::string("orders/") + saga::to_string(status);
}

/// The event as stored in `events` and `outbox`: the Kafka envelope of spec §4.
std::string encode(const saga::saga_event& x, const std::string& node);
bool decode(const std::string& s, saga::saga_event& x);
std::string event_id(const std::string& order_id, uint64_t seq);

std::string encode(const saga::sku_record& x);
bool decode(const std::string& s, saga::sku_record& x);

/// One reservation item record (the key holds order id and sku).
std::string encode(const saga::reservation& r, const saga::reservation_item& item);
bool decode(const std::string& s, saga::reservation& r, saga::reservation_item& item);

std::string encode(const saga::payment_intent& x);
bool decode(const std::string& s, saga::payment_intent& x);

} // namespace storage
