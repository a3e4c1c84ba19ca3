// The order owner's introspection: the stuck-saga gauge, the summary, pages of live orders
// and one order's inspection (asking its actor for its mailbox when it has one).
#include "actors/order/owner.hpp"

namespace saga::owner {

order_summary on_summary(self_ptr self) {
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
}

order_page on_list(self_ptr self, const std::string& step, const std::string& cursor,
                   uint64_t limit) {
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
}

caf::result<order_inspection> on_inspect_order(self_ptr self, const std::string& id) {
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
}

} // namespace saga::owner
