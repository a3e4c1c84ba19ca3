#include "actors/replication/replication.hpp"

// The committer of one partition. Requests that queue up while a transaction commits are
// committed together in the next one (a `flush` message placed behind them marks the
// group, as the writer groups RocksDB writes): one transaction per round trip, however
// many writer groups arrive meanwhile (cluster.commit_interval_ms can make an idle
// partition wait for more; cluster.max_transaction_bytes bounds one transaction). Each request is answered with the offset of its
// own last record, so the writer never records an offset past what it applied.

namespace saga {

namespace {

struct committer_state {
  struct request {
    std::vector<std::string> records, events;
    caf::response_promise rp;
  };
  std::vector<request> pending;
  bool flush_scheduled = false;
  bool lost = false; // fenced while movable: everything after is refused
  /// Told a fenced commit (`lost`): a partition taken over here, or with failover one of
  /// the node's own (`route`, from the ownership actor). Null: a fence stops the node.
  caf::actor router;
  static inline const char* name = "changelog_committer";
};

using committer_ptr = caf::stateful_actor<committer_state>*;

/// Asks for a commit of what is pending: at once, or after cluster.commit_interval_ms.
void schedule_flush(committer_ptr self, const context_ptr& ctx) {
  auto& st = self->state;
  if (st.flush_scheduled)
    return;
  st.flush_scheduled = true;
  if (ctx->cfg.cluster_commit_interval_ms > 0)
    self->delayed_send(self, std::chrono::milliseconds(ctx->cfg.cluster_commit_interval_ms),
                       flush_atom::value);
  else
    self->send(self, flush_atom::value);
}

void commit_pending(committer_ptr self, const context_ptr& ctx, txn_producer& producer) {
  auto router = self->state.router;
  // The oldest requests up to cluster.max_transaction_bytes (at least one); the rest wait
  // for the next transaction, which is asked for at once.
  auto& pending = self->state.pending;
  size_t take = 0;
  int64_t bytes = 0;
  while (take < pending.size()) {
    int64_t n = 0;
    for (auto& x : pending[take].records)
      n += static_cast<int64_t>(x.size());
    for (auto& x : pending[take].events)
      n += static_cast<int64_t>(x.size());
    if (take > 0 && bytes + n > ctx->cfg.cluster_max_transaction_bytes)
      break;
    bytes += n;
    ++take;
  }
  std::vector<committer_state::request> reqs(std::make_move_iterator(pending.begin()),
                                             std::make_move_iterator(pending.begin() + take));
  pending.erase(pending.begin(), pending.begin() + take);
  if (!pending.empty()) {
    self->state.flush_scheduled = true;
    self->send(self, flush_atom::value);
  }
  if (ctx->halted.load()) {
    for (auto& r : reqs)
      r.rp.deliver(caf::make_error(caf::sec::runtime_error, "the node is stopping"));
    return;
  }
  std::vector<std::string> records, events;
  std::vector<size_t> last; // index of each request's last record
  for (auto& r : reqs) {
    for (auto& x : r.records)
      records.push_back(std::move(x));
    for (auto& x : r.events)
      events.push_back(std::move(x));
    last.push_back(records.size());
  }
  auto o = producer.commit(records, events);
  if (o.error.empty()) {
    ctx->stats->replication_transactions += 1;
    if (o.attempts > 1)
      ctx->stats->replication_retried_transactions += 1;
    int64_t prev = -1;
    for (size_t i = 0; i < reqs.size(); ++i) {
      // A request with no record (none are sent) keeps the offset before it.
      auto off = last[i] == 0 ? prev : o.offsets[last[i] - 1];
      prev = off;
      reqs[i].rp.deliver(off);
    }
    return;
  }
  std::string why =
    o.fenced ? "partition " + std::to_string(producer.log_partition()) + " (transactional.id "
                 + producer.id() + ") is fenced: another owner opened it, or its "
                   "producer failed for good (" + o.error + "). This node stops serving; "
                   "nothing of the failed transaction was acknowledged"
             : "the transaction of partition " + std::to_string(producer.log_partition())
                 + " failed " + std::to_string(o.attempts) + " time(s) (" + o.error
                 + "); nothing of it was acknowledged. A restart applies the changelog "
                   "and serves again";
  if (router && o.fenced) {
    // A partition taken over from another node, and that node opened it again (it came
    // back): only this partition is lost. Nothing of the transaction was acknowledged.
    ctx->log->warn("partition {} (transactional.id {}) was opened by another node: it is "
                   "released here; {} step(s) of the failed transaction not acknowledged",
                   producer.log_partition(), producer.id(), reqs.size());
    self->send(router, lost_atom::value, producer.log_partition());
    self->state.lost = true;
  } else {
    ctx->halt(why);
  }
  auto e = caf::make_error(caf::sec::runtime_error, why);
  for (auto& r : reqs)
    r.rp.deliver(e);
}

/// A partition that can move (`router` set): its stop answers what waits, not committed.
void answer_at_exit(committer_ptr self) {
  self->set_exit_handler([self](caf::exit_msg& m) {
    auto pending = std::move(self->state.pending);
    self->state.pending.clear();
    for (auto& r : pending)
      r.rp.deliver(caf::make_error(caf::sec::runtime_error,
                                   "this partition moved to another node before this step "
                                   "was committed"));
    self->quit(m.reason);
  });
}

caf::behavior committer(committer_ptr self, context_ptr ctx, std::shared_ptr<txn_producer> producer,
                        caf::actor router) {
  // A partition that can move (taken over here, `router` set; or one of this node's own
  // with failover, told its router by `route`) is released by stopping this actor, while
  // requests may wait for the next flush: each is answered, not committed, before it ends
  // (the writer fails only those steps, as for a fenced one). CAF 0.17 sends nothing for a
  // promise destroyed undelivered, and the writer waits for every committer of a group
  // without a time-out: one such request stalled every later write of the node for ever
  // (a CI fault run: a taken partition released, then nothing more acknowledged). The
  // committer of a partition of this node's own without a router stops only with the node.
  self->state.router = std::move(router);
  if (self->state.router)
    answer_at_exit(self);
  return {
    [self, ctx, producer](changelog_atom, std::vector<std::string>& records,
                          std::vector<std::string>& events) -> caf::response_promise {
      auto rp = self->make_response_promise();
      if (self->state.lost) {
        // Reported again: the first report can reach the ownership actor before a takeover
        // here has told it this committer's partition, and be dropped there.
        if (self->state.router)
          self->send(self->state.router, lost_atom::value, producer->log_partition());
        rp.deliver(caf::make_error(caf::sec::runtime_error, "this partition moved to another node"));
        return rp;
      }
      self->state.pending.push_back({std::move(records), std::move(events), rp});
      schedule_flush(self, ctx);
      return rp;
    },
    [self, ctx, producer](flush_atom) {
      self->state.flush_scheduled = false;
      if (!self->state.pending.empty())
        commit_pending(self, ctx, *producer);
    },
    // One of this node's own partitions becomes movable (ownership.cpp, with failover).
    [self](route_atom, caf::actor& r) {
      if (!self->state.router && r)
        answer_at_exit(self);
      self->state.router = std::move(r);
    },
  };
}

} // namespace

std::vector<caf::actor> spawn_committers(caf::actor_system& sys, context_ptr ctx,
                                         const std::vector<std::shared_ptr<txn_producer>>& ps) {
  std::vector<caf::actor> out(ps.size());
  for (size_t p = 0; p < ps.size(); ++p)
    if (ps[p])
      out[p] = sys.spawn<caf::detached>(committer, ctx, ps[p], caf::actor{});
  return out;
}

caf::actor spawn_movable_committer(caf::actor_system& sys, context_ptr ctx,
                                  std::shared_ptr<txn_producer> producer, caf::actor router) {
  return sys.spawn<caf::detached>(committer, std::move(ctx), std::move(producer),
                                  std::move(router));
}

} // namespace saga
