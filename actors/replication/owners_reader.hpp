#pragma once
// Claims: who holds each partition, from Kafka (issue 25, docs/membership-design.md, step 1).
//
// Topic `<kafka.topic_prefix>saga_owners`, compacted, one partition per changelog partition.
// A node that opens a partition (at start, or a takeover) writes a claim to that partition of
// the topic, key "p<N>", in a transaction of the partition's own producer, right after
// `init_transactions` fenced every older owner (txn_producer::claim). A fenced node's claim
// never commits, so the committed claims of a partition come in fence order: the last one
// names the node that holds it, and its offset orders it against the others.
//
// The owners reader: one detached actor per node with an assign-only `read_committed`
// consumer over every partition of the topic, from the beginning. Each committed claim goes
// to `sink` as `(claim_atom, partition_claim)`; the ownership actor keeps the last per
// partition, routes by them (ownership.hpp, "Sequence") and shows them in GET /cluster
// ("claims"). Once every partition's end was reached, `(catch_up_atom, claim_atom)` goes to
// `sink` (sagad reports ready after it: the claims committed before the start are known).
// It polls without waiting, then ticks after cluster.standby_poll_ms when nothing came.

#include <string>
#include <string_view>

#include <caf/all.hpp>

#include "actors/messages.hpp"
#include "runtime/context.hpp"

namespace saga {

/// The claim of this node (cluster.nodes gives its addresses; a single node has none) for
/// changelog partition `lp`, as JSON: {"partition","node","http","caf","at_ms"}, and
/// "incarnation" when the process has one (sagad sets it at its start).
std::string encode_claim(const node_config& cfg, int32_t lp, int64_t at_ms);

/// Reads a claim's value into `out` (offset and partition are the record's, set by the
/// caller). False and `error` when it is not a claim.
bool decode_claim(std::string_view value, partition_claim& out, std::string& error);

/// Spawns the reader; null and `error` when its consumer cannot be made.
caf::actor spawn_owners_reader(caf::actor_system& sys, context_ptr ctx, std::string brokers,
                               caf::actor sink, std::string& error);

} // namespace saga
