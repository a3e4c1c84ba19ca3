#pragma once
// The cluster's actors (issue 12, spec §6). Every node runs the same three kinds:
//
// - `node_entry`, published on the node's CAF port: a peer that connects says hello with
//   its layout (nodes, partition counts) and how partitions are kept (`cluster.replication`,
//   `cluster.name`); a difference is refused with a message naming it, else the answer
//   holds the handles of this node's partitions.
// - one `peer_link` per other node: connects without blocking (a request to the
//   middleman actor), says hello, monitors the peer's entry actor (CAF 0.17 has no node
//   monitoring: losing the connection kills every proxy of the node), and on `down_msg`
//   marks the peer down and connects again with backoff. A restarted peer has a new
//   node id: its handles are replaced, never compared or reused.
// - one `forwarder` per partition that another node owns: the local stand-in that the
//   directory holds, so every handle in it stays valid while peers come and go and while
//   the partition moves. It hands each message on to the holder (same sender and request
//   id: the reply goes straight back), unwrapped. While nobody holds it, it answers
//   `node_unavailable`. A request that reached an ended actor (the partition moved before
//   this node learnt of it) is sent again through it by its requester (`again`): it goes
//   to whoever holds the partition after a pause. The `ownership` actor (ownership.hpp) routes the forwarders from
//   what the links report and what peers announce.
//
// Ownership is not checked on the way: a stale owner is fenced where it matters, at its
// write. With `cluster.replication = kafka` every step commits in a Kafka transaction under
// the partition's `transactional.id`, so an owner superseded by another `init_transactions`
// fails that commit, answers nothing, and stops (actors/replication/README.md). With
// `none` ownership comes from `cluster.nodes` and never moves.

#include <map>
#include <string>
#include <vector>

#include "actors/messages.hpp"
#include "actors/cluster/cluster_layout.hpp"
#include "runtime/context.hpp"

namespace saga {

/// What a forwarder answers while its node is down: `sec::no_route_to_receiving_node`,
/// with the node id and the partition ("inventory/3") as context.
caf::error node_unavailable(const std::string& node, const std::string& slot);
/// The node and partition named by such an error; false for any other error.
bool is_node_unavailable(const caf::error& e, std::string& node, std::string& slot);

/// The shape of the messages nodes exchange (hello, welcome, owns, starting, ...). A link
/// says it (`protocol`, a message whose shape never changes) before its hello; a peer with
/// another one, or an older sagad that does not know the message, is refused with a reason
/// instead of failing on a message it cannot read. Raise it whenever a cross-node message
/// changes shape: nodes of a cluster run one protocol (no rolling upgrade across it).
inline constexpr uint32_t cluster_protocol = 2; // 1: `owns` and welcomes carry claim offsets;
                                                // 2: `late_refund` (payment worker -> order owner)
/// The refusal for a peer that said protocol `theirs` (0: it said none), "" when it matches.
std::string protocol_difference(uint32_t theirs, const std::string& node);

/// This node's hello, from its configuration.
cluster_hello make_hello(const node_config& cfg);
/// "" when a peer's hello matches this node's layout, replication and cluster name, else
/// the difference.
std::string check_hello(const node_config& cfg, const cluster_hello& h);

struct forwarder_state {
  static inline const char* name = "forwarder";
  caf::actor target; // null while the owner node is down
  /// A graceful hand-off (ownership.hpp): messages wait here, with their sender and
  /// request id, until the partition's new holder is routed (then they go to it), or the
  /// hold ends without one (requests are answered node_unavailable).
  struct held_message {
    caf::strong_actor_ptr sender;
    caf::message_id mid;
    caf::mailbox_element::forwarding_stack stages;
    caf::message content;
  };
  bool holding = false;
  uint64_t hold_generation = 0;
  std::vector<held_message> held;
  /// Requests sent again after a move (`again`), each waiting for its pause to end.
  std::map<uint64_t, held_message> again;
  uint64_t again_seq = 0;
};
/// `stats`: the peer's counters, null for a forwarder to this node's own partition
/// (replication = kafka: runtime.cpp routes it to the local actor at once).
caf::behavior forwarder(caf::stateful_actor<forwarder_state>* self, std::string node,
                        std::string slot, metrics::peer_stats* stats);

struct node_entry_state {
  static inline const char* name = "node_entry";
  caf::actor ownership; // answers hellos with what this node holds now (ownership.hpp)
  std::map<std::string, caf::actor> links; // peer id -> our link to it (nudged on hello)
  /// peer id -> the protocol it said before its hello, and who said it: only a hello from
  /// that same sender (the peer's link) counts it, so a peer that died in between and came
  /// back as an older sagad under the same id says nothing.
  std::map<std::string, std::pair<uint32_t, caf::actor_addr>> protocols;
};
caf::behavior node_entry(caf::stateful_actor<node_entry_state>* self, context_ptr ctx,
                         caf::actor ownership);

/// Opens and closes a TCP connection to host:port within `timeout_ms` (non-blocking
/// connect and poll); "" in `why` when it answered.
bool tcp_probe(const std::string& host, uint16_t port, int64_t timeout_ms, std::string& why);
/// A detached actor answering `(probe, host, port, timeout_ms)` with `(bool, why)`.
caf::behavior connect_probe(caf::event_based_actor* self, std::string peer);

/// Before a node opens its partitions at its start (which fences whoever holds them), it
/// tells every reachable peer that it is starting (`starting`): they take none of its
/// partitions from then on, and answer once their takeovers of them under way have
/// finished (one that opened a partition after this node did would fence it at its start).
/// Blocking (a TCP probe, then a connect and a request with time-outs, so a frozen peer
/// delays the start by at most cluster.connect_timeout_ms + 2 x saga.request_timeout_ms
/// each): sagad's main thread only, before start_replication. Returns how many peers
/// answered (a peer that is down takes nothing over).
size_t announce_start(caf::actor_system& sys, const node_config& cfg, spdlog::logger& log);

/// A link's state and reason before its first connection attempt ended.
inline constexpr const char* not_connected_yet = "not connected yet";

/// Waits until every link's first connection attempt has ended, up or not, so a node that
/// starts does not answer 503 for a peer it simply has not reached yet. At most `timeout_ms`
/// (an attempt on a peer that drops packets can take longer: that link is left connecting).
/// Blocking: sagad's main thread only, before it reports ready. Returns how many are up.
size_t await_peers(caf::actor_system& sys, const std::vector<caf::actor>& links,
                   int64_t timeout_ms);

struct peer_link_state {
  static inline const char* name = "peer_link";
  context_ptr ctx;
  cluster_member peer;
  caf::actor ownership; // told when the peer is up (its welcome) and down
  metrics::peer_stats* stats = nullptr;
  caf::actor entry;      // the peer's entry actor while up
  caf::actor prober;     // TCP probe on its own thread (connect_probe)
  uint64_t attempt = 0;  // generation: answers to older attempts are ignored
  int64_t backoff_ms = 0;
  peer_status status;
};
caf::behavior peer_link(caf::stateful_actor<peer_link_state>* self, context_ptr ctx,
                        cluster_member peer, caf::actor ownership);

} // namespace saga
