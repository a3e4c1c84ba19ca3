#pragma once
// Replicated partitions (cluster.replication = kafka): every write of a partition is first
// committed to that partition's partition of the changelog topic, in one Kafka transaction
// with the saga events it emits; RocksDB is the materialised state of the partitions this
// node holds, with the changelog offset it applied stored in the same RocksDB write.
//   txn_producer    one partition's transactional producer (fencing, commit, abort)
//   replication.cpp at start: topics provisioned and checked, producers opened (fencing any
//                   older owner), the changelog after the store's offsets applied to it
//   committer.cpp   the actor that commits one partition's transactions for the writer
// The writer (actors/plumbing/writer.hpp) groups batches, asks each partition's committer,
// and writes RocksDB and answers only after every transaction of the group committed.

#include <map>
#include <memory>
#include <string>
#include <vector>

#include <caf/all.hpp>

#include "actors/replication/txn_producer.hpp"
#include "actors/messages.hpp"
#include "runtime/context.hpp"

namespace saga {

/// Changelog partitions: saga.partitions order partitions, then inventory.workers SKU ones.
int32_t log_partition_count(const node_config& cfg);
/// The changelog partitions this node owns (the cluster layout), ascending.
std::vector<int32_t> local_log_partitions(const node_config& cfg);

struct replication_start {
  std::string error; // empty: ready
  /// By changelog partition; null where another node owns it.
  std::vector<std::shared_ptr<txn_producer>> producers;
  uint64_t applied_records = 0; // changelog records applied to the store at this start
  int64_t open_ms = 0;          // provisioning, init_transactions (fencing) and the claims
  int64_t restore_ms = 0;       // reading and applying the changelog
  /// The offset of this node's claim of each partition it opened (owners topic), by
  /// changelog partition.
  std::map<int32_t, int64_t> claims;
};

/// Runs before the store is loaded, on the main thread (it blocks): provisions the event
/// topics and the changelog topic (or checks them, kafka.provision_topics = false), refuses
/// a changelog with fewer partitions than log_partition_count, opens each local partition's
/// producer (init_transactions: an older owner is fenced, its open transaction aborted),
/// then applies every committed changelog record after the store's offset for that
/// partition. A store whose directory was lost starts from offset 0: it is rebuilt.
/// Each partition opened is claimed for this node right after its fence (owners_reader.hpp;
/// `claim_at_ms`, the node clock's time, is written in the claims).
replication_start start_replication(const node_config& cfg, const std::string& brokers,
                                    storage::store& db, std::shared_ptr<spdlog::logger> log,
                                    int64_t claim_at_ms);

/// Claims `producer`'s partition for this node (txn_producer::claim); "" or why not.
/// `offset`, when given: the claim's offset in the owners topic.
std::string claim_partition(txn_producer& producer, const node_config& cfg, int64_t at_ms,
                            int64_t* offset = nullptr);

/// One committer per local partition (a detached actor: its commits block), by changelog
/// partition, null elsewhere. `(changelog_atom, records, events) -> last offset`. A failed
/// or fenced commit stops the node (ctx->halt): nothing it held was acknowledged.
/// The committer of a partition taken over from another node at runtime: when that node
/// opens it again (fencing this one), its steps fail and `(lost_atom, partition)` goes to
/// `router`; the node goes on.
caf::actor spawn_movable_committer(caf::actor_system& sys, context_ptr ctx,
                                  std::shared_ptr<txn_producer> producer, caf::actor router);

std::vector<caf::actor> spawn_committers(caf::actor_system& sys, context_ptr ctx,
                                         const std::vector<std::shared_ptr<txn_producer>>& ps);

} // namespace saga
