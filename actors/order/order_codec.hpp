#pragma once
// The order record: one binary record of the snapshot and every event of its saga so far,
// read with one point read (storage/record_format.hpp: a version byte, then varints and
// length-prefixed strings). The JSON snapshot of older data directories ("v": 1, first
// byte '{') still decodes, without events; runtime's `upgrade_order_records` converts them.

#include <string>
#include <string_view>
#include <vector>

#include "actors/order/saga.hpp"

namespace saga {

/// The order record: the snapshot and the events of its saga (`history`, in `seq` order).
std::string encode(const order_state& x, const std::vector<saga_event>& history);
/// Decodes an order record of either format; `history` (optional) gets its events, which a
/// format-1 record does not hold (`*has_history` tells, when given). False on malformed or
/// unknown data.
bool decode(std::string_view s, order_state& x, std::vector<saga_event>* history = nullptr,
            bool* has_history = nullptr);
/// The format-1 JSON snapshot (kept for converting and testing older data directories).
std::string encode_v1(const order_state& x);

/// The store counter of stored orders with `status` (meta "count/orders/<STATUS>").
inline std::string order_status_counter(order_status status) {
  return std::string("orders/") + to_string(status);
}

} // namespace saga
