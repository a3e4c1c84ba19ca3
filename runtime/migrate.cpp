#include "runtime/runtime.hpp"

// Once per data directory: format-1 order records converted, the index of orders in flight
// and the counters built, then the deadline index.

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
#include "runtime/start_scan.hpp"

namespace saga {

namespace {

std::string upgrade_orders_pass(storage::store& db, size_t& converted) {
  std::string format, index;
  if (db.get(storage::family::meta, "layout/order_format", format) == storage::read_status::failed
      || db.get(storage::family::meta, "layout/order_index", index)
           == storage::read_status::failed)
    return "cannot read layout/order_format: a storage read failed (see the log)";
  if (format == "2" && index == "1")
    return {};
  // One pass over every stored order, once per data directory:
  // - format 1 (a JSON snapshot, its events in the events family) becomes format 2 (one
  //   binary record with its events);
  // - the index of orders in flight (meta "inflight/<id>") and the stored orders per status
  //   (counters) are built; from then on every order write keeps them.
  // A batch of records is one synced write; the layout keys come last, so a crash part-way
  // leaves every order readable and the next start does the pass again.
  storage::batch b;
  std::string err;
  auto flush = [&] {
    if (b.ops.empty())
      return true;
    err = db.commit({&b}, true);
    b.ops.clear();
    return err.empty();
  };
  std::array<int64_t, 4> by_status{};
  (void)db.scan(storage::family::orders, "", [&](std::string_view k, std::string_view v) {
    std::string id(k);
    order_state s;
    // A record that does not decode is indexed as in flight: the load then reports it
    // (or quarantines it), as it would have found it in a whole scan.
    auto unreadable = [&] {
      b.ops.push_back({storage::family::meta, storage::inflight_key(id), {}, false});
      return b.ops.size() < 4096 || flush();
    };
    if (v.empty() || v.front() != '{') {
      if (!saga::decode(v, s))
        return unreadable();
    } else {
      std::vector<saga_event> history;
      if (!read_order(db, id, s, history))
        return unreadable();
      b.ops.push_back({storage::family::orders, id, saga::encode(s, history), false});
      for (auto& ev : history)
        b.ops.push_back({storage::family::events, storage::event_key(id, ev.seq), {}, true});
      ++converted;
    }
    ++by_status[static_cast<size_t>(s.status)];
    if (!is_terminal(s.step))
      b.ops.push_back({storage::family::meta, storage::inflight_key(id), {}, false});
    return b.ops.size() < 4096 || flush();
  });
  if (!err.empty() || !flush())
    return err;
  // The counters are written whole here, before any order write moves them.
  for (size_t i = 0; i < by_status.size(); ++i)
    b.ops.push_back({storage::family::meta,
                     "count/" + saga::order_status_counter(static_cast<order_status>(i)),
                     std::to_string(by_status[i]), false});
  b.ops.push_back({storage::family::meta, "layout/order_format", "2", false});
  b.ops.push_back({storage::family::meta, "layout/order_index", "1", false});
  flush();
  return err;
}

/// Builds the deadline index (meta "due/...") of a data directory written before it: the
/// held stock and pending intents of the orders in flight, found as the start used to
/// (the in-flight index, then their reservations and intents).
std::string build_due_index(storage::store& db, bool quarantine) {
  std::string have;
  if (db.get(storage::family::meta, "layout/due_index", have) == storage::read_status::failed)
    return "cannot read layout/due_index: a storage read failed (see the log)";
  if (have == "1")
    return {};
  // A record that does not decode stops the start here as it would have stopped the load
  // (nothing is written), or, with storage.quarantine_corrupt, is moved aside first.
  auto o = scan_orders(db, quarantine);
  if (o.error.empty())
    scan_reserved(db, o.ids, o, quarantine);
  if (o.error.empty())
    scan_pending_payments(db, o.ids, o, quarantine);
  if (!o.error.empty())
    return o.error;
  if (!o.corrupt.empty())
    if (auto err = quarantine_records(db, o.corrupt); !err.empty())
      return err;
  storage::batch b;
  for (auto& r : o.reserved)
    for (auto& item : r.items)
      b.ops.push_back({storage::family::meta,
                       storage::due_reservation_key(r.expires_at_ms, r.order_id, item.sku), {},
                       false});
  for (auto& x : o.pending)
    b.ops.push_back({storage::family::meta,
                     storage::due_payment_key(x.expires_at_ms, x.payment_id), x.order_id, false});
  b.ops.push_back({storage::family::meta, "layout/due_index", "1", false});
  return db.commit({&b}, true);
}

} // namespace

std::string upgrade_order_records(storage::store& db, size_t& converted, bool quarantine) {
  converted = 0;
  if (auto err = upgrade_orders_pass(db, converted); !err.empty())
    return err;
  return build_due_index(db, quarantine);
}

} // namespace saga
