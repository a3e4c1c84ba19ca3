// The cluster layout: the configuration of nodes, rendezvous ownership, the layout digest.
#include <catch2/catch.hpp>

#include <map>

#include "actors/cluster/cluster_layout.hpp"

using namespace saga;

namespace {

cluster_layout layout_of(std::vector<std::string> ids, size_t orders = 64, size_t skus = 16) {
  cluster_layout l;
  int port = 4100;
  for (auto& id : ids) {
    l.nodes.push_back({id, "127.0.0.1", port, port + 1000});
    ++port;
  }
  l.order_partitions = orders;
  l.sku_partitions = skus;
  l.payment_workers = 2;
  return l;
}

} // namespace

TEST_CASE("cluster.nodes items: an id alone, or id@host:caf_port:http_port", "[unit][cluster]") {
  cluster_member m;
  CHECK(parse_cluster_member("node-1", m).empty());
  CHECK(m.id == "node-1");
  CHECK(m.host.empty());
  CHECK(parse_cluster_member("n2@127.0.0.2:4102:8082", m).empty());
  CHECK(m.host == "127.0.0.2");
  CHECK(m.caf_port == 4102);
  CHECK(m.http_port == 8082);
  CHECK(parse_cluster_member("n3@::1:4103:8083", m).empty()); // IPv6: the last two colons
  CHECK(m.host == "::1");
  CHECK(parse_cluster_member("n4@[::1]:4104:8084", m).empty());
  CHECK(m.host == "::1");
  CHECK(parse_cluster_member("n5@a b:4105:8085", m)
        == "node 'n5': host 'a b' must be a host name or an IP address, got 'n5@a b:4105:8085'");
  CHECK(parse_cluster_member("n6@x@h:4106:8086", m)
        == "node 'n6': host 'x@h' must be a host name or an IP address, got 'n6@x@h:4106:8086'");
  CHECK(parse_cluster_member("n 1", m) == "node id 'n 1' must be 1 to 64 letters, digits, '-', "
                                          "'_' or '.'");
  CHECK(parse_cluster_member("n1@127.0.0.1:4101", m)
        == "node 'n1': expected id@host:caf_port:http_port, got 'n1@127.0.0.1:4101'");
  CHECK(parse_cluster_member("n1@h:0:8080", m)
        == "node 'n1': ports must be integers from 1 to 65535, got 'n1@h:0:8080'");
  CHECK(parse_cluster_member("n1@h:4101:x", m)
        == "node 'n1': ports must be integers from 1 to 65535, got 'n1@h:4101:x'");
  CHECK(parse_cluster_member("n1@h:8080:8080", m)
        == "node 'n1': the CAF port and the HTTP port must differ");
}

TEST_CASE("cluster.nodes in the file: errors name the line; several nodes need addresses",
          "[unit][cluster][config]") {
  node_config c;
  REQUIRE(parse_config_text("[cluster]\nnodes = \"a@127.0.0.1:4101:8081, b@127.0.0.1:4102:8082\"\n",
                            "t.conf", c)
            .empty());
  REQUIRE(c.cluster_members.size() == 2);
  CHECK(c.cluster_nodes == std::vector<std::string>{"a", "b"});
  CHECK(c.cluster_members[1].http_port == 8082);
  CHECK(parse_config_text("[cluster]\n\nnodes = \"a, b\"\n", "t.conf", c)
        == "t.conf:3: key 'cluster.nodes': with several nodes every one needs its address: "
           "id@host:caf_port:http_port");
  CHECK(parse_config_text("[cluster]\nnodes = \"a@h:1:2, a@h:3:4\"\n", "t.conf", c)
        == "t.conf:2: key 'cluster.nodes': node 'a' is listed twice");
  CHECK(parse_config_text("[cluster]\nnodes = \" , \"\n", "t.conf", c)
        == "t.conf:2: key 'cluster.nodes': lists no node");
}

TEST_CASE("ownership is the same on every node, spread evenly, and a new node takes only "
          "what it wins",
          "[unit][cluster]") {
  auto three = layout_of({"node-1", "node-2", "node-3"});
  auto reordered = layout_of({"node-3", "node-1", "node-2"});
  std::map<std::string, size_t> per_node;
  for (size_t p = 0; p < three.order_partitions; ++p) {
    auto id = three.nodes[three.owner(partition_kind::orders, p)].id;
    // The list's order (and each node's own view of it) changes nothing.
    CHECK(reordered.nodes[reordered.owner(partition_kind::orders, p)].id == id);
    ++per_node[id];
  }
  REQUIRE(per_node.size() == 3);
  for (auto& [id, n] : per_node) {
    CHECK(n >= 10); // 64 over 3: about 21 each
    CHECK(n <= 32);
  }
  size_t listed = 0;
  for (size_t i = 0; i < 3; ++i)
    listed += three.owned_by(partition_kind::orders, i).size();
  CHECK(listed == 64);
  // Orders and SKUs are placed independently (a saga may cross nodes, by design).
  auto four = layout_of({"node-1", "node-2", "node-3", "node-4"});
  size_t moved = 0;
  for (size_t p = 0; p < 64; ++p) {
    auto before = three.nodes[three.owner(partition_kind::orders, p)].id;
    auto after = four.nodes[four.owner(partition_kind::orders, p)].id;
    if (before != after) {
      CHECK(after == "node-4"); // a partition moves only to the new node
      ++moved;
    }
  }
  CHECK(moved > 0);
  CHECK(moved < 32);
  auto one = layout_of({"solo"});
  CHECK(one.owned_by(partition_kind::inventory, 0).size() == 16);
}

TEST_CASE("the layout digest changes with anything that must match, and the difference is "
          "named",
          "[unit][cluster]") {
  auto a = layout_of({"node-1", "node-2"});
  auto b = layout_of({"node-2", "node-1"});
  b.nodes[0].caf_port = 4101; // node-2 keeps its address whatever its position
  b.nodes[0].http_port = 5101;
  b.nodes[1].caf_port = 4100;
  b.nodes[1].http_port = 5100;
  CHECK(a.digest() == b.digest());
  CHECK(layout_difference(a, b, "node-2").empty());
  auto c = a;
  c.order_partitions = 8;
  CHECK(a.digest() != c.digest());
  CHECK(layout_difference(a, c, "node-2") == "saga.partitions: 64 here, 8 at node-2");
  auto d = layout_of({"node-1", "node-2", "node-3"});
  CHECK(layout_difference(a, d, "node-2") == "cluster.nodes: node-3 is listed at node-2, not here");
  CHECK(layout_difference(d, a, "node-2") == "cluster.nodes: node-3 is listed here, not at node-2");
  auto e = a;
  e.nodes[1].host = "127.0.0.9";
  CHECK(layout_difference(a, e, "node-2")
        == "cluster.nodes: node-2 is 127.0.0.1:4101:5101 here, 127.0.0.9:4101:5101 at node-2");
  auto f = a;
  f.sku_partitions = 3;
  CHECK(layout_difference(a, f, "x") == "inventory.workers: 16 here, 3 at x");
}

TEST_CASE("a partition's first standby is the node that takes it when only its owner is down",
          "[unit][cluster]") {
  auto l = layout_of({"node-1", "node-2", "node-3"});
  std::map<size_t, size_t> standby_count;
  for (auto k : {partition_kind::orders, partition_kind::inventory})
    for (size_t p = 0; p < l.partitions(k); ++p) {
      auto own = l.owner(k, p);
      auto one = l.standbys(k, p, 1);
      REQUIRE(one.size() == 1);
      CHECK(one[0] != own);
      std::vector<uint8_t> live(3, 1);
      live[own] = 0;
      CHECK(one[0] == l.owner_among(k, p, live));
      auto two = l.standbys(k, p, 2);
      REQUIRE(two.size() == 2); // every other node
      CHECK(two[0] == one[0]);
      CHECK(two[1] != own);
      CHECK(two[1] != one[0]);
      CHECK(l.standbys(k, p, 5).size() == 2); // no more nodes than there are
      CHECK(l.standbys(k, p, 0).empty());
      ++standby_count[one[0]];
    }
  // Spread: each node keeps a standby of some partitions.
  CHECK(standby_count.size() == 3);
  CHECK(layout_of({"solo"}).standbys(partition_kind::orders, 0, 1).empty());
}
