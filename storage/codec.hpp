#pragma once
// Encoding of every stored record. Decoders return false on malformed or unknown data.
// - An order is one binary record (its snapshot and every event of its saga so far), read
//   with one point read: a version byte (order_record_v2) first, then varints and
//   length-prefixed strings (see codec.cpp). The JSON snapshot of older data directories
//   ("v": 1, first byte '{') still decodes, without events; `upgrade_orders` converts them.
// - SKUs, reservations and payment intents are binary the same way (format 2); their JSON
//   of older data directories ("v": 1) still decodes, and a record is written in format 2
//   the next time it changes.
// - An event's Kafka envelope (outbox) is JSON, built once when the event is decided.

#include <string>
#include <string_view>
#include <vector>

#include "actors/inventory_book.hpp"
#include "actors/payment_book.hpp"
#include "actors/saga.hpp"

namespace storage {

/// First byte of a binary record (format 2) of every kind. Format 1 is JSON and starts
/// with '{'.
constexpr char record_v2 = 0x02;
constexpr char order_record_v2 = record_v2;

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
/// The deadline index (meta "due/..."), ordered by deadline: one entry per live deadline,
/// written in the same batch as the record that sets the deadline and erased in the batch
/// that makes it moot. The start and a restarted worker read these, never the records:
///   due/r/<deadline, 16 hex>/<order_id>/<sku>  a reserved item's TTL (inventory, by sku)
///   due/p/<deadline, 16 hex>/<payment_id>      a pending intent's expiry (value: order id)
/// (An order's auto-complete deadline is a field of its record, which the start reads
/// through the in-flight index anyway.)
std::string due_reservation_key(int64_t deadline_ms, const std::string& order_id,
                                const std::string& sku);
std::string due_payment_key(int64_t deadline_ms, const std::string& payment_id);
/// One parsed entry of the whole key ("due/<kind>/..."); false when it is malformed or of
/// another kind.
struct due_entry {
  int64_t deadline_ms = 0;
  std::string id;  // order id (reservations) or payment id
  std::string sku; // reservations only
};
bool parse_due_key(std::string_view key, char kind, due_entry& out);
constexpr const char* due_reservation_prefix = "due/r/";
constexpr const char* due_payment_prefix = "due/p/";

/// The store counter of stored orders with `status` (meta "count/orders/<STATUS>").
inline std::string order_status_counter(saga::order_status status) {
  return std::string("orders/") + saga::to_string(status);
}

/// The event as stored in `events` and `outbox`: the Kafka envelope of spec §4.
std::string encode(const saga::saga_event& x, const std::string& node);
bool decode(const std::string& s, saga::saga_event& x);
std::string event_id(const std::string& order_id, uint64_t seq);

/// SKU, reservation item and payment intent records: `encode` writes format 2, `decode`
/// reads either format, `encode_v1` writes the JSON of older data directories (tests).
std::string encode(const saga::sku_record& x);
std::string encode_v1(const saga::sku_record& x);
bool decode(const std::string& s, saga::sku_record& x);

/// One reservation item record (the key holds order id and sku).
std::string encode(const saga::reservation& r, const saga::reservation_item& item);
std::string encode_v1(const saga::reservation& r, const saga::reservation_item& item);
bool decode(const std::string& s, saga::reservation& r, saga::reservation_item& item);

std::string encode(const saga::payment_intent& x);
std::string encode_v1(const saga::payment_intent& x);
bool decode(const std::string& s, saga::payment_intent& x);

} // namespace storage
