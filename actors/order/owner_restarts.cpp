// The order owner's restarts and parking: a crashed order is restarted from its last
// durable snapshot (once the writes its actor queued are settled), at most
// saga.max_restarts times within saga.restart_window_ms; past that it is parked with a
// reason, and an operator's retry or compensate resumes it.
#include "actors/order/owner.hpp"

namespace saga::owner {

namespace {

/// Another actor's failure, answered to the requester: CAF's bounce of a request (receiver
/// down, no context) gets `what` as its context, so the gateway never takes it for a bounce
/// of its own request, which it would send again (gateway/slot_request.hpp): the action may
/// have been written meanwhile.
caf::error relayed(const caf::error& e, const std::string& what) {
  if (e == caf::sec::request_receiver_down && e.context().empty())
    return caf::make_error(caf::sec::request_receiver_down, what);
  return e;
}

} // namespace

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
    b.log_partition = directory::order_log_partition(id, st.ctx->cfg.saga_partitions);
    st.recovering[id];
    self->request(st.dir.writer, caf::infinite, write_atom::value, std::move(b))
      .then([self, id, text](bool) {
              // Visible once durable (the writes the dead actor queued are ahead of ours).
              auto& st = self->state;
              std::string raw;
              order_state s;
              if (st.ctx->db->get(storage::family::orders, id, raw) == storage::read_status::found
                  && saga::decode(raw, s)) {
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
      auto got = storage::read_status::absent;
      if (!read_order(*st.ctx->db, id, s, history, &got))
        st.ctx->log->warn(got == storage::read_status::failed
                            ? "order_id={} cannot be read: the node stops, and resumes it at "
                              "the next start"
                            : "order_id={} has no snapshot: it was never acknowledged", id);
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

caf::result<input_reply> on_admin(self_ptr self, const std::string& id, input_kind kind,
                                  const std::string& note) {
  auto& st = self->state;
  st.probe.count();
  if (kind != input_kind::admin_retry && kind != input_kind::admin_compensate)
    return input_reply{errc::invalid, outcome::rejected, "not an admin action", {}};
  auto p = st.parked.find(id);
  if (p == st.parked.end()) {
    auto v = load_order_view(*st.ctx->db, id);
    if (v.code != errc::ok)
      return input_reply{v.code, outcome::rejected, v.message, {}};
    if (kind == input_kind::admin_compensate && !is_terminal(v.state.step)) {
      // An order that waits (for its payment, or on a partition nobody serves): the
      // operator gives up on it. It goes to the order like any input (activated if it is
      // passive); the saga releases, cancels or refunds what it holds and fails it.
      st.ctx->log->warn("order_id={} admin compensate of a waiting order (step {}) ({})", id,
                        to_string(v.state.step), note);
      saga_input in{kind, st.ctx->now_ms(), note};
      return on_input(self, id, in);
    }
    return input_reply{errc::conflict, outcome::rejected,
                       "order " + id + " is not parked (step " + to_string(v.state.step)
                         + "); retry takes only parked orders, compensate any order not "
                           "finished",
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
              rp.deliver(relayed(e, "order " + id + " ended before answering"));
            },
            [rp, id](caf::error& e2) mutable {
              rp.deliver(relayed(e2, "the writer did not answer for order " + id));
            });
      });
  return rp;
}

/// An order actor ended: let go (passivation), finished, or crashed (restarted or parked).
void on_order_down(self_ptr self, caf::down_msg& dm) {
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
  recovery_settled(self, id); // passive, finished, crashed: its recovery slot is free
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
}

} // namespace saga::owner
