#pragma once
// Taking a partition over at runtime (issue 25, actors/cluster/ownership.hpp decides when):
// on a thread of its own (a blocking actor), because every step blocks:
//   1. open the partition's transactional producer: init_transactions fences the old owner
//      (a dead node's open transaction is aborted; a live stale one fails its next commit);
//   2. apply its changelog after this store's offset for it, up to its end once fenced
//      (read_committed), through the standby actor and the writer
//      (actors/replication/standby.hpp): a standby replica of it applies only its lag;
//   3. give the writer a committer for it that may lose it again (the node that comes back
//      opens it at its start: then only this partition's steps fail);
//   4. load its rows (orders in flight, SKUs, deadlines) and spawn its actors;
// then `(owns_atom, kind, p, taken_partition)` goes to the ownership actor, which routes
// the forwarders and tells the peers.

#include <string>

#include "actors/cluster/ownership.hpp"
#include "runtime/context.hpp"

namespace saga {

/// The take_fn sagad gives the ownership actor. `dir` is this node's directory (its
/// forwarder slots become the taken partition's way in), `brokers` the Kafka cluster,
/// `standby` this node's changelog applier (spawn_standby).
take_fn make_take(caf::actor_system& sys, context_ptr ctx, directory dir, std::string brokers,
                  uint64_t seed, caf::actor standby);

} // namespace saga
