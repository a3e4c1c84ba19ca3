#include "runtime/start_scan.hpp"

#include <future>
#include <unordered_set>

#include "actors/cluster/cluster.hpp"
#include "actors/plumbing/component_supervisor.hpp"
#include "actors/inspect/introspection.hpp"
#include "actors/plumbing/retention.hpp"
#include "actors/inventory/inventory_worker.hpp"
#include "actors/order/order_store.hpp"
#include "actors/order/order_supervisor.hpp"
#include "actors/payment/payment_worker.hpp"
#include "actors/plumbing/writer.hpp"
#include "actors/inventory/inventory_codec.hpp"
#include "actors/order/order_codec.hpp"
#include "actors/payment/payment_codec.hpp"
#include "actors/sink/event_envelope.hpp"
#include "storage/keys.hpp"

namespace saga {

bool note_corrupt(std::vector<corrupt_record>& xs, std::string& error, bool quarantine,
                  storage::family cf, std::string_view k, std::string_view v) {
  xs.push_back({cf, std::string(k), std::string(v)});
  if (quarantine)
    return true;
  error = std::string("record '") + printable_key(k) + "' in column family '"
          + storage::family_name(cf) + "' does not decode (" + std::to_string(v.size())
          + " bytes): start refused, nothing was changed. Restore it from a backup, or "
            "start with --set storage.quarantine_corrupt=true to move such records "
            "aside (meta quarantine/...) and go on without them";
  return false;
}

/// The held stock (reserved items) and, below, the pending payment intents of the orders in
/// flight (`ids`, ascending): only such orders can hold either (a terminal order released
/// or committed its stock and has a decided intent), so the start reads these per order,
/// never the whole history. One iterator over the reservations for all of them.
void scan_reserved(const storage::store& db, const std::vector<std::string>& ids, order_scan& o,
                   bool quarantine) {
  std::vector<std::string> prefixes;
  prefixes.reserve(ids.size());
  for (auto& id : ids)
    prefixes.push_back(id + std::string(1, '\0'));
  std::map<std::string, reservation> held;
  (void)db.scan_each(storage::family::reservations, prefixes,
               [&](size_t, std::string_view k, std::string_view v) {
                 reservation x;
                 reservation_item item;
                 if (!saga::decode(std::string(v), x, item))
                   return note_corrupt(o.corrupt, o.error, quarantine,
                                       storage::family::reservations, k, v);
                 if (x.state != reservation_state::reserved)
                   return true; // finished: loaded on demand
                 auto& r = held[x.order_id];
                 if (r.order_id.empty())
                   r = x;
                 r.items.push_back(item);
                 return true;
               });
  for (auto& [id, r] : held)
    o.reserved.push_back(std::move(r));
}

void scan_pending_payments(const storage::store& db, const std::vector<std::string>& ids,
                           order_scan& o, bool quarantine) {
  std::string raw;
  for (auto& id : ids) {
    auto pid = "pay_" + id;
    if (db.get(storage::family::payments, pid, raw) != storage::read_status::found)
      continue; // absent; a failed read fails the start (load_state)
    payment_intent x;
    if (!saga::decode(raw, x)) {
      if (!note_corrupt(o.corrupt, o.error, quarantine, storage::family::payments, pid, raw))
        return;
      continue;
    }
    if (x.status == payment_status::pending)
      o.pending.push_back(std::move(x));
  }
}

order_scan scan_orders(const storage::store& db, bool quarantine,
                       const std::vector<uint8_t>& foreign, size_t order_partitions) {
  // Only the orders in flight are read (the index, then point reads); the stored orders
  // per status are the store's counters, kept in the same writes.
  order_scan o;
  for (size_t i = 0; i < o.by_status.size(); ++i) {
    o.by_status[i] = db.counter(saga::order_status_counter(static_cast<order_status>(i)));
    o.total += static_cast<size_t>(std::max<int64_t>(0, o.by_status[i]));
  }
  // The index of orders in flight, then their records and the parked markers, each with
  // one iterator in key order (a point read per order thrashed the block cache's index
  // blocks once the data outgrew it: 400,000 orders took minutes).
  const std::string prefix = "inflight/";
  std::vector<std::string> candidates;
  (void)db.scan(storage::family::meta, prefix, [&](std::string_view k, std::string_view) {
    std::string id(k.substr(prefix.size()));
    if (order_partitions > 0) {
      auto op = directory::order_partition(id, order_partitions);
      if (op < foreign.size() && foreign[op] != 0)
        return true; // another node's partition (a standby copy): not read
    }
    candidates.push_back(std::move(id));
    return true;
  });
  std::unordered_set<std::string> parked;
  (void)db.scan(storage::family::meta, "parked/", [&](std::string_view k, std::string_view) {
    parked.emplace(k.substr(7));
    return true;
  });
  auto& ids = o.ids;
  // An id without a record: a failed read fails the start (load_state); else quarantined
  // earlier (its index entry went with it at the next write).
  (void)db.get_each(storage::family::orders, candidates, [&](size_t i, std::string_view raw) {
    auto& id = candidates[i];
    order_state s;
    if (!saga::decode(raw, s)) {
      // Quarantined, its held stock and pending intent are still reloaded: they expire
      // (reservation TTL, payment timeout) and give back what the order held.
      ids.push_back(id);
      return note_corrupt(o.corrupt, o.error, quarantine, storage::family::orders, id, raw);
    }
    if (is_terminal(s.step))
      return true;
    ids.push_back(id);
    if (parked.count(id) != 0) {
      ++o.parked;
      return true;
    }
    o.in_flight.push_back(std::move(s));
    return true;
  });
  return o;
}

} // namespace saga
