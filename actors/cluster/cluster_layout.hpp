#pragma once
// The cluster's layout (spec §6, issue 12): the nodes named in `cluster.nodes` and the fixed
// partition counts, and which node owns each partition. Ownership is rendezvous hashing
// over the node ids: every node computes the same map from the configuration alone, with
// no coordination, and adding a node moves only the partitions the new node wins.
// Nodes compare a digest of the layout when they connect; a difference is refused with a
// message naming it.

#include <cstdint>
#include <string>
#include <vector>

#include "runtime/config.hpp"

namespace saga {

enum class partition_kind : uint8_t { orders, inventory };
const char* to_string(partition_kind k);

struct cluster_layout {
  std::vector<cluster_member> nodes; // as configured (order kept)
  size_t order_partitions = 0;       // saga.partitions
  size_t sku_partitions = 0;         // inventory.workers: SKU partitions
  size_t payment_workers = 0;        // payment.workers per node (serve its order partitions)

  static cluster_layout from(const node_config& cfg);

  /// The index in `nodes` of the node that owns partition `p` of `kind`.
  size_t owner(partition_kind kind, size_t p) const;
  /// The same choice among the nodes with `live[i] != 0` only (failover: who takes a
  /// partition of a dead node); nodes.size() when none is live.
  size_t owner_among(partition_kind kind, size_t p, const std::vector<uint8_t>& live) const;
  /// The nodes that keep a standby replica of partition `p` (cluster.standby_replicas =
  /// `count`): the next `count` rendezvous choices after its owner, so the first of them is
  /// the node that takes it over when only its owner is down. Fewer when there are fewer
  /// other nodes.
  std::vector<size_t> standbys(partition_kind kind, size_t p, size_t count) const;
  /// The partitions of `kind` that node `node` owns, ascending.
  std::vector<size_t> owned_by(partition_kind kind, size_t node) const;
  size_t partitions(partition_kind kind) const {
    return kind == partition_kind::orders ? order_partitions : sku_partitions;
  }
  /// The node's index in `nodes`, or nodes.size() when it is not listed.
  size_t index_of(const std::string& id) const;

  /// Canonical text of everything that must match on every node (node ids, sorted, with
  /// their addresses; the partition counts) and its 64-bit FNV-1a as 16 hex digits.
  std::string canonical() const;
  std::string digest() const;
};

/// The first difference between two layouts, for a refusal message ("" when equal), e.g.
/// "saga.partitions: 4 here, 8 at node-2" or "node-3 is listed at node-2, not here".
std::string layout_difference(const cluster_layout& here, const cluster_layout& there,
                              const std::string& there_id);

} // namespace saga
