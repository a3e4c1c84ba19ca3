#include "runtime/runtime.hpp"

#include <algorithm>
#include <set>

// The start's read of the store: every kind of state, split into partitions, and the
// layout check and quarantine around it.

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

std::string printable_key(std::string_view key) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : key) {
    if (c >= 0x21 && c <= 0x7e && c != '\\') {
      out += static_cast<char>(c);
    } else {
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 0x0f];
    }
  }
  return out;
}

namespace {

loaded_state read_state(const storage::store& db, size_t inventory_workers,
                        size_t payment_workers, size_t order_partitions, bool quarantine,
                        const std::vector<uint8_t>& foreign, bool skus) {
  // The orders in flight are read on a second thread while this one reads the SKUs and the
  // deadline index (the halves share nothing; RocksDB reads are thread-safe).
  // Returning early still waits for it (std::async's future).
  auto orders = std::async(std::launch::async, [&db, quarantine, &foreign, order_partitions] {
    return scan_orders(db, quarantine, foreign, order_partitions);
  });
  loaded_state out;
  out.inventory.resize(inventory_workers);
  out.payment.resize(payment_workers);
  auto inv_part = [&](const std::string& sku) {
    return directory::hash(sku) % inventory_workers;
  };
  auto corrupt = [&](storage::family cf, std::string_view k, std::string_view v) {
    return note_corrupt(out.corrupt, out.error, quarantine, cf, k, v);
  };
  if (skus)
    (void)db.scan(storage::family::inventory, "", [&](std::string_view k, std::string_view v) {
      sku_record rec;
      if (!saga::decode(std::string(v), rec))
        return corrupt(storage::family::inventory, k, v);
      out.inventory[inv_part(rec.sku)].load_sku(std::move(rec));
      return true;
    });
  if (!out.error.empty())
    return out;
  auto o = orders.get();
  out.corrupt.insert(out.corrupt.end(), std::make_move_iterator(o.corrupt.begin()),
                     std::make_move_iterator(o.corrupt.end()));
  if (!o.error.empty()) {
    out.error = std::move(o.error);
    return out;
  }
  out.orders_total = o.total;
  out.by_status = o.by_status;
  out.parked = o.parked;
  // The deadline index, not the reservations and intents: a worker reads those when
  // something happens to them (its timer, a command, a verdict).
  out.inventory_due.resize(inventory_workers);
  out.payment_due.resize(payment_workers);
  std::unordered_set<std::string> pending_payment; // orders whose intent awaits a verdict
  auto inv_due = [&](const storage::due_entry& e, std::string_view) {
    auto& xs = out.inventory_due[inv_part(e.sku)];
    if (xs.empty() || xs.back() != std::make_pair(e.deadline_ms, e.id))
      xs.emplace_back(e.deadline_ms, e.id); // one per order (its items share the TTL)
  };
  auto pay_due = [&](const storage::due_entry& e, std::string_view order_id) {
    std::string oid(order_id);
    if (auto op = directory::order_partition(oid, order_partitions);
        op < foreign.size() && foreign[op] != 0)
      return;
    out.payment_due[directory::payment_partition(oid, order_partitions, payment_workers)]
      .emplace_back(e.deadline_ms, e.id);
    pending_payment.insert(std::move(oid));
  };
  if ((skus && !scan_due(db, 'r', out.corrupt, out.error, quarantine, inv_due))
      || !scan_due(db, 'p', out.corrupt, out.error, quarantine, pay_due))
    return out;
  for (auto& s : o.in_flight) {
    // Waiting for a verdict the intent does not have yet, or for the completion: passive.
    // An intent decided while the order was not told (a crash in between) is mid-step.
    bool waits = s.step == saga_step::awaiting_completion
                 || (s.step == saga_step::awaiting_payment && pending_payment.count(s.order_id) != 0);
    (waits ? out.passive : out.resume).push_back(std::move(s));
  }
  return out;
}

} // namespace

loaded_state load_state(const storage::store& db, size_t inventory_workers,
                        size_t payment_workers, size_t order_partitions, bool quarantine,
                        std::vector<uint8_t> foreign, bool skus) {
  auto out = read_state(db, inventory_workers, payment_workers, order_partitions, quarantine,
                        foreign, skus);
  // A read that failed may have cut a scan short: a start that serves without every order
  // in flight would never resume the ones it missed. Nothing is loaded instead.
  if (db.read_failed() && out.error.empty())
    out.error = "a storage read failed while loading the data directory (see the log): "
                "nothing is served from a partial read. Check the disk and start again";
  return out;
}

namespace {

/// The node ids, sorted and comma-separated: what ownership is computed from (rendezvous
/// hashing over the ids; addresses may change without moving a partition).
std::string node_list(const node_config& cfg) {
  auto ids = cfg.cluster_nodes;
  std::sort(ids.begin(), ids.end());
  std::string out;
  for (auto& id : ids)
    out += (out.empty() ? "" : ",") + id;
  return out;
}

/// "added: x; removed: y" between two node lists.
std::string list_change(const std::string& was, const std::string& now) {
  auto split = [](const std::string& s) {
    std::set<std::string> out;
    size_t pos = 0;
    while (pos <= s.size() && !s.empty()) {
      auto end = s.find(',', pos);
      out.insert(s.substr(pos, end == std::string::npos ? std::string::npos : end - pos));
      if (end == std::string::npos)
        break;
      pos = end + 1;
    }
    return out;
  };
  auto a = split(was), b = split(now);
  std::string added, removed;
  for (auto& x : b)
    if (a.count(x) == 0)
      added += (added.empty() ? "" : ", ") + x;
  for (auto& x : a)
    if (b.count(x) == 0)
      removed += (removed.empty() ? "" : ", ") + x;
  std::string out;
  if (!added.empty())
    out += "added: " + added;
  if (!removed.empty())
    out += std::string(out.empty() ? "" : "; ") + "removed: " + removed;
  return out;
}

} // namespace

std::string check_layout(storage::store& db, const node_config& cfg) {
  const std::string partitions_key = "layout/order_partitions";
  const std::string nodes_key = "layout/cluster_nodes";
  auto want = std::to_string(cfg.saga_partitions);
  auto nodes = node_list(cfg);
  std::string have, have_nodes;
  auto got = db.get(storage::family::meta, partitions_key, have);
  auto got_nodes = db.get(storage::family::meta, nodes_key, have_nodes);
  if (got == storage::read_status::failed || got_nodes == storage::read_status::failed)
    return "cannot read the layout of the data directory " + cfg.data_dir()
           + ": a storage read failed (see the log)";
  bool known = got == storage::read_status::found;
  bool known_nodes = got_nodes == storage::read_status::found;
  if (known && have != want)
    return "the data directory " + cfg.data_dir() + " was created with saga.partitions = " + have
           + ", and this start has saga.partitions = " + want
           + ": every stored order is placed by its partition, so the count cannot change. "
             "Start with saga.partitions = " + have + ", or use a new data directory";
  // Until nodes can join and leave, the node list is fixed too: another list moves
  // partitions between nodes without their data (in-flight orders of a partition that
  // moved would be stranded, and two nodes could own one partition during a rolling change).
  if (known_nodes && have_nodes != nodes)
    return "the data directory " + cfg.data_dir() + " was written with cluster.nodes = ["
           + have_nodes + "], and this start lists [" + nodes + "] ("
           + list_change(have_nodes, nodes)
           + "): the partitions of a node list are placed by its ids, so another list would "
             "move them without their data. Start with the same node list, or use a new data "
             "directory";
  if (known && known_nodes)
    return {};
  storage::batch b; // a new directory, or one written before the node list was recorded
  if (!known)
    b.ops.push_back({storage::family::meta, partitions_key, want, false});
  if (!known_nodes)
    b.ops.push_back({storage::family::meta, nodes_key, nodes, false});
  return db.commit({&b}, true);
}

std::vector<std::vector<order_state>> by_partition(std::vector<order_state> xs,
                                                   size_t partitions) {
  std::vector<std::vector<order_state>> out(partitions);
  for (auto& s : xs)
    out[directory::order_partition(s.order_id, partitions)].push_back(std::move(s));
  return out;
}

inventory_book load_inventory_partition(const storage::store& db, size_t partitions,
                                        size_t p, const spdlog::logger& log, due_list& due) {
  inventory_book book;
  auto mine = [&](const std::string& sku) { return directory::hash(sku) % partitions == p; };
  // A SKU's key is the SKU: another partition's rows are skipped before they are decoded.
  (void)db.scan(storage::family::inventory, "", [&](std::string_view k, std::string_view v) {
    if (!mine(std::string(k)))
      return true;
    sku_record rec;
    if (!saga::decode(std::string(v), rec))
      const_cast<spdlog::logger&>(log).error("inventory record '{}' does not decode; skipped",
                                             printable_key(k));
    else if (mine(rec.sku))
      book.load_sku(std::move(rec));
    return true;
  });
  // Its deadlines from the index (only live ones are there); the reservations are read
  // when something happens to them.
  std::vector<corrupt_record> ignored;
  std::string error;
  scan_due(db, 'r', ignored, error, true, [&](const storage::due_entry& e, std::string_view) {
    if (mine(e.sku))
      due.emplace_back(e.deadline_ms, e.id);
  });
  return book;
}

payment_book load_payment_partition(const storage::store& db, size_t order_partitions,
                                    size_t partitions, size_t p, due_list& due) {
  std::vector<corrupt_record> ignored;
  std::string error;
  scan_due(db, 'p', ignored, error, true, [&](const storage::due_entry& e, std::string_view v) {
    if (directory::payment_partition(std::string(v), order_partitions, partitions) == p)
      due.emplace_back(e.deadline_ms, e.id);
  });
  return {};
}

std::string quarantine_records(storage::store& db, const std::vector<corrupt_record>& xs) {
  storage::batch b;
  for (auto& x : xs) {
    b.ops.push_back({storage::family::meta,
                     std::string("quarantine/") + storage::family_name(x.cf) + "/" + x.key, x.value,
                     false});
    b.ops.push_back({x.cf, x.key, {}, true});
    if (x.cf == storage::family::orders) // its status is unknown: the counters stay
      b.ops.push_back({storage::family::meta, storage::inflight_key(x.key), {}, true});
  }
  return db.commit({&b}, true);
}

size_t count_quarantined(const storage::store& db) {
  size_t n = 0;
  (void)db.scan(storage::family::meta, "quarantine/", [&](std::string_view, std::string_view) {
    ++n;
    return true;
  });
  return n;
}

} // namespace saga
