#pragma once
// Who holds each partition now, and failover (issue 25). One `ownership` actor per node of a
// cluster keeps the table: for every order and SKU partition, the node that holds it (as
// this node last heard) and the local forwarders standing for it, which it routes.
//
// - A node's own partitions (the layout's, cluster_layout.hpp) are its own from the start
//   and never move away while it runs: a node that starts opens them (init_transactions),
//   which takes them back from whoever held them meanwhile.
// - Peers' links report `member_up` (with the peer's welcome: the partitions it holds) and
//   `member_down`; a node that takes a partition announces `owns` to every peer's entry.
// - Failover (cluster.replication = kafka, cluster.failover_after_ms > 0): a partition that
//   no live node has held for failover_after_ms is taken by one live node, the rendezvous
//   choice among the live nodes (every node computes the same), provided this node sees a
//   majority of cluster.nodes (itself included): a node cut off alone takes nothing.
//   Taking is `take_fn` (runtime/takeover.hpp): open the partition's producer (fencing the
//   old owner), apply its changelog, load its rows and spawn its actors.
// - Graceful stop (`leaving`): a stopping node tells its peers before it stops; they take
//   its partitions at once, without failover_after_ms, while it still serves them, and it
//   stops once every one of them is announced by its new holder (or after the time-out).
// - Starting: a node that starts says so to its peers before it opens its partitions
//   (`starting`, sagad). They take none of its partitions from then on, and answer once
//   their takeovers of them under way have finished: a takeover that opened a partition
//   after the node did would fence the node at its start.
// - Losing: when the partition's own node comes back (its welcome or announcement claims
//   it), or the committer reports it fenced (`lost`), the local actors stop, the writer
//   drops the committer, and the forwarder routes to the new holder.
// - Claims (owners_reader.hpp) and sequence (ownership_claims.cpp): every report of a
//   holder (a welcome, an `owns`) carries the offset of the holder's claim of the partition
//   in the owners topic. Claims commit in fence order, so the highest offset names the
//   holder: a report with a lower one than known is stale and ignored (CAF may deliver an
//   old announcement after a newer one, across reconnects). A claim read from the topic
//   that names another node than the holder here routes away from that holder at once
//   (it is fenced): requests wait in the forwarders for the claimant's `owns` while it is
//   a live peer, else get 503. A partition taken over here is released then, and a
//   takeover that finishes after a later claim is not served.
// - Lease: a node that did not run for longer than cluster.failover_after_ms (frozen,
//   stopped, starved: its peers may have taken its partitions meanwhile) answers nothing
//   from the moment it runs again, and stops (runtime/context.hpp `unresponsive_ms`).
// Safety does not rest on this table: Kafka's producer fencing makes sure only the last
// opener of a partition commits (a stale holder's steps fail, unacknowledged).

#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "actors/cluster/cluster_layout.hpp"
#include "actors/messages.hpp"
#include "runtime/context.hpp"

namespace saga {

/// Runs a takeover off the actor's thread; it sends `(owns_atom, kind, p, taken_partition)`
/// back to `router` (runtime/takeover.hpp is the one sagad uses).
using take_fn = std::function<void(caf::actor router, partition_kind kind, size_t p)>;

/// This node's own partitions' actors, by partition (null where the partition is another
/// node's): the order owner, the payment worker and the inventory worker (its supervisor).
/// The directory holds them directly, or, with replication = kafka, a forwarder routed to
/// them (runtime.cpp), so that a partition of this node can be routed elsewhere too.
struct home_actors {
  std::vector<caf::actor> orders, payment, inventory;
  /// By changelog partition, with failover on (sagad): their committers. Told to report a
  /// fenced commit to the ownership actor (`lost`), which releases the partition and takes
  /// it back later, instead of stopping the node (design step 3d). Empty: a fenced own
  /// partition stops the node.
  std::vector<caf::actor> committers;
};

struct owned_slot {
  std::string holder;     // node id that holds it, "" while none is known
  int64_t since_ms = 0;   // when it lost its holder
  /// This node's own partition (layout), opened at its start and never released since.
  /// With failover an own partition another node opened is released (mine = false) and
  /// taken back like any other (check_failover, cluster.take_back_after_ms).
  bool mine = false;
  bool taking = false;    // a takeover is under way here
  /// Local forwarders: the directory's slot (null for this node's own partitions unless
  /// replication = kafka).
  caf::actor fw, pay_fw;
  caf::actor remote, remote_pay;           // the holder's handles (a peer)
  /// Served here: taken over (with its committer), or this node's own (home_actors).
  caf::actor local, local_pay, committer;
  caf::actor served_to; // the route last announced as served (route_slot), null while none
  /// Sequence: the offset of the holder's claim of it (owners topic) as known here, -1
  /// while none is. Claims commit in fence order, so a report of a holder with a lower
  /// one is stale: it is ignored (ownership_claims.cpp).
  int64_t seq = -1;
};

struct ownership_state {
  static inline const char* name = "ownership";
  context_ptr ctx;
  cluster_layout layout;
  size_t self = 0;
  directory dir;
  take_fn take;
  /// The changelog applier (replication = kafka): a partition released here, or whose
  /// takeover failed, is applied by it again as a standby replica.
  caf::actor standby;
  std::vector<owned_slot> orders, inventory;
  std::map<std::string, caf::actor> entries; // live peers' entry actors
  std::map<std::string, caf::actor> links;   // our link to each peer
  bool minority = false;
  uint64_t takeovers = 0, releases = 0;
  /// Peers that said they are stopping: their partitions are taken at once (they keep
  /// serving them until the takeover fences them).
  std::set<std::string> leaving;
  /// This node is stopping: the answer once peers announced all of its own partitions.
  caf::response_promise handed_off;
  bool stopping = false;
  int64_t last_tick_mono = 0; // the lease (keep_lease): the clock's mono_ms at the last tick
  /// Peers that said they are starting (before they open their partitions), and when: none
  /// of their partitions is taken here until they are up, or failover_start_grace_ms (from
  /// their latest claim read, once they opened: ownership_claims.cpp, on_claim).
  std::map<std::string, int64_t> starting;
  /// Their answers, given once no takeover of their partitions is under way here.
  std::map<std::string, std::vector<caf::response_promise>> start_waiters;
  /// The last committed claim of each changelog partition, from the owners reader.
  std::map<int32_t, partition_claim> claims;
  /// This process's latest claim of each changelog partition (its incarnation's), for the
  /// duplicate-id guard (ownership_claims.cpp, on_claim).
  std::map<int32_t, int64_t> own_claims;
  /// The owners reader reached the topic's end once (sagad waits for it before ready),
  /// and who waits for that.
  bool claims_read = false;
  std::vector<caf::response_promise> claims_waiters;
  /// Peers asked for their welcome (ask_claimants), until they answer.
  std::set<std::string> asked;
};

caf::behavior ownership(caf::stateful_actor<ownership_state>* self, context_ptr ctx,
                        directory dir, take_fn take, home_actors home);

} // namespace saga
