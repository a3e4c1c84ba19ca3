#include "actors/order_supervisor.hpp"

#include <algorithm>
#include <cstdio>

#include "actors/order_actor.hpp"
#include "actors/writer.hpp"
#include "storage/codec.hpp"

namespace saga {

namespace {

using self_ptr = caf::stateful_actor<order_supervisor_state>*;

caf::actor spawn_order(self_ptr self, order_state initial) {
  auto& st = self->state;
  return self->spawn<caf::monitored>(order_actor, st.ctx, st.dir, std::move(initial));
}

void track(self_ptr self, const std::string& id, const caf::actor& a) {
  self->state.live[id] = a;
  self->state.ids[a.address()] = id;
  self->state.ctx->stats->live_order_actors = static_cast<int64_t>(self->state.live.size());
}

std::string new_order_id(self_ptr self) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "ord_%016llx",
                static_cast<unsigned long long>(self->state.rng()));
  return buf;
}

/// Restarts the order from its durable snapshot, or parks it past the restart budget.
void on_crash(self_ptr self, const std::string& id, const caf::error& reason) {
  auto& st = self->state;
  auto now = st.ctx->now_ms();
  auto& times = st.restarts[id];
  while (!times.empty() && times.front() <= now - st.ctx->cfg.saga_restart_window_ms)
    times.pop_front();
  auto why = self->system().render(reason);
  if (static_cast<int64_t>(times.size()) >= st.ctx->cfg.saga_max_restarts) {
    ++st.parked_total;
    ++st.ctx->stats->orders_parked;
    auto text = "order actor died " + std::to_string(times.size() + 1) + " times within "
                + std::to_string(st.ctx->cfg.saga_restart_window_ms) + " ms; last: " + why;
    st.ctx->log->error("order_id={} parked: {}", id, text);
    storage::batch b;
    b.ops.push_back({storage::family::meta, "parked/" + id, text, false});
    self->request(st.dir.writer, caf::infinite, write_atom::value, std::move(b))
      .then([](bool) {},
            [self, id](caf::error& e) {
              self->state.ctx->log->critical("order_id={} could not store parking: {}", id,
                                             self->system().render(e));
            });
    st.restarts.erase(id);
    return;
  }
  times.push_back(now);
  ++st.restarted_total;
  ++st.ctx->stats->order_restarts;
  st.ctx->log->warn("order_id={} order actor died ({}); restart {}/{}", id, why, times.size(),
                    st.ctx->cfg.saga_max_restarts);
  // Writes the dead actor sent are ahead of this empty batch: once it is answered the
  // snapshot in the store is the last one the actor made durable.
  self->request(st.dir.writer, caf::infinite, write_atom::value, storage::batch{})
    .then([self, id](bool) {
      auto& st = self->state;
      if (st.live.count(id) != 0)
        return; // respawned meanwhile by a message for it
      std::string raw;
      order_state s;
      if (!st.ctx->db->get(storage::family::orders, id, raw) || !storage::decode(raw, s)) {
        st.ctx->log->warn("order_id={} has no snapshot: it was never acknowledged", id);
        return;
      }
      if (is_terminal(s.step))
        return;
      track(self, id, spawn_order(self, std::move(s)));
    });
}

/// Finds the live actor of an order, or spawns one from its snapshot when the order is
/// not terminal and not parked. Returns an invalid handle otherwise.
caf::actor find_or_resume(self_ptr self, const std::string& id) {
  auto& st = self->state;
  if (auto i = st.live.find(id); i != st.live.end())
    return i->second;
  std::string raw;
  order_state s;
  if (!st.ctx->db->get(storage::family::orders, id, raw) || !storage::decode(raw, s)
      || is_terminal(s.step) || st.ctx->db->get(storage::family::meta, "parked/" + id, raw))
    return {};
  auto a = spawn_order(self, std::move(s));
  track(self, id, a);
  return a;
}

} // namespace

order_view load_order_view(const storage::store& db, const std::string& order_id) {
  order_view v;
  std::string raw;
  if (!db.get(storage::family::orders, order_id, raw))
    return {errc::not_found, "unknown order " + order_id, {}, {}, {}};
  if (!storage::decode(raw, v.state))
    return {errc::unavailable, "snapshot of order " + order_id + " is unreadable", {}, {}, {}};
  db.scan(storage::family::events, order_id + std::string(1, '\0'),
          [&](std::string_view, std::string_view value) {
            saga_event ev;
            if (storage::decode(std::string(value), ev))
              v.events.push_back(std::move(ev));
            return true;
          });
  db.get(storage::family::meta, "parked/" + order_id, v.parked_reason);
  return v;
}

caf::behavior order_supervisor(self_ptr self, context_ptr ctx, uint64_t seed) {
  self->state.ctx = ctx;
  self->state.rng.seed(seed);
  // On shutdown take the order actors along (they are monitored, not linked).
  self->set_exit_handler([self](caf::exit_msg& em) {
    for (auto& [id, a] : self->state.live)
      self->send_exit(a, em.reason);
    self->quit(em.reason);
  });
  self->set_down_handler([self](caf::down_msg& dm) {
    auto& st = self->state;
    auto i = st.ids.find(dm.source);
    if (i == st.ids.end())
      return;
    auto id = i->second;
    st.ids.erase(i);
    if (auto j = st.live.find(id); j != st.live.end() && j->second.address() == dm.source)
      st.live.erase(j);
    st.ctx->stats->live_order_actors = static_cast<int64_t>(st.live.size());
    if (auto k = st.order_to_key.find(id); k != st.order_to_key.end()) {
      st.key_to_order.erase(k->second);
      st.order_to_key.erase(k);
    }
    if (dm.reason == caf::exit_reason::normal || dm.reason == caf::exit_reason::user_shutdown)
      return; // the saga ended (or the node stops)
    on_crash(self, id, dm.reason);
  });
  return {
    [self](start_atom, directory& dir, std::vector<order_state>& resume) -> uint64_t {
      auto& st = self->state;
      st.dir = std::move(dir);
      for (auto& s : resume) {
        auto id = s.order_id;
        track(self, id, spawn_order(self, std::move(s)));
      }
      st.ctx->log->info("order supervisor started; resumed {} orders", resume.size());
      return resume.size();
    },
    [self](create_atom, const std::string& customer_id, std::vector<order_item>& items,
           const std::string& idempotency_key) -> caf::result<create_reply> {
      auto& st = self->state;
      if (!idempotency_key.empty()) {
        std::string existing;
        if (auto k = st.key_to_order.find(idempotency_key); k != st.key_to_order.end())
          existing = k->second;
        else
          st.ctx->db->get(storage::family::meta, "idem/" + idempotency_key, existing);
        if (!existing.empty()) {
          if (auto a = st.live.find(existing); a != st.live.end()) {
            self->delegate(a->second, create_atom::value, existing, customer_id,
                           std::move(items), idempotency_key);
            return caf::delegated<create_reply>{};
          }
          auto v = load_order_view(*st.ctx->db, existing);
          if (v.code == errc::ok)
            return create_reply{v.state, true};
        }
      }
      auto id = new_order_id(self);
      auto a = spawn_order(self, order_state{});
      track(self, id, a);
      if (!idempotency_key.empty()) {
        st.key_to_order[idempotency_key] = id;
        st.order_to_key[id] = idempotency_key;
      }
      self->delegate(a, create_atom::value, id, customer_id, std::move(items), idempotency_key);
      return caf::delegated<create_reply>{};
    },
    [self](input_atom, const std::string& id, saga_input& in) -> caf::result<input_reply> {
      auto& st = self->state;
      if (auto a = find_or_resume(self, id)) {
        self->delegate(a, input_atom::value, std::move(in));
        return caf::delegated<input_reply>{};
      }
      auto v = load_order_view(*st.ctx->db, id);
      if (v.code != errc::ok)
        return input_reply{v.code, outcome::rejected, v.message, {}};
      if (!v.parked_reason.empty())
        return input_reply{errc::unavailable, outcome::rejected,
                           "order is parked: " + v.parked_reason, v.state};
      // A finished order answers from its snapshot, with the same pure decision.
      in.now_ms = st.ctx->now_ms();
      auto d = decide(st.ctx->saga, v.state, in);
      auto code = d.result == outcome::rejected ? errc::conflict : errc::ok;
      return input_reply{code, d.result, d.why, v.state};
    },
    [self](payment_update_atom, const std::string& id, payment_status status) {
      if (auto a = find_or_resume(self, id))
        self->send(a, payment_update_atom::value, status);
    },
    [self](get_atom, const std::string& id) -> order_view {
      return load_order_view(*self->state.ctx->db, id);
    },
    [self](wait_atom, const std::string& id, order_status wanted,
           int64_t timeout_ms) -> caf::result<order_view> {
      auto& st = self->state;
      auto v = load_order_view(*st.ctx->db, id);
      if (v.code != errc::ok || v.state.status == wanted || is_terminal(v.state.step)
          || timeout_ms <= 0)
        return v;
      auto token = ++st.next_waiter;
      auto rp = self->make_response_promise();
      st.waiters[id].push_back({wanted, rp, token});
      self->delayed_send(self, std::chrono::milliseconds(timeout_ms), wait_timeout_atom::value,
                         id, token);
      return caf::delegated<order_view>{};
    },
    [self](changed_atom, const std::string& id, order_status status, bool terminal) {
      auto& st = self->state;
      auto i = st.waiters.find(id);
      if (i == st.waiters.end())
        return;
      auto& ws = i->second;
      auto due = std::partition(ws.begin(), ws.end(), [&](const order_supervisor_state::waiter& w) {
        return !(terminal || w.wanted == status);
      });
      if (due == ws.end())
        return;
      auto v = load_order_view(*st.ctx->db, id);
      for (auto w = due; w != ws.end(); ++w)
        w->rp.deliver(v);
      ws.erase(due, ws.end());
      if (ws.empty())
        st.waiters.erase(i);
    },
    [self](wait_timeout_atom, const std::string& id, uint64_t token) {
      auto& st = self->state;
      auto i = st.waiters.find(id);
      if (i == st.waiters.end())
        return;
      auto& ws = i->second;
      for (auto w = ws.begin(); w != ws.end(); ++w)
        if (w->token == token) {
          w->rp.deliver(load_order_view(*st.ctx->db, id));
          ws.erase(w);
          break;
        }
      if (ws.empty())
        st.waiters.erase(i);
    },
    [self](crash_atom, const std::string& id) {
      if (auto i = self->state.live.find(id); i != self->state.live.end())
        self->send(i->second, crash_atom::value);
    },
    [self](stats_atom) {
      auto& st = self->state;
      return supervisor_stats{st.live.size(), st.restarted_total, st.parked_total};
    },
  };
}

} // namespace saga
