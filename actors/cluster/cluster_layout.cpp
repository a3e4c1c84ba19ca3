#include "actors/cluster/cluster_layout.hpp"

#include <algorithm>
#include <cstdio>

namespace saga {

namespace {

uint64_t fnv1a(const std::string& s, uint64_t h = 14695981039346656037ull) {
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

/// A final mix (splitmix64) so that ids differing in one character spread over the range.
uint64_t mix(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

std::string address(const cluster_member& m) {
  if (m.host.empty())
    return "(no address)";
  return m.host + ":" + std::to_string(m.caf_port) + ":" + std::to_string(m.http_port);
}

} // namespace

const char* to_string(partition_kind k) {
  return k == partition_kind::orders ? "orders" : "inventory";
}

cluster_layout cluster_layout::from(const node_config& cfg) {
  cluster_layout l;
  l.nodes = cfg.cluster_members;
  l.order_partitions = static_cast<size_t>(cfg.saga_partitions);
  l.sku_partitions = static_cast<size_t>(cfg.inventory_workers);
  l.payment_workers = static_cast<size_t>(cfg.payment_workers);
  return l;
}

size_t cluster_layout::owner(partition_kind kind, size_t p) const {
  return owner_among(kind, p, std::vector<uint8_t>(nodes.size(), 1));
}

size_t cluster_layout::owner_among(partition_kind kind, size_t p,
                                   const std::vector<uint8_t>& live) const {
  // Rendezvous (highest random weight): the node whose hash with the partition is largest.
  // Keyed by node id, never by position or address, so the map is the same on every node
  // and survives a reordered list or a node that moved host. Among the live nodes, a dead
  // node's partitions spread over the others, and nobody else's move.
  auto key = std::string(to_string(kind)) + "/" + std::to_string(p);
  size_t best = nodes.size();
  uint64_t best_w = 0;
  for (size_t i = 0; i < nodes.size(); ++i) {
    if (i >= live.size() || live[i] == 0)
      continue;
    auto w = mix(fnv1a(key, fnv1a(nodes[i].id + '\0')));
    if (best == nodes.size() || w > best_w || (w == best_w && nodes[i].id < nodes[best].id))
      best = i, best_w = w;
  }
  return best;
}

std::vector<size_t> cluster_layout::standbys(partition_kind kind, size_t p,
                                             size_t count) const {
  std::vector<size_t> out;
  std::vector<uint8_t> live(nodes.size(), 1);
  if (nodes.empty())
    return out;
  live[owner(kind, p)] = 0;
  while (out.size() < count) {
    auto next = owner_among(kind, p, live);
    if (next == nodes.size())
      break;
    out.push_back(next);
    live[next] = 0;
  }
  return out;
}

std::vector<size_t> cluster_layout::owned_by(partition_kind kind, size_t node) const {
  std::vector<size_t> out;
  for (size_t p = 0; p < partitions(kind); ++p)
    if (owner(kind, p) == node)
      out.push_back(p);
  return out;
}

size_t cluster_layout::index_of(const std::string& id) const {
  for (size_t i = 0; i < nodes.size(); ++i)
    if (nodes[i].id == id)
      return i;
  return nodes.size();
}

std::string cluster_layout::canonical() const {
  std::string out = "saga.partitions=" + std::to_string(order_partitions)
                    + ";inventory.workers=" + std::to_string(sku_partitions)
                    + ";payment.workers=" + std::to_string(payment_workers) + ";nodes=";
  auto sorted = nodes; // by id: the list's order changes nothing
  std::sort(sorted.begin(), sorted.end(),
            [](const cluster_member& a, const cluster_member& b) { return a.id < b.id; });
  for (auto& n : sorted)
    out += n.id + "@" + address(n) + ",";
  return out;
}

std::string cluster_layout::digest() const {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(fnv1a(canonical())));
  return buf;
}

std::string layout_difference(const cluster_layout& here, const cluster_layout& there,
                              const std::string& there_id) {
  auto count = [&](const char* key, size_t a, size_t b) {
    return std::string(key) + ": " + std::to_string(a) + " here, " + std::to_string(b) + " at "
           + there_id;
  };
  if (here.order_partitions != there.order_partitions)
    return count("saga.partitions", here.order_partitions, there.order_partitions);
  if (here.sku_partitions != there.sku_partitions)
    return count("inventory.workers", here.sku_partitions, there.sku_partitions);
  if (here.payment_workers != there.payment_workers)
    return count("payment.workers", here.payment_workers, there.payment_workers);
  for (auto& n : there.nodes)
    if (here.index_of(n.id) == here.nodes.size())
      return "cluster.nodes: " + n.id + " is listed at " + there_id + ", not here";
  for (auto& n : here.nodes) {
    auto i = there.index_of(n.id);
    if (i == there.nodes.size())
      return "cluster.nodes: " + n.id + " is listed here, not at " + there_id;
    if (address(there.nodes[i]) != address(n))
      return "cluster.nodes: " + n.id + " is " + address(n) + " here, " + address(there.nodes[i])
             + " at " + there_id;
  }
  return {}; // the order of the list does not matter: ownership is keyed by id
}

} // namespace saga
