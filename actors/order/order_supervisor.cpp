#include "actors/order/order_supervisor.hpp"

#include "actors/order/order_store.hpp"
#include "actors/order/owner.hpp"

// The order owner's behaviour: it dispatches each message to the file of its job
// (owner.hpp lists them); only one-line answers are written here.

namespace saga::owner {

caf::behavior running(self_ptr self) {
  return {
    [self](recover_atom) { on_recover_batch(self); },
    // An order's auto-complete deadline, durable in its record (sent once the step that
    // set it is written), or the check of its payment's verdict.
    [self](timer_atom, const std::string& id, int64_t deadline) { on_wake(self, id, deadline); },
    // Orders' own deadlines that fell due: each order acts on it, activated first when passive.
    [self](timer_atom, int64_t at) { on_wakes_due(self, at); },
    // Passivation sweep: an order idle in a waiting step for saga.passivate_after_ms is
    // asked to let go; messages for it are held from now on, and it quits if it is still
    // idle when `passivate` reaches it (else it answers `busy`).
    [self](idle_atom) { on_idle_sweep(self); },
    [self](busy_atom, const std::string& id) { on_busy(self, id); },
    // An order's command found a partition nobody serves; that partition is served again.
    [self](unserved_atom, const std::string& id, const std::string& slot, int64_t sent_ms) {
      on_unserved(self, id, slot, sent_ms);
    },
    [self](served_atom, const std::string& slot) { on_served(self, slot); },
    [self](create_atom, const std::string& customer_id, std::vector<order_item>& items,
           const std::string& idempotency_key,
           const std::string& request_digest) -> caf::result<create_reply> {
      return on_create(self, customer_id, items, idempotency_key, request_digest);
    },
    [self](input_atom, const std::string& id, saga_input& in) -> caf::result<input_reply> {
      return on_input(self, id, in);
    },
    [self](payment_update_atom, const std::string& id, payment_status status) {
      on_payment_update(self, id, status);
    },
    [self](late_refund_atom, const std::string& id) -> caf::result<input_reply> {
      return on_late_refund(self, id);
    },
    [self](get_atom, const std::string& id) -> order_view {
      self->state.probe.count();
      return load_order_view(*self->state.ctx->db, id);
    },
    [self](wait_atom, const std::string& id, order_status wanted,
           int64_t timeout_ms) -> caf::result<bool> {
      return on_wait(self, id, wanted, timeout_ms);
    },
    [self](changed_atom, order_progress& p) { on_changed(self, p); },
    [self](wait_timeout_atom, const std::string& id, uint64_t token) {
      on_wait_timeout(self, id, token);
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
    // An operator's action on a parked order (owner_restarts.cpp). Answered once durable.
    [self](admin_atom, const std::string& id, input_kind kind,
           const std::string& note) -> caf::result<input_reply> {
      return on_admin(self, id, kind, note);
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
    [self](summary_atom) { return on_summary(self); },
    [self](list_atom, const std::string& step, const std::string& cursor, uint64_t limit) {
      return on_list(self, step, cursor, limit);
    },
    [self](inspect_atom, const std::string& id) -> caf::result<order_inspection> {
      return on_inspect_order(self, id);
    },
    [self](subscribe_atom, caf::actor sub) {
      auto& st = self->state;
      st.probe.count();
      self->monitor(sub);
      st.subscribers.push_back(std::move(sub));
    },
  };
}

} // namespace saga::owner

namespace saga {

caf::behavior order_supervisor(caf::stateful_actor<order_supervisor_state>* self,
                               context_ptr ctx, uint64_t seed, size_t partition) {
  using namespace owner;
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
  // An order actor ended: passivated, finished, or crashed (owner_recovery.cpp).
  self->set_down_handler([self](caf::down_msg& dm) { on_order_down(self, dm); });
  // Until `start` hands it the directory and the orders in flight, every other message
  // waits in the mailbox: activating an order before would give it no directory.
  self->set_default_handler(caf::skip);
  return {
    [self](start_atom, directory& dir, std::vector<order_state>& resume,
           std::vector<order_state>& passive) -> uint64_t {
      return on_start(self, dir, resume, passive);
    },
  };
}

} // namespace saga
