// The ownership actor and claims (ownership_claims.cpp), on the fixture of ownership_fixture.hpp:
// a holder report older than a known claim is ignored, a claim read routes away from a fenced
// holder, a claimant whose announcement was lost is asked for its welcome, and a later claim
// of one of this node's own partitions fences it.
#include "actors/cluster/ownership_fixture.hpp"

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
  // An old claim by a node that is not up: nothing to wait for, 503 at once.
  f.down("node-2");
  f.claim("node-2", static_cast<int32_t>(p), 20);
  CHECK(f.via(slot) == "unavailable");
}

TEST_CASE("ownership: a fresh claim by a node not linked yet (it just restarted) holds "
          "requests until its welcome routes them, or answers 503 at the hold's end",
          "[actors][cluster][failover][claims]") {
  fixture f;
  auto p = f.node2_takes_from_node3(12);
  auto& slot = f.dir.orders[p];
  REQUIRE(f.via(slot) == "node-2:x");
  // node-3 restarted and claimed its partition back just now; this node's link to it is
  // not back yet (no member_up).
  f.claim("node-3", static_cast<int32_t>(p), 15, f.ctx->now_ms());
  CHECK(f.view().orders[p].empty());
  auto h = f.self->request(slot, caf::infinite, get_atom::value, std::string("y"));
  f.run();
  f.up("node-3"); // the link is back: its welcome lists the partition
  f.announce("node-3", partition_kind::orders, p, 15);
  std::string got;
  std::move(h).receive([&](const std::string& x) { got = x; },
                       [&](caf::error& e) { got = f.sys.render(e); });
  CHECK(got == "node-3:y"); // held, then answered by node-3: no 503 meanwhile
  // node-3 goes down and its fresh claim comes without it: held for at most the request
  // time-out, then 503.
  f.down("node-3");
  f.claim("node-3", static_cast<int32_t>(p), 20, f.ctx->now_ms());
  auto h2 = f.self->request(slot, caf::infinite, get_atom::value, std::string("z"));
  f.run();
  f.advance(std::chrono::milliseconds(f.ctx->cfg.saga_request_timeout_ms + 20));
  std::move(h2).receive([&](const std::string& x) { got = x; },
                        [&](caf::error&) { got = "unavailable"; });
  CHECK(got == "unavailable");
  // A claim older than the request time-out, or stamped by a clock that far ahead of
  // ours, holds nothing: 503 at once.
  auto now = f.ctx->now_ms();
  f.claim("node-3", static_cast<int32_t>(p), 21, now - f.ctx->cfg.saga_request_timeout_ms - 1);
  CHECK(f.via(slot) == "unavailable");
  f.claim("node-3", static_cast<int32_t>(p), 22, now + f.ctx->cfg.saga_request_timeout_ms + 1);
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
          "what this node advertises; a later one than its own claim releases it with "
          "failover (taken back later), and stops the node without",
          "[actors][cluster][failover][claims]") {
  auto failover = GENERATE(true, false);
  fixture_options o;
  o.movable_home = true;
  o.failover_after_ms = failover ? 1000 : 0;
  fixture f(o);
  f.up("node-2");
  f.up("node-3");
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
  CHECK(f.via(f.dir.orders[mine]) == "node-1:x");
  CHECK_FALSE(f.ctx->halted.load());
  // node-2 opened it after this node (this node was cut off, and the cut healed).
  f.announce("node-2", partition_kind::orders, mine, 9);
  if (!failover) {
    CHECK(f.ctx->halted.load()); // fenced: the node stops (nobody else opens it then but a
    return;                      // second process with its id)
  }
  CHECK_FALSE(f.ctx->halted.load());
  CHECK(*f.drops == 1);                          // the writer fails its steps from now on
  CHECK_FALSE(welcome().orders[mine]);           // no longer advertised here
  CHECK(f.via(f.dir.orders[mine]) == "node-2:x"); // requests go to its holder
  CHECK(f.via(f.dir.payment_by_order[mine]) == "node-2:x");
  auto taken_back = [&] {
    return std::count(f.taken.begin(), f.taken.end(), std::make_pair(partition_kind::orders, mine));
  };
  // Taken back after cluster.take_back_after_ms (5 s), as a start would: not before.
  f.advance(4500ms);
  CHECK(taken_back() == 0);
  f.advance(1000ms);
  REQUIRE(taken_back() == 1);
  f.finish_take(partition_kind::orders, mine, 12);
  CHECK(f.via(f.dir.orders[mine]) == "taken:x");
  CHECK(welcome().order_seqs[mine] == 12);
  f.advance(6000ms);
  CHECK(taken_back() == 1); // once
  // node-2 read the take-back's claim and released it: a late report of its hold is stale.
  f.announce("node-2", partition_kind::orders, mine, 9);
  CHECK(f.via(f.dir.orders[mine]) == "taken:x");
}

TEST_CASE("ownership: with failover this node's own committers report a fenced commit here; "
          "it releases that partition, and takes it back once nobody holds it",
          "[actors][cluster][failover][claims]") {
  fixture_options o;
  o.movable_home = true;
  o.home_committers = true;
  fixture f(o);
  // Every own committer was told its router, and the writer fails only its steps on a fence.
  REQUIRE_FALSE(f.committers.empty());
  CHECK(*f.routed == static_cast<int>(f.committers.size()));
  std::set<int32_t> own;
  for (auto& [lp, c] : f.committers)
    own.insert(lp);
  CHECK(*f.movable == own);
  f.up("node-2");
  f.up("node-3");
  size_t q = 0;
  while (f.layout.owner(partition_kind::inventory, q) != 0)
    ++q;
  auto lp = static_cast<int32_t>(f.layout.order_partitions + q);
  REQUIRE(f.committers.count(lp) == 1);
  CHECK(f.via(f.dir.inventory[q]) == "node-1:x");
  // A report from anyone but the partition's committer changes nothing (a late one).
  f.self->send(f.own, lost_atom::value, lp);
  f.run();
  CHECK(*f.drops == 0);
  CHECK(f.via(f.dir.inventory[q]) == "node-1:x");
  f.self->send(f.committers[lp], lost_atom::value, lp); // its commit was fenced
  f.run();
  CHECK_FALSE(f.ctx->halted.load());
  CHECK(*f.drops == 1);
  CHECK(f.via(f.dir.inventory[q]) == "unavailable"); // nobody known holds it yet
  auto taken_back = [&] {
    return std::count(f.taken.begin(), f.taken.end(), std::make_pair(partition_kind::inventory, q));
  };
  // Nobody claims it: taken back after failover_after_ms (1 s here), not take_back_after_ms.
  f.advance(700ms);
  CHECK(taken_back() == 0);
  f.advance(700ms);
  CHECK(taken_back() == 1);
}

TEST_CASE("ownership: a claim of this node's id by another process stops this one; its own "
          "claims and claims without an incarnation do not",
          "[actors][cluster][failover][claims]") {
  fixture_options o;
  o.incarnation = "100-aa";
  fixture f(o);
  f.up("node-2");
  size_t mine = 0;
  while (f.layout.owner(partition_kind::orders, mine) != 0)
    ++mine;
  auto lp = static_cast<int32_t>(mine);
  f.claim("node-1", lp, 7, 0, "100-aa"); // its own start's claim
  f.claim("node-1", lp, 8);              // written before claims said who (older nodes)
  CHECK_FALSE(f.ctx->halted.load());
  // This node before its restart took another node's partition over: read from the topic's
  // start, that claim is history (this process claimed nothing of that partition).
  auto theirs = static_cast<int32_t>(f.own_of("node-2"));
  f.claim("node-1", theirs, 3, 0, "50-old");
  CHECK_FALSE(f.ctx->halted.load());
  f.claim("node-2", lp + 1, 9, 0, "200-bb"); // another node's, of another partition
  CHECK_FALSE(f.ctx->halted.load());
  f.claim("node-1", lp, 10, 0, "300-cc"); // a second process started with node-1's id
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


TEST_CASE("ownership: a starting peer's claim restarts its start grace: a start slowed before "
          "its open is not taken over", "[actors][cluster][failover][claims]") {
  fixture f;
  f.up("node-2");
  f.up("node-3");
  f.down("node-3");
  auto want = f.expected("node-3");
  REQUIRE_FALSE(want.empty());
  // node-3 restarts at once and says so (before its failover_after_ms lapsed here).
  f.self->send(f.own, starting_atom::value, std::string("node-3"));
  f.run();
  f.advance(4000ms); // it waits on a slow peer before its open (grace: 5 s)
  auto [kind, p] = *want.begin();
  partition_claim c; // its open: fenced and claimed, now loading
  c.log_partition = static_cast<int32_t>(kind == partition_kind::orders
                                           ? p : f.layout.order_partitions + p);
  c.node_id = "node-3";
  c.offset = 7;
  f.self->send(f.own, claim_atom::value, c);
  f.run();
  f.advance(3000ms); // 7 s after its `starting`, 3 s after its claim
  CHECK(f.taken.empty());
  // A start that hangs after its open is still bounded: the grace from its claim.
  f.advance(2500ms);
  CHECK(f.taken.size() == want.size());
}
