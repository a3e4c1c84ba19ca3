#include "runtime/runtime.hpp"

#include <future>
#include <unordered_set>

#include "actors/cluster.hpp"
#include "actors/component_supervisor.hpp"
#include "actors/introspection.hpp"
#include "actors/retention.hpp"
#include "actors/inventory_worker.hpp"
#include "actors/order_supervisor.hpp"
#include "actors/payment_worker.hpp"
#include "actors/writer.hpp"
#include "storage/codec.hpp"

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

/// A record that does not decode is never skipped in silence: it stops the start, or, with
/// storage.quarantine_corrupt, is listed to be moved aside (and counted). Returns whether
/// the scan goes on.
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
  db.scan_each(storage::family::reservations, prefixes,
               [&](size_t, std::string_view k, std::string_view v) {
                 reservation x;
                 reservation_item item;
                 if (!storage::decode(std::string(v), x, item))
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
    if (!db.get(storage::family::payments, pid, raw))
      continue;
    payment_intent x;
    if (!storage::decode(raw, x)) {
      if (!note_corrupt(o.corrupt, o.error, quarantine, storage::family::payments, pid, raw))
        return;
      continue;
    }
    if (x.status == payment_status::pending)
      o.pending.push_back(std::move(x));
  }
}

order_scan scan_orders(const storage::store& db, bool quarantine) {
  // Only the orders in flight are read (the index, then point reads); the stored orders
  // per status are the store's counters, kept in the same writes.
  order_scan o;
  for (size_t i = 0; i < o.by_status.size(); ++i) {
    o.by_status[i] = db.counter(storage::order_status_counter(static_cast<order_status>(i)));
    o.total += static_cast<size_t>(std::max<int64_t>(0, o.by_status[i]));
  }
  const std::string prefix = "inflight/";
  auto& ids = o.ids;
  std::string raw, reason;
  db.scan(storage::family::meta, prefix, [&](std::string_view k, std::string_view) {
    std::string id(k.substr(prefix.size()));
    if (!db.get(storage::family::orders, id, raw))
      return true; // quarantined earlier (its index entry went with it at the next write)
    order_state s;
    if (!storage::decode(raw, s)) {
      // Quarantined, its held stock and pending intent are still reloaded: they expire
      // (reservation TTL, payment timeout) and give back what the order held.
      ids.push_back(id);
      return note_corrupt(o.corrupt, o.error, quarantine, storage::family::orders, id, raw);
    }
    if (is_terminal(s.step))
      return true;
    ids.push_back(id);
    if (db.get(storage::family::meta, "parked/" + id, reason)) {
      ++o.parked;
      return true;
    }
    o.in_flight.push_back(std::move(s));
    return true;
  });
  return o;
}

/// Visits the deadline index entries of one kind ('r' reservations, 'p' payments), earliest
/// first. A malformed key is corrupt (reported, or quarantined). Returns false when the
/// scan stopped on one.
template <class F>
bool scan_due(const storage::store& db, char kind, std::vector<corrupt_record>& corrupt,
              std::string& error, bool quarantine, F fn) {
  const char* prefix = kind == 'r' ? storage::due_reservation_prefix : storage::due_payment_prefix;
  bool ok = true;
  db.scan(storage::family::meta, prefix, [&](std::string_view k, std::string_view v) {
    storage::due_entry e;
    if (!storage::parse_due_key(k, kind, e))
      return ok = note_corrupt(corrupt, error, quarantine, storage::family::meta, k, v);
    fn(e, v);
    return true;
  });
  return ok && error.empty();
}

} // namespace

loaded_state load_state(const storage::store& db, size_t inventory_workers,
                        size_t payment_workers, size_t order_partitions, bool quarantine) {
  // The orders in flight are read on a second thread while this one reads the SKUs and the
  // deadline index (the halves share nothing; RocksDB reads are thread-safe).
  // Returning early still waits for it (std::async's future).
  auto orders = std::async(std::launch::async, [&db, quarantine] {
    return scan_orders(db, quarantine);
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
  db.scan(storage::family::inventory, "", [&](std::string_view k, std::string_view v) {
    sku_record rec;
    if (!storage::decode(std::string(v), rec))
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
    out.payment_due[directory::payment_partition(oid, order_partitions, payment_workers)]
      .emplace_back(e.deadline_ms, e.id);
    pending_payment.insert(std::move(oid));
  };
  if (!scan_due(db, 'r', out.corrupt, out.error, quarantine, inv_due)
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

std::string check_layout(storage::store& db, const node_config& cfg) {
  const std::string key = "layout/order_partitions";
  auto want = std::to_string(cfg.saga_partitions);
  std::string have;
  if (db.get(storage::family::meta, key, have)) {
    if (have == want)
      return {};
    return "the data directory " + cfg.data_dir() + " was created with saga.partitions = " + have
           + ", and this start has saga.partitions = " + want
           + ": every stored order is placed by its partition, so the count cannot change. "
             "Start with saga.partitions = " + have + ", or use a new data directory";
  }
  storage::batch b;
  b.ops.push_back({storage::family::meta, key, want, false});
  return db.commit({&b}, true);
}

namespace {

std::string upgrade_orders_pass(storage::store& db, size_t& converted) {
  std::string format, index;
  db.get(storage::family::meta, "layout/order_format", format);
  db.get(storage::family::meta, "layout/order_index", index);
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
  db.scan(storage::family::orders, "", [&](std::string_view k, std::string_view v) {
    std::string id(k);
    order_state s;
    // A record that does not decode is indexed as in flight: the load then reports it
    // (or quarantines it), as it would have found it in a whole scan.
    auto unreadable = [&] {
      b.ops.push_back({storage::family::meta, storage::inflight_key(id), {}, false});
      return b.ops.size() < 4096 || flush();
    };
    if (v.empty() || v.front() != '{') {
      if (!storage::decode(v, s))
        return unreadable();
    } else {
      std::vector<saga_event> history;
      if (!read_order(db, id, s, history))
        return unreadable();
      b.ops.push_back({storage::family::orders, id, storage::encode(s, history), false});
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
                     "count/" + storage::order_status_counter(static_cast<order_status>(i)),
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
  db.get(storage::family::meta, "layout/due_index", have);
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
  db.scan(storage::family::inventory, "", [&](std::string_view k, std::string_view v) {
    sku_record rec;
    if (!storage::decode(std::string(v), rec))
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

namespace {

/// Watches the writer: if it ever dies abnormally nothing can become durable any more,
/// so the node stops (a restart recovers from the store) instead of failing every step.
struct writer_watchdog_state {
  static inline const char* name = "writer_watchdog";
};

caf::behavior writer_watchdog(caf::stateful_actor<writer_watchdog_state>* self, context_ptr ctx,
                              caf::actor writer) {
  self->monitor(writer);
  self->set_down_handler([self, ctx](caf::down_msg& dm) {
    if (dm.reason != caf::exit_reason::normal && dm.reason != caf::exit_reason::user_shutdown)
      ctx->halt("the writer died (" + self->system().render(dm.reason) + ")");
    self->quit();
  });
  return {[](tick_atom) {}};
}

} // namespace

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
  db.scan(storage::family::meta, "quarantine/", [&](std::string_view, std::string_view) {
    ++n;
    return true;
  });
  return n;
}

runtime_handles spawn_runtime(caf::actor_system& sys, context_ptr ctx, loaded_state state,
                              uint64_t seed) {
  runtime_handles h;
  for (size_t i = 0; i < state.by_status.size(); ++i)
    ctx->stats->orders_by_status[i] = state.by_status[i];
  ctx->stats->inventory_workers = static_cast<int64_t>(state.inventory.size());
  // The outbox backlog is known before the relay's first round: readiness and the
  // metrics never report an empty outbox that is not.
  uint64_t first = ctx->db->outbox_next_seq();
  ctx->db->scan_from(storage::family::outbox, {}, [&](std::string_view k, std::string_view) {
    first = storage::from_be64(k);
    return false;
  });
  ctx->stats->outbox_depth = static_cast<int64_t>(ctx->db->outbox_next_seq() - first);
  ctx->stats->payment_workers = static_cast<int64_t>(state.payment.size());
  h.dir.writer = spawn_writer(sys, ctx);
  sys.spawn(writer_watchdog, ctx, h.dir.writer); // ends with the writer
  {
    int64_t keys = 0;
    ctx->db->scan(storage::family::meta, "idem_t/", [&](std::string_view, std::string_view) {
      ++keys;
      return true;
    });
    ctx->stats->idempotency_keys = keys;
  }
  h.sweeper = sys.spawn(retention_sweeper, ctx, h.dir.writer);
  auto n_orders = static_cast<size_t>(ctx->cfg.saga_partitions);
  // Cluster: which node owns each partition (the same map on every node). A partition of
  // another node gets a local forwarder in its slot instead of actors.
  auto layout = cluster_layout::from(ctx->cfg);
  auto self_index = layout.index_of(ctx->cfg.node_id);
  bool clustered = layout.nodes.size() > 1;
  for (size_t i = 0; i < layout.nodes.size(); ++i)
    if (clustered && i != self_index) {
      h.peers.push_back(peer_handles{layout.nodes[i], {}, {}, {}});
      if (ctx->stats->peer(layout.nodes[i].id) == nullptr) { // before any actor reads it
        ctx->stats->peers.push_back(std::make_unique<metrics::peer_stats>());
        ctx->stats->peers.back()->id = layout.nodes[i].id;
      }
    }
  auto peer_of = [&](partition_kind kind, size_t p) -> peer_handles* {
    if (!clustered)
      return nullptr;
    auto owner = layout.owner(kind, p);
    if (owner == self_index)
      return nullptr;
    for (auto& x : h.peers)
      if (x.member.id == layout.nodes[owner].id)
        return &x;
    return nullptr;
  };
  auto forward_to = [&](peer_handles& peer, const std::string& slot) {
    return sys.spawn(forwarder, peer.member.id, slot, ctx->stats->peer(peer.member.id),
                     static_cast<uint64_t>(ctx->cfg.cluster_epoch));
  };
  // A slot of another node's partition: a local forwarder, listed for that peer's link.
  auto forward_slot = [&](peer_handles& peer, const std::string& kind, size_t p,
                          std::vector<std::pair<size_t, caf::actor>>& listed,
                          std::vector<caf::actor>& slots, std::vector<uint8_t>* remote) {
    auto f = forward_to(peer, kind + "/" + std::to_string(p));
    listed.emplace_back(p, f);
    slots.push_back(f);
    if (remote != nullptr)
      (*remote)[p] = 1;
  };
  if (clustered) {
    h.dir.orders_remote.assign(n_orders, 0);
    h.dir.inventory_remote.assign(state.inventory.size(), 0);
  }
  for (size_t p = 0; p < n_orders; ++p) {
    if (auto* peer = peer_of(partition_kind::orders, p)) {
      forward_slot(*peer, "orders", p, peer->orders, h.dir.orders, &h.dir.orders_remote);
      continue;
    }
    h.dir.orders.push_back(sys.spawn(order_supervisor, ctx, seed, p));
  }
  // Partitions are supervised (actors/component_supervisor.hpp): the directory holds the
  // supervisor, which restarts a crashed worker from the partition's durable state.
  auto n_inv = state.inventory.size();
  for (size_t p = 0; p < n_inv; ++p) {
    if (auto* peer = peer_of(partition_kind::inventory, p)) {
      forward_slot(*peer, "inventory", p, peer->inventory, h.dir.inventory,
                   &h.dir.inventory_remote);
      continue;
    }
    auto first = std::make_shared<std::pair<inventory_book, due_list>>(
      std::move(state.inventory[p]), std::move(state.inventory_due[p]));
    auto writer = h.dir.writer;
    component_factory make = [ctx, writer, p, n_inv, first](caf::actor_system& s,
                                                             uint64_t restarts) {
      if (restarts == 0)
        return s.spawn(inventory_worker, ctx, writer, p, std::move(first->first),
                       std::move(first->second));
      due_list due;
      auto book = load_inventory_partition(*ctx->db, n_inv, p, *ctx->log, due);
      return s.spawn(inventory_worker, ctx, writer, p, std::move(book), std::move(due));
    };
    h.dir.inventory.push_back(
      spawn_supervised(sys, ctx, "inventory_worker", std::to_string(p), make, h.dir.writer));
  }
  auto n_pay = state.payment.size();
  for (size_t p = 0; p < n_pay; ++p) {
    auto first = std::make_shared<std::pair<payment_book, due_list>>(
      std::move(state.payment[p]), std::move(state.payment_due[p]));
    auto writer = h.dir.writer;
    auto owners = h.dir.orders;
    component_factory make = [ctx, writer, owners, p, n_pay, n_orders,
                              first](caf::actor_system& s, uint64_t restarts) {
      if (restarts == 0)
        return s.spawn(payment_worker, ctx, writer, owners, p, std::move(first->first),
                       std::move(first->second));
      due_list due;
      auto book = load_payment_partition(*ctx->db, n_orders, n_pay, p, due);
      return s.spawn(payment_worker, ctx, writer, owners, p, std::move(book), std::move(due));
    };
    h.dir.payment.push_back(
      spawn_supervised(sys, ctx, "payment_worker", std::to_string(p), make, h.dir.writer));
  }
  // Cluster: an order's payment lives with the order, on its owner node.
  if (clustered)
    for (size_t p = 0; p < n_orders; ++p) {
      if (auto* peer = peer_of(partition_kind::orders, p)) {
        forward_slot(*peer, "payment", p, peer->payment_by_order, h.dir.payment_by_order,
                     nullptr);
      } else {
        h.dir.payment_by_order.push_back(h.dir.payment[p % n_pay]);
      }
    }
  // The registry of long-lived actors (introspection); orders are the supervisor's.
  h.dir.inspector = sys.spawn(inspector, ctx);
  auto reg = [&](const char* kind, size_t key, const caf::actor& a) {
    caf::anon_send(h.dir.inspector, register_atom::value, std::string(kind), std::to_string(key), a);
  };
  for (size_t p = 0; p < h.dir.orders.size(); ++p)
    if (!h.dir.order_partition_remote(p))
      reg("order_supervisor", p, h.dir.orders[p]);
  reg("writer", 0, h.dir.writer);
  for (size_t p = 0; p < h.dir.inventory.size(); ++p)
    if (!h.dir.inventory_partition_remote(p))
      reg("inventory_worker", p, h.dir.inventory[p]);
  for (size_t p = 0; p < h.dir.payment.size(); ++p)
    reg("payment_worker", p, h.dir.payment[p]);
  h.resume = std::move(state.resume);
  h.passive = std::move(state.passive);
  return h;
}

void stop_runtime(const directory& dir) {
  for (auto& a : dir.orders)
    caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
  for (auto& a : dir.inventory)
    caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
  for (auto& a : dir.payment)
    caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
  for (size_t p = 0; p < dir.payment_by_order.size(); ++p)
    if (dir.order_partition_remote(p)) // a forwarder (the others are in `payment`)
      caf::anon_send_exit(dir.payment_by_order[p], caf::exit_reason::user_shutdown);
  caf::anon_send_exit(dir.writer, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(dir.inspector, caf::exit_reason::user_shutdown);
}


void stop_runtime(const runtime_handles& h) {
  caf::anon_send_exit(h.sweeper, caf::exit_reason::user_shutdown);
  stop_runtime(h.dir);
}

} // namespace saga
