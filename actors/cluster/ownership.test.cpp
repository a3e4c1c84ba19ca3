// The ownership actor on CAF's deterministic test coordinator, without a network or Kafka:
// it routes the forwarders from what the links report, takes over (through a recording
// take_fn) exactly the partitions of a dead node that the live nodes' rendezvous gives it,
// and only after cluster.failover_after_ms and with a majority; it releases a partition it
// took when the partition's own node claims it again.
#include "actors/cluster/ownership_fixture.hpp"

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

TEST_CASE("ownership: a SKU partition routed again is announced to this node's order owners "
          "(orders waiting passive for it re-send)", "[actors][cluster]") {
  auto movable = GENERATE(false, true); // own partitions behind forwarders (replication = kafka)
  fixture f(movable);
  f.up("node-2");
  f.up("node-3");
  std::set<std::string> of2;
  for (size_t q = 0; q < f.layout.sku_partitions; ++q)
    if (f.layout.owner(partition_kind::inventory, q) == f.layout.index_of("node-2"))
      of2.insert("inventory/" + std::to_string(q));
  REQUIRE_FALSE(of2.empty());
  f.served->clear();
  f.down("node-2");
  CHECK(f.served->empty()); // routed nowhere: nothing is served
  f.up("node-2");
  CHECK(std::set<std::string>(f.served->begin(), f.served->end()) == of2);
  for (auto& s : *f.served)
    CHECK(s.rfind("inventory/", 0) == 0); // order partitions are not commands' targets
  // A repeated welcome of the same holders changes no route: nothing is announced again.
  f.served->clear();
  f.up("node-2");
  f.up("node-3");
  CHECK(f.served->empty());
}

TEST_CASE("ownership: an order partition taken over here is told which SKU partitions are "
          "routed already (an order it re-activated may have found one unserved just before)",
          "[actors][cluster]") {
  fixture f;
  f.up("node-2");
  f.up("node-3");
  f.down("node-3");
  f.advance(1300ms);
  size_t p = f.layout.order_partitions;
  for (auto& [k, x] : f.expected("node-3"))
    if (k == partition_kind::orders) {
      p = x;
      break;
    }
  REQUIRE(p < f.layout.order_partitions);
  f.served->clear();
  f.finish_take(partition_kind::orders, p, 10);
  // node-2's SKU partitions are routed (to node-2); node-3's are not yet (their takeovers
  // have not finished), and this node's own never wait.
  std::set<std::string> of2;
  for (size_t q = 0; q < f.layout.sku_partitions; ++q)
    if (f.layout.owner(partition_kind::inventory, q) == f.layout.index_of("node-2"))
      of2.insert("inventory/" + std::to_string(q));
  REQUIRE_FALSE(of2.empty());
  CHECK(std::set<std::string>(f.taken_served->begin(), f.taken_served->end()) == of2);
  CHECK(f.served->empty()); // the owners serving already were told when they were routed
}

TEST_CASE("ownership: this node's own partitions behind forwarders (replication = kafka): a "
          "welcome names their actors, never the forwarders, and the slots reach them",
          "[actors][cluster]") {
  auto movable = GENERATE(false, true);
  fixture f(movable);
  cluster_welcome w;
  auto h = f.self->request(f.own, caf::infinite, welcome_atom::value);
  f.run();
  std::move(h).receive([&](cluster_welcome& x) { w = std::move(x); },
                       [&](caf::error& e) { FAIL(f.sys.render(e)); });
  size_t own = 0;
  for (size_t p = 0; p < f.layout.order_partitions; ++p) {
    bool mine = f.layout.owner(partition_kind::orders, p) == 0;
    CHECK((w.orders[p] == f.home) == mine);
    CHECK((w.payment_by_order[p] == f.home) == mine);
    CHECK(static_cast<bool>(w.orders[p]) == mine); // a peer's partition is not listed
    if (!mine)
      continue;
    ++own;
    CHECK((f.dir.orders[p] != f.home) == movable); // the slot: the actor, or a forwarder
    CHECK(f.via(f.dir.orders[p]) == "node-1:x");
    CHECK(f.via(f.dir.payment_by_order[p]) == "node-1:x");
  }
  for (size_t q = 0; q < f.layout.sku_partitions; ++q) {
    bool mine = f.layout.owner(partition_kind::inventory, q) == 0;
    CHECK((w.inventory[q] == f.home) == mine);
    if (mine) {
      ++own;
      CHECK((f.dir.inventory[q] != f.home) == movable);
      CHECK(f.via(f.dir.inventory[q]) == "node-1:x");
    }
  }
  CHECK(own > 0);
}
