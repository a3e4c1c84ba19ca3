// The order owner's long-poll waiters (GET /orders/{id}?wait=...): told when an order
// reaches the wanted status or a terminal one, as its actor reports each durable step, or
// at their time-out. Progress reports also move the order's row and go to subscribers.
#include <algorithm>

#include "actors/order/owner.hpp"

namespace saga::owner {

caf::result<bool> on_wait(self_ptr self, const std::string& id, order_status wanted,
                          int64_t timeout_ms) {
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
}

void on_changed(self_ptr self, order_progress& p) {
  auto& st = self->state;
  st.probe.count();
  const auto& id = p.order_id;
  if (p.terminal || waits_outside(p.step))
    recovery_settled(self, id);
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
}

void on_wait_timeout(self_ptr self, const std::string& id, uint64_t token) {
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
}

} // namespace saga::owner
