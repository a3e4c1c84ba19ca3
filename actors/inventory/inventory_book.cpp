#include "actors/inventory/inventory_book.hpp"

#include "runtime/invariant.hpp"

namespace saga {

namespace {
const char* reservation_state_names[] = {"reserved", "committed", "released", "expired"};
} // namespace

const char* to_string(reservation_state x) {
  return reservation_state_names[static_cast<int>(x)];
}

bool from_string(const std::string& s, reservation_state& x) {
  for (int i = 0; i < 4; ++i)
    if (s == reservation_state_names[i]) {
      x = static_cast<reservation_state>(i);
      return true;
    }
  return false;
}

inventory_book::result inventory_book::reserve(const std::string& order_id,
                                               const std::vector<reservation_item>& items,
                                               int64_t expires_at_ms) {
  result res;
  if (auto i = reservations_.find(order_id); i != reservations_.end()) {
    switch (i->second.state) {
      case reservation_state::reserved:
      case reservation_state::committed:
        res.ok = true;
        return res;
      case reservation_state::released:
      case reservation_state::expired:
        res.reason = "reservation was already " + std::string(to_string(i->second.state));
        return res;
    }
  }
  // Check everything first: a multi-SKU reservation is all or nothing.
  std::map<std::string, int64_t> wanted;
  for (auto& item : items) {
    if (item.quantity <= 0) {
      res.reason = "invalid quantity for sku " + item.sku;
      return res;
    }
    wanted[item.sku] += item.quantity;
  }
  for (auto& [sku, qty] : wanted) {
    auto s = skus_.find(sku);
    if (s == skus_.end()) {
      res.reason = "unknown sku " + sku;
      return res;
    }
    if (s->second.available < qty) {
      res.reason = "insufficient stock for sku " + sku;
      return res;
    }
  }
  for (auto& [sku, qty] : wanted) {
    auto& s = skus_[sku];
    s.available -= qty;
    s.reserved += qty;
    SAGA_INVARIANT(s.available >= 0, "no oversell: a reservation never takes more than is available");
    res.skus.push_back(sku);
  }
  reservation r;
  r.order_id = order_id;
  for (auto& [sku, qty] : wanted)
    r.items.push_back({sku, qty});
  r.expires_at_ms = expires_at_ms;
  reservations_[order_id] = std::move(r);
  res.ok = true;
  res.reservation_changed = true;
  return res;
}

inventory_book::result inventory_book::commit(const std::string& order_id, int64_t now_ms) {
  result res;
  auto i = reservations_.find(order_id);
  if (i == reservations_.end()) {
    res.reason = "no reservation for this order";
    return res;
  }
  auto& r = i->second;
  switch (r.state) {
    case reservation_state::committed:
      res.ok = true;
      return res;
    case reservation_state::released:
      res.reason = "reservation was released";
      return res;
    case reservation_state::expired:
      res.reason = "reservation expired";
      return res;
    case reservation_state::reserved:
      break;
  }
  if (now_ms >= r.expires_at_ms) {
    // The expiry timer may not have fired yet; the deadline decides, not the timer.
    res = release_as(r, reservation_state::expired);
    res.ok = false;
    res.reason = "reservation expired";
    return res;
  }
  for (auto& item : r.items) {
    auto& s = skus_[item.sku];
    s.reserved -= item.quantity;
    s.committed += item.quantity;
    SAGA_INVARIANT(s.reserved >= 0, "no negative stock: a commit never takes more than is reserved");
    res.skus.push_back(item.sku);
  }
  r.state = reservation_state::committed;
  res.ok = true;
  res.reservation_changed = true;
  return res;
}

inventory_book::result inventory_book::release(const std::string& order_id) {
  auto i = reservations_.find(order_id);
  if (i == reservations_.end())
    return result{true, {}, {}, false};
  auto& r = i->second;
  switch (r.state) {
    case reservation_state::released:
    case reservation_state::expired:
      return result{true, {}, {}, false};
    case reservation_state::committed: {
      // Compensation after a partial commit: a multi-partition commit can succeed here
      // and fail in another partition; the order failed, so these units are not sold.
      result res;
      for (auto& item : r.items) {
        auto& s = skus_[item.sku];
        s.committed -= item.quantity;
        s.available += item.quantity;
        SAGA_INVARIANT(s.committed >= 0,
                       "no negative stock: a release never gives back more than was committed");
        res.skus.push_back(item.sku);
      }
      r.state = reservation_state::released;
      res.ok = true;
      res.reservation_changed = true;
      return res;
    }
    case reservation_state::reserved:
      break;
  }
  return release_as(r, reservation_state::released);
}

inventory_book::result inventory_book::expire(const std::string& order_id, int64_t now_ms) {
  auto i = reservations_.find(order_id);
  if (i == reservations_.end() || i->second.state != reservation_state::reserved
      || now_ms < i->second.expires_at_ms)
    return result{false, "nothing to expire", {}, false};
  return release_as(i->second, reservation_state::expired);
}

inventory_book::result inventory_book::release_as(reservation& r, reservation_state final_state) {
  result res;
  for (auto& item : r.items) {
    auto& s = skus_[item.sku];
    s.reserved -= item.quantity;
    s.available += item.quantity;
    SAGA_INVARIANT(s.reserved >= 0,
                   "no negative stock: a release never gives back more than was reserved");
    res.skus.push_back(item.sku);
  }
  r.state = final_state;
  res.ok = true;
  res.reservation_changed = true;
  return res;
}

inventory_book::result inventory_book::set_stock(const std::string& sku, int64_t on_hand,
                                                 int64_t price_cents) {
  result res;
  if (on_hand < 0 || price_cents < 0) {
    res.reason = "on_hand and price_cents must not be negative";
    return res;
  }
  auto existing = skus_.find(sku);
  int64_t reserved = existing == skus_.end() ? 0 : existing->second.reserved;
  if (on_hand < reserved) {
    res.reason = "on_hand " + std::to_string(on_hand) + " is below the reserved "
                 + std::to_string(reserved);
    return res;
  }
  auto& s = skus_[sku];
  s.sku = sku;
  auto new_available = on_hand - s.reserved;
  s.restocked_total += new_available - s.available;
  s.available = new_available;
  s.price_cents = price_cents;
  res.ok = true;
  res.skus.push_back(sku);
  return res;
}

const sku_record* inventory_book::find_sku(const std::string& sku) const {
  auto i = skus_.find(sku);
  return i == skus_.end() ? nullptr : &i->second;
}

const reservation* inventory_book::find_reservation(const std::string& order_id) const {
  auto i = reservations_.find(order_id);
  return i == reservations_.end() ? nullptr : &i->second;
}

} // namespace saga
