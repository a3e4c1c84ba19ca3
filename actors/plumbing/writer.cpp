#include "actors/plumbing/writer.hpp"

namespace saga {

namespace {

void commit_pending(caf::stateful_actor<writer_state>* self) {
  auto& st = self->state;
  std::vector<const storage::batch*> group;
  group.reserve(st.pending.size());
  bool sync = false;
  for (auto& b : st.pending)
    if (!b.empty()) {
      group.push_back(&b);
      sync = sync || b.sync;
    }
  sync = sync && st.ctx->cfg.storage_sync;
  // After one failed write the store is never written again ("stop, don't resume", as
  // Akka persistence does on a journal failure): whatever RocksDB made of the failed
  // batch, memory must not run ahead of what a restart will read back.
  std::string err;
  if (st.ctx->halted.load()) {
    err = "the node is stopping after a failed write";
  } else if (group.empty()) {
    // Only barriers (empty batches): every write sent before them is durable already
    // (this actor commits in arrival order and answers after each write), so they are
    // answered in order without a write, and without an fsync.
    ++st.stats.barriers;
    ++st.ctx->stats->storage_barriers;
  } else {
    err = st.ctx->db->commit(group, sync);
    ++st.stats.commits;
    st.stats.synced += sync ? 1 : 0;
    ++st.ctx->stats->storage_commits;
    if (sync)
      ++st.ctx->stats->storage_synced_commits;
    st.stats.batches += group.size();
  }
  auto promises = std::move(st.promises);
  st.pending.clear();
  st.promises.clear();
  if (!err.empty()) {
    // Nobody is told "done": the node stops, then every waiting step gets the error (in
    // that order, so no one who hears of the failure takes the node for a healthy one:
    // a supervisor would restart from a store that is being left).
    st.ctx->halt("RocksDB write failed (" + err + "); " + std::to_string(group.size())
                 + " step(s) not acknowledged. Check the disk (space, I/O errors) and restart: "
                   "the node recovers from what is durable");
    auto e = caf::make_error(caf::sec::runtime_error, "storage commit failed: " + err);
    for (auto& rp : promises)
      rp.deliver(e);
    return;
  }
  for (auto& rp : promises)
    rp.deliver(true);
}

} // namespace

caf::behavior writer_actor(caf::stateful_actor<writer_state>* self, context_ptr ctx) {
  self->state.ctx = ctx;
  self->state.probe = {"writer", "0", ctx->now_ms(), 0};
  return {
    [self](inspect_atom) {
      auto& st = self->state;
      st.probe.count();
      return st.probe.read(self, *st.ctx, st.pending.empty() ? "idle" : "committing");
    },
    [self](write_atom, storage::batch& b) -> caf::response_promise {
      self->state.probe.count();
      auto& st = self->state;
      st.pending.push_back(std::move(b));
      auto rp = self->make_response_promise();
      st.promises.push_back(rp);
      if (st.held)
        return rp;
      if (!st.ctx->cfg.storage_group_commit) {
        commit_pending(self);
      } else if (!st.flush_scheduled) {
        // Everything already in the mailbox is ahead of this flush: one commit for all.
        st.flush_scheduled = true;
        self->send(self, flush_atom::value);
      }
      return rp;
    },
    [self](flush_atom) {
      self->state.probe.count();
      self->state.flush_scheduled = false;
      if (!self->state.pending.empty() && !self->state.held)
        commit_pending(self);
    },
    // Tests: a writer that holds its commits shows what runs ahead of durability (nothing
    // may). Released, it commits everything held as one group, in arrival order.
    [self](hold_atom, bool on) {
      auto& st = self->state;
      st.held = on;
      if (!on && !st.pending.empty())
        commit_pending(self);
    },
    [self](stats_atom) { self->state.probe.count(); return self->state.stats; },
  };
}

caf::actor spawn_writer(caf::actor_system& sys, context_ptr ctx) {
  if (ctx->detached_writer)
    return sys.spawn<caf::detached>(writer_actor, ctx);
  return sys.spawn(writer_actor, ctx);
}

} // namespace saga
