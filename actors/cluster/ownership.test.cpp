// The ownership actor on CAF's deterministic test coordinator, without a network or Kafka:
// it routes the forwarders from what the links report, takes over (through a recording
// take_fn) exactly the partitions of a dead node that the live nodes' rendezvous gives it,
// and only after cluster.failover_after_ms and with a majority; it releases a partition it
// took when the partition's own node claims it again.
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

/// Answers the committer changes the ownership actor asks for, and counts the drops.
caf::behavior fake_writer(caf::event_based_actor*, std::shared_ptr<int> drops) {
  return {
    [drops](committer_atom, int32_t, const caf::actor& c) {
      if (!c)
        ++*drops;
      return true;
    },
  };
}

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
  std::vector<std::pair<partition_kind, size_t>> taken; // what take_fn was asked for
  caf::actor own;
  std::map<std::string, caf::actor> peer_actor; // a stand-in for each peer's partitions

  fixture() {
    auto c = std::make_shared<runtime_context>();
    c->cfg.node_id = "node-1";
    c->cfg.cluster_members = {{"node-1", "127.0.0.1", 1, 2}, {"node-2", "127.0.0.1", 3, 4},
                              {"node-3", "127.0.0.1", 5, 6}};
    c->cfg.cluster_nodes = {"node-1", "node-2", "node-3"};
    c->cfg.saga_partitions = 8;
    c->cfg.inventory_workers = 8;
    c->cfg.payment_workers = 2;
    c->cfg.cluster_replication = "kafka";
    c->cfg.cluster_failover_after_ms = 1000;
    c->cfg.cluster_failover_start_grace_ms = 5000;
    c->clock = std::make_shared<actor_clock_source>(sys.clock(), 1'000'000);
    c->log = std::make_shared<spdlog::logger>("test", std::make_shared<spdlog::sinks::null_sink_mt>());
    ctx = c;
    layout = cluster_layout::from(ctx->cfg);
    for (auto& id : {"node-2", "node-3"})
      peer_actor[id] = sys.spawn(named, std::string(id));
    dir.writer = sys.spawn(fake_writer, drops);
    // This node's own partitions: a local stand-in; every other slot: a forwarder.
    auto local = sys.spawn(named, std::string("node-1"));
    for (size_t p = 0; p < layout.order_partitions; ++p) {
      bool remote = layout.owner(partition_kind::orders, p) != 0;
      dir.orders_remote.push_back(remote);
      dir.orders.push_back(remote ? spawn_forwarder("orders", p) : local);
      dir.payment_by_order.push_back(remote ? spawn_forwarder("payment", p) : local);
    }
    for (size_t q = 0; q < layout.sku_partitions; ++q) {
      bool remote = layout.owner(partition_kind::inventory, q) != 0;
      dir.inventory_remote.push_back(remote);
      dir.inventory.push_back(remote ? spawn_forwarder("inventory", q) : local);
    }
    own = sys.spawn(ownership, ctx, dir, [this](caf::actor, partition_kind k, size_t p) {
      taken.emplace_back(k, p);
    });
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
    auto mine = sys.spawn(named, std::string("taken"));
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
  void claim(const std::string& node, int32_t lp, int64_t offset) {
    partition_claim c;
    c.log_partition = lp;
    c.node_id = node;
    c.offset = offset;
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

TEST_CASE("ownership: forwarders follow the links, a dead node's partitions are taken over "
          "by the rendezvous among the live ones after failover_after_ms",
          "[actors][cluster][failover]") {
  fixture f;
  f.up("node-2");
  f.up("node-3");
  auto n3 = f.layout.index_of("node-3");
  size_t p3 = 0;
  while (f.layout.owner(partition_kind::orders, p3) != n3)
    ++p3;
  CHECK(f.via(f.dir.orders[p3]) == "node-3:x");
  f.down("node-3");
  CHECK(f.via(f.dir.orders[p3]) == "unavailable"); // 503 node_unavailable, at once
  f.advance(900ms);
  CHECK(f.taken.empty()); // not before failover_after_ms
  f.advance(400ms);
  auto want = f.expected("node-3");
  REQUIRE_FALSE(want.empty()); // with 8 + 8 partitions node-1 wins some of node-3's
  std::set<std::pair<partition_kind, size_t>> got(f.taken.begin(), f.taken.end());
  CHECK(got == want);
  CHECK(f.taken.size() == want.size()); // each once, though the ticks go on
  f.advance(2000ms);
  CHECK(f.taken.size() == want.size());

  // One takeover finishes: the slot routes to the local actors and the holder is this node.
  auto [kind, p] = *want.begin();
  auto mine = f.sys.spawn(named, std::string("taken"));
  taken_partition t;
  t.main = mine;
  t.payment = mine;
  f.self->send(f.own, owns_atom::value, std::string(to_string(kind)), static_cast<uint64_t>(p), t);
  f.run();
  auto& slot = kind == partition_kind::orders ? f.dir.orders[p] : f.dir.inventory[p];
  CHECK(f.via(slot) == "taken:x");
  auto v = f.view();
  CHECK((kind == partition_kind::orders ? v.orders[p] : v.inventory[p]) == "node-1");
  CHECK(v.takeovers == want.size());

  // node-3 comes back holding its own partitions: the taken one is released to it.
  f.up("node-3");
  CHECK(f.via(slot) == "node-3:x");
  CHECK(*f.drops == 1); // the writer dropped that partition's committer
  CHECK(f.view().releases == 1);
  f.self->send_exit(mine, caf::exit_reason::user_shutdown);
  f.run();
}

TEST_CASE("ownership: a node that sees no majority takes nothing over",
          "[actors][cluster][failover]") {
  fixture f;
  f.up("node-2");
  f.up("node-3");
  f.down("node-2");
  f.down("node-3");
  f.advance(3000ms);
  CHECK(f.taken.empty());
  // A peer never seen since the start: its partitions wait for the start grace.
  f.up("node-2");
  f.advance(3000ms);
  CHECK(f.taken.size() == f.expected("node-3").size());
}

TEST_CASE("ownership: a partition of a node never seen waits for the start grace",
          "[actors][cluster][failover]") {
  fixture f;
  f.up("node-2"); // node-3 never comes
  f.advance(3500ms);
  CHECK(f.taken.empty()); // 3.5 s < cluster.failover_start_grace_ms (5 s)
  f.advance(2000ms);
  CHECK(f.taken.size() == f.expected("node-3").size());
}

TEST_CASE("ownership: a node that did not run past its lease (failover_after_ms) answers "
          "nothing and stops", "[actors][cluster][failover]") {
  fixture f;
  f.up("node-2");
  f.down("node-3");
  f.advance(500ms); // ticks keep the lease
  CHECK(f.ctx->alive_mono_ms.load() > 0);
  CHECK(f.ctx->unresponsive_ms() == 0);
  // A freeze: time goes on, nothing runs (SIGSTOP). From the moment the process runs
  // again, before any actor does, the gateway sees the lease lapsed (it answers 503).
  CHECK(f.ctx->lease_ms() == 1000); // the shorter of failover_after_ms and the connection time-out
  f.sched.clock().advance_time(1500ms);
  CHECK(f.ctx->unresponsive_ms() > 1000);
  CHECK_FALSE(f.ctx->halted.load());
  f.run(); // the ownership actor's next tick stops the node, and takes nothing over
  CHECK(f.ctx->halted.load());
  CHECK(f.taken.empty());
}

TEST_CASE("ownership: a late tick while the process ran (a busy scheduler) is not a freeze; "
          "a freeze the process ticker saw stops the node", "[actors][cluster][failover]") {
  fixture f;
  f.up("node-2");
  f.down("node-3");
  f.advance(500ms);
  int64_t last = 0;
  REQUIRE(lease_tick(*f.ctx, last)); // the process ticker runs (runtime/lease_ticker.hpp)
  // The actors do not run for 1.5 s (lease 1 s) while the ticker thread goes on.
  for (int i = 0; i < 15; ++i) {
    f.sched.clock().advance_time(100ms);
    REQUIRE(lease_tick(*f.ctx, last));
  }
  CHECK(f.ctx->unresponsive_ms() == 0); // the gateway serves
  f.run();
  CHECK_FALSE(f.ctx->halted.load()); // before: stopped with exit 7, though nobody cut it
  // A real freeze: the ticker too did not run for longer than the lease.
  f.advance(200ms);
  REQUIRE(lease_tick(*f.ctx, last));
  f.sched.clock().advance_time(1500ms);
  CHECK(f.ctx->unresponsive_ms() > 1000); // before any thread ran again
  CHECK_FALSE(lease_tick(*f.ctx, last));  // the ticker records the freeze
  CHECK(f.ctx->process_frozen_ms.load() >= 1500);
  CHECK_FALSE(lease_tick(*f.ctx, last)); // and renews nothing more
  CHECK(f.ctx->unresponsive_ms() > 1000);
  f.run();
  CHECK(f.ctx->halted.load());
  CHECK(f.taken.empty());
}

TEST_CASE("ownership: without failover no lease is kept", "[actors][cluster][failover]") {
  fixture f;
  const_cast<runtime_context&>(*f.ctx).cfg.cluster_failover_after_ms = 0;
  f.advance(100ms);
  f.sched.clock().advance_time(10s);
  f.run();
  CHECK_FALSE(f.ctx->halted.load());
}

TEST_CASE("ownership: a node that starts waits for the takeovers of its partitions under way, "
          "and none starts after it said so", "[actors][cluster][failover]") {
  fixture f;
  f.up("node-2");
  f.up("node-3");
  f.down("node-3");
  f.advance(1300ms); // past failover_after_ms: node-1 is taking its share of node-3's
  auto want = f.expected("node-3");
  REQUIRE(want.size() >= 2);
  REQUIRE(f.taken.size() == want.size());
  // node-3 restarts and says so before it opens its partitions: the answer waits.
  auto answers = std::make_shared<int>(0);
  auto ask = [&] {
    // (CAF 0.17 spawns a function actor without arguments through a null pointer: the
    // sanitizer build's assertions abort on it. Give it one.)
    f.sys.spawn([own = f.own, answers](caf::event_based_actor* a, int) {
      a->request(own, caf::infinite, starting_atom::value, std::string("node-3"))
        .then([answers](bool) { ++*answers; });
    }, 0);
    f.run();
  };
  ask();
  CHECK(*answers == 0);
  auto mine = f.sys.spawn(named, std::string("taken"));
  size_t finished = 0;
  for (auto [kind, p] : want) {
    taken_partition t;
    t.main = mine;
    f.self->send(f.own, owns_atom::value, std::string(to_string(kind)), static_cast<uint64_t>(p), t);
    f.run();
    CHECK(*answers == (++finished == want.size() ? 1 : 0)); // once the last one finished
    // Not served here: node-3 opens it in a moment (serving it would last until then).
    auto v = f.view();
    CHECK((kind == partition_kind::orders ? v.orders[p] : v.inventory[p]).empty());
  }
  CHECK(*f.drops == static_cast<int>(want.size()));
  // Nothing under way: a second start is answered at once; no takeover starts meanwhile.
  ask();
  CHECK(*answers == 2);
  f.advance(3000ms);
  CHECK(f.taken.size() == want.size());
  f.up("node-3"); // it is up: its partitions are routed to it
  auto v = f.view();
  for (auto [kind, p] : want)
    CHECK((kind == partition_kind::orders ? v.orders[p] : v.inventory[p]) == "node-3");
  f.self->send_exit(mine, caf::exit_reason::user_shutdown);
  f.run();
}

TEST_CASE("ownership: a partition taken over here is released when another node's later claim "
          "is read; an older claim changes nothing", "[actors][cluster][failover][claims]") {
  fixture f;
  auto [kind, p, lp] = f.lose_node3();
  const int32_t claimed = lp; // (a lambda cannot capture a structured binding in C++17)
  auto mine = f.finish_take(kind, p, 10); // this node's claim, after node-3's own (at its start)
  auto& slot = kind == partition_kind::orders ? f.dir.orders[p] : f.dir.inventory[p];
  REQUIRE(f.via(slot) == "taken:x");
  auto claim = [&](const std::string& node, int64_t offset) {
    partition_claim c;
    c.log_partition = claimed;
    c.node_id = node;
    c.offset = offset;
    f.self->send(f.own, claim_atom::value, c);
    f.run();
  };
  claim("node-3", 4);  // node-3's claim at its start, read late: older than ours
  claim("node-1", 10); // our own
  CHECK(f.via(slot) == "taken:x");
  CHECK(*f.drops == 0);
  // node-3 came back and opened it (its welcome not here yet): its claim is later than ours.
  claim("node-3", 12);
  CHECK(*f.drops == 1); // the writer dropped the committer: steps fail, unacknowledged
  CHECK(f.view().releases == 1);
  CHECK(f.via(slot) == "unavailable"); // until node-3's welcome routes it there
  auto v = f.view();
  REQUIRE(v.claims.size() == 1);
  CHECK(v.claims[0].node_id == "node-3");
  CHECK(v.claims[0].offset == 12);
  f.up("node-3");
  CHECK(f.via(slot) == "node-3:x");
  f.self->send_exit(mine, caf::exit_reason::user_shutdown);
  f.run();
}

TEST_CASE("ownership: a takeover that finishes after another node's later claim is not served",
          "[actors][cluster][failover][claims]") {
  fixture f;
  auto [kind, p, lp] = f.lose_node3();
  partition_claim c;
  c.log_partition = lp;
  c.node_id = "node-2"; // opened after our takeover's claim (offset 10)
  c.offset = 11;
  f.self->send(f.own, claim_atom::value, c);
  f.run();
  auto mine = f.finish_take(kind, p, 10);
  auto& slot = kind == partition_kind::orders ? f.dir.orders[p] : f.dir.inventory[p];
  CHECK(*f.drops == 1);
  auto v = f.view();
  CHECK((kind == partition_kind::orders ? v.orders[p] : v.inventory[p]).empty());
  // node-2 is live: a request waits for its announcement rather than being answered here.
  f.announce("node-2", kind, p, 11);
  CHECK(f.via(slot) == "node-2:x");
  f.self->send_exit(mine, caf::exit_reason::user_shutdown);
  f.run();
}

TEST_CASE("ownership: a holder reported with an older claim than one known is stale and "
          "ignored, from an announcement or a welcome", "[actors][cluster][failover][claims]") {
  fixture f;
  auto p = f.node2_takes_from_node3(12);
  auto& slot = f.dir.orders[p];
  CHECK(f.via(slot) == "node-2:x");
  // An announcement of an older holder, delivered late (CAF orders nothing across links).
  f.announce("node-3", partition_kind::orders, p, 10);
  CHECK(f.via(slot) == "node-2:x");
  // node-3's welcome, with its claim from before node-2's: stale for p, not for the rest.
  auto w = f.welcome_of("node-3");
  w.order_seqs.assign(w.orders.size(), 10);
  w.inventory_seqs.assign(w.inventory.size(), 10);
  f.self->send(f.own, member_up_atom::value, std::string("node-3"), f.peer_actor["node-3"], w);
  f.run();
  CHECK(f.via(slot) == "node-2:x");
  auto v = f.view();
  for (size_t q = 0; q < v.orders.size(); ++q)
    if (q != p && f.layout.owner(partition_kind::orders, q) == f.layout.index_of("node-3"))
      CHECK(v.orders[q] == "node-3");
  // node-3 opened it again after node-2 (a later claim): it holds it.
  f.announce("node-3", partition_kind::orders, p, 14);
  CHECK(f.via(slot) == "node-3:x");
  CHECK(f.view().orders[p] == "node-3");
}

TEST_CASE("ownership: a claim read from the owners topic routes away from a fenced holder: "
          "requests wait for a live claimant's announcement, 503 for a claimant not up",
          "[actors][cluster][failover][claims]") {
  fixture f;
  auto p = f.node2_takes_from_node3(12);
  auto& slot = f.dir.orders[p];
  REQUIRE(f.via(slot) == "node-2:x");
  f.claim("node-2", static_cast<int32_t>(p), 12); // its own claim, read after its announcement
  CHECK(f.via(slot) == "node-2:x");
  // node-3 is back and opened it (its welcome has not come yet): node-2 is fenced.
  f.up("node-3");
  f.announce("node-2", partition_kind::orders, p, 12); // (node-3's welcome had no sequence)
  REQUIRE(f.via(slot) == "node-2:x");
  f.claim("node-3", static_cast<int32_t>(p), 15);
  CHECK(f.view().orders[p].empty());
  auto h = f.self->request(slot, caf::infinite, get_atom::value, std::string("y"));
  f.run();
  f.announce("node-2", partition_kind::orders, p, 12); // stale now
  f.announce("node-3", partition_kind::orders, p, 15);
  std::string got;
  std::move(h).receive([&](const std::string& x) { got = x; },
                       [&](caf::error& e) { got = f.sys.render(e); });
  CHECK(got == "node-3:y"); // held, then answered by node-3 (not 503, not the fenced node-2)
  // A claim by a node that is not up: nothing to wait for, 503 at once.
  f.down("node-2");
  f.claim("node-2", static_cast<int32_t>(p), 20);
  CHECK(f.via(slot) == "unavailable");
}

TEST_CASE("ownership: a claimant whose announcement never came is asked for its welcome, "
          "which routes the partition to it", "[actors][cluster][failover][claims]") {
  fixture f;
  // node-2's entry answers what it holds now (the welcome it would give).
  auto holds = std::make_shared<cluster_welcome>(f.welcome_of("node-2"));
  auto asked = std::make_shared<int>(0);
  // (A dummy argument: CAF 0.17 spawns a function actor without arguments through a null
  // pointer, which the sanitizer build's assertions abort on.)
  auto entry = f.sys.spawn([holds, asked](caf::event_based_actor* a, int) -> caf::behavior {
    a->set_default_handler(caf::drop); // (its announcements from node-1)
    return {
      [holds, asked](welcome_atom) {
        ++*asked;
        return *holds;
      },
    };
  }, 0);
  f.self->send(f.own, member_up_atom::value, std::string("node-2"), entry, *holds);
  f.run();
  f.up("node-3");
  f.down("node-3");
  auto p = f.own_of("node-3");
  auto& slot = f.dir.orders[p];
  // node-2 took it over: its claim is read, its `owns` is lost on the way.
  f.claim("node-2", static_cast<int32_t>(p), 12);
  CHECK(f.view().orders[p].empty());
  f.advance(300ms); // node-2 still loads it: asked, and its welcome does not list it yet
  CHECK(*asked >= 1);
  CHECK(f.view().orders[p].empty());
  holds->orders[p] = f.peer_actor["node-2"];
  holds->payment_by_order[p] = f.peer_actor["node-2"];
  holds->order_seqs.assign(holds->orders.size(), -1);
  holds->order_seqs[p] = 12;
  f.advance(300ms); // it serves it now: the next answer routes it
  CHECK(f.view().orders[p] == "node-2");
  CHECK(f.via(slot) == "node-2:x");
  auto n = *asked;
  f.advance(1000ms); // nothing left to ask about
  CHECK(*asked == n);
  for (auto& t : f.taken) // (node-1 takes its share of node-3's others)
    CHECK_FALSE((t.first == partition_kind::orders && t.second == p)); // not this one
}

TEST_CASE("ownership: a report of this node's own partition by another node never changes "
          "what this node advertises; a later one than its own claim stops it (fenced)",
          "[actors][cluster][failover][claims]") {
  fixture f;
  f.up("node-2");
  size_t mine = 0;
  while (f.layout.owner(partition_kind::orders, mine) != 0)
    ++mine;
  f.claim("node-1", static_cast<int32_t>(mine), 7); // its start's claim
  auto welcome = [&] {
    cluster_welcome w;
    auto h = f.self->request(f.own, caf::infinite, welcome_atom::value);
    f.run();
    std::move(h).receive([&](cluster_welcome& x) { w = std::move(x); },
                         [&](caf::error& e) { FAIL(f.sys.render(e)); });
    return w;
  };
  f.announce("node-2", partition_kind::orders, mine, 5); // from before this node's start
  CHECK(welcome().order_seqs[mine] == 7);
  CHECK_FALSE(f.ctx->halted.load());
  // node-2 opened it after this node (a split healed): this node is fenced.
  f.announce("node-2", partition_kind::orders, mine, 9);
  CHECK(f.ctx->halted.load());
}

TEST_CASE("ownership: a takeover whose claim is later than the holder reported meanwhile is "
          "served", "[actors][cluster][failover][claims]") {
  fixture f;
  auto [kind, p, lp] = f.lose_node3();
  (void)lp;
  f.announce("node-2", kind, p, 10); // node-2's, read here before ours (it is fenced by ours)
  auto mine = f.finish_take(kind, p, 12);
  auto v = f.view();
  CHECK((kind == partition_kind::orders ? v.orders[p] : v.inventory[p]) == "node-1");
  auto& slot = kind == partition_kind::orders ? f.dir.orders[p] : f.dir.inventory[p];
  CHECK(f.via(slot) == "taken:x");
  f.announce("node-2", kind, p, 10); // late again: stale
  CHECK(f.via(slot) == "taken:x");
  f.self->send_exit(mine, caf::exit_reason::user_shutdown);
  f.run();
}

TEST_CASE("ownership: this node's welcome carries its claims' offsets; ready waits for the "
          "owners topic's end", "[actors][cluster][claims]") {
  fixture f;
  size_t mine = 0;
  while (f.layout.owner(partition_kind::orders, mine) != 0)
    ++mine;
  f.claim("node-1", static_cast<int32_t>(mine), 7); // its start's claim (sagad)
  cluster_welcome w;
  auto h = f.self->request(f.own, caf::infinite, welcome_atom::value);
  f.run();
  std::move(h).receive([&](cluster_welcome& x) { w = std::move(x); },
                       [&](caf::error& e) { FAIL(f.sys.render(e)); });
  REQUIRE(w.order_seqs.size() == f.layout.order_partitions);
  CHECK(w.order_seqs[mine] == 7);
  CHECK(w.order_seqs[f.own_of("node-2")] == -1); // not held here
  // (get, claim) is answered only once the reader reached the end.
  auto answered = std::make_shared<int>(0);
  f.sys.spawn([own = f.own, answered](caf::event_based_actor* a, int) {
    a->request(own, caf::infinite, get_atom::value, claim_atom::value)
      .then([answered](bool) { ++*answered; });
  }, 0);
  f.run();
  CHECK(*answered == 0);
  f.self->send(f.own, catch_up_atom::value, claim_atom::value);
  f.run();
  CHECK(*answered == 1);
}

TEST_CASE("ownership: a partition taken over here whose committer stops on its own is "
          "released, and taken again after failover_after_ms", "[actors][cluster][failover]") {
  fixture f;
  auto [kind, p, lp] = f.lose_node3();
  (void)lp;
  auto committer = f.sys.spawn(named, std::string("committer"));
  auto mine = f.finish_take(kind, p, 10, committer);
  auto& slot = kind == partition_kind::orders ? f.dir.orders[p] : f.dir.inventory[p];
  REQUIRE(f.via(slot) == "taken:x");
  auto before = f.taken.size();
  f.self->send_exit(committer, caf::exit_reason::kill); // an exception, a kill
  f.run();
  CHECK(f.view().releases == 1);
  CHECK(*f.drops == 1); // the writer forgets it: its steps fail at once, unacknowledged
  CHECK(f.via(slot) == "unavailable");
  f.advance(1300ms); // nobody holds it: failover takes it again
  CHECK(f.taken.size() == before + 1);
  f.self->send_exit(mine, caf::exit_reason::user_shutdown);
  f.run();
}
