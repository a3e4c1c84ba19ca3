#pragma once
// The ownership actor's test fixture (ownership.test.cpp, ownership_claims.test.cpp): CAF's
// deterministic test coordinator, a three-node layout, stand-ins for the peers and the writer,
// and a recording take_fn. Test code only.
#include <catch2/catch.hpp>

#include <set>

#include <spdlog/sinks/null_sink.h>

#include "actors/cluster/cluster.hpp"
#include "actors/cluster/ownership.hpp"
#include "runtime/lease_ticker.hpp"

using namespace saga;
using namespace std::chrono_literals;

namespace {

struct own_test_config : caf::actor_system_config {
  own_test_config() {
    register_message_types(*this);
    set("scheduler.policy", caf::atom("testing"));
    set("logger.file-verbosity", caf::atom("quiet"));
    set("logger.console-verbosity", caf::atom("quiet"));
  }
};

caf::behavior named(caf::event_based_actor*, std::string name) {
  return {
    [name](get_atom, const std::string& id) { return name + ":" + id; },
  };
}

/// This node's own partitions' stand-in: it also records the SKU partitions it is told are
/// served again (`served`, for the orders waiting on them).
caf::behavior local_owner(caf::event_based_actor*, std::string name,
                          std::shared_ptr<std::vector<std::string>> served) {
  return {
    [name](get_atom, const std::string& id) { return name + ":" + id; },
    [served](served_atom, const std::string& slot) { served->push_back(slot); },
  };
}

/// Answers the committer changes the ownership actor asks for, and counts the drops and
/// the committers given (`movable`: by changelog partition).
caf::behavior fake_writer(caf::event_based_actor*, std::shared_ptr<int> drops,
                          std::shared_ptr<std::set<int32_t>> movable) {
  return {
    [drops, movable](committer_atom, int32_t lp, const caf::actor& c) {
      if (!c)
        ++*drops;
      else
        movable->insert(lp);
      return true;
    },
  };
}

/// This node's own committer's stand-in: records the router it is told (`route`), and
/// reports a fence of its partition to it when told `(lost, partition)`.
caf::behavior fake_committer(caf::stateful_actor<caf::actor>* self, std::shared_ptr<int> routed) {
  return {
    [self, routed](route_atom, const caf::actor& r) {
      if (r)
        ++*routed;
      self->state = r;
    },
    [self](lost_atom, int32_t lp) { self->send(self->state, lost_atom::value, lp); },
  };
}

/// How the fixture's node runs (defaults: the ownership tests' usual node).
struct fixture_options {
  /// The directory holds forwarders routed to `home` for this node's own partitions, as
  /// sagad's with replication = kafka (runtime.cpp); else `home` itself.
  bool movable_home = false;
  int64_t failover_after_ms = 1000;
  /// Committer stand-ins for this node's own partitions (home_actors::committers, as
  /// sagad gives them with failover).
  bool home_committers = false;
  std::string incarnation; // this process's (node_config::incarnation)
};

struct fixture {
  own_test_config cfg;
  caf::actor_system sys{cfg};
  caf::scheduler::test_coordinator& sched =
    dynamic_cast<caf::scheduler::test_coordinator&>(sys.scheduler());
  caf::scoped_actor self{sys, true};
  context_ptr ctx;
  cluster_layout layout;
  directory dir;
  std::shared_ptr<int> drops = std::make_shared<int>(0);
  std::shared_ptr<std::set<int32_t>> movable = std::make_shared<std::set<int32_t>>();
  std::shared_ptr<int> routed = std::make_shared<int>(0); // home committers told their router
  std::map<int32_t, caf::actor> committers; // the home committers' stand-ins, by changelog partition
  /// What this node's order owners were told is served again, in order.
  std::shared_ptr<std::vector<std::string>> served = std::make_shared<std::vector<std::string>>();
  /// The same for the owners of partitions taken over here (finish_take's stand-ins).
  std::shared_ptr<std::vector<std::string>> taken_served =
    std::make_shared<std::vector<std::string>>();
  std::vector<std::pair<partition_kind, size_t>> taken; // what take_fn was asked for
  caf::actor own;
  std::map<std::string, caf::actor> peer_actor; // a stand-in for each peer's partitions
  caf::actor home; // this node's own partitions' stand-in

  explicit fixture(bool movable_home = false) : fixture(options(movable_home)) {}
  static fixture_options options(bool movable_home) {
    fixture_options o;
    o.movable_home = movable_home;
    return o;
  }
  explicit fixture(const fixture_options& o) {
    auto movable_home = o.movable_home;
    auto c = std::make_shared<runtime_context>();
    c->cfg.node_id = "node-1";
    c->cfg.cluster_members = {{"node-1", "127.0.0.1", 1, 2}, {"node-2", "127.0.0.1", 3, 4},
                              {"node-3", "127.0.0.1", 5, 6}};
    c->cfg.cluster_nodes = {"node-1", "node-2", "node-3"};
    c->cfg.saga_partitions = 8;
    c->cfg.inventory_workers = 8;
    c->cfg.payment_workers = 2;
    c->cfg.cluster_replication = "kafka";
    c->cfg.cluster_failover_after_ms = o.failover_after_ms;
    c->cfg.incarnation = o.incarnation;
    c->cfg.cluster_failover_start_grace_ms = 5000;
    c->clock = std::make_shared<actor_clock_source>(sys.clock(), 1'000'000);
    c->log = std::make_shared<spdlog::logger>("test", std::make_shared<spdlog::sinks::null_sink_mt>());
    ctx = c;
    layout = cluster_layout::from(ctx->cfg);
    for (auto& id : {"node-2", "node-3"})
      peer_actor[id] = sys.spawn(named, std::string(id));
    dir.writer = sys.spawn(fake_writer, drops, movable);
    // This node's own partitions: a local stand-in; every other slot: a forwarder.
    home = sys.spawn(local_owner, std::string("node-1"), served);
    auto own_slot = [&](const std::string& kind, size_t p) {
      if (!movable_home)
        return home;
      auto f = spawn_forwarder(kind, p);
      self->send(f, route_atom::value, home);
      return f;
    };
    home_actors homes;
    for (size_t p = 0; p < layout.order_partitions; ++p) {
      bool remote = layout.owner(partition_kind::orders, p) != 0;
      dir.orders_remote.push_back(remote);
      dir.orders.push_back(remote ? spawn_forwarder("orders", p) : own_slot("orders", p));
      dir.payment_by_order.push_back(remote ? spawn_forwarder("payment", p)
                                            : own_slot("payment", p));
      homes.orders.push_back(remote ? caf::actor{} : home);
      homes.payment.push_back(remote ? caf::actor{} : home);
    }
    for (size_t q = 0; q < layout.sku_partitions; ++q) {
      bool remote = layout.owner(partition_kind::inventory, q) != 0;
      dir.inventory_remote.push_back(remote);
      dir.inventory.push_back(remote ? spawn_forwarder("inventory", q) : own_slot("inventory", q));
      homes.inventory.push_back(remote ? caf::actor{} : home);
    }
    if (o.home_committers) {
      homes.committers.resize(layout.order_partitions + layout.sku_partitions);
      for (size_t p = 0; p < layout.order_partitions; ++p)
        if (layout.owner(partition_kind::orders, p) == 0)
          homes.committers[p] = committers[static_cast<int32_t>(p)] = sys.spawn(fake_committer, routed);
      for (size_t q = 0; q < layout.sku_partitions; ++q)
        if (layout.owner(partition_kind::inventory, q) == 0) {
          auto lp = layout.order_partitions + q;
          homes.committers[lp] = committers[static_cast<int32_t>(lp)] = sys.spawn(fake_committer, routed);
        }
    }
    own = sys.spawn(ownership, ctx, dir, [this](caf::actor, partition_kind k, size_t p) {
      taken.emplace_back(k, p);
    }, homes);
    run();
  }
  ~fixture() {
    self->send_exit(own, caf::exit_reason::user_shutdown);
    run();
    // Pending timers (a forwarder's hold) keep their actors alive: fire them, or the
    // system would wait for those actors at its end.
    sched.clock().advance_time(std::chrono::minutes(1));
    run();
  }

  caf::actor spawn_forwarder(const std::string& kind, size_t p) {
    static metrics::peer_stats stats;
    return sys.spawn(forwarder, std::string("?"), kind + "/" + std::to_string(p), &stats);
  }
  void run() {
    while (sched.try_run_once()) {
    }
  }
  void advance(std::chrono::milliseconds ms) {
    for (auto left = ms; left > 0ms; left -= 10ms) {
      sched.clock().advance_time(std::min(left, 10ms));
      run();
    }
  }
  /// The welcome of a peer that holds its own partitions (the layout's).
  cluster_welcome welcome_of(const std::string& id) {
    auto i = layout.index_of(id);
    cluster_welcome w;
    w.ok = true;
    w.node_id = id;
    for (size_t p = 0; p < layout.order_partitions; ++p) {
      bool its = layout.owner(partition_kind::orders, p) == i;
      w.orders.push_back(its ? peer_actor[id] : caf::actor{});
      w.payment_by_order.push_back(its ? peer_actor[id] : caf::actor{});
    }
    for (size_t q = 0; q < layout.sku_partitions; ++q)
      w.inventory.push_back(layout.owner(partition_kind::inventory, q) == i ? peer_actor[id]
                                                                            : caf::actor{});
    return w;
  }
  void up(const std::string& id) {
    self->send(own, member_up_atom::value, id, peer_actor[id], welcome_of(id));
    run();
  }
  void down(const std::string& id) {
    self->send(own, member_down_atom::value, id);
    run();
  }
  /// Who answers a request through this node's slot (an error's text when nobody does).
  std::string via(const caf::actor& slot) {
    std::string got;
    auto h = self->request(slot, caf::infinite, get_atom::value, std::string("x"));
    run();
    std::move(h).receive([&](const std::string& x) { got = x; },
                         [&](caf::error&) { got = "unavailable"; });
    return got;
  }
  /// The partitions of `dead` that the rendezvous over the other live nodes gives node-1.
  std::set<std::pair<partition_kind, size_t>> expected(const std::string& dead) {
    std::vector<uint8_t> live(layout.nodes.size(), 1);
    live[layout.index_of(dead)] = 0;
    std::set<std::pair<partition_kind, size_t>> out;
    for (auto k : {partition_kind::orders, partition_kind::inventory})
      for (size_t p = 0; p < layout.partitions(k); ++p)
        if (layout.owner(k, p) == layout.index_of(dead) && layout.owner_among(k, p, live) == 0)
          out.emplace(k, p);
    return out;
  }
  /// node-3 dies and node-1 takes the first of its partitions the rendezvous gives it:
  /// (kind, partition, changelog partition); the takeover is not finished yet.
  std::tuple<partition_kind, size_t, int32_t> lose_node3() {
    up("node-2");
    up("node-3");
    down("node-3");
    advance(1300ms);
    auto want = expected("node-3");
    REQUIRE_FALSE(want.empty());
    auto [kind, p] = *want.begin();
    return {kind, p,
            static_cast<int32_t>(kind == partition_kind::orders ? p : layout.order_partitions + p)};
  }
  /// The takeover of (kind, p) finishes here with this claim offset; its stand-in actor.
  caf::actor finish_take(partition_kind kind, size_t p, int64_t claim_offset,
                         caf::actor committer = {}) {
    auto mine = sys.spawn(local_owner, std::string("taken"), taken_served);
    taken_partition t;
    t.main = mine;
    t.payment = mine;
    t.claim_offset = claim_offset;
    t.committer = std::move(committer);
    self->send(own, owns_atom::value, std::string(to_string(kind)), static_cast<uint64_t>(p), t);
    run();
    return mine;
  }
  /// The first order partition of node `id` (the layout's).
  size_t own_of(const std::string& id) {
    size_t p = 0;
    while (layout.owner(partition_kind::orders, p) != layout.index_of(id))
      ++p;
    return p;
  }
  /// `node`'s announcement (through our entry) that it holds (kind, p), claimed at `seq`.
  void announce(const std::string& node, partition_kind kind, size_t p, int64_t seq) {
    self->send(own, owns_atom::value, node, std::string(to_string(kind)),
               static_cast<uint64_t>(p), peer_actor[node], peer_actor[node], seq);
    run();
  }
  /// node-3 dies and node-2 announces it took node-3's first order partition, claimed at
  /// `seq`: that partition.
  size_t node2_takes_from_node3(int64_t seq) {
    up("node-2");
    up("node-3");
    down("node-3");
    auto p = own_of("node-3");
    announce("node-2", partition_kind::orders, p, seq);
    return p;
  }
  /// A claim read from the owners topic.
  /// `at_ms`: when the claimant claimed (0: long ago).
  /// `incarnation`: the claiming process's ("" as in claims from before it existed).
  void claim(const std::string& node, int32_t lp, int64_t offset, int64_t at_ms = 0,
             const std::string& incarnation = {}) {
    partition_claim c;
    c.incarnation = incarnation;
    c.log_partition = lp;
    c.node_id = node;
    c.offset = offset;
    c.at_ms = at_ms;
    self->send(own, claim_atom::value, c);
    run();
  }
  ownership_view view() {
    ownership_view v;
    auto h = self->request(own, caf::infinite, owners_atom::value);
    run();
    std::move(h).receive([&](ownership_view& x) { v = std::move(x); },
                         [&](caf::error& e) { FAIL("owners: " << sys.render(e)); });
    return v;
  }
};

} // namespace
