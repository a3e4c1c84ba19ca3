#pragma once
// The ownership actor's own helpers, shared by its files (not an interface for others):
// ownership.cpp (the table, links, failover, hand-offs), ownership_claims.cpp (claims
// and sequence: which report of a holder is the newest; a takeover here finishing) and
// ownership_welcome.cpp (what a welcome says and what one from a peer changes).

#include "actors/cluster/ownership.hpp"

namespace saga::ownership_detail {

using own_ptr = caf::stateful_actor<ownership_state>*;

std::vector<owned_slot>& slots(own_ptr self, partition_kind k);
/// xs[p], or a null handle past its end (a welcome or home list shorter than the table).
inline caf::actor actor_at(const std::vector<caf::actor>& xs, size_t p) {
  return p < xs.size() ? xs[p] : caf::actor{};
}
std::string slot_name(partition_kind k, size_t p);
int32_t log_partition(own_ptr self, partition_kind k, size_t p);
/// The slot of changelog partition `lp`; false when there is none.
bool slot_of(own_ptr self, int32_t lp, partition_kind& k, size_t& p);
const std::string& me(own_ptr self);
/// Tells this node's order owners that SKU partition `q` is served again (`served`).
void tell_served(own_ptr self, size_t q);
/// Tells an order owner that starts here (a takeover) which SKU partitions are routed now:
/// an order it re-activated may have had its command answered `node_unavailable` before
/// one of them was routed, and `tell_served` reached only the owners already serving.
void tell_served_to(own_ptr self, const caf::actor& owner);

/// Points the slot's forwarders at whoever holds it now.
void route_slot(own_ptr self, owned_slot& s);
/// The writer forgets the partition's committer; the standby applies it again afterwards.
void drop_committer(own_ptr self, int32_t lp);
/// The node's worker gauges (saga_live_actors) follow a taken partition's workers: +1 when
/// it serves here, -1 when released.
void count_workers(own_ptr self, partition_kind k, const owned_slot& s, int64_t d);
/// A partition taken over here is held elsewhere now: its actors stop, the slot is unheld.
void release(own_ptr self, partition_kind k, size_t p, const std::string& why);
/// Tells every peer that this node holds (k, p) now.
void announce(own_ptr self, partition_kind k, size_t p);
/// Stopping: answers the stop once every partition of this node has a new holder.
void handed_over(own_ptr self);
/// Another node reports (welcome, `owns`) or claims (owners topic) one of this node's own
/// partitions at `seq`: handed over while this node stops; else, when later than this
/// node's own claim, this node is fenced: with failover the partition stops being this
/// node's own (`unhome`, true: the caller goes on as for any slot, releasing it); without,
/// the node stops (as its committer's next commit would).
bool own_partition_claimed(own_ptr self, partition_kind k, size_t p, const std::string& node,
                           int64_t seq);
/// With failover (cluster.replication = kafka, failover_after_ms > 0) a fenced own
/// partition is released and taken back later; without, it stops the node.
bool releases_own(own_ptr self);
/// An own partition another node opened: from now on an ordinary slot held here, which the
/// caller releases; check_failover takes it back (cluster.take_back_after_ms).
void unhome(own_ptr self, partition_kind k, size_t p, const std::string& why);
/// A starting node's own partition: not served by a takeover here.
bool is_starting(own_ptr self, size_t i);
/// A takeover of one of node `i`'s own partitions is under way here.
bool taking_of(own_ptr self, size_t i);
/// cluster.replication = kafka with cluster.failover_after_ms > 0.
bool failover_on(const node_config& cfg);
/// Failover's liveness lease (runtime/lease_ticker.hpp): false when the node stops.
bool keep_lease(own_ptr self);
/// Takes what no live node has held for failover_after_ms (as the live nodes' rendezvous
/// choice, seeing a majority), and this node's own released partitions back
/// (ownership_failover.cpp).
void check_failover(own_ptr self);
/// Answers the starting peers once no takeover of their partitions is under way here.
void answer_starting(own_ptr self);

/// True when a report of the slot's holder, from its claim at `seq`, is older than what
/// this node knows already (a later claim): it is ignored. -1 (unknown) is never stale.
bool stale(const owned_slot& s, int64_t seq);
/// `node` holds the slot now (its handles, its claim at `seq`; -1: unknown), unless stale.
void held_by(own_ptr self, partition_kind k, size_t p, const std::string& node,
             caf::actor h, caf::actor pay, int64_t seq = -1);
/// What a peer's welcome says it holds; `complete` (its link's welcome): a partition it
/// does not list is no longer held by it.
void apply_welcome(own_ptr self, const std::string& node, const cluster_welcome& w,
                   bool complete);
/// What this node holds now, for a peer: its own actors and claim offsets
/// (ownership_welcome.cpp).
cluster_welcome welcome_of(own_ptr self);
/// Asks each live peer whose claim is the newest of a partition that nobody serves here yet
/// for its welcome (its announcement may have been lost): routes the partition once it
/// serves it. One request per peer at a time (ownership's tick).
void ask_claimants(own_ptr self);
/// A committed claim read from the owners topic (owners_reader.hpp).
void on_claim(own_ptr self, partition_claim& c);
/// This node's own takeover of (k, p) finished (runtime/takeover.cpp).
void on_taken(own_ptr self, partition_kind k, size_t p, taken_partition& t);

} // namespace saga::ownership_detail
