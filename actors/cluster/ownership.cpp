#include "actors/cluster/ownership.hpp"

#include "actors/cluster/cluster.hpp"
#include "actors/cluster/ownership_detail.hpp"
#include "actors/order/order_store.hpp"

namespace saga {

namespace ownership_detail {

partition_kind kind_of(const std::string& k) {
  return k == "inventory" ? partition_kind::inventory : partition_kind::orders;
}

std::vector<owned_slot>& slots(own_ptr self, partition_kind k) {
  return k == partition_kind::orders ? self->state.orders : self->state.inventory;
}

std::string slot_name(partition_kind k, size_t p) {
  return std::string(to_string(k)) + "/" + std::to_string(p);
}

int32_t log_partition(own_ptr self, partition_kind k, size_t p) {
  return k == partition_kind::orders
           ? static_cast<int32_t>(p)
           : directory::inventory_log_partition(p, static_cast<int64_t>(self->state.layout.order_partitions));
}

const std::string& me(own_ptr self) { return self->state.ctx->cfg.node_id; }

/// Points the slot's forwarders at whoever holds it now (nothing while nobody does: a
/// request is answered node_unavailable at once).
void route_slot(own_ptr self, owned_slot& s) {
  if (s.mine)
    return;
  caf::actor to, pay;
  if (s.holder == me(self)) {
    to = s.local;
    pay = s.local_pay;
  } else if (!s.holder.empty()) {
    to = s.remote;
    pay = s.remote_pay;
  }
  if (s.fw)
    self->send(s.fw, route_atom::value, to);
  if (s.pay_fw)
    self->send(s.pay_fw, route_atom::value, pay);
  // A SKU partition served again (after the forwarder's route: messages from one actor
  // arrive in order, so the re-sent commands find it routed). Only when its route changed
  // from none or another actor: a repeated welcome of the same holder announces nothing
  // (an order waits only after its forwarder had no route).
  if (!to || to == s.served_to) {
    s.served_to = to;
    return;
  }
  s.served_to = to;
  auto& inv = self->state.inventory;
  for (size_t q = 0; q < inv.size(); ++q)
    if (&inv[q] == &s)
      return tell_served(self, q);
}

/// The writer forgets the partition's committer: its steps fail from now on. A request,
/// not a plain send: an answer nobody expects would come back as an error and stop us.
/// Once the writer dropped it, the standby applier applies the partition again (it is a
/// standby replica here): the writer writes nothing more of it after that answer.
void drop_committer(own_ptr self, int32_t lp) {
  self->request(self->state.dir.writer, caf::infinite, committer_atom::value, lp, caf::actor{})
    .then([self, lp](bool) {
      if (auto& sb = self->state.standby)
        self->send(sb, standby_atom::value, true, lp);
    }, [self](caf::error& e) {
      self->state.ctx->log->error("cluster: the writer did not drop a committer: {}",
                                  self->system().render(e));
    });
}

void count_workers(own_ptr self, partition_kind k, const owned_slot& s, int64_t d) {
  auto& stats = *self->state.ctx->stats;
  if (k == partition_kind::inventory && s.local)
    stats.inventory_workers += d;
  if (s.local_pay)
    stats.payment_workers += d;
}

/// The partition was taken over here and another node has it now: its actors stop, the
/// writer drops its committer (steps in flight fail, unacknowledged), the slot routes on.
void release(own_ptr self, partition_kind k, size_t p, const std::string& why) {
  auto& st = self->state;
  auto& s = slots(self, k)[p];
  if (s.holder != me(self))
    return;
  auto lp = log_partition(self, k, p);
  drop_committer(self, lp);
  count_workers(self, k, s, -1);
  for (auto* a : {&s.local, &s.local_pay, &s.committer})
    if (*a) {
      self->send_exit(*a, caf::exit_reason::user_shutdown);
      *a = caf::actor{};
    }
  ++st.releases;
  st.ctx->log->warn("cluster: partition {} released here ({})", slot_name(k, p), why);
  s.holder.clear();
  s.since_ms = st.ctx->now_ms();
  handed_over(self); // a stop waits for every partition held here
}

bool releases_own(own_ptr self) {
  auto& cfg = self->state.ctx->cfg;
  return cfg.cluster_failover_after_ms > 0 && cfg.cluster_replication == "kafka";
}

void unhome(own_ptr self, partition_kind k, size_t p, const std::string& why) {
  auto& st = self->state;
  auto& s = slots(self, k)[p];
  if (!s.mine)
    return;
  s.mine = false;
  auto& cfg = st.ctx->cfg;
  if (cfg.cluster_take_back_after_ms > 0)
    st.ctx->log->warn("cluster: {}: released here rather than stopping this node; taken back "
                      "{} ms after, once this node sees a majority", why,
                      cfg.cluster_take_back_after_ms);
  else
    st.ctx->log->warn("cluster: {}: released here rather than stopping this node; it stays "
                      "with its new holder (cluster.take_back_after_ms = 0)", why);
}

bool slot_of(own_ptr self, int32_t lp, partition_kind& k, size_t& p) {
  auto n = static_cast<int32_t>(self->state.layout.order_partitions);
  if (lp < 0)
    return false;
  k = lp < n ? partition_kind::orders : partition_kind::inventory;
  p = static_cast<size_t>(lp < n ? lp : lp - n);
  return p < slots(self, k).size();
}

void announce(own_ptr self, partition_kind k, size_t p) {
  auto& st = self->state;
  auto& s = slots(self, k)[p];
  for (auto& [id, entry] : st.entries)
    self->send(entry, owns_atom::value, me(self), std::string(to_string(k)),
               static_cast<uint64_t>(p), s.local, s.local_pay, s.seq);
}

} // namespace ownership_detail

namespace {

using namespace ownership_detail;

/// The committer of a partition taken over here stopped on its own (an exception, killed):
/// nothing of the partition commits here any more (the writer fails its steps), so it is
/// released, and failover takes it again (here or elsewhere) after failover_after_ms.
/// A committer stopped by release() has left its slot first: nothing matches then.
void its_committer_down(own_ptr self, const caf::down_msg& dm) {
  for (auto k : {partition_kind::orders, partition_kind::inventory}) {
    auto& xs = slots(self, k);
    for (size_t p = 0; p < xs.size(); ++p) {
      auto& s = xs[p];
      if (s.committer && s.committer.address() == dm.source && s.holder == me(self)) {
        s.committer = caf::actor{}; // gone already
        auto why = "its committer stopped (" + self->system().render(dm.reason) + ")";
        if (s.mine)
          unhome(self, k, p, "partition " + slot_name(k, p) + " of this node: " + why);
        release(self, k, p, why);
        route_slot(self, s);
      }
    }
  }
}

} // namespace

namespace ownership_detail {

/// Stopping: answers the stop once every partition of this node has a new holder.
void handed_over(own_ptr self) {
  auto& st = self->state;
  if (!st.stopping || st.handed_off.pending() == false)
    return;
  for (auto* xs : {&st.orders, &st.inventory})
    for (auto& s : *xs)
      if (s.holder == me(self)) // its own, and any taken over or taken back here
        return;
  st.ctx->log->info("cluster: every partition of this node has a new holder");
  st.handed_off.deliver(true);
}

/// `node` holds the slot now, with these handles, from its claim at `seq` (-1: unknown);
/// ignored when that is older than what this node knows (stale).
void held_by(own_ptr self, partition_kind k, size_t p, const std::string& node,
             caf::actor h, caf::actor pay, int64_t seq) {
  auto& s = slots(self, k)[p];
  if (!node.empty() && stale(s, seq)) {
    self->state.ctx->log->info("cluster: ignored a stale report that {} holds partition {} "
                               "(its claim at owners offset {}; {} is known)", node,
                               slot_name(k, p), seq, s.seq);
    return;
  }
  if (s.mine && !own_partition_claimed(self, k, p, node, seq))
    return;
  if (!node.empty() && seq >= 0)
    s.seq = seq;
  if (s.holder == me(self))
    release(self, k, p, node + " holds it now");
  if (node.empty() && !s.holder.empty())
    s.since_ms = self->state.ctx->now_ms();
  s.holder = node;
  s.remote = std::move(h);
  s.remote_pay = std::move(pay);
  route_slot(self, s);
}

} // namespace ownership_detail

namespace {

void member_down(own_ptr self, const std::string& node) {
  auto& st = self->state;
  st.entries.erase(node);
  st.leaving.erase(node);
  for (auto k : {partition_kind::orders, partition_kind::inventory}) {
    auto& xs = slots(self, k);
    for (size_t p = 0; p < xs.size(); ++p) {
      auto& s = xs[p];
      if (s.holder == node) {
        s.holder.clear();
        s.remote = s.remote_pay = caf::actor{};
        s.since_ms = st.ctx->now_ms();
        route_slot(self, s);
      } else if (auto c = st.claims.find(log_partition(self, k, p));
                 !s.mine && s.holder.empty() && c != st.claims.end()
                 && c->second.node_id == node && c->second.offset == s.seq) {
        // Requests waiting for its announcement (on_claim) get 503 now, not at the hold's end.
        for (auto* fw : {&s.fw, &s.pay_fw})
          if (*fw)
            self->send(*fw, hold_atom::value, false, int64_t{0});
      }
    }
  }
}

} // namespace

caf::behavior ownership(caf::stateful_actor<ownership_state>* self, context_ptr ctx,
                        directory dir, take_fn take, home_actors home) {
  using namespace ownership_detail;
  auto& st = self->state;
  st.ctx = std::move(ctx);
  st.layout = cluster_layout::from(st.ctx->cfg);
  st.self = st.layout.index_of(st.ctx->cfg.node_id);
  st.dir = std::move(dir);
  st.take = std::move(take);
  self->set_down_handler([self](caf::down_msg& dm) { its_committer_down(self, dm); });
  // A partition whose node was not seen since this start counts as unheld from the end of
  // the start grace on (minus failover_after_ms, which check_failover adds).
  auto now = st.ctx->now_ms() + std::max<int64_t>(0, st.ctx->cfg.cluster_failover_start_grace_ms
                                                       - st.ctx->cfg.cluster_failover_after_ms);
  // A slot's handle is a forwarder unless it is this node's own actor itself.
  auto forwarder_of = [](const caf::actor& slot, const caf::actor& own) {
    return slot && slot != own ? slot : caf::actor{};
  };
  st.orders.resize(st.dir.orders.size());
  for (size_t p = 0; p < st.orders.size(); ++p) {
    auto& s = st.orders[p];
    s.mine = !st.dir.order_partition_remote(p);
    s.holder = s.mine ? st.ctx->cfg.node_id : std::string{};
    s.since_ms = now;
    if (s.mine) {
      s.local = actor_at(home.orders, p);
      s.local_pay = actor_at(home.payment, p);
    }
    s.fw = forwarder_of(st.dir.orders[p], s.local);
    s.pay_fw = forwarder_of(actor_at(st.dir.payment_by_order, p), s.local_pay);
  }
  st.inventory.resize(st.dir.inventory.size());
  for (size_t q = 0; q < st.inventory.size(); ++q) {
    auto& s = st.inventory[q];
    s.mine = !st.dir.inventory_partition_remote(q);
    s.holder = s.mine ? st.ctx->cfg.node_id : std::string{};
    s.since_ms = now;
    if (s.mine)
      s.local = actor_at(home.inventory, q);
    s.fw = forwarder_of(st.dir.inventory[q], s.local);
  }
  // With failover, this node's own committers report a fenced commit here (`lost`) rather
  // than stop the node, the writer fails only that partition's steps then, and one that
  // stops on its own releases its partition (its_committer_down), as a taken one's does.
  for (auto k : {partition_kind::orders, partition_kind::inventory}) {
    auto& xs = slots(self, k);
    for (size_t p = 0; p < xs.size(); ++p) {
      auto& s = xs[p];
      auto lp = log_partition(self, k, p);
      if (!s.mine || lp < 0 || static_cast<size_t>(lp) >= home.committers.size()
          || !home.committers[static_cast<size_t>(lp)])
        continue;
      s.committer = home.committers[static_cast<size_t>(lp)];
      self->monitor(s.committer);
      // The router only once the writer fails just this partition's steps on a fence:
      // before, a fence stops the node (the committer, or the writer), as it did always.
      auto c = s.committer;
      self->request(st.dir.writer, caf::infinite, committer_atom::value, lp, c)
        .then([self, c](bool) { self->send(c, route_atom::value, caf::actor_cast<caf::actor>(self)); },
              [self](caf::error& e) {
          self->state.ctx->log->error("cluster: the writer did not take an own committer as "
                                      "movable: {}", self->system().render(e));
        });
    }
  }
  // Ticks often enough for failover_after_ms, and for the lease (the shorter of it and the
  // connection time-out): a tick's own period never lapses it, only a real freeze.
  auto period = std::chrono::milliseconds(std::clamp<int64_t>(
    std::min(st.ctx->cfg.cluster_failover_after_ms, st.ctx->cfg.cluster_connection_timeout_ms) / 4,
    10, 1000));
  // A stray error (a peer that could not take an announcement) is logged, never our end:
  // CAF's default would stop this actor, and with it every re-route.
  self->set_error_handler([self](caf::error& e) {
    self->state.ctx->log->warn("cluster: ownership got an error: {}", self->system().render(e));
  });
  self->send(self, tick_atom::value);
  return {
    [self, period](tick_atom) {
      if (!keep_lease(self))
        return; // stopping: nothing taken, nothing answered (gateway/api.cpp)
      check_failover(self);
      ask_claimants(self);
      self->delayed_send(self, period, tick_atom::value);
    },
    [self](register_atom, const std::string& node, caf::actor& link) {
      self->state.links[node] = std::move(link);
    },
    // From our link to `node`: it is up, holding what its welcome lists.
    [self](member_up_atom, const std::string& node, caf::actor& entry, const cluster_welcome& w) {
      auto& st = self->state;
      st.entries[node] = std::move(entry);
      st.leaving.erase(node);
      st.starting.erase(node);
      apply_welcome(self, node, w, true);
      // It learns what this node took over (its welcome to us is its own view).
      for (auto k : {partition_kind::orders, partition_kind::inventory}) {
        auto& xs = slots(self, k);
        for (size_t p = 0; p < xs.size(); ++p)
          if (!xs[p].mine && xs[p].holder == me(self))
            self->send(st.entries[node], owns_atom::value, me(self),
                       std::string(to_string(k)), static_cast<uint64_t>(p), xs[p].local,
                       xs[p].local_pay, xs[p].seq);
      }
    },
    [self](member_down_atom, const std::string& node) { member_down(self, node); },
    // A peer's announcement (through our entry): it took a partition over, claimed at
    // owners offset `seq`.
    [self](owns_atom, const std::string& node, const std::string& kind, uint64_t p,
           caf::actor& h, caf::actor& pay, int64_t seq) {
      auto k = kind_of(kind);
      if (p >= slots(self, k).size() || node == me(self))
        return;
      held_by(self, k, static_cast<size_t>(p), node, std::move(h), std::move(pay), seq);
    },
    // Our own takeover finished (runtime/takeover.cpp).
    [self](owns_atom, const std::string& kind, uint64_t p, taken_partition& t) {
      auto k = kind_of(kind);
      if (p < slots(self, k).size())
        on_taken(self, k, static_cast<size_t>(p), t);
    },
    // The committer of a partition taken over here was fenced: another node opened it.
    [self](lost_atom, int32_t lp) {
      partition_kind k;
      size_t p = 0;
      // (A partition taken over here, or with failover one of this node's own: its
      // committer was told to report, design step 3d.)
      if (!slot_of(self, lp, k, p))
        return;
      // Only from the partition's committer now: a late report of one released already
      // must not release the partition taken back since.
      auto& s = slots(self, k)[p];
      if (!s.committer || self->current_sender() != s.committer.address())
        return;
      if (s.mine) {
        if (!releases_own(self) || self->state.stopping)
          return; // (no failover: its committer stops the node; stopping: handed over)
        unhome(self, k, p, "partition " + slot_name(k, p) + " of this node was opened by "
                             "another node (its commit was fenced)");
      }
      release(self, k, p, "another node opened it (fenced)");
      route_slot(self, slots(self, k)[p]);
    },
    [self](welcome_atom) { return welcome_of(self); },
    // A peer starts and is about to open its partitions (sagad, before start_replication):
    // none is taken here from now on; answered once no takeover of one is under way here.
    [self](starting_atom, const std::string& node) -> caf::response_promise {
      auto& st = self->state;
      auto rp = self->make_response_promise();
      auto i = st.layout.index_of(node);
      if (i == st.layout.nodes.size() || node == me(self)) {
        rp.deliver(true);
        return rp;
      }
      st.starting[node] = st.ctx->now_ms();
      bool busy = taking_of(self, i);
      st.ctx->log->info("cluster: {} is starting: this node takes none of its partitions{}",
                        node, busy ? "; it waits for the takeovers under way here" : "");
      if (busy)
        st.start_waiters[node].push_back(rp);
      else
        rp.deliver(true);
      return rp;
    },
    // A peer is stopping: take its partitions now (it serves them until fenced).
    [self](leaving_atom, const std::string& node) {
      auto& st = self->state;
      if (node == me(self) || st.entries.count(node) == 0)
        return;
      st.ctx->log->info("cluster: {} is stopping; taking over what the rendezvous gives this "
                        "node of its partitions", node);
      st.leaving.insert(node);
      // Requests for its partitions wait in our forwarders until their new holder is routed
      // (at most the request time-out): none reaches it while it is being fenced.
      for (auto* xs : {&st.orders, &st.inventory})
        for (auto& s : *xs)
          if (s.holder == node && !s.mine) // (route_slot never routes an own slot yet)
            for (auto* fw : {&s.fw, &s.pay_fw})
              if (*fw)
                self->send(*fw, hold_atom::value, true, st.ctx->cfg.saga_request_timeout_ms);
      check_failover(self);
    },
    // This node is stopping (sagad, on SIGTERM): peers take its partitions; answered when
    // all of them have a new holder. Only with failover on a replicated cluster.
    [self](leaving_atom) -> caf::response_promise {
      auto& st = self->state;
      auto& cfg = st.ctx->cfg;
      auto rp = self->make_response_promise();
      if (!failover_on(cfg) || st.entries.empty() || st.minority) {
        rp.deliver(false); // nobody to hand over to (or failover is off): they wait for us
        return rp;
      }
      st.stopping = true;
      st.handed_off = rp;
      for (auto& [id, entry] : st.entries)
        self->send(entry, leaving_atom::value, me(self));
      handed_over(self); // nothing of its own: done
      return st.handed_off;
    },
    [self](owners_atom) -> caf::response_promise {
      auto& st = self->state;
      ownership_view v;
      for (auto& s : st.orders)
        v.orders.push_back(s.holder);
      for (auto& s : st.inventory)
        v.inventory.push_back(s.holder);
      v.takeovers = st.takeovers;
      v.releases = st.releases;
      for (auto& [p, c] : st.claims)
        v.claims.push_back(c);
      auto rp = self->make_response_promise();
      if (!st.standby) {
        rp.deliver(std::move(v));
        return rp;
      }
      // With this node's standby replicas and their lags (the applier's own view).
      // (Well inside the gateway's own time-out: a slow applier leaves the standbys out.)
      self->request(st.standby, std::chrono::milliseconds(250), get_atom::value,
                    standby_atom::value)
        .then([rp, v](std::vector<standby_status>& xs) mutable {
                v.standbys = std::move(xs);
                rp.deliver(std::move(v));
              },
              [rp, v](caf::error&) mutable { rp.deliver(std::move(v)); });
      return rp;
    },
    // sagad: this node's changelog applier (actors/replication/standby.hpp).
    [self](standby_atom, caf::actor& sb) { self->state.standby = std::move(sb); },
    // A committed claim read from the owners topic (actors/replication/owners_reader.hpp).
    [self](claim_atom, partition_claim& c) { on_claim(self, c); },
    // The owners reader reached the topic's end: every claim committed before is known.
    [self](catch_up_atom, claim_atom) {
      auto& st = self->state;
      st.claims_read = true;
      for (auto& rp : st.claims_waiters)
        rp.deliver(true);
      st.claims_waiters.clear();
    },
    // sagad, before it reports ready: answered once the owners topic was read to its end.
    [self](get_atom, claim_atom) -> caf::response_promise {
      auto& st = self->state;
      auto rp = self->make_response_promise();
      if (st.claims_read)
        rp.deliver(true);
      else
        st.claims_waiters.push_back(rp);
      return rp;
    },
    // A gateway's read of an order held elsewhere: through our link to its holder.
    [self](get_atom, const std::string& order_id) -> caf::result<caf::message> {
      auto& st = self->state;
      auto p = directory::order_partition(order_id, st.orders.size());
      auto& s = st.orders[p];
      if (s.holder == me(self)) // taken over here: read here
        return self->delegate(self->spawn(order_reader, st.ctx), get_atom::value, order_id);
      auto link = st.links.find(s.holder);
      if (s.holder.empty() || link == st.links.end())
        return node_unavailable(s.holder.empty() ? st.layout.nodes[st.layout.owner(partition_kind::orders, p)].id
                                                 : s.holder,
                                slot_name(partition_kind::orders, p));
      return self->delegate(link->second, get_atom::value, order_id);
    },
  };
}

} // namespace saga
