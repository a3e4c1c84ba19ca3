// The order owner's creation path: an Idempotency-Key answers with the order it is bound to
// (from memory while the order's actor lives, else from the store), admission at
// saga.max_live_orders, and a fresh order id in this partition.
#include <cstdio>

#include "actors/order/order_actor.hpp"
#include "actors/order/owner.hpp"

namespace saga::owner {

/// Drops the in-memory binding of an order's Idempotency-Key (the store keeps it).
void forget_key(order_supervisor_state& st, const std::string& id) {
  if (auto k = st.order_to_key.find(id); k != st.order_to_key.end()) {
    st.key_to_order.erase(k->second);
    st.order_to_key.erase(k);
  }
}

/// A fresh id in this owner's partition: the first four hex digits are the partition
/// (directory::order_partition), then 48 random bits. An id already in use (live here or
/// stored; a bloom-filtered point read) is drawn again, so a collision never overwrites.
/// Empty when the read failed (the node stops).
std::string new_order_id(self_ptr self) {
  auto& st = self->state;
  char buf[32];
  std::string raw;
  for (;;) {
    std::snprintf(buf, sizeof(buf), "ord_%04x%012llx", static_cast<unsigned>(st.partition),
                  static_cast<unsigned long long>(st.rng() & 0xffffffffffffull));
    std::string id = buf;
    if (st.live.count(id) != 0 || st.recovering.count(id) != 0) {
      st.ctx->log->warn("order_id={} drawn again: the id is in use", id);
      continue;
    }
    auto got = st.ctx->db->get(storage::family::orders, id, raw);
    if (got == storage::read_status::failed)
      return {};
    if (got == storage::read_status::absent)
      return id;
    st.ctx->log->warn("order_id={} drawn again: the id is in use", id);
  }
}

namespace {

/// A creation that could not read what it must know changes nothing: the node stops (the
/// store's read-failure handler) and the client hears 503, so its retry finds the order
/// the key is bound to once the disk answers, never a second one.
caf::error read_failed(order_supervisor_state& st, const std::string& what) {
  st.ctx->log->error("order creation refused: {} cannot be read (storage read failed)", what);
  return caf::make_error(caf::sec::runtime_error,
                         what + " cannot be read (storage read failed); the node is stopping");
}

} // namespace

caf::result<create_reply> on_create(self_ptr self, const std::string& customer_id,
                                    std::vector<order_item>& items,
                                    const std::string& idempotency_key,
                                    const std::string& request_digest) {
  auto& st = self->state;
  st.probe.count();
  if (!idempotency_key.empty()) {
    idempotency_record rec;
    if (auto k = st.key_to_order.find(idempotency_key); k != st.key_to_order.end()) {
      rec = k->second;
    } else {
      std::string raw;
      auto got = st.ctx->db->get(storage::family::meta, "idem/" + idempotency_key, raw);
      if (got == storage::read_status::failed) // never "no order for this key": no second order
        return read_failed(st, "the Idempotency-Key's binding");
      if (got == storage::read_status::found && !decode_idempotency(raw, rec))
        st.ctx->log->error("idempotency record {} is unreadable: {}", idempotency_key, raw);
    }
    auto retention = st.ctx->cfg.http_idempotency_retention_ms;
    if (!rec.order_id.empty() && rec.created_at_ms > 0
        && rec.created_at_ms + retention <= st.ctx->now_ms())
      rec = {}; // expired: the key is free again
    if (!rec.order_id.empty() && !rec.request_digest.empty()
        && rec.request_digest != request_digest)
      return create_reply{{}, true, true};
    auto existing = rec.order_id;
    if (!existing.empty()) {
      if (auto r = st.recovering.find(existing); r != st.recovering.end()) {
        // Its actor died with writes maybe queued: answer once the store is settled.
        auto rp = self->make_response_promise<create_reply>();
        r->second.push_back([self, rp, existing, customer_id, items, idempotency_key,
                             request_digest](const caf::actor& a) mutable {
          if (a) {
            rp.delegate(a, create_atom::value, existing, customer_id, std::move(items),
                        idempotency_key, request_digest);
            return;
          }
          auto v = load_order_view(*self->state.ctx->db, existing);
          if (v.code == errc::ok)
            rp.deliver(create_reply{v.state, true});
          else // the dead actor's creation never became durable: the client retries
            rp.deliver(caf::make_error(caf::sec::request_receiver_down,
                                       "order " + existing + " was lost before it was stored"));
        });
        return rp;
      }
      if (auto a = st.live.find(existing); a != st.live.end()) {
        self->delegate(a->second.handle, create_atom::value, existing, customer_id,
                       std::move(items), idempotency_key, request_digest);
        return caf::delegated<create_reply>{};
      }
      auto v = load_order_view(*st.ctx->db, existing);
      if (v.code == errc::ok)
        return create_reply{v.state, true};
      if (st.ctx->db->read_failed())
        return read_failed(st, "order " + existing + ", bound to the Idempotency-Key");
    }
  }
  // Admission where the work happens: this node's live sagas, whichever gateway asked.
  if (st.ctx->stats->live_order_actors.load() >= st.ctx->cfg.saga_max_live_orders) {
    ++st.ctx->stats->rejected_overload;
    create_reply busy;
    busy.overloaded = true;
    return busy;
  }
  auto id = new_order_id(self);
  if (id.empty())
    return read_failed(st, "the new order id's record");
  auto a = spawn_order(self, order_state{});
  track(self, id, a, saga_step::reserving_inventory, order_status::pending, 0);
  if (!idempotency_key.empty()) {
    st.key_to_order[idempotency_key] = {id, request_digest, st.ctx->now_ms()};
    st.order_to_key[id] = idempotency_key;
  }
  self->delegate(a, create_atom::value, id, customer_id, std::move(items), idempotency_key,
                 request_digest);
  return caf::delegated<create_reply>{};
}

} // namespace saga::owner
