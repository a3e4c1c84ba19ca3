#pragma once
// The start's scans of the store (shared by the load and the format migration): the index
// of orders in flight and their records, their held stock and pending intents, and the
// deadline index. A record that does not decode is reported, never skipped in silence.

#include <array>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/runtime.hpp"
#include "storage/keys.hpp"

namespace saga {

/// A record that does not decode is never skipped in silence: it stops the start, or, with
/// storage.quarantine_corrupt, is listed to be moved aside (and counted). Returns whether
/// the scan goes on.
bool note_corrupt(std::vector<corrupt_record>& xs, std::string& error, bool quarantine,
                  storage::family cf, std::string_view k, std::string_view v);

/// What the scan of the `orders` family found.
struct order_scan {
  std::vector<corrupt_record> corrupt;
  std::string error;
  std::vector<order_state> in_flight; // non-terminal, non-parked
  std::vector<std::string> ids;       // in flight, parked ones too, ascending
  std::vector<reservation> reserved;  // (upgrade) held stock of the orders in flight
  std::vector<payment_intent> pending; // (upgrade) their intents still waiting for a verdict
  size_t total = 0;
  std::array<int64_t, 4> by_status{};
  size_t parked = 0;
};

/// The held stock (reserved items) of the orders in flight (`ids`, ascending), one
/// iterator over the reservations for all of them.
void scan_reserved(const storage::store& db, const std::vector<std::string>& ids, order_scan& o,
                   bool quarantine);
/// The pending payment intents of the orders in flight.
void scan_pending_payments(const storage::store& db, const std::vector<std::string>& ids,
                           order_scan& o, bool quarantine);
/// The orders in flight (the index, then point reads) and the counters of stored orders.
/// `foreign` (indexed by order partition of `order_partitions`): the in-flight entries of a
/// partition marked 1 are skipped before their rows are read (a takeover reads one
/// partition's, not the whole store's; a start skips the standby copies it keeps). Their
/// rows are neither read nor checked here: a corrupt one is found (and logged) by the
/// takeover that loads its partition, or by this node's start once it owns it.
order_scan scan_orders(const storage::store& db, bool quarantine,
                       const std::vector<uint8_t>& foreign = {}, size_t order_partitions = 0);

/// Visits the deadline index entries of one kind ('r' reservations, 'p' payments), earliest
/// first. A malformed key is corrupt (reported, or quarantined). Returns false when the
/// scan stopped on one.
template <class F>
bool scan_due(const storage::store& db, char kind, std::vector<corrupt_record>& corrupt,
              std::string& error, bool quarantine, F fn) {
  const char* prefix = kind == 'r' ? storage::due_reservation_prefix : storage::due_payment_prefix;
  bool ok = true;
  (void)db.scan(storage::family::meta, prefix, [&](std::string_view k, std::string_view v) {
    storage::due_entry e;
    if (!storage::parse_due_key(k, kind, e))
      return ok = note_corrupt(corrupt, error, quarantine, storage::family::meta, k, v);
    fn(e, v);
    return true;
  });
  return ok && error.empty();
}

} // namespace saga
