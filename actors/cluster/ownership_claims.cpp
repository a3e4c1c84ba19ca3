// Claims and sequence (ownership.hpp): which report of a partition's holder is the newest,
// and the end of a takeover here. The claims of a partition commit in fence order (a fenced
// producer commits nothing), so a higher offset in the owners topic names a later holder.
#include "actors/cluster/ownership_detail.hpp"

#include <algorithm>
#include <set>

namespace saga::ownership_detail {

/// Tells this node's order owners (its own order partitions and those taken over here)
/// that SKU partition `q` is served again: the orders that wait passive for it re-send
/// (order_supervisor.hpp, `unserved`).
void tell_served(own_ptr self, size_t q) {
  auto& st = self->state;
  auto slot = slot_name(partition_kind::inventory, q);
  for (size_t p = 0; p < st.orders.size(); ++p) {
    auto& o = st.orders[p];
    if ((o.mine || o.holder == me(self)) && o.local)
      self->send(o.local, served_atom::value, slot);
  }
}

void tell_served_to(own_ptr self, const caf::actor& owner) {
  auto& inv = self->state.inventory;
  for (size_t q = 0; q < inv.size(); ++q)
    if (inv[q].served_to)
      self->send(owner, served_atom::value, slot_name(partition_kind::inventory, q));
}

bool stale(const owned_slot& s, int64_t seq) {
  return seq >= 0 && s.seq >= 0 && seq < s.seq;
}

bool own_partition_claimed(own_ptr self, partition_kind k, size_t p, const std::string& node,
                           int64_t seq) {
  auto& st = self->state;
  auto& s = slots(self, k)[p];
  if (node.empty() || node == me(self) || s.holder == node)
    return false;
  if (st.stopping) { // handed over (a graceful stop)
    s.holder = node;
    s.seq = std::max(s.seq, seq);
    handed_over(self);
    return false;
  }
  if (seq < 0 || s.seq < 0 || seq <= s.seq)
    return false; // not later than this node's own claim
  auto why = node + " opened partition " + slot_name(k, p) + " of this node after it (its claim "
             "at owners offset " + std::to_string(seq) + ", this node's at "
             + std::to_string(s.seq) + ")";
  if (!releases_own(self)) {
    st.ctx->halt("cluster: " + why + ": this node is fenced");
    return false;
  }
  unhome(self, k, p, why);
  return true;
}

void on_claim(own_ptr self, partition_claim& c) {
  auto& st = self->state;
  auto& cur = st.claims[c.log_partition];
  if (c.offset <= cur.offset)
    return; // an older one read again (a reader that started over)
  cur = c;
  // A starting peer's claim: it opened its partitions (fenced, claimed) and is loading them.
  // Its start grace counts from here, not from its `starting`: waiting on a busy or frozen
  // peer before the open must not let the grace lapse and fence a node that is about to
  // serve (a takeover now would; the grace still bounds a start that hangs after its open).
  if (auto s = st.starting.find(c.node_id); s != st.starting.end())
    s->second = std::max(s->second, st.ctx->now_ms());
  partition_kind k;
  size_t p = 0;
  if (!slot_of(self, c.log_partition, k, p))
    return;
  // Another process with this node's id opened a partition after this one claimed it (a
  // second start with the same cluster.node_id, or one left running): the two would fence
  // each other's partitions for ever (each release taken back). This one stops, as a
  // fenced node did before. A claim of an earlier process with this id (this node before
  // its restart, read from the topic's start) comes before this process's claims of that
  // partition, or where this process claimed nothing: it is history, not a duplicate.
  auto& mine_now = st.ctx->cfg.incarnation;
  if (c.node_id == me(self) && !mine_now.empty() && c.incarnation == mine_now)
    st.own_claims[c.log_partition] = c.offset;
  auto own = st.own_claims.find(c.log_partition);
  if (c.node_id == me(self) && !c.incarnation.empty() && !mine_now.empty()
      && c.incarnation != mine_now && own != st.own_claims.end() && own->second < c.offset) {
    st.ctx->halt("cluster: another process with this node's id " + me(self) + " (incarnation "
                 + c.incarnation + "; this one is " + mine_now + ") opened partition "
                 + slot_name(k, p) + " at owners offset " + std::to_string(c.offset)
                 + ": two processes must not share a node id; this one stops");
    return;
  }
  auto& s = slots(self, k)[p];
  if (c.offset <= s.seq)
    return; // known already (its holder's announcement came first)
  if (s.mine) {
    if (c.node_id == me(self)) {
      s.seq = c.offset;
      return;
    }
    if (!own_partition_claimed(self, k, p, c.node_id, c.offset))
      return;
  }
  s.seq = c.offset;
  if (c.node_id == me(self)) {
    // Our own takeover's claim: on_taken routes it. One that failed after its claim
    // (loading the rows) fenced the holder known here all the same: routed away from.
    if (!s.taking && !s.holder.empty() && s.holder != me(self)) {
      s.holder.clear();
      s.remote = s.remote_pay = caf::actor{};
      s.since_ms = st.ctx->now_ms();
      route_slot(self, s);
    }
    return;
  }
  if (s.holder == c.node_id)
    return; // the holder routed already
  if (s.holder == me(self)) {
    // Taken over here, and opened after us by another node: we are fenced. Released now
    // rather than at its next failed commit (an idle partition would answer reads).
    release(self, k, p, c.node_id + " claimed it after this node (owners offset "
                          + std::to_string(c.offset) + ")");
  } else if (!s.holder.empty()) {
    st.ctx->log->info("cluster: partition {} is no longer routed to {}: {} claimed it at "
                      "owners offset {}", slot_name(k, p), s.holder, c.node_id, c.offset);
    s.holder.clear();
    s.since_ms = st.ctx->now_ms();
  }
  s.remote = s.remote_pay = caf::actor{};
  // The claimant serves it once its takeover finished and announces it then (`owns`):
  // while it is a live peer, requests wait for that in the forwarders (at most the request
  // time-out) instead of getting 503. So they do for a claim made less than a request
  // time-out ago by a node not linked here yet: a node that restarts opens its partitions
  // before this node's link to it is back (seen as ~1 s of 503s after a restart), and its
  // welcome then routes them. An older claim (read late, or at this node's start) has
  // nobody to wait for: 503 at once.
  // (The claimant's wall clock against ours: a skew past the time-out either way makes no
  // claim fresh, which is the behaviour before this rule.)
  auto age = st.ctx->now_ms() - c.at_ms;
  bool fresh = c.at_ms > 0 && age < st.ctx->cfg.saga_request_timeout_ms
               && age > -st.ctx->cfg.saga_request_timeout_ms;
  if (st.entries.count(c.node_id) != 0 || fresh)
    for (auto* fw : {&s.fw, &s.pay_fw})
      if (*fw)
        self->send(*fw, hold_atom::value, true, st.ctx->cfg.saga_request_timeout_ms);
  route_slot(self, s);
}

void ask_claimants(own_ptr self) {
  auto& st = self->state;
  std::set<std::string> nodes;
  for (auto k : {partition_kind::orders, partition_kind::inventory}) {
    auto& xs = slots(self, k);
    for (size_t p = 0; p < xs.size(); ++p) {
      auto& s = xs[p];
      if (s.mine || s.taking || !s.holder.empty() || s.seq < 0)
        continue;
      auto c = st.claims.find(log_partition(self, k, p));
      if (c == st.claims.end() || c->second.offset != s.seq || c->second.node_id == me(self)
          || st.entries.count(c->second.node_id) == 0)
        continue;
      nodes.insert(c->second.node_id);
    }
  }
  for (auto& node : nodes) {
    if (!st.asked.insert(node).second)
      continue; // its answer is still on the way
    st.ctx->log->debug("cluster: asking {} what it holds (its claim is the newest of a "
                       "partition nobody serves here)", node);
    self->request(st.entries[node], std::chrono::milliseconds(st.ctx->cfg.cluster_connection_timeout_ms),
                  welcome_atom::value)
      .then(
        [self, node](const cluster_welcome& w) {
          auto& st = self->state;
          st.asked.erase(node);
          // Only what it holds counts (a welcome made before an announcement of ours
          // arrived there could leave a partition out that it serves now).
          if (w.ok && w.node_id == node && st.entries.count(node) != 0)
            apply_welcome(self, node, w, false);
        },
        [self, node](caf::error& e) {
          self->state.asked.erase(node);
          self->state.ctx->log->debug("cluster: {} did not say what it holds: {}", node,
                                      self->system().render(e));
        });
  }
}

namespace {

/// The actors a takeover made, which are not served: stopped, the committer dropped.
void discard(own_ptr self, partition_kind k, size_t p, taken_partition& t) {
  for (auto* a : {&t.main, &t.payment, &t.committer})
    if (*a)
      self->send_exit(*a, caf::exit_reason::user_shutdown);
  drop_committer(self, log_partition(self, k, p));
}

} // namespace

void on_taken(own_ptr self, partition_kind k, size_t p, taken_partition& t) {
  auto& st = self->state;
  auto& s = slots(self, k)[p];
  s.taking = false;
  auto own_node = st.layout.owner(k, p);
  if (t.error.empty() && s.holder.empty() && is_starting(self, own_node)) {
    // Its own node started meanwhile and opens it now (it waited for this takeover):
    // serving it here would only last until that open fences us.
    st.ctx->log->info("cluster: partition {} is not served here: {} is starting and takes "
                      "it back", slot_name(k, p), st.layout.nodes[own_node].id);
    discard(self, k, p, t);
    answer_starting(self);
    return;
  }
  answer_starting(self);
  if (!t.error.empty()) {
    if (t.committer) {
      // Failed after the writer got the committer (loading the rows): the writer drops
      // it (and the standby applies the partition again once it did).
      discard(self, k, p, t);
    } else if (st.standby) { // never given to the writer: a standby again
      self->send(st.standby, standby_atom::value, true, log_partition(self, k, p));
    }
    st.ctx->log->error("cluster: taking over partition {} failed: {}; trying again",
                       slot_name(k, p), t.error);
    s.since_ms = st.ctx->now_ms() - st.ctx->cfg.cluster_failover_after_ms / 2;
    if (t.claim_offset >= 0 && t.claim_offset >= s.seq) {
      // It failed after its claim: the holder known here is fenced all the same.
      s.seq = t.claim_offset;
      if (!s.holder.empty() && s.holder != me(self)) {
        s.holder.clear();
        s.remote = s.remote_pay = caf::actor{};
        route_slot(self, s);
      }
    }
    return;
  }
  // Another node's claim (read from the topic, or its announcement) later than ours; with
  // no claim of ours (replication without claims), any holder other than a leaving one.
  bool claimed_after = t.claim_offset >= 0 && s.seq > t.claim_offset;
  bool held_else = t.claim_offset < 0 && !s.holder.empty() && st.leaving.count(s.holder) == 0;
  if (claimed_after || held_else) {
    // Someone claimed it meanwhile (its own node came back and opened it): drop ours.
    if (claimed_after) {
      auto c = st.claims.find(log_partition(self, k, p));
      st.ctx->log->info("cluster: partition {} is not served here: {} claimed it after this "
                        "node's takeover (owners offset {} > {})", slot_name(k, p),
                        c != st.claims.end() ? c->second.node_id : s.holder, s.seq,
                        t.claim_offset);
      if (s.holder.empty())
        s.since_ms = st.ctx->now_ms(); // not taken again before failover_after_ms
    }
    discard(self, k, p, t);
    return;
  }
  s.holder = me(self);
  s.local = t.main;
  s.local_pay = t.payment;
  s.committer = t.committer;
  s.seq = std::max(s.seq, t.claim_offset);
  count_workers(self, k, s, +1);
  if (s.committer)
    self->monitor(s.committer); // (its_committer_down)
  route_slot(self, s);
  if (k == partition_kind::orders)
    tell_served_to(self, t.main);
  announce(self, k, p);
  st.ctx->log->warn("cluster: partition {} is served here now ({} changelog records "
                    "applied; took {} ms, {} ms of it the claim at owners offset {})",
                    slot_name(k, p), t.applied, t.took_ms, t.claim_ms, t.claim_offset);
}

} // namespace saga::ownership_detail
