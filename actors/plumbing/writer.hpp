#pragma once
// The storage writer: the only actor that writes to RocksDB. Every actor that changes
// durable state sends it a batch and acts on the change only after the reply.
// Group commit: batches that queue up while a commit runs are written together in one
// synced RocksDB write (a `flush` message placed behind them marks the group).

#include <deque>
#include <set>
#include <map>
#include <vector>

#include "actors/inspect/introspection.hpp"
#include "actors/messages.hpp"
#include "runtime/context.hpp"

namespace saga {

struct writer_state {
  context_ptr ctx;
  std::vector<storage::batch> pending;
  std::vector<caf::response_promise> promises;
  bool flush_scheduled = false;
  bool held = false; // tests: commits wait until `(hold_atom, false)`
  /// cluster.replication = kafka: each partition's committer (actors/replication/), by
  /// changelog partition; empty: no replication. A group is committed to Kafka first, one
  /// transaction per partition, then written to RocksDB with the offsets, then answered.
  std::vector<caf::actor> committers;
  /// Groups sent to the committers, oldest first: each is written to RocksDB and answered
  /// once it and every group before it committed (groups are pipelined; each partition's
  /// committer keeps their order and merges the ones that queue up into one transaction).
  struct replicated_group {
    std::vector<storage::batch> batches;
    std::vector<caf::response_promise> promises;
    std::map<int32_t, int64_t> offsets; // last changelog offset per partition
    size_t remaining = 0;               // partitions not committed yet
    std::set<int32_t> lost;             // partitions this node lost meanwhile (not written)
  };
  /// Partitions taken over from another node at runtime (actors/cluster/ownership.hpp):
  /// their committer may lose them to the node that comes back, and such a loss fails
  /// only their steps, never the node. Added and removed with `(committer_atom, p, c)`.
  std::set<int32_t> movable;
  std::deque<replicated_group> in_flight;
  /// Drops of a committer, answered once every group before the id is written.
  std::vector<std::pair<uint64_t, caf::response_promise>> drop_waiters;
  /// Commits asked of a committer and not answered yet, by (group, partition), with the
  /// committer asked. The writer monitors its committers: one that stops without answering
  /// (killed, an exception, stopped before the writer) fails these as a fenced commit
  /// would, instead of leaving its group, and every later one, waiting for ever.
  std::map<std::pair<uint64_t, int32_t>, caf::actor_addr> asked;
  uint64_t first_group = 0; // the id of in_flight.front()
  uint64_t next_group = 0;
  writer_stats stats;
  actor_probe probe;
  static inline const char* name = "writer";
};

caf::behavior writer_actor(caf::stateful_actor<writer_state>* self, context_ptr ctx,
                           std::vector<caf::actor> committers = {});

/// Spawns the writer: on its own thread (it blocks on fsync) unless the context says
/// otherwise (deterministic tests).
caf::actor spawn_writer(caf::actor_system& sys, context_ptr ctx,
                        std::vector<caf::actor> committers = {});

/// Helper for actors that own state: writes `b` and calls `then` once it is durable.
/// An empty batch still waits for the writes already sent, so a reply never overtakes
/// the write of the change it reports. A storage failure stops the calling actor.
template <class Actor>
void persist_then(Actor* self, const caf::actor& writer, storage::batch b,
                  std::function<void()> then) {
  auto& inflight = self->state.inflight_writes;
  if (b.ops.empty() && b.outbox.empty() && inflight == 0) {
    then();
    return;
  }
  ++inflight;
  self->request(writer, caf::infinite, write_atom::value, std::move(b))
    .then(
      [self, then](bool) {
        --self->state.inflight_writes;
        then();
      },
      [self](caf::error& err) {
        self->state.ctx->log->critical("storage write failed: {}",
                                       self->system().render(err));
        self->quit(err);
      });
}

} // namespace saga
