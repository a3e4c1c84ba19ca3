// Failover (ownership.hpp): which partitions this node takes over, and when (a dead or
// stopping node's, by rendezvous among the live majority; this node's own released ones,
// taken back), the liveness lease, and the starting peers whose partitions are not taken.
#include "actors/cluster/ownership_detail.hpp"

#include "runtime/lease_ticker.hpp"

namespace saga::ownership_detail {

/// A takeover of one of node `i`'s own partitions is under way here.
bool taking_of(own_ptr self, size_t i) {
  auto& st = self->state;
  for (auto k : {partition_kind::orders, partition_kind::inventory}) {
    auto& xs = slots(self, k);
    for (size_t p = 0; p < xs.size(); ++p)
      if (xs[p].taking && st.layout.owner(k, p) == i)
        return true;
  }
  return false;
}

/// Answers the starting peers that no takeover of their partitions is under way any more.
void answer_starting(own_ptr self) {
  auto& st = self->state;
  for (auto i = st.start_waiters.begin(); i != st.start_waiters.end();) {
    if (taking_of(self, st.layout.index_of(i->first))) {
      ++i;
      continue;
    }
    for (auto& rp : i->second)
      rp.deliver(true);
    i = st.start_waiters.erase(i);
  }
}

/// Node `i` said it is starting, within the start grace: its partitions are not taken.
bool is_starting(own_ptr self, size_t i) {
  auto& st = self->state;
  auto s = st.starting.find(st.layout.nodes[i].id);
  return s != st.starting.end()
         && st.ctx->now_ms() - s->second < st.ctx->cfg.cluster_failover_start_grace_ms;
}



bool failover_on(const node_config& cfg) {
  return cfg.cluster_failover_after_ms > 0 && cfg.cluster_replication == "kafka";
}

/// Failover's liveness lease (runtime/lease_ticker.hpp, renew_lease). False when the node
/// stops.
bool keep_lease(own_ptr self) {
  auto& st = self->state;
  return !failover_on(st.ctx->cfg) || renew_lease(*st.ctx, st.last_tick_mono);
}

/// Failover: takes what no live node has held for cluster.failover_after_ms, when this node
/// is the live nodes' rendezvous choice for it and sees a majority.
void check_failover(own_ptr self) {
  auto& st = self->state;
  auto& cfg = st.ctx->cfg;
  if (!failover_on(cfg) || !st.take)
    return;
  std::vector<uint8_t> live(st.layout.nodes.size(), 0);
  size_t n_live = 0;
  for (size_t i = 0; i < st.layout.nodes.size(); ++i)
    if (i == st.self || (st.entries.count(st.layout.nodes[i].id) != 0
                         && st.leaving.count(st.layout.nodes[i].id) == 0)) {
      live[i] = 1;
      ++n_live;
    }
  bool minority = 2 * n_live <= st.layout.nodes.size();
  if (minority != st.minority) {
    st.minority = minority;
    if (minority)
      st.ctx->log->warn("cluster: this node sees {} of {} nodes: no majority, so it takes over "
                        "no partition", n_live, st.layout.nodes.size());
    else // own partitions released meanwhile: their take-back pause counts from here
      for (auto k : {partition_kind::orders, partition_kind::inventory}) {
        auto& xs = slots(self, k);
        for (size_t p = 0; p < xs.size(); ++p)
          if (!xs[p].mine && xs[p].holder != me(self) && st.layout.owner(k, p) == st.self)
            xs[p].since_ms = std::max(xs[p].since_ms, st.ctx->now_ms());
      }
  }
  if (minority)
    return;
  auto now = st.ctx->now_ms();
  for (auto k : {partition_kind::orders, partition_kind::inventory}) {
    auto& xs = slots(self, k);
    for (size_t p = 0; p < xs.size(); ++p) {
      auto& s = xs[p];
      if (st.stopping)
        continue;
      if (!s.mine && !s.taking && st.layout.owner(k, p) == st.self && s.holder != me(self)) {
        // One of this node's own partitions, released here (fenced while this node was cut
        // off): taken back once nobody has held it for failover_after_ms, or held by
        // another node for take_back_after_ms (0: never), as a start would (its open
        // fences the holder, which releases it).
        // (Its holder stopping: at once, even with take_back_after_ms = 0, since the other
        // nodes leave it to this one, its own node.)
        bool from_leaving = !s.holder.empty() && st.leaving.count(s.holder) != 0;
        auto after = s.holder.empty() ? cfg.cluster_failover_after_ms
                                      : cfg.cluster_take_back_after_ms;
        if (!from_leaving && (after <= 0 || now - s.since_ms < after))
          continue;
        s.taking = true;
        ++st.takeovers;
        st.ctx->log->warn("cluster: taking back partition {} of this node ({} for {} ms)",
                          slot_name(k, p),
                          s.holder.empty() ? std::string("nobody held it") : s.holder + " held it",
                          now - s.since_ms);
        st.take(self, k, p);
        continue;
      }
      bool handed = !s.holder.empty() && st.leaving.count(s.holder) != 0; // a graceful stop
      if (s.mine || s.taking || (!s.holder.empty() && !handed)
          || (!handed && now - s.since_ms < cfg.cluster_failover_after_ms))
        continue;
      auto preferred = st.layout.owner(k, p);
      if (live[preferred] != 0 && !handed)
        continue; // its own node is up: it takes it back (it opens it at its start)
      if (is_starting(self, preferred))
        continue; // its own node is starting: it opens it in a moment
      if (st.layout.owner_among(k, p, live) != st.self)
        continue;
      s.taking = true;
      ++st.takeovers;
      if (handed)
        st.ctx->log->info("cluster: taking over partition {} from {}, which is stopping",
                          slot_name(k, p), s.holder);
      else
        st.ctx->log->warn("cluster: taking over partition {} (its node {} is down; nobody "
                          "has held it for {} ms)", slot_name(k, p),
                          st.layout.nodes[preferred].id, now - s.since_ms);
      st.take(self, k, p);
    }
  }
}

} // namespace saga::ownership_detail
