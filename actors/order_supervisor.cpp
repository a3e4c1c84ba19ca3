#include "actors/order_supervisor.hpp"

#include <algorithm>
#include <cassert>
#include <cstdio>

#include "actors/order_actor.hpp"
#include "actors/writer.hpp"
#include "storage/codec.hpp"

namespace saga {

namespace {

using self_ptr = caf::stateful_actor<order_supervisor_state>*;

caf::actor spawn_order(self_ptr self, order_state initial,
                       std::vector<saga_event> history = {}, bool lazy = false) {
  auto& st = self->state;
  if (lazy) // starts with its first message: that message comes before any reply to it
    return self->spawn<caf::monitored + caf::lazy_init>(order_actor, st.ctx, st.dir,
                                                        std::move(initial), std::move(history));
  return self->spawn<caf::monitored>(order_actor, st.ctx, st.dir, std::move(initial),
                                     std::move(history));
}

void unindex(order_supervisor_state& st, const std::string& id,
             order_supervisor_state::order_row& row) {
  if (row.deadline_ms != 0)
    st.deadlines.erase({row.deadline_ms, id});
  row.deadline_ms = 0;
}

void index(order_supervisor_state& st, const std::string& id,
           order_supervisor_state::order_row& row) {
  if (!st.ctx->cfg.inspect_enabled)
    return;
  if (auto budget = step_budget_ms(st.ctx->cfg, row.step); budget > 0) {
    row.deadline_ms = row.step_since_ms + budget;
    st.deadlines.insert({row.deadline_ms, id});
  }
}

/// Moves a live order to `step` (entered at `since_ms`): step counts and budget index.
void set_step(order_supervisor_state& st, const std::string& id,
              order_supervisor_state::order_row& row, saga_step step, int64_t since_ms) {
  unindex(st, id, row);
  --st.by_step[static_cast<size_t>(row.step)];
  ++st.by_step[static_cast<size_t>(step)];
  row.step = step;
  row.step_since_ms = since_ms;
  index(st, id, row);
}

/// Keeps `st.idle` true for one row: indexed while it is active, not letting go, and in a
/// step that waits outside.
void index_idle(order_supervisor_state& st, const std::string& id,
                order_supervisor_state::order_row& row) {
  bool want = row.handle && !row.passivating && waits_outside(row.step);
  if (row.idle_key >= 0 && (!want || row.idle_key != row.step_since_ms)) {
    st.idle.erase({row.idle_key, id});
    row.idle_key = -1;
  }
  if (want && row.idle_key < 0) {
    row.idle_key = row.step_since_ms;
    st.idle.insert({row.idle_key, id});
  }
}

/// Period of the passivation sweep: a quarter of saga.passivate_after_ms (10 ms .. 1 s).
int64_t sweep_ms(const runtime_context& ctx) {
  return std::clamp<int64_t>(ctx.cfg.saga_passivate_after_ms / 4, 10, 1000);
}

/// Moves a node-wide gauge by this owner's change: every partition's owner adds its own
/// share (`last`, which only it writes), so the gauge is the sum over partitions.
void publish(std::atomic<int64_t>& gauge, int64_t& last, int64_t now) {
  gauge += now - last;
  last = now;
}

/// The order gauges, from the owner's rows.
void publish_rows(order_supervisor_state& st) {
  auto& g = st.published;
  publish(st.ctx->stats->live_order_actors, g.live,
          static_cast<int64_t>(st.live.size() - st.passive));
  publish(st.ctx->stats->passive_orders, g.passive, static_cast<int64_t>(st.passive));
}

void publish_restarts(order_supervisor_state& st) {
  publish(st.ctx->stats->restart_entries, st.published.restart_entries,
          static_cast<int64_t>(st.restarts.size()));
}

/// Starts tracking an order: a freshly spawned actor (new, resumed, restarted or
/// activated), or with an invalid `a` a passive order (loaded at start).
void track(self_ptr self, const std::string& id, const caf::actor& a, saga_step step,
           order_status status, int64_t since_ms) {
  auto& st = self->state;
  auto now = st.ctx->now_ms();
  auto [it, fresh] = st.live.try_emplace(id);
  auto& row = it->second;
  if (fresh)
    ++st.by_step[static_cast<size_t>(row.step)];
  else if (!row.handle)
    --st.passive; // activated
  if (!a)
    ++st.passive;
  set_step(st, id, row, step, since_ms > 0 ? since_ms : now);
  row.handle = a;
  row.passivating = false;
  row.status = status;
  row.spawned_at_ms = now;
  row.processed = 0;
  row.mailbox = 0;
  if (auto r = st.restarts.find(id); r != st.restarts.end())
    row.restarts = r->second.size();
  if (a)
    st.ids[a.address()] = id;
  index_idle(st, id, row);
  publish_rows(st);
}

/// Spawns the actor of a stored, non-terminal order and tracks it; its step's time runs
/// from the snapshot's last change (a restart does not reset the stuck clock).
caf::actor resume_order(self_ptr self, order_state s, std::vector<saga_event> history,
                        bool lazy = false) {
  auto id = s.order_id;
  auto step = s.step;
  auto status = s.status;
  auto since = s.updated_at_ms;
  auto a = spawn_order(self, std::move(s), std::move(history), lazy);
  track(self, id, a, step, status, since);
  return a;
}

void untrack(order_supervisor_state& st, std::map<std::string,
             order_supervisor_state::order_row>::iterator i) {
  unindex(st, i->first, i->second);
  --st.by_step[static_cast<size_t>(i->second.step)];
  if (!i->second.handle)
    --st.passive;
  if (i->second.idle_key >= 0)
    st.idle.erase({i->second.idle_key, i->first});
  if (i->second.wake_ms != 0)
    st.wakes.remove(i->second.wake_ms, i->first);
  st.live.erase(i);
  publish_rows(st);
}

actor_info row_info(const order_supervisor_state& st, const std::string& id,
                    const order_supervisor_state::order_row& row, int64_t now_ms) {
  actor_info x;
  x.kind = "order";
  x.key = id;
  x.node = st.ctx->cfg.node_id;
  x.state = to_string(row.step);
  x.actor_id = row.handle ? row.handle.id() : 0;
  x.mailbox = row.mailbox;
  x.processed = row.processed;
  x.restarts = row.restarts;
  x.state_since_ms = row.step_since_ms;
  x.spawned_at_ms = row.spawned_at_ms;
  x.budget_ms = step_budget_ms(st.ctx->cfg, row.step);
  x.stuck = row.deadline_ms != 0 && row.deadline_ms <= now_ms;
  x.passive = !row.handle;
  x.wake_at_ms = row.wake_ms;
  if (x.passive)
    x.spawned_at_ms = 0; // no actor now
  return x;
}

/// Orders over their step's budget right now (O(stuck): the index is by deadline).
uint64_t count_stuck(const order_supervisor_state& st, int64_t now_ms) {
  uint64_t n = 0;
  for (auto& [deadline, id] : st.deadlines) {
    if (deadline > now_ms)
      break;
    ++n;
  }
  return n;
}

/// A fresh id in this owner's partition: the first four hex digits are the partition
/// (directory::order_partition), then 48 random bits. An id already in use (live here or
/// stored; a bloom-filtered point read) is drawn again, so a collision never overwrites.
std::string new_order_id(self_ptr self) {
  auto& st = self->state;
  char buf[32];
  std::string raw;
  for (;;) {
    std::snprintf(buf, sizeof(buf), "ord_%04x%012llx", static_cast<unsigned>(st.partition),
                  static_cast<unsigned long long>(st.rng() & 0xffffffffffffull));
    std::string id = buf;
    if (st.live.count(id) == 0 && st.recovering.count(id) == 0
        && !st.ctx->db->get(storage::family::orders, id, raw))
      return id;
    st.ctx->log->warn("order_id={} drawn again: the id is in use", id);
  }
}

/// What a parked order holds: the customer's money (paid, not refunded) and stock (a
/// reservation that may be held or committed).
parked_order parked_row(const order_state& s, std::string reason) {
  parked_order p;
  p.order_id = s.order_id;
  p.reason = std::move(reason);
  p.step = s.step;
  p.status = s.status;
  p.payment = s.payment;
  p.updated_at_ms = s.updated_at_ms;
  p.holds_money = s.payment == payment_status::succeeded;
  switch (s.step) {
    case saga_step::reserving_inventory:
    case saga_step::initiating_payment:
    case saga_step::awaiting_payment:
    case saga_step::awaiting_completion:
    case saga_step::committing_inventory:
    case saga_step::releasing_inventory:
      p.holds_stock = true;
      break;
    case saga_step::refunding_payment:
    case saga_step::completed:
    case saga_step::failed:
      p.holds_stock = false;
      break;
  }
  return p;
}

/// The parked gauges, from the supervisor's map (their only writer).
void publish_parked(order_supervisor_state& st) {
  int64_t money = 0, stock = 0;
  for (auto& [id, p] : st.parked) {
    money += p.holds_money ? 1 : 0;
    stock += p.holds_stock ? 1 : 0;
  }
  auto& g = st.published;
  publish(st.ctx->stats->parked_now, g.parked, static_cast<int64_t>(st.parked.size()));
  publish(st.ctx->stats->parked_holding_money, g.parked_money, money);
  publish(st.ctx->stats->parked_holding_stock, g.parked_stock, stock);
}

/// Drops the in-memory binding of an order's Idempotency-Key (the store keeps it).
void forget_key(order_supervisor_state& st, const std::string& id) {
  if (auto k = st.order_to_key.find(id); k != st.order_to_key.end()) {
    st.key_to_order.erase(k->second);
    st.order_to_key.erase(k);
  }
}

/// Ends an order's recovery: hands the messages held for it to its resumed actor (or to
/// the store's answer when `a` is invalid), in arrival order.
void release_held(self_ptr self, const std::string& id, const caf::actor& a) {
  auto& st = self->state;
  if (!a)
    forget_key(st, id); // durable by now: the store answers for the key
  auto i = st.recovering.find(id);
  if (i == st.recovering.end())
    return;
  auto held = std::move(i->second);
  st.recovering.erase(i);
  for (auto& f : held)
    f(a);
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
    st.recovering[id];
    self->request(st.dir.writer, caf::infinite, write_atom::value, std::move(b))
      .then([self, id, text](bool) {
              // Visible once durable (the writes the dead actor queued are ahead of ours).
              auto& st = self->state;
              std::string raw;
              order_state s;
              if (st.ctx->db->get(storage::family::orders, id, raw) && storage::decode(raw, s)) {
                st.parked[id] = parked_row(s, text);
                publish_parked(st);
              }
              release_held(self, id, caf::actor{}); // answered from the store: parked
            },
            [self, id](caf::error& e) {
              self->state.ctx->log->critical("order_id={} could not store parking: {}", id,
                                             self->system().render(e));
              release_held(self, id, caf::actor{}); // answered from the store
            });
    st.restarts.erase(id);
    publish_restarts(st);
    return;
  }
  times.push_back(now);
  publish_restarts(st);
  ++st.restarted_total;
  ++st.ctx->stats->order_restarts;
  st.ctx->log->warn("order_id={} order actor died ({}); restart {}/{}", id, why, times.size(),
                    st.ctx->cfg.saga_max_restarts);
  // Writes the dead actor sent are ahead of this empty batch: once it is answered the
  // snapshot in the store is the last one the actor made durable. Until then messages for
  // the order are held (a resume now could decide a `seq` a second time).
  st.recovering[id];
  self->request(st.dir.writer, caf::infinite, write_atom::value, storage::batch{})
    .then([self, id](bool) {
      auto& st = self->state;
      order_state s;
      std::vector<saga_event> history;
      caf::actor a;
      if (!read_order(*st.ctx->db, id, s, history))
        st.ctx->log->warn("order_id={} has no snapshot: it was never acknowledged", id);
      else if (!is_terminal(s.step))
        a = resume_order(self, std::move(s), std::move(history));
      release_held(self, id, a);
    },
    [self, id](caf::error& e) {
      // The writer refuses: a write failed and the node is stopping. No resume (memory
      // must not run ahead of the disk); the store answers what was held. Without this
      // handler the error would end the supervisor itself, and its order actors (monitored,
      // not linked) would outlive it and hold up the node's stop.
      self->state.ctx->log->error("order_id={} not restarted: {}", id, self->system().render(e));
      release_held(self, id, caf::actor{});
    });
}

/// Finds the live actor of an order, or spawns one from its snapshot when the order is
/// not terminal and not parked. Returns an invalid handle otherwise. Never called for an
/// order in `recovering` (its callers hold the message instead).
caf::actor find_or_resume(self_ptr self, const std::string& id) {
  auto& st = self->state;
  auto i = st.live.find(id);
  if (i != st.live.end() && i->second.handle)
    return i->second.handle;
  assert(st.recovering.count(id) == 0);
  std::string raw;
  order_state s;
  std::vector<saga_event> history;
  if (!read_order(*st.ctx->db, id, s, history) || is_terminal(s.step)
      || st.ctx->db->get(storage::family::meta, "parked/" + id, raw)) {
    if (i != st.live.end())
      untrack(st, i); // a passive row whose order is not in flight any more
    return {};
  }
  if (i != st.live.end())
    ++st.ctx->stats->order_activations; // passive until now
  return resume_order(self, std::move(s), std::move(history));
}

/// An order's actor let go of it (passivation): the row stays, without an actor. Messages
/// that arrived meanwhile activate it again at once.
void passivated(self_ptr self, std::map<std::string, order_supervisor_state::order_row>::iterator i) {
  auto& st = self->state;
  auto id = i->first;
  auto& row = i->second;
  row.handle = {};
  row.passivating = false;
  row.processed = 0;
  row.mailbox = 0;
  index_idle(st, id, row);
  // Its own deadline (auto-complete), if any, stays in `wakes` as the actor armed it.
  ++st.passive;
  ++st.ctx->stats->order_passivations;
  publish_rows(st);
  forget_key(st, id); // durable: the store answers for its Idempotency-Key
  auto r = st.recovering.find(id);
  if (r == st.recovering.end())
    return;
  auto held = std::move(r->second);
  st.recovering.erase(r);
  if (held.empty())
    return;
  auto a = find_or_resume(self, id);
  for (auto& f : held)
    f(a);
}

/// The answer to an input for an order without a live actor (finished, parked, unknown):
/// from its durable snapshot, with the same pure decision.
input_reply answer_from_store(self_ptr self, const std::string& id, saga_input in) {
  auto& st = self->state;
  auto v = load_order_view(*st.ctx->db, id);
  if (v.code != errc::ok)
    return input_reply{v.code, outcome::rejected, v.message, {}};
  if (!v.parked_reason.empty())
    return input_reply{errc::unavailable, outcome::rejected,
                       "order is parked: " + v.parked_reason, v.state};
  in.now_ms = st.ctx->now_ms();
  auto d = decide(st.ctx->saga, v.state, in);
  auto code = d.result == outcome::rejected ? errc::conflict : errc::ok;
  return input_reply{code, d.result, d.why, v.state};
}

} // namespace

bool read_order(const storage::store& db, const std::string& order_id, order_state& s,
                std::vector<saga_event>& history, bool* found) {
  std::string raw;
  bool has = db.get(storage::family::orders, order_id, raw);
  if (found != nullptr)
    *found = has;
  bool with_history = false;
  if (!has || !storage::decode(raw, s, &history, &with_history))
    return false;
  if (!with_history) // a format-1 snapshot (not converted yet): its events are apart
    db.scan(storage::family::events, order_id + std::string(1, '\0'),
            [&](std::string_view, std::string_view value) {
              saga_event ev;
              if (storage::decode(std::string(value), ev))
                history.push_back(std::move(ev));
              return true;
            });
  return true;
}

order_view load_order_view(const storage::store& db, const std::string& order_id) {
  order_view v;
  bool found = false;
  if (!read_order(db, order_id, v.state, v.events, &found)) {
    if (!found)
      return {errc::not_found, "unknown order " + order_id, {}, {}, {}};
    return {errc::unavailable, "snapshot of order " + order_id + " is unreadable", {}, {}, {}};
  }
  db.get(storage::family::meta, "parked/" + order_id, v.parked_reason);
  return v;
}

namespace {

/// The supervisor once started (see `order_supervisor`).
caf::behavior running(self_ptr self) {
  return {
    [self](recover_atom) {
      // Bounded batches: messages for other orders are served between two of them.
      auto& st = self->state;
      st.probe.count();
      for (int64_t n = 0; n < st.ctx->cfg.saga_recovery_batch && !st.to_recover.empty(); ++n) {
        auto id = std::move(st.to_recover.front());
        st.to_recover.pop_front();
        auto i = st.live.find(id);
        if (i != st.live.end() && !i->second.handle && st.recovering.count(id) == 0)
          find_or_resume(self, id); // still passive: nothing activated it meanwhile
      }
      if (!st.to_recover.empty())
        self->send(self, recover_atom::value);
    },
    [self](timer_atom, const std::string& id, int64_t deadline) {
      // An order's auto-complete deadline, durable in its record (it is sent once the step
      // that set it is written), or the check of its payment's verdict: kept here, behind
      // the partition's one timer.
      auto& st = self->state;
      st.probe.count();
      auto i = st.live.find(id);
      if (i == st.live.end())
        return;
      auto& row = i->second;
      if (row.wake_ms != 0 && row.wake_ms != deadline)
        st.wakes.remove(row.wake_ms, id);
      row.wake_ms = deadline;
      st.wakes.add(self, *st.ctx, deadline, id);
    },
    [self](timer_atom, int64_t at) {
      // Orders' own deadlines (auto-complete): the order acts on it, activated first when
      // passive (it re-arms as it starts, and the next round hands it the deadline).
      auto& st = self->state;
      st.probe.count();
      due_list due;
      if (!st.wakes.take_due(at, st.ctx->now_ms(), due))
        return;
      for (auto& [deadline, id] : due) {
        auto i = st.live.find(id);
        if (i == st.live.end() || i->second.wake_ms != deadline)
          continue; // finished, or its step moved on
        i->second.wake_ms = 0;
        if (auto r = st.recovering.find(id); r != st.recovering.end())
          r->second.push_back([self, deadline](const caf::actor& a) {
            if (a)
              self->send(a, timer_atom::value, deadline);
          });
        else if (i->second.handle)
          self->send(i->second.handle, timer_atom::value, deadline);
        else
          find_or_resume(self, id);
      }
      st.wakes.schedule(self, *st.ctx);
    },
    // Passivation sweep: an order idle in a waiting step for saga.passivate_after_ms is
    // asked to let go; messages for it are held from now on, and it quits if it is still
    // idle when `passivate` reaches it (else it answers `busy`).
    [self](idle_atom) {
      auto& st = self->state;
      auto limit = st.ctx->now_ms() - st.ctx->cfg.saga_passivate_after_ms;
      while (!st.idle.empty() && st.idle.begin()->first <= limit) {
        auto id = st.idle.begin()->second;
        auto& row = st.live.at(id);
        row.passivating = true;
        index_idle(st, id, row); // leaves the index
        st.recovering[id];
        self->send(row.handle, passivate_atom::value);
      }
      self->delayed_send(self, std::chrono::milliseconds(sweep_ms(*st.ctx)), idle_atom::value);
    },
    [self](busy_atom, const std::string& id) {
      auto& st = self->state;
      st.probe.count();
      auto i = st.live.find(id);
      if (i == st.live.end() || !i->second.passivating)
        return;
      i->second.passivating = false;
      index_idle(st, id, i->second); // asked again at the next sweep
      release_held(self, id, i->second.handle);
    },
    [self](create_atom, const std::string& customer_id, std::vector<order_item>& items,
           const std::string& idempotency_key,
           const std::string& request_digest) -> caf::result<create_reply> {
      auto& st = self->state;
      st.probe.count();
      if (!idempotency_key.empty()) {
        idempotency_record rec;
        if (auto k = st.key_to_order.find(idempotency_key); k != st.key_to_order.end()) {
          rec = k->second;
        } else {
          std::string raw;
          if (st.ctx->db->get(storage::family::meta, "idem/" + idempotency_key, raw)
              && !decode_idempotency(raw, rec))
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
      auto a = spawn_order(self, order_state{});
      track(self, id, a, saga_step::reserving_inventory, order_status::pending, 0);
      if (!idempotency_key.empty()) {
        st.key_to_order[idempotency_key] = {id, request_digest, st.ctx->now_ms()};
        st.order_to_key[id] = idempotency_key;
      }
      self->delegate(a, create_atom::value, id, customer_id, std::move(items), idempotency_key,
                     request_digest);
      return caf::delegated<create_reply>{};
    },
    [self](input_atom, const std::string& id, saga_input& in) -> caf::result<input_reply> {
      auto& st = self->state;
      st.probe.count();
      if (auto r = st.recovering.find(id); r != st.recovering.end()) {
        auto rp = self->make_response_promise<input_reply>();
        r->second.push_back([self, rp, id, in](const caf::actor& a) mutable {
          if (a)
            rp.delegate(a, input_atom::value, std::move(in));
          else
            rp.deliver(answer_from_store(self, id, std::move(in)));
        });
        return rp;
      }
      if (auto a = find_or_resume(self, id)) {
        self->delegate(a, input_atom::value, std::move(in));
        return caf::delegated<input_reply>{};
      }
      return answer_from_store(self, id, std::move(in));
    },
    [self](payment_update_atom, const std::string& id, payment_status status) {
      auto& st = self->state;
      st.probe.count();
      if (auto r = st.recovering.find(id); r != st.recovering.end()) {
        r->second.push_back([self, status](const caf::actor& a) {
          if (a)
            self->send(a, payment_update_atom::value, status);
        });
        return;
      }
      if (auto a = find_or_resume(self, id))
        self->send(a, payment_update_atom::value, status);
    },
    [self](get_atom, const std::string& id) -> order_view {
      self->state.probe.count();
      return load_order_view(*self->state.ctx->db, id);
    },
    [self](wait_atom, const std::string& id, order_status wanted,
           int64_t timeout_ms) -> caf::result<bool> {
      // Answers at once when there is nothing to wait for: the order has the status, or
      // has no live actor (finished, parked, unknown: the caller's read tells which).
      // No store reads here: the supervisor is every order's door and must stay light.
      auto& st = self->state;
      st.probe.count();
      auto r = st.live.find(id);
      if (r == st.live.end() || r->second.status == wanted || timeout_ms <= 0)
        return true;
      auto token = ++st.next_waiter;
      auto rp = self->make_response_promise();
      st.waiters[id].push_back({wanted, rp, token});
      self->delayed_send(self, std::chrono::milliseconds(timeout_ms), wait_timeout_atom::value,
                         id, token);
      return caf::delegated<bool>{};
    },
    [self](changed_atom, order_progress& p) {
      auto& st = self->state;
      st.probe.count();
      const auto& id = p.order_id;
      if (auto r = st.live.find(id); r != st.live.end()) {
        auto& row = r->second;
        if (row.step != p.step) {
          set_step(st, id, row, p.step, p.at_ms);
          index_idle(st, id, row);
          if (row.wake_ms != 0 && p.step != saga_step::awaiting_completion
              && p.step != saga_step::awaiting_payment) {
            st.wakes.remove(row.wake_ms, id); // completed or compensating: moot
            row.wake_ms = 0;
          }
        }
        row.status = p.status;
        row.processed = p.processed;
        row.mailbox = p.mailbox;
      }
      for (auto& sub : st.subscribers)
        self->send(sub, changed_atom::value, p);
      if (!p.status_changed && !p.terminal)
        return;
      auto i = st.waiters.find(id);
      if (i == st.waiters.end())
        return;
      auto& ws = i->second;
      auto due = std::partition(ws.begin(), ws.end(), [&](const order_supervisor_state::waiter& w) {
        return !(p.terminal || w.wanted == p.status);
      });
      if (due == ws.end())
        return;
      for (auto w = due; w != ws.end(); ++w)
        w->rp.deliver(true);
      ws.erase(due, ws.end());
      if (ws.empty())
        st.waiters.erase(i);
    },
    [self](wait_timeout_atom, const std::string& id, uint64_t token) {
      auto& st = self->state;
      st.probe.count();
      auto i = st.waiters.find(id);
      if (i == st.waiters.end())
        return;
      auto& ws = i->second;
      for (auto w = ws.begin(); w != ws.end(); ++w)
        if (w->token == token) {
          w->rp.deliver(false);
          ws.erase(w);
          break;
        }
      if (ws.empty())
        st.waiters.erase(i);
    },
    [self](parked_atom) {
      auto& st = self->state;
      st.probe.count();
      std::vector<parked_order> out;
      out.reserve(st.parked.size());
      for (auto& [id, p] : st.parked)
        out.push_back(p);
      return out;
    },
    // An operator's action on a parked order: resume it from its snapshot and hand it the
    // action, which it records (order_admin_action, un-parking it in the same write) and
    // carries out: retry re-sends its step's commands, compensate releases, refunds when
    // paid, and fails the order. Answered once durable.
    [self](admin_atom, const std::string& id, input_kind kind,
           const std::string& note) -> caf::result<input_reply> {
      auto& st = self->state;
      st.probe.count();
      if (kind != input_kind::admin_retry && kind != input_kind::admin_compensate)
        return input_reply{errc::invalid, outcome::rejected, "not an admin action", {}};
      auto p = st.parked.find(id);
      if (p == st.parked.end()) {
        auto v = load_order_view(*st.ctx->db, id);
        if (v.code != errc::ok)
          return input_reply{v.code, outcome::rejected, v.message, {}};
        return input_reply{errc::conflict, outcome::rejected,
                           "order " + id + " is not parked (step " + to_string(v.state.step)
                             + "); only parked orders take retry or compensate",
                           v.state};
      }
      if (st.live.count(id) != 0 || st.recovering.count(id) != 0)
        return input_reply{errc::conflict, outcome::rejected,
                           "an action on order " + id + " is already under way", {}};
      order_state s;
      std::vector<saga_event> history;
      if (!read_order(*st.ctx->db, id, s, history))
        return input_reply{errc::unavailable, outcome::rejected, "snapshot unreadable", {}};
      st.restarts.erase(id); // a fresh restart budget for the operator's attempt
      auto s_seq = s.seq;
      // Lazy: the operator's action is its first message, handled before the replies to
      // the commands it re-sends as it starts.
      auto a = resume_order(self, std::move(s), std::move(history), true);
      st.ctx->log->warn("order_id={} admin {} ({})", id, to_string(kind), note);
      auto rp = self->make_response_promise<input_reply>();
      auto seq_before = s_seq;
      self->request(a, st.ctx->request_timeout(), input_atom::value,
                    saga_input{kind, st.ctx->now_ms(), note})
        .then(
          [self, rp, id](input_reply& r) mutable {
            if (r.code == errc::ok && r.result == outcome::applied) {
              self->state.parked.erase(id);
              publish_parked(self->state);
            }
            rp.deliver(std::move(r));
          },
          [self, rp, id, seq_before](caf::error& e) mutable {
            // The order died before answering (a poison order crashes again). Its write
            // may still be on its way: after a writer barrier the store tells whether
            // the action was recorded, and only that is answered.
            self->request(self->state.dir.writer, caf::infinite, write_atom::value,
                          storage::batch{})
              .then(
                [self, rp, id, seq_before, e](bool) mutable {
                  auto v = load_order_view(*self->state.ctx->db, id);
                  for (auto& ev : v.events)
                    if (ev.seq > seq_before && ev.type == event_type::order_admin_action) {
                      if (v.parked_reason.empty())
                        self->state.parked.erase(id);
                      publish_parked(self->state);
                      rp.deliver(input_reply{errc::ok, outcome::applied,
                                             "recorded; the order died right after", v.state});
                      return;
                    }
                  rp.deliver(std::move(e));
                },
                [rp](caf::error& e2) mutable { rp.deliver(std::move(e2)); });
          });
      return rp;
    },
    [self](fenced_atom, uint64_t epoch, caf::message& inner) -> caf::result<caf::message> {
      // A command for this partition from another node (actors/cluster.hpp).
      return unfence(self, static_cast<uint64_t>(self->state.ctx->cfg.cluster_epoch), epoch,
                     inner);
    },
    [self](crash_atom, const std::string& id) {
      if (auto i = self->state.live.find(id); i != self->state.live.end())
        self->send(i->second.handle, crash_atom::value);
    },
    [self](stats_atom) {
      auto& st = self->state;
      return supervisor_stats{st.live.size(), st.restarted_total, st.parked_total};
    },
    // ---- introspection ----
    [self](tick_atom) {
      // The stuck-saga detector: the gauge is current within one tick.
      auto& st = self->state;
      publish(st.ctx->stats->stuck_orders, st.published.stuck,
              static_cast<int64_t>(count_stuck(st, st.ctx->now_ms())));
      self->delayed_send(self, std::chrono::milliseconds(st.ctx->cfg.inspect_tick_ms),
                         tick_atom::value);
    },
    [self](inspect_atom) {
      auto& st = self->state;
      st.probe.count();
      return st.probe.read(self, *st.ctx, st.dir.writer ? "running" : "starting");
    },
    [self](summary_atom) {
      auto& st = self->state;
      st.probe.count();
      constexpr size_t max_listed = 20;
      auto now = st.ctx->now_ms();
      order_summary out;
      out.live = st.live.size();
      out.by_step.assign(st.by_step.begin(), st.by_step.end());
      out.stuck = count_stuck(st, now);
      for (auto& [deadline, id] : st.deadlines) {
        if (deadline > now || out.stuck_oldest.size() == max_listed)
          break;
        out.stuck_oldest.push_back(row_info(st, id, st.live.at(id), now));
      }
      out.restarted = st.restarted_total;
      out.parked = st.parked_total;
      for (auto& [id, p] : st.parked) {
        if (out.parked_orders.size() == max_listed)
          break;
        out.parked_orders.push_back(p);
      }
      return out;
    },
    [self](list_atom, const std::string& step, const std::string& cursor, uint64_t limit) {
      // Bounded: at most `max_scanned` rows per page, so a rare filter on a million
      // orders answers in pieces (next_cursor) instead of holding the supervisor.
      auto& st = self->state;
      st.probe.count();
      constexpr uint64_t max_scanned = 100000;
      auto now = st.ctx->now_ms();
      order_page page;
      auto i = cursor.empty() ? st.live.begin() : st.live.upper_bound(cursor);
      for (; i != st.live.end(); ++i) {
        if (page.rows.size() >= limit || page.scanned >= max_scanned) {
          page.next_cursor = std::prev(i)->first;
          break;
        }
        ++page.scanned;
        if (step.empty() || step == to_string(i->second.step)
            || (step == "stuck" && i->second.deadline_ms != 0 && i->second.deadline_ms <= now))
          page.rows.push_back(row_info(st, i->first, i->second, now));
      }
      return page;
    },
    [self](inspect_atom, const std::string& id) -> caf::result<order_inspection> {
      auto& st = self->state;
      st.probe.count();
      order_inspection out;
      out.view = load_order_view(*st.ctx->db, id);
      auto r = st.live.find(id);
      if (out.view.code != errc::ok || r == st.live.end())
        return out;
      out.live = true;
      auto now = st.ctx->now_ms();
      out.actor = row_info(st, id, r->second, now);
      if (!r->second.handle)
        return out; // passive: no actor to ask
      // Ask the order actor itself for its mailbox and counters (it answers between
      // two of its messages; the supervisor does not wait for it).
      auto rp = self->make_response_promise<order_inspection>();
      self->request(r->second.handle, st.ctx->request_timeout(), inspect_atom::value)
        .then(
          [rp, out](actor_info& x) mutable {
            out.actor.mailbox = x.mailbox;
            out.actor.processed = x.processed;
            out.actor.actor_id = x.actor_id;
            rp.deliver(std::move(out));
          },
          [rp, out](caf::error&) mutable {
            out.actor.mailbox = -1; // did not answer in time (or ended meanwhile)
            rp.deliver(std::move(out));
          });
      return rp;
    },
    [self](subscribe_atom, caf::actor sub) {
      auto& st = self->state;
      st.probe.count();
      self->monitor(sub);
      st.subscribers.push_back(std::move(sub));
    },
  };
}

} // namespace

caf::behavior order_supervisor(self_ptr self, context_ptr ctx, uint64_t seed, size_t partition) {
  self->state.ctx = ctx;
  self->state.partition = partition;
  self->state.rng.seed(seed ^ (partition * 0x9e3779b97f4a7c15ull));
  self->state.probe.kind = "order_supervisor";
  self->state.probe.key = std::to_string(partition);
  self->state.probe.spawned_at_ms = ctx->now_ms();
  // On shutdown take the order actors along (they are monitored, not linked).
  self->set_exit_handler([self](caf::exit_msg& em) {
    for (auto& [id, row] : self->state.live)
      self->send_exit(row.handle, em.reason);
    self->quit(em.reason);
  });
  self->set_down_handler([self](caf::down_msg& dm) {
    auto& st = self->state;
    auto i = st.ids.find(dm.source);
    if (i == st.ids.end()) {
      auto& subs = st.subscribers;
      subs.erase(std::remove_if(subs.begin(), subs.end(),
                                [&](const caf::actor& a) { return a.address() == dm.source; }),
                 subs.end());
      return;
    }
    auto id = i->second;
    st.ids.erase(i);
    auto j = st.live.find(id);
    bool current = j != st.live.end() && j->second.handle.address() == dm.source;
    if (current && j->second.passivating && dm.reason == caf::exit_reason::normal)
      return passivated(self, j);
    if (current)
      untrack(st, j);
    bool ended = dm.reason == caf::exit_reason::normal
                 || dm.reason == caf::exit_reason::user_shutdown;
    if (ended || st.ctx->halted.load()) {
      forget_key(st, id);
      if (ended) {
        st.restarts.erase(id); // bounded: restart times live only as long as their order
        publish_restarts(st);
      }
      return; // the saga ended, the node stops, or it stops after a failed write (no
              // restart from a store being left)
    }
    // A crash: the order's Idempotency-Key stays bound to it until its recovery ends (its
    // creation may still be queued, so the store cannot tell yet).
    on_crash(self, id, dm.reason);
  });
  // Until `start` hands it the directory and the orders in flight, every other message
  // waits in the mailbox: activating an order before would give it no directory.
  self->set_default_handler(caf::skip);
  return {
    [self](start_atom, directory& dir, std::vector<order_state>& resume,
           std::vector<order_state>& passive) -> uint64_t {
      auto& st = self->state;
      st.probe.count();
      st.dir = std::move(dir);
      // No actor is spawned here: every order in flight gets its row (passive), the
      // waiting ones stay so, and the mid-step ones are activated in the background.
      for (auto* xs : {&passive, &resume})
        for (auto& s : *xs) {
          auto id = s.order_id;
          track(self, id, caf::actor{}, s.step, s.status, s.updated_at_ms);
          if (s.step == saga_step::awaiting_completion && s.complete_deadline_ms != 0) {
            st.live[id].wake_ms = s.complete_deadline_ms;
            st.wakes.add(self, *st.ctx, s.complete_deadline_ms, id);
          } else if (s.step == saga_step::awaiting_payment && s.payment_expires_at_ms != 0) {
            // the order's own check of its payment (order_actor.cpp, arm_payment_check)
            auto at = s.payment_expires_at_ms + st.ctx->cfg.saga_request_timeout_ms;
            st.live[id].wake_ms = at;
            st.wakes.add(self, *st.ctx, at, id);
          }
        }
      for (auto& s : resume)
        st.to_recover.push_back(s.order_id);
      if (!st.to_recover.empty())
        self->send(self, recover_atom::value);
      // Parked orders are loaded too: visible and operable (retry / compensate).
      st.ctx->db->scan(storage::family::meta, "parked/", [&](std::string_view k, std::string_view v) {
        auto id = std::string(k.substr(7));
        if (directory::order_partition(id, st.dir.orders.size()) != st.partition)
          return true; // another partition's
        std::string raw;
        order_state s;
        if (st.ctx->db->get(storage::family::orders, id, raw) && storage::decode(raw, s)
            && !is_terminal(s.step))
          st.parked[id] = parked_row(s, std::string(v));
        return true;
      });
      publish_parked(st);
      if (st.ctx->cfg.inspect_enabled)
        self->send(self, tick_atom::value);
      self->delayed_send(self, std::chrono::milliseconds(sweep_ms(*st.ctx)), idle_atom::value);
      st.ctx->log->info("order supervisor started: {} orders in flight, {} to re-activate, {} "
                        "passive", st.live.size(), resume.size(), passive.size());
      // Messages that came before the start (a payment expiry fires as the workers start)
      // waited in the mailbox; they are handled from now on.
      self->set_default_handler(caf::print_and_drop);
      self->become(running(self));
      return st.live.size();
    },
  };
}

} // namespace saga