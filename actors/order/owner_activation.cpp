// The order owner's activation and passivation: an order's actor is spawned from its
// durable snapshot when a message for it arrives (or its own deadline fires), and an order
// idle in a waiting step lets go of its actor. Messages for an order are routed here; those
// for an order whose actor is being let go or recovered are held and handed on.
#include <algorithm>
#include <cassert>

#include "actors/order/order_actor.hpp"
#include "actors/order/owner.hpp"

namespace saga::owner {

caf::actor spawn_order(self_ptr self, order_state initial,
                       std::vector<saga_event> history, bool lazy) {
  auto& st = self->state;
  if (lazy) // starts with its first message: that message comes before any reply to it
    return self->spawn<caf::monitored + caf::lazy_init>(order_actor, st.ctx, st.dir,
                                                        std::move(initial), std::move(history));
  return self->spawn<caf::monitored>(order_actor, st.ctx, st.dir, std::move(initial),
                                     std::move(history));
}

/// Spawns the actor of a stored, non-terminal order and tracks it; its step's time runs
/// from the snapshot's last change (a restart does not reset the stuck clock).
caf::actor resume_order(self_ptr self, order_state s, std::vector<saga_event> history,
                        bool lazy) {
  auto id = s.order_id;
  auto step = s.step;
  auto status = s.status;
  auto since = s.updated_at_ms;
  auto a = spawn_order(self, std::move(s), std::move(history), lazy);
  track(self, id, a, step, status, since);
  return a;
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
  auto got = storage::read_status::absent;
  bool have = read_order(*st.ctx->db, id, s, history, &got);
  auto parked = have ? st.ctx->db->get(storage::family::meta, "parked/" + id, raw)
                     : storage::read_status::absent;
  // A failed read is not "not in flight": the row (and its wake) stays; the node stops
  // (the store's read-failure handler) and the next start resumes the order.
  if (got == storage::read_status::failed || parked == storage::read_status::failed)
    return {};
  if (!have || is_terminal(s.step) || parked == storage::read_status::found) {
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

/// Period of the passivation sweep: a quarter of saga.passivate_after_ms (10 ms .. 1 s).
int64_t sweep_ms(const runtime_context& ctx) {
  return std::clamp<int64_t>(ctx.cfg.saga_passivate_after_ms / 4, 10, 1000);
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
  auto d = decide(saga_config_of(st.ctx->cfg), v.state, in);
  auto code = d.result == outcome::rejected ? errc::conflict : errc::ok;
  return input_reply{code, d.result, d.why, v.state};
}

void on_wake(self_ptr self, const std::string& id, int64_t deadline) {
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
}

void on_wakes_due(self_ptr self, int64_t at) {
  // Orders' own deadlines (auto-complete): the order acts on it, activated first when
  // passive (it re-arms as it starts, and the next round hands it the deadline).
  auto& st = self->state;
  st.probe.count();
  due_list due;
  // Bounded like the workers' rounds: after a long stop the backlog is worked off in
  // slices, each handler doing at most max_due_per_round reads and activations.
  if (!st.wakes.take_due(at, st.ctx->now_ms(), due, max_due_per_round))
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
}

void on_idle_sweep(self_ptr self) {
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
}

void on_busy(self_ptr self, const std::string& id) {
  auto& st = self->state;
  st.probe.count();
  auto i = st.live.find(id);
  if (i == st.live.end() || !i->second.passivating)
    return;
  i->second.passivating = false;
  if (auto& w = i->second.waits_on; !w.empty()) { // it moved on: live again
    st.unserved[w].erase(id);
    w.clear();
  }
  index_idle(st, id, i->second); // asked again at the next sweep
  release_held(self, id, i->second.handle);
}

void on_unserved(self_ptr self, const std::string& id, const std::string& slot, int64_t sent_ms) {
  auto& st = self->state;
  st.probe.count();
  auto i = st.live.find(id);
  if (i == st.live.end() || !i->second.handle
      || i->second.handle.address() != self->current_sender())
    return; // gone, passive, or an older actor of it
  if (auto s = st.served_at_ms.find(slot); s != st.served_at_ms.end() && s->second >= sent_ms)
    return; // served again since its request was sent: its re-send finds the holder
  auto& row = i->second;
  if (!row.waits_on.empty() && row.waits_on != slot)
    st.unserved[row.waits_on].erase(id);
  row.waits_on = slot;
  st.unserved[slot].insert(id);
  // Already letting go (the idle sweep asked first): it quits waiting, and `served` finds it.
  if (row.passivating)
    return;
  row.passivating = true;
  index_idle(st, id, row); // leaves the sweep's index
  st.recovering[id];
  st.ctx->log->info("order_id={} waits passive at step={}: nobody serves partition {} (it is "
                    "re-activated when it is served again)", id, to_string(row.step), slot);
  self->send(row.handle, passivate_atom::value);
}

void on_served(self_ptr self, const std::string& slot) {
  auto& st = self->state;
  st.probe.count();
  st.served_at_ms[slot] = st.ctx->clock->mono_ms(); // as the orders' sent_ms: no wall step
  auto u = st.unserved.find(slot);
  if (u == st.unserved.end())
    return;
  std::vector<std::string> ids;
  for (auto& id : u->second) {
    auto i = st.live.find(id);
    if (i == st.live.end())
      continue;
    i->second.waits_on.clear();
    if (i->second.handle && i->second.passivating)
      st.recovering[id].push_back([](const caf::actor&) {}); // activated again once it let go
    else if (!i->second.handle && st.recovering.count(id) == 0)
      ids.push_back(id); // passive: re-activated (a live one re-sends on its own)
  }
  st.unserved.erase(u);
  if (ids.empty())
    return;
  st.ctx->log->info("partition {} is served again: {} waiting orders of partition {} are "
                    "re-activated", slot, ids.size(), st.partition);
  recover_later(self, ids);
}

caf::result<input_reply> on_input(self_ptr self, const std::string& id, saga_input& in) {
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
}

void on_payment_update(self_ptr self, const std::string& id, payment_status status) {
  auto& st = self->state;
  st.probe.count();
  if (auto r = st.recovering.find(id); r != st.recovering.end()) {
    r->second.push_back([self, status](const caf::actor& a) {
      if (a)
        self->send(a, payment_update_atom::value, status);
    });
    return;
  }
  // A verdict for an order in flight: a plain message (a waiting order that misses it asks
  // the payment partition itself). A late capture comes as `late_refund`, answered.
  if (auto a = find_or_resume(self, id))
    self->send(a, payment_update_atom::value, status);
}

namespace {

/// A late refund for an order without an actor (finished, parked, unknown): a failed
/// order that has not recorded it gets an actor from its snapshot for it, which records
/// the capture and its refund (saga.cpp, late_refund), answers once durable, and ends.
void late_refund_stored(self_ptr self, const std::string& id, caf::response_promise rp) {
  auto& st = self->state;
  saga_input in{input_kind::payment_refunded, 0, "late"};
  order_state s;
  std::vector<saga_event> history;
  if (read_order(*st.ctx->db, id, s, history) && s.step == saga_step::failed
      && !s.payment_id.empty() && s.payment != payment_status::succeeded
      && s.payment != payment_status::refunded) {
    st.ctx->log->warn("order_id={} payment_id={} a late payment was refunded: recorded on the "
                      "failed order", id, s.payment_id);
    auto a = resume_order(self, std::move(s), std::move(history));
    rp.delegate(a, input_atom::value, std::move(in));
    return;
  }
  auto r = answer_from_store(self, id, in);
  // A parked order whose payment is still open records it when an operator acts: its
  // compensation's cancel, or its retry's intent request, finds the payment refunded. One
  // whose payment is decided (expired, failed) would not: it answers 503 until an
  // operator's action lets its actor run again.
  if (st.parked.count(id) != 0) {
    bool open = r.state.payment == payment_status::none
                || r.state.payment == payment_status::pending;
    rp.deliver(open ? input_reply{errc::ok, outcome::rejected,
                                  "the order is parked: an operator's compensation or retry "
                                  "records the refund", r.state}
                    : input_reply{errc::unavailable, outcome::rejected,
                                  "the order is parked: it records the refund once an "
                                  "operator's compensation or retry resumes it", r.state});
    return;
  }
  // Recorded already (a repeat: ok, with the payment refunded), unknown, or unreadable (the
  // node stops). The snapshot's answer writes nothing: a decision it would apply is not
  // recorded, so it is not "ok" (an order that could not be resumed just now).
  if (r.code == errc::ok && r.result == outcome::applied)
    r = input_reply{errc::unavailable, outcome::rejected,
                    "the order could not record the refund now: retry", r.state};
  rp.deliver(std::move(r));
}

} // namespace

caf::result<input_reply> on_late_refund(self_ptr self, const std::string& id) {
  auto& st = self->state;
  st.probe.count();
  saga_input in{input_kind::payment_refunded, 0, "late"};
  auto rp = self->make_response_promise<input_reply>();
  // In flight: its actor records it and answers once durable. An actor that is ending
  // meanwhile bounces the request (request_receiver_down); the worker asks again after a
  // pause, when its row is gone.
  if (auto r = st.recovering.find(id); r != st.recovering.end()) {
    r->second.push_back([self, rp, id, in](const caf::actor& a) mutable {
      if (a)
        rp.delegate(a, input_atom::value, std::move(in));
      else
        late_refund_stored(self, id, rp);
    });
    return rp;
  }
  if (auto a = find_or_resume(self, id))
    rp.delegate(a, input_atom::value, std::move(in));
  else
    late_refund_stored(self, id, rp);
  return rp;
}

} // namespace saga::owner
