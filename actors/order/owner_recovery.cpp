// The order owner's start and recovery: every order in flight gets its row (passive), the
// waiting ones keep their deadlines, the mid-step ones are re-activated in bounded batches
// in the background, and parked orders are loaded to be seen and operated.
#include "actors/order/order_codec.hpp"
#include "actors/order/owner.hpp"

namespace saga::owner {

uint64_t on_start(self_ptr self, directory& dir, std::vector<order_state>& resume,
                  std::vector<order_state>& passive) {
  auto& st = self->state;
  st.probe.count();
  st.dir = std::move(dir);
  // Its orders reach it directly, not through the directory's forwarder for this partition
  // (replication = kafka, or a partition taken over): an order's last messages to its owner
  // (`busy`, `unserved`, `changed`) must arrive before the owner's down message for it,
  // which a detour through another actor would not ensure.
  if (st.partition < st.dir.orders.size())
    st.dir.orders[st.partition] = caf::actor_cast<caf::actor>(self);
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
  publish_recovery(st);
  if (!st.to_recover.empty()) {
    st.recover_scheduled = true;
    self->send(self, recover_atom::value);
  }
  // Parked orders are loaded too: visible and operable (retry / compensate).
  // A failed read stops the node (the store's read-failure handler), so a start that could
  // not read every parked order never serves.
  (void)st.ctx->db->scan(storage::family::meta, "parked/", [&](std::string_view k, std::string_view v) {
    auto id = std::string(k.substr(7));
    if (directory::order_partition(id, st.dir.orders.size()) != st.partition)
      return true; // another partition's
    std::string raw;
    order_state s;
    if (st.ctx->db->get(storage::family::orders, id, raw) == storage::read_status::found && saga::decode(raw, s)
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
}

namespace {

/// This owner's share of saga.recovery_batch: the node's window split over its partitions.
size_t recovery_window(const order_supervisor_state& st) {
  auto parts = std::max<size_t>(1, st.dir.orders.size());
  return std::max<size_t>(1, static_cast<size_t>(st.ctx->cfg.saga_recovery_batch) / parts);
}

void schedule_recovery(self_ptr self) {
  auto& st = self->state;
  if (st.recover_scheduled || st.to_recover.empty()
      || st.recovery_active.size() >= recovery_window(st))
    return;
  st.recover_scheduled = true;
  self->send(self, recover_atom::value);
}

} // namespace

void publish_recovery(order_supervisor_state& st) {
  publish_share(st.ctx->stats->recovery_pending, st.published.recovery_pending,
                static_cast<int64_t>(st.to_recover.size()));
  publish_share(st.ctx->stats->recovery_active, st.published.recovery_active,
                static_cast<int64_t>(st.recovery_active.size()));
}

void on_recover_batch(self_ptr self) {
  // A window of re-activated sagas, refilled as they settle (recovery_settled): the
  // pools get no more commands than they answer within the request time-out, so no
  // re-activated saga times out behind the others and ends parked. Each message looks at
  // a bounded number of entries: messages for other orders are served in between.
  auto& st = self->state;
  st.probe.count();
  st.recover_scheduled = false;
  auto window = recovery_window(st);
  for (int64_t n = 0; n < st.ctx->cfg.saga_recovery_batch && !st.to_recover.empty()
                      && st.recovery_active.size() < window;
       ++n) {
    auto id = std::move(st.to_recover.front());
    st.to_recover.pop_front();
    auto i = st.live.find(id);
    if (i != st.live.end() && !i->second.handle && st.recovering.count(id) == 0)
      if (find_or_resume(self, id)) // still passive: nothing activated it meanwhile
        st.recovery_active.insert(id);
  }
  publish_recovery(st);
  schedule_recovery(self);
}

void recover_later(self_ptr self, const std::vector<std::string>& ids) {
  auto& st = self->state;
  st.to_recover.insert(st.to_recover.end(), ids.begin(), ids.end());
  publish_recovery(st);
  schedule_recovery(self);
}

void recovery_settled(self_ptr self, const std::string& id) {
  auto& st = self->state;
  if (st.recovery_active.erase(id) == 0)
    return;
  publish_recovery(st);
  schedule_recovery(self);
}

} // namespace saga::owner
