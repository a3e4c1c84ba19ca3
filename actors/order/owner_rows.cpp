// The order owner's rows: one per order in flight, with its step, its place in the
// stuck-saga index and the idle index, and this owner's share of the node's gauges.
#include "actors/order/owner.hpp"

namespace saga::owner {

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
  if (!i->second.waits_on.empty())
    if (auto u = st.unserved.find(i->second.waits_on); u != st.unserved.end())
      u->second.erase(i->first);
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

} // namespace saga::owner
