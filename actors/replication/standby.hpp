#pragma once
// Standby replicas (cluster.standby_replicas, issue 25): this node applies, as they are
// committed, the changelog records of partitions that other nodes hold and that it would
// take over (cluster_layout::standbys), into its own RocksDB with the applied offset in the
// same write, as a start's restore does. A takeover here then applies only the lag.
//
// One actor, detached (it polls a Kafka consumer without waiting: poll timeout 0, then a
// delayed tick). read_committed: aborted transactions are never applied, and nothing past
// an open transaction is read. It writes through the writer, the store's one writer (the
// status counters a record moves are summed there), each record with its offset mark in
// one RocksDB write.
//
//   (catch_up_atom, lp, end) -> uint64_t   a takeover of lp here, after its producer was
//                        opened (the old owner fenced, `end` its changelog's end then): lp is
//                        read up to `end` and written, then answered with the records
//                        applied; from then on the writer applies it (the standby pauses it).
//                        The takeover's catch-up goes through here for any partition, a
//                        standby or not, so the store has one writer.
//   (standby_atom, false, lp)     stop applying lp
//   (standby_atom, true, lp)      apply lp again (it moved on from here, or its takeover
//                                 failed), from the offset in the store
//   (get_atom, standby_atom) -> std::vector<standby_status>
//
// A partition is applied either by this actor (standby, or a takeover's catch-up) or, once
// held here, by the writer's own commits, never both. Each record is applied only past the
// offset the store holds for its partition, so a record the writer applied is skipped.

#include <string>
#include <vector>

#include <caf/all.hpp>

#include "runtime/context.hpp"

namespace saga {

/// The changelog partitions this node keeps a standby replica of (cluster.standby_replicas
/// and the layout), ascending; empty on one node or with replication = none.
std::vector<int32_t> standby_log_partitions(const node_config& cfg);

/// Spawns the applier with its own changelog consumer; it writes through `writer`. `parts`
/// may be empty (no standby replicas): it still serves takeovers' catch-ups. Null and
/// `error` when the consumer cannot be made.
caf::actor spawn_standby(caf::actor_system& sys, context_ptr ctx, caf::actor writer,
                         std::string brokers, std::vector<int32_t> parts, std::string& error);

} // namespace saga
