#include "actors/plumbing/writer.hpp"

#include <map>

#include "storage/changelog.hpp"

namespace saga {

namespace {

using writer_ptr = caf::stateful_actor<writer_state>*;

/// Writes `batches` (and `extra`, if any) to RocksDB in one write, then answers every
/// promise, or stops the node. `replicated`: the batches are in the changelog already, so
/// the write needs no fsync (a lost tail is applied again from the changelog) and their
/// events are in Kafka, not in the outbox.
void write_and_answer(writer_ptr self, std::vector<storage::batch>& batches,
                      std::vector<caf::response_promise> promises,
                      const storage::batch* extra = nullptr, bool replicated = false) {
  auto& st = self->state;
  std::vector<const storage::batch*> group;
  group.reserve(batches.size() + 1);
  bool sync = false;
  for (auto& b : batches)
    if (!b.empty() || !b.outbox.empty()) {
      if (replicated)
        b.outbox.clear();
      group.push_back(&b);
      sync = sync || b.sync;
    }
  if (extra != nullptr && !extra->empty())
    group.push_back(extra);
  sync = sync && st.ctx->cfg.storage_sync && !replicated;
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

/// A dropped committer's answer waits for every group that was in flight when it was dropped
/// (their batches of its partition, already committed, are written with their mark first):
/// after the answer the partition's mark in the store is final (a standby reads it).
void answer_drop_waiters(writer_ptr self) {
  auto& ws = self->state.drop_waiters;
  for (auto i = ws.begin(); i != ws.end();) {
    if (i->first <= self->state.first_group) {
      i->second.deliver(true);
      i = ws.erase(i);
    } else {
      ++i;
    }
  }
}

void drain_front(writer_ptr self);

/// Writes every group at the front that committed (with the offsets), in order, in one
/// RocksDB write, then answers their steps (and the drops that waited for them).
void drain_committed(writer_ptr self) {
  drain_front(self);
  answer_drop_waiters(self);
}

void drain_front(writer_ptr self) {
  auto& st = self->state;
  std::vector<storage::batch> batches;
  std::vector<caf::response_promise> promises;
  std::map<int32_t, int64_t> offsets;
  while (!st.in_flight.empty() && st.in_flight.front().remaining == 0) {
    auto& g = st.in_flight.front();
    for (size_t i = 0; i < g.batches.size(); ++i) {
      if (!g.lost.empty() && g.lost.count(g.batches[i].log_partition) != 0) {
        // Its partition moved to another node before this step committed: not written,
        // not acknowledged; the step's actor stops (its partition's new owner has it).
        g.promises[i].deliver(caf::make_error(
          caf::sec::runtime_error, "changelog partition "
                                     + std::to_string(g.batches[i].log_partition)
                                     + " moved to another node before this step committed"));
        continue;
      }
      batches.push_back(std::move(g.batches[i]));
      promises.push_back(std::move(g.promises[i]));
    }
    for (auto& [p, off] : g.offsets)
      offsets[p] = off; // later groups hold later offsets
    st.in_flight.pop_front();
    ++st.first_group;
  }
  if (promises.empty() && batches.empty())
    return;
  storage::batch marks;
  for (auto& [p, off] : offsets)
    marks.ops.push_back({storage::family::meta, storage::changelog_offset_key(p),
                         std::to_string(off), false});
  write_and_answer(self, batches, std::move(promises), &marks, true);
}

void fail_replicated(writer_ptr self, const caf::error& e) {
  auto& st = self->state;
  // The committer stopped the node (ctx->halt) before answering: nothing more is written,
  // and no step in flight is told it is done.
  st.ctx->halt("a changelog transaction failed: " + self->system().render(e));
  for (auto& g : st.in_flight)
    for (auto& rp : g.promises)
      rp.deliver(e);
  st.first_group += st.in_flight.size();
  st.in_flight.clear();
  st.asked.clear();
  answer_drop_waiters(self);
}

/// A committer's answer for group `gid`, partition `part` (ignored when the group failed
/// meanwhile, or when the committer's stop already answered it).
void on_committed(writer_ptr self, uint64_t gid, int32_t part, int64_t offset) {
  auto& st = self->state;
  if (st.asked.erase({gid, part}) == 0 || gid < st.first_group)
    return;
  auto& g = st.in_flight[gid - st.first_group];
  g.offsets[part] = offset;
  if (--g.remaining == 0)
    drain_committed(self);
}

void on_commit_failed(writer_ptr self, uint64_t gid, int32_t part, const caf::error& e) {
  auto& st = self->state;
  if (st.asked.erase({gid, part}) == 0 || gid < st.first_group)
    return;
  if (st.movable.count(part) != 0) { // lost to another node: only its steps fail
    auto& g = st.in_flight[gid - st.first_group];
    g.lost.insert(part);
    if (--g.remaining == 0)
      drain_committed(self);
    return;
  }
  fail_replicated(self, e);
}

/// A committer stopped: what it was asked and did not answer fails (a partition taken
/// over here: only its steps; one of the node's own: the node stops, as on a fenced
/// commit). Without this the writer waited for ever (CAF 0.17 sends nothing for a promise
/// dropped with its actor), and so did every later write of the node.
void on_committer_down(writer_ptr self, const caf::down_msg& dm) {
  auto& st = self->state;
  std::vector<std::pair<uint64_t, int32_t>> unanswered;
  for (auto& [key, addr] : st.asked)
    if (addr == dm.source)
      unanswered.push_back(key);
  if (unanswered.empty())
    return;
  st.ctx->log->warn("a changelog committer stopped ({}) before it answered {} commit(s)",
                    self->system().render(dm.reason), unanswered.size());
  for (auto& [gid, part] : unanswered)
    on_commit_failed(self, gid, part,
                     caf::make_error(caf::sec::runtime_error,
                                     "the committer of changelog partition "
                                       + std::to_string(part) + " stopped ("
                                       + self->system().render(dm.reason)
                                       + ") before it answered"));
}

/// cluster.replication = kafka: the pending group goes to each partition's committer as
/// changelog records (at most about kafka.max_message_bytes / 2 each) with its events.
void replicate_pending(writer_ptr self) {
  auto& st = self->state;
  st.in_flight.emplace_back();
  auto gid = st.next_group++;
  auto& g = st.in_flight.back();
  g.batches = std::move(st.pending);
  g.promises = std::move(st.promises);
  st.pending.clear();
  st.promises.clear();
  std::map<int32_t, std::vector<const storage::batch*>> parts;
  for (auto& b : g.batches)
    if (!b.empty() && b.log_partition != storage::batch::local)
      parts[b.log_partition].push_back(&b);
  if (st.ctx->halted.load())
    parts.clear(); // answered with the error by write_and_answer
  g.remaining = parts.size();
  auto limit = static_cast<size_t>(std::max<int64_t>(st.ctx->cfg.kafka_max_message_bytes / 2, 1024));
  for (auto& [p, bs] : parts) {
    if (st.movable.count(p) != 0 && !st.committers[p]) { // released: another node has it
      g.lost.insert(p);
      --g.remaining;
      continue;
    }
    if (p < 0 || static_cast<size_t>(p) >= st.committers.size() || !st.committers[p])
      return fail_replicated(self, caf::make_error(caf::sec::runtime_error,
                                                   "a write for changelog partition "
                                                     + std::to_string(p)
                                                     + ", which this node does not hold"));
    std::vector<std::string> records;
    std::vector<std::string> events;
    std::vector<const storage::batch*> chunk;
    size_t size = 0;
    for (auto* b : bs) {
      size_t n = 16;
      for (auto& op : b->ops)
        n += op.key.size() + op.value.size() + 8;
      for (auto& e : b->erase_if)
        n += e.key.size() + e.expect.size() + 8;
      if (!chunk.empty() && size + n > limit) {
        records.push_back(storage::encode_changelog(chunk));
        chunk.clear();
        size = 0;
      }
      chunk.push_back(b);
      size += n;
      events.insert(events.end(), b->outbox.begin(), b->outbox.end());
    }
    if (!chunk.empty())
      records.push_back(storage::encode_changelog(chunk));
    st.asked[{gid, p}] = st.committers[p].address();
    self->request(st.committers[p], caf::infinite, changelog_atom::value, std::move(records),
                  std::move(events))
      .then([self, gid, p](int64_t offset) { on_committed(self, gid, p, offset); },
            [self, gid, p](caf::error& e) { on_commit_failed(self, gid, p, e); });
  }
  if (g.remaining == 0)
    drain_committed(self);
}

void commit_pending(writer_ptr self) {
  auto& st = self->state;
  if (!st.committers.empty())
    return replicate_pending(self);
  auto batches = std::move(st.pending);
  auto promises = std::move(st.promises);
  st.pending.clear();
  st.promises.clear();
  write_and_answer(self, batches, std::move(promises));
}

/// Queues `n` batches for one group (they are never split over two: a group is all that is
/// pending), answered through `rp` once durable, and asks for the group's commit.
void enqueue(writer_ptr self, storage::batch* bs, size_t n, const caf::response_promise& rp) {
  auto& st = self->state;
  st.probe.count();
  for (size_t i = 0; i < n; ++i) {
    st.pending.push_back(std::move(bs[i]));
    // One promise per batch keeps pending and promises aligned; only the last answers.
    st.promises.push_back(i + 1 == n ? rp : caf::response_promise{});
  }
  if (st.held)
    return;
  if (!st.ctx->cfg.storage_group_commit) {
    commit_pending(self);
  } else if (!st.flush_scheduled) {
    // Everything already in the mailbox is ahead of this flush: one commit for all.
    st.flush_scheduled = true;
    self->send(self, flush_atom::value);
  }
}

} // namespace

caf::behavior writer_actor(caf::stateful_actor<writer_state>* self, context_ptr ctx,
                           std::vector<caf::actor> committers) {
  self->state.ctx = ctx;
  self->state.committers = std::move(committers);
  self->state.probe = {"writer", "0", ctx->now_ms(), 0};
  for (auto& c : self->state.committers)
    if (c)
      self->monitor(c);
  self->set_down_handler([self](caf::down_msg& dm) { on_committer_down(self, dm); });
  return {
    [self](inspect_atom) {
      auto& st = self->state;
      st.probe.count();
      return st.probe.read(self, *st.ctx,
                          st.pending.empty() && st.in_flight.empty() ? "idle" : "committing");
    },
    [self](write_atom, storage::batch& b) -> caf::response_promise {
      auto rp = self->make_response_promise();
      enqueue(self, &b, 1, rp);
      return rp;
    },
    // Several batches that must be one RocksDB write (a changelog record and the offset
    // mark of its partition, actors/replication/standby.hpp): one answer, once durable.
    [self](write_atom, std::vector<storage::batch>& bs) -> caf::response_promise {
      auto rp = self->make_response_promise();
      if (bs.empty())
        bs.emplace_back(); // still answered after the writes before it
      enqueue(self, bs.data(), bs.size(), rp);
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
    // A partition taken over at runtime gets its committer (null: released again).
    // A drop (null) is answered once the groups in flight now are written (see
    // answer_drop_waiters).
    [self](committer_atom, int32_t p, caf::actor& c) -> caf::response_promise {
      auto& st = self->state;
      auto rp = self->make_response_promise();
      if (p < 0) {
        rp.deliver(false);
        return rp;
      }
      bool drop = !c;
      if (c)
        self->monitor(c);
      if (static_cast<size_t>(p) >= st.committers.size())
        st.committers.resize(static_cast<size_t>(p) + 1);
      st.committers[static_cast<size_t>(p)] = std::move(c);
      st.movable.insert(p);
      if (drop && !st.in_flight.empty())
        st.drop_waiters.emplace_back(st.next_group, rp);
      else
        rp.deliver(true);
      return rp;
    },
  };
}

caf::actor spawn_writer(caf::actor_system& sys, context_ptr ctx,
                        std::vector<caf::actor> committers) {
  if (ctx->detached_writer)
    return sys.spawn<caf::detached>(writer_actor, ctx, std::move(committers));
  return sys.spawn(writer_actor, ctx, std::move(committers));
}

} // namespace saga
