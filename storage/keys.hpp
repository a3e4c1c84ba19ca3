#pragma once
// Keys of the meta family that every module shares: the index of orders in flight and
// the deadline index. Plain strings and numbers: what the ids mean is the modules' business.

#include <cstdint>
#include <string>
#include <string_view>

namespace storage {

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

} // namespace storage
