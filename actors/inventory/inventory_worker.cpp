#include "actors/inventory/inventory_worker.hpp"

#include "actors/plumbing/writer.hpp"
#include "actors/inventory/inventory_codec.hpp"
#include "storage/keys.hpp"

namespace saga {

namespace {

using self_ptr = caf::stateful_actor<inventory_worker_state>*;

/// The deadline index entries of a reservation's items (storage/keys.hpp): put while it
/// holds stock, erased once it does not (committed, released, expired).
void due_ops(storage::batch& b, const reservation& res) {
  bool live = res.state == reservation_state::reserved;
  for (auto& item : res.items)
    b.ops.push_back({storage::family::meta,
                     storage::due_reservation_key(res.expires_at_ms, res.order_id, item.sku), {},
                     !live});
}

/// This SKU partition's changelog partition (cluster.replication = kafka).
int32_t log_partition(const inventory_worker_state& st) {
  return directory::inventory_log_partition(st.partition, st.ctx->cfg.saga_partitions);
}

storage::batch to_batch(const inventory_book& book, const inventory_book::result& r,
                        const std::string& order_id) {
  storage::batch b;
  for (auto& sku : r.skus)
    if (auto* rec = book.find_sku(sku))
      b.ops.push_back({storage::family::inventory, sku, saga::encode(*rec), false});
  if (r.reservation_changed)
    if (auto* res = book.find_reservation(order_id)) {
      for (auto& item : res->items)
        b.ops.push_back({storage::family::reservations,
                         storage::reservation_key(order_id, item.sku),
                         saga::encode(*res, item), false});
      due_ops(b, *res);
    }
  return b;
}

void arm_expiry(self_ptr self, const reservation& r) {
  self->state.deadlines.add(self, *self->state.ctx, r.expires_at_ms, r.order_id);
}

/// The reservation's deadline is moot (committed, released, expired): out of the index.
void disarm_expiry(self_ptr self, const std::string& order_id) {
  auto& st = self->state;
  if (auto* r = st.book.find_reservation(order_id))
    st.deadlines.remove(r->expires_at_ms, order_id);
}

/// Publishes this partition's share of saga_book_entries{book="reservations"}.
void publish_count(self_ptr self) {
  auto& st = self->state;
  publish_share(st.ctx->stats->reservations_in_memory, st.counted,
                static_cast<int64_t>(st.book.reservations().size()));
}

/// A finished reservation leaves memory once durable; repeats find it in the store.
void forget_if_finished(self_ptr self, const std::string& order_id) {
  auto& st = self->state;
  if (st.writing.count(order_id) != 0)
    return; // a later change is still on its way to the disk: its answer forgets it
  auto* r = st.book.find_reservation(order_id);
  if (r != nullptr && r->state != reservation_state::reserved) {
    st.book.forget(order_id);
    publish_count(self);
  }
}

/// Persists a change of an order's reservation, then calls `then`; counted in `writing`
/// until durable, so the reservation is not forgotten while a newer version is queued.
template <class F>
void persist_reservation(self_ptr self, storage::batch b, const std::string& order_id, F then) {
  auto& st = self->state;
  ++st.writing[order_id];
  b.log_partition = log_partition(st);
  persist_then(self, st.writer, std::move(b), [self, order_id, then]() mutable {
    auto& st = self->state;
    if (auto i = st.writing.find(order_id); i != st.writing.end() && --i->second == 0)
      st.writing.erase(i);
    then();
  });
}

/// Brings an order's reservation back from the store when it is not in memory (it was
/// finished and forgotten, or never made), so every request stays idempotent per order.
/// False when one of its records does not decode (logged; nothing of it is loaded).
bool ensure_loaded(self_ptr self, const std::string& order_id) {
  auto& st = self->state;
  if (st.book.find_reservation(order_id) != nullptr)
    return true;
  reservation found;
  bool intact = true;
  auto parts = static_cast<uint64_t>(st.ctx->cfg.inventory_workers);
  bool read = st.ctx->db->scan(storage::family::reservations, order_id + std::string(1, '\0'),
                   [&](std::string_view, std::string_view v) {
                     reservation r;
                     reservation_item item;
                     if (!saga::decode(std::string(v), r, item)) {
                       intact = false;
                       return false;
                     }
                     if (directory::hash(item.sku) % parts == st.partition) {
                       if (found.order_id.empty())
                         found = r;
                       found.items.push_back(item);
                     }
                     return true;
                   });
  if (!read) { // never "no reservation": the node stops (the store's read-failure handler)
    st.ctx->log->error("order_id={} its reservations cannot be read (storage read failed)",
                       order_id);
    return false;
  }
  if (!intact) {
    st.ctx->log->error("order_id={} a reservation record does not decode: left as it is "
                       "(its deadline stays in the index; restore the record from a backup)",
                       order_id);
    return false;
  }
  if (!found.order_id.empty()) {
    st.book.load_reservation(std::move(found));
    publish_count(self);
  }
  return true;
}

/// Erases this partition's index entries of `order_id` at `deadline` whose reservation does
/// not hold stock any more (a prefix read: the index holds only live deadlines).
void drop_stale_due(self_ptr self, int64_t deadline, const std::string& order_id) {
  auto& st = self->state;
  if (auto* r = st.book.find_reservation(order_id);
      r != nullptr && r->state == reservation_state::reserved)
    return;
  auto parts = static_cast<uint64_t>(st.ctx->cfg.inventory_workers);
  auto prefix = storage::due_reservation_key(deadline, order_id, {});
  storage::batch b;
  bool read = st.ctx->db->scan(storage::family::meta, prefix, [&](std::string_view k, std::string_view) {
    if (directory::hash(std::string(k.substr(prefix.size()))) % parts == st.partition)
      b.ops.push_back({storage::family::meta, std::string(k), {}, true});
    return true;
  });
  if (read && !b.ops.empty()) {
    b.log_partition = log_partition(st);
    persist_then(self, st.writer, std::move(b), [] {});
  }
}

/// Persists what `r` changed, then answers the request with `r`'s verdict.
/// A command whose reservations could not be read changes nothing: the node stops (the
/// store's read-failure handler), and the asker hears a failure, never "nothing reserved".
op_reply read_failed_reply() {
  return op_reply{false, "the reservations cannot be read (storage read failed); the node is "
                         "stopping"};
}

caf::result<op_reply> persist_and_reply(self_ptr self, const inventory_book::result& r,
                                        const std::string& order_id, const char* what) {
  auto& st = self->state;
  if (r.ok && r.reservation_changed)
    st.ctx->log->debug("order_id={} inventory {} partition={}", order_id, what, st.partition);
  else if (!r.ok)
    st.ctx->log->info("order_id={} inventory {} refused: {}", order_id, what, r.reason);
  auto rp = self->make_response_promise<op_reply>();
  op_reply reply{r.ok, r.reason};
  persist_reservation(self, to_batch(st.book, r, order_id), order_id,
                      [self, rp, reply, order_id]() mutable {
                        forget_if_finished(self, order_id);
                        rp.deliver(reply);
                      });
  return rp;
}

} // namespace

caf::behavior inventory_worker(self_ptr self, context_ptr ctx, caf::actor writer,
                               size_t partition, inventory_book book, due_list due) {
  auto& st = self->state;
  st.ctx = ctx;
  st.writer = std::move(writer);
  st.partition = partition;
  st.book = std::move(book);
  st.probe = {"inventory_worker", std::to_string(partition), st.ctx->now_ms(), 0};
  // Durable timers: the deadline index read back from the store (an overdue entry fires at
  // once); the reservations themselves are read when something happens to them.
  st.deadlines.load(due);
  st.deadlines.schedule(self, *st.ctx);
  publish_count(self);
  return {
    [self](inspect_atom) {
      self->state.probe.count();
      return self->state.probe.read(self, *self->state.ctx);
    },
    // Fault injection for the supervision tests (no HTTP route reaches it).
    [self](crash_atom) { self->quit(caf::make_error(caf::sec::runtime_error, "crash requested")); },
    [self](reserve_atom, const std::string& order_id,
           const std::vector<reservation_item>& items) {
      self->state.probe.count();
      auto& st = self->state;
      if (!ensure_loaded(self, order_id) && st.ctx->db->read_failed())
        return caf::result<op_reply>(read_failed_reply());
      auto r = st.book.reserve(order_id, items, st.ctx->now_ms() + st.ctx->cfg.inventory_reservation_ttl_ms);
      if (r.reservation_changed)
        arm_expiry(self, *st.book.find_reservation(order_id));
      publish_count(self);
      return persist_and_reply(self, r, order_id, "reserved");
    },
    [self](commit_atom, const std::string& order_id) {
      self->state.probe.count();
      auto& st = self->state;
      if (!ensure_loaded(self, order_id) && st.ctx->db->read_failed())
        return caf::result<op_reply>(read_failed_reply());
      disarm_expiry(self, order_id);
      auto r = st.book.commit(order_id, st.ctx->now_ms());
      if (auto* res = st.book.find_reservation(order_id); res && res->state == reservation_state::reserved)
        arm_expiry(self, *res); // not committed (it cannot be, but keep the index true)
      return persist_and_reply(self, r, order_id, "committed");
    },
    [self](release_atom, const std::string& order_id) {
      self->state.probe.count();
      auto& st = self->state;
      if (!ensure_loaded(self, order_id) && st.ctx->db->read_failed())
        return caf::result<op_reply>(read_failed_reply());
      disarm_expiry(self, order_id);
      return persist_and_reply(self, self->state.book.release(order_id), order_id, "released");
    },
    [self](timer_atom, int64_t at) {
      self->state.probe.count();
      auto& st = self->state;
      auto now = st.ctx->now_ms();
      due_list due;
      if (!st.deadlines.take_due(at, now, due, max_due_per_round))
        return; // superseded by an earlier wake-up
      for (auto& [deadline, order_id] : due) {
        bool in_memory = st.book.find_reservation(order_id) != nullptr;
        if (!ensure_loaded(self, order_id)) // read back from the store after a start
          continue; // unreadable: its index entry stays for a restored record
        auto r = st.book.expire(order_id, now);
        if (!r.ok) {
          // Committed or released meanwhile (its entry is gone or going), or an entry left
          // without its reservation: out of the index, so no start arms it again.
          drop_stale_due(self, deadline, order_id);
          auto* res = st.book.find_reservation(order_id);
          if (res != nullptr && res->state == reservation_state::reserved)
            arm_expiry(self, *res); // still held, under another deadline
          else if (!in_memory)
            forget_if_finished(self, order_id); // read from the store just now: durable
          continue;
        }
        st.ctx->log->info("order_id={} reservation expired partition={}", order_id, st.partition);
        persist_reservation(self, to_batch(st.book, r, order_id), order_id,
                            [self, id = order_id] { forget_if_finished(self, id); });
      }
      st.deadlines.schedule(self, *st.ctx); // overdue ones left: at once, after other mail
    },
    [self](stock_atom, const std::string& sku, int64_t on_hand,
           int64_t price_cents) -> caf::result<sku_reply> {
      self->state.probe.count();
      auto& st = self->state;
      auto r = st.book.set_stock(sku, on_hand, price_cents);
      if (!r.ok)
        return sku_reply{errc::conflict, r.reason, {}};
      st.ctx->log->info("sku={} stock set on_hand={} price_cents={}", sku, on_hand, price_cents);
      auto rp = self->make_response_promise<sku_reply>();
      sku_reply reply{errc::ok, {}, *st.book.find_sku(sku)};
      auto b = to_batch(st.book, r, {});
      b.log_partition = log_partition(st);
      persist_then(self, st.writer, std::move(b), [rp, reply]() mutable { rp.deliver(reply); });
      return rp;
    },
    [self](get_atom, const std::string& sku) -> caf::result<sku_reply> {
      auto& st = self->state;
      st.probe.count();
      sku_reply reply{errc::not_found, "unknown sku " + sku, {}};
      if (auto* rec = st.book.find_sku(sku))
        reply = {errc::ok, {}, *rec};
      // Only what is durable: the answer waits for the writes this worker queued before.
      auto rp = self->make_response_promise<sku_reply>();
      persist_then(self, st.writer, storage::batch{},
                   [rp, reply]() mutable { rp.deliver(reply); });
      return rp;
    },
    [self](prices_atom, const std::vector<std::string>& skus) -> prices_reply {
      self->state.probe.count();
      prices_reply reply;
      for (auto& sku : skus) {
        auto* rec = self->state.book.find_sku(sku);
        if (rec == nullptr)
          return {errc::invalid, "unknown sku " + sku, {}};
        reply.prices_cents.push_back(rec->price_cents);
      }
      return reply;
    },
  };
}

} // namespace saga
