#pragma once
// One inventory partition's stock and reservations, as plain data and pure functions.
// The inventory worker actor (actors/inventory/inventory_worker.cpp) owns one book and is its only
// writer; it persists what a call reports as changed before answering anyone.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace saga {

struct sku_record {
  std::string sku;
  int64_t available = 0; // sellable now
  int64_t reserved = 0;  // held by live reservations
  int64_t committed = 0; // sold
  int64_t price_cents = 0;
  /// Sum of every stock change made by operators: `available + reserved + committed`
  /// always equals it (spec §7.1).
  int64_t restocked_total = 0;
  int64_t on_hand() const { return available + reserved; }
};

enum class reservation_state : uint8_t { reserved, committed, released, expired };
const char* to_string(reservation_state x);
bool from_string(const std::string& s, reservation_state& x);

struct reservation_item {
  std::string sku;
  int64_t quantity = 0;
};

/// The part of one order's reservation that lives in this partition.
struct reservation {
  std::string order_id;
  std::vector<reservation_item> items;
  reservation_state state = reservation_state::reserved;
  int64_t expires_at_ms = 0;
};

class inventory_book {
public:
  struct result {
    bool ok = false;
    std::string reason;                // why not ok
    std::vector<std::string> skus;     // sku records changed
    bool reservation_changed = false;  // the order's reservation record changed
  };

  /// Holds `items` for `order_id` until `expires_at_ms`. All or nothing within the
  /// partition. Idempotent: a repeat answers as the first call did, if it succeeded.
  result reserve(const std::string& order_id, const std::vector<reservation_item>& items,
                 int64_t expires_at_ms);
  /// Turns the reservation into a sale. Fails when expired or released.
  result commit(const std::string& order_id, int64_t now_ms);
  /// Gives the reserved (or, compensating a partial commit, committed) stock back.
  /// Idempotent; releasing nothing is fine.
  result release(const std::string& order_id);
  /// Expires the reservation when its deadline passed. Not ok when nothing expired.
  result expire(const std::string& order_id, int64_t now_ms);
  /// Sets the sellable stock (`on_hand` = available + reserved) and the price.
  result set_stock(const std::string& sku, int64_t on_hand, int64_t price_cents);

  const sku_record* find_sku(const std::string& sku) const;
  const reservation* find_reservation(const std::string& order_id) const;

  /// Loading from storage.
  void load_sku(sku_record rec) { skus_[rec.sku] = std::move(rec); }
  void load_reservation(reservation r) { reservations_[r.order_id] = std::move(r); }
  /// Drops a finished reservation from memory (it stays in the store, where a repeated
  /// request finds it again: memory holds only reservations in flight).
  void forget(const std::string& order_id) { reservations_.erase(order_id); }

  const std::map<std::string, sku_record>& skus() const { return skus_; }
  const std::map<std::string, reservation>& reservations() const { return reservations_; }

private:
  result release_as(reservation& r, reservation_state final_state);
  std::map<std::string, sku_record> skus_;
  std::map<std::string, reservation> reservations_;
};

} // namespace saga
