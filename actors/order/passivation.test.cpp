// Actor tests on CAF's deterministic test coordinator over a real RocksDB directory.
// Passive orders: waiting ones are rows at the owner, activated on demand.
#include "actors/cluster/cluster.hpp"
#include "tests/node_fixture.hpp"

TEST_CASE("an order waiting for its payment becomes passive; the verdict activates it",
          "[actor][passive]") {
  temp_dir d;
  node_fixture n(d.path.string(), passivating_config());
  n.stock("A", 10, 100);
  auto id = n.create({{"A", 1, 0}});
  CHECK(n.ctx->stats->live_order_actors.load() == 1);
  n.advance(600ms);
  CHECK(n.ctx->stats->live_order_actors.load() == 0);
  CHECK(n.ctx->stats->passive_orders.load() == 1);
  CHECK(n.ctx->stats->order_passivations.load() == 1);
  auto row = order_row(n, id);
  CHECK(row.passive);
  CHECK(row.actor_id == 0);
  CHECK(row.state == "awaiting_payment");
  // A long-poll on the passive order waits (it is in flight, not finished).
  n.self->send(n.dir.owner_for(id), wait_atom::value, id, order_status::completed, int64_t{600000});
  n.run();
  CHECK(drain(n).total() == 0);
  REQUIRE(n.verify(id, "succeeded").code == errc::ok);
  n.run();
  CHECK(n.ctx->stats->order_activations.load() == 1);
  CHECK(n.view(id).state.step == saga_step::awaiting_completion);
  CHECK(n.complete(id).code == errc::ok);
  n.run();
  CHECK(n.view(id).state.status == order_status::completed);
  bool woke = false;
  n.self->receive([&](bool x) { woke = x; }, caf::after(0s) >> [] {});
  CHECK(woke);
  CHECK(n.ctx->stats->passive_orders.load() == 0);
  CHECK(n.ctx->stats->live_order_actors.load() == 0);
  CHECK(n.view(id).events.size() == 6); // nothing decided twice across the activation
  CHECK(check_outbox(n, id) == 6);
}

TEST_CASE("a passive paid order is activated by its own completion deadline", "[actor][passive]") {
  temp_dir d;
  node_fixture n(d.path.string(), passivating_config());
  n.stock("A", 10, 100);
  auto id = n.create({{"A", 2, 0}});
  REQUIRE(n.verify(id, "succeeded").code == errc::ok);
  n.run();
  n.advance(600ms);
  auto row = order_row(n, id);
  CHECK(row.passive);
  CHECK(row.state == "awaiting_completion");
  CHECK(row.wake_at_ms == n.view(id).state.complete_deadline_ms);
  n.advance(3000ms); // saga.auto_complete_ms
  CHECK(n.view(id).state.status == order_status::completed);
  CHECK(n.sku("A").committed == 2);
  CHECK(n.ctx->stats->passive_orders.load() == 0);
}

TEST_CASE("a message that arrives while an order lets go is held, then handled",
          "[actor][passive]") {
  temp_dir d;
  node_fixture n(d.path.string(), passivating_config());
  n.stock("A", 10, 100);
  auto id = n.create({{"A", 1, 0}});
  REQUIRE(n.verify(id, "succeeded").code == errc::ok);
  n.run();
  // The passivation sweep finds the order idle and asks it to let go; the completion
  // request comes right then, before the order has handled `passivate`.
  n.sched.clock().advance_time(500ms);
  REQUIRE(n.sched.try_run_once()); // supervisor: sweep -> passivating, `passivate` to the order
  n.self->send(n.dir.owner_for(id), input_atom::value, id, input(input_kind::complete_requested));
  n.run();
  auto r = drain(n);
  REQUIRE(r.inputs.size() == 1);
  CHECK(r.inputs[0].result == outcome::applied);
  CHECK(n.ctx->stats->order_passivations.load() == 1);
  CHECK(n.ctx->stats->order_activations.load() == 1);
  CHECK(n.view(id).state.status == order_status::completed);
  CHECK(check_outbox(n, id) == n.view(id).events.size());
}

TEST_CASE("a restart spawns no order actor: waiting orders stay passive, mid-step ones and "
          "a verdict the order missed are re-activated",
          "[actor][passive][recovery]") {
  temp_dir d;
  std::string waiting, missed;
  {
    node_fixture n(d.path.string(), passivating_config());
    n.stock("A", 10, 100);
    waiting = n.create({{"A", 1, 0}});
    missed = n.create({{"A", 1, 0}});
  }
  { // The provider's verdict for `missed` was stored, then the node died before its order
    // heard of it.
    std::string err;
    auto db = storage::store::open(d.path.string(), err);
    REQUIRE(db);
    auto pid = "pay_" + missed;
    std::string raw;
    payment_intent x;
    REQUIRE(db->get(storage::family::payments, pid, raw) == storage::read_status::found);
    REQUIRE(saga::decode(raw, x));
    x.status = payment_status::succeeded;
    storage::batch b; // as the worker writes a verdict: the intent leaves the deadline index
    b.ops.push_back({storage::family::payments, pid, saga::encode(x), false});
    b.ops.push_back({storage::family::meta, storage::due_payment_key(x.expires_at_ms, pid), {},
                     true});
    REQUIRE(db->commit({&b}, false).empty());
  }
  node_fixture n(d.path.string(), passivating_config(), 1'000'100);
  CHECK(order_row(n, waiting).passive);
  CHECK(n.view(missed).state.step == saga_step::awaiting_completion); // caught up at start
  CHECK(n.ctx->stats->order_activations.load() == 1);
  REQUIRE(n.verify(waiting, "failed").code == errc::ok);
  n.run();
  CHECK(n.view(waiting).state.status == order_status::failed);
  CHECK(n.sku("A").reserved == 1);
}

TEST_CASE("a message for an order that arrives before the supervisor starts waits for the start",
          "[actor][passive][recovery]") {
  temp_dir d;
  std::string id;
  {
    node_fixture n(d.path.string(), passivating_config());
    n.stock("A", 10, 100);
    id = n.create({{"A", 1, 0}});
  }
  // A payment worker's expiry can fire as the node starts, before the supervisor has its
  // directory: the update must not activate the order then.
  node_fixture n(d.path.string(), passivating_config(), 1'000'100, false);
  n.self->send(n.dir.owner_for(id), payment_update_atom::value, id, payment_status::expired);
  n.run();
  CHECK(n.ctx->stats->order_activations.load() == 0);
  n.start();
  n.run();
  CHECK(n.ctx->stats->order_activations.load() == 1);
  auto v = n.view(id);
  CHECK(v.state.status == order_status::failed);
  CHECK(v.state.reason == failure_reason::payment_expired);
  CHECK(n.sku("A").reserved == 0);
}

TEST_CASE("overdue completion deadlines after a stop are worked off in bounded rounds, not all "
          "in one message", "[actor][passive]") {
  temp_dir d;
  auto c = passivating_config();
  c.saga_partitions = 1;                    // one owner holds every deadline
  c.inventory_reservation_ttl_ms = 600000;  // the stock is still held when the node is back
  const size_t orders = max_due_per_round + 44;
  {
    node_fixture n(d.path.string(), c);
    n.stock("A", 1000, 100);
    for (size_t i = 0; i < orders; ++i) {
      auto id = n.create({{"A", 1, 0}});
      REQUIRE(n.verify(id, "succeeded").code == errc::ok);
    }
    n.run();
    n.advance(600ms); // all passive, waiting for their completion (saga.auto_complete_ms)
    REQUIRE(n.ctx->stats->passive_orders.load() == static_cast<int64_t>(orders));
  }
  // The node comes back a minute later: every completion deadline is overdue at once.
  node_fixture n(d.path.string(), c, 1'000'000 + 60'000);
  auto activations = [&] { return n.ctx->stats->order_activations.load(); };
  auto last = activations();
  uint64_t most = 0;
  n.sched.clock().advance_time(1ms); // the owner's wake-up fires
  while (n.sched.try_run_once()) {   // one message at a time
    most = std::max<uint64_t>(most, activations() - last);
    last = activations();
  }
  CHECK(most > 0);
  CHECK(most <= max_due_per_round); // one handler never takes the whole backlog
  n.advance(5000ms);                // the rest in the next rounds
  CHECK(n.db->counter(saga::order_status_counter(order_status::completed))
        == static_cast<int64_t>(orders));
  CHECK(n.sku("A").committed == static_cast<int64_t>(orders));
}

TEST_CASE("a passive order whose intent expires is told even when the payment partition crashed "
          "between writing the expiry and telling it", "[actor][passive]") {
  temp_dir d;
  auto nc = passivating_config();
  nc.payment_timeout_ms = 2000;
  node_fixture n(d.path.string(), nc);
  n.stock("A", 10, 100);
  auto id = n.create({{"A", 1, 0}});
  n.advance(600ms);
  REQUIRE(order_row(n, id).passive);
  // The expiry is written, held by the writer; the partition dies before it hears "done",
  // so it never tells the order. Its restart waits for the held write.
  n.self->send(n.dir.writer, hold_atom::value, true);
  n.run();
  n.advance(1500ms); // past the intent's deadline: the partition expires it
  n.self->send(n.dir.payment_for(id), crash_atom::value);
  n.run();
  n.self->send(n.dir.writer, hold_atom::value, false);
  n.run();
  auto pid = "pay_" + id;
  REQUIRE(n.ask<payment_reply>(n.dir.payment_for(id), get_atom::value, pid).intent.status
          == payment_status::expired);
  CHECK(n.view(id).state.step == saga_step::awaiting_payment); // not told
  // Without a restart of the node: the order's own wake-up (a request time-out after the
  // deadline) activates it; it asks its intent and learns the expiry.
  n.advance(std::chrono::milliseconds(nc.saga_request_timeout_ms + 100));
  auto v = n.view(id);
  CHECK(v.state.status == order_status::failed);
  CHECK(v.state.reason == failure_reason::payment_expired);
  CHECK(n.sku("A").available == 10);
}

namespace {

/// A node whose SKU "A" lives in another node's partition, down: its slot in the owners'
/// directory is a forwarder routed nowhere (the real worker still answers the test).
/// `own_forwarders`: the owners' own slots are forwarders routed to them too, as with
/// replication = kafka (runtime.cpp), or for a partition taken over.
struct remote_sku {
  size_t q = 0;
  caf::actor real, fw;
  std::vector<caf::actor> own_fws;
  metrics::peer_stats own_stats; // the own forwarders': `forwarded` counts what they handed on
  std::string slot;
  metrics::peer_stats* stats = nullptr; // the forwarder's: `unavailable` counts its answers
  explicit remote_sku(node_fixture& n, bool own_forwarders = false) {
    static metrics::peer_stats peer;
    stats = &peer;
    q = n.dir.inventory_partition("A");
    real = n.dir.inventory[q];
    slot = "inventory/" + std::to_string(q);
    fw = n.sys.spawn(forwarder, std::string("node-2"), slot, &peer);
    auto dir = n.dir;
    dir.inventory[q] = fw;
    dir.inventory_remote.assign(dir.inventory.size(), 0);
    dir.inventory_remote[q] = 1;
    if (own_forwarders)
      for (size_t p = 0; p < dir.orders.size(); ++p) {
        own_fws.push_back(n.sys.spawn(forwarder, std::string("node-1"),
                                      "orders/" + std::to_string(p), &own_stats));
        n.self->send(own_fws.back(), route_atom::value, dir.orders[p]);
        dir.orders[p] = own_fws.back();
      }
    for (size_t p = 0; p < n.dir.orders.size(); ++p)
      n.self->send(n.dir.orders[p], start_atom::value, dir, std::vector<order_state>{},
                   std::vector<order_state>{});
    n.run();
    for (size_t p = 0; p < dir.orders.size(); ++p)
      n.self->receive([](uint64_t) {}, caf::after(0s) >> [] {});
    n.stock("A", 10, 100); // (through the real worker)
  }
  ~remote_sku() {
    for (auto& f : own_fws)
      caf::anon_send_exit(f, caf::exit_reason::user_shutdown);
  }
};

} // namespace

TEST_CASE("an order whose command finds a SKU partition nobody serves waits passive, "
          "re-sending nothing, until that partition is served again", "[actor][passive][cluster]") {
  temp_dir d;
  node_fixture n(d.path.string(), passivating_config(), 1'000'000, false);
  remote_sku r(n);
  auto id = n.create({{"A", 2, 0}});
  // Its reserve was answered node_unavailable: no actor, a passive row, no re-sends.
  CHECK(n.ctx->stats->live_order_actors.load() == 0);
  CHECK(n.ctx->stats->passive_orders.load() == 1);
  auto resends = n.ctx->stats->cross_node_resends.load();
  CHECK(resends == 1); // the one armed before it let go
  n.advance(20s);
  CHECK(n.ctx->stats->cross_node_resends.load() == resends);
  CHECK(n.view(id).state.step == saga_step::reserving_inventory);
  CHECK(n.sku("A").reserved == 0);
  // Another partition served again changes nothing.
  n.self->send(n.dir.owner_for(id), served_atom::value, std::string("inventory/999"));
  n.run();
  CHECK(n.ctx->stats->passive_orders.load() == 1);
  // Its partition is routed (the ownership actor routes the forwarder, then says so).
  n.self->send(r.fw, route_atom::value, r.real);
  n.self->send(n.dir.owner_for(id), served_atom::value, r.slot);
  n.run();
  CHECK(n.view(id).state.step == saga_step::awaiting_payment);
  CHECK(n.sku("A").reserved == 2);
  CHECK(n.ctx->stats->cross_node_resends.load() == resends); // re-activated, not re-sent
  n.self->send_exit(r.fw, caf::exit_reason::user_shutdown);
}

TEST_CASE("a partition served again while its waiting order is letting go: the order is "
          "activated again once it let go", "[actor][passive][cluster]") {
  temp_dir d;
  node_fixture n(d.path.string(), passivating_config(), 1'000'000, false);
  remote_sku r(n);
  auto& owner = n.dir.orders[0];
  n.self->send(owner, create_atom::value, std::string("cust"),
               std::vector<order_item>{{"A", 2, 100}}, std::string(), std::string());
  // Up to its reserve's failure: `unserved` is on its way to the owner, not handled yet.
  while (n.ctx->stats->cross_node_resends.load() == 0 && n.sched.try_run_once()) {
  }
  REQUIRE(n.ctx->stats->cross_node_resends.load() == 1);
  n.self->send(r.fw, route_atom::value, r.real);
  n.self->send(owner, served_atom::value, r.slot); // behind `unserved`, before it let go
  n.run();
  std::string id;
  n.self->receive([&](create_reply& x) { id = x.state.order_id; }, caf::after(0s) >> [] {});
  REQUIRE_FALSE(id.empty());
  CHECK(n.view(id).state.step == saga_step::awaiting_payment);
  CHECK(n.sku("A").reserved == 2);
  n.self->send_exit(r.fw, caf::exit_reason::user_shutdown);
}

TEST_CASE("an order whose command finds its SKU partition unserved while the idle sweep is "
          "already letting it go waits passive, and is activated when it is served",
          "[actor][passive][cluster]") {
  // With its owner's own slot a forwarder too (replication = kafka), its `unserved` must
  // still reach the owner before the owner learns it ended: the owner hands its orders a
  // directory naming itself (owner_recovery.cpp).
  auto own_forwarders = GENERATE(false, true);
  temp_dir d;
  auto cfg = passivating_config();
  cfg.inspect_enabled = false; // its owner hears of no step without a status change
  node_fixture n(d.path.string(), cfg, 1'000'000, false);
  remote_sku r(n, own_forwarders);
  n.self->send(r.fw, route_atom::value, r.real);
  n.run();
  auto id = n.create({{"A", 2, 0}});
  REQUIRE(n.verify(id, "succeeded").code == errc::ok);
  REQUIRE(n.view(id).state.step == saga_step::awaiting_completion);
  REQUIRE(n.ctx->stats->live_order_actors.load() == 1);
  // Its SKU partition's node goes down; the order is asked to complete: its commit is
  // answered node_unavailable (by the forwarder, not yet handled by the order).
  n.self->send(r.fw, route_atom::value, caf::actor{});
  n.run();
  auto answered = r.stats->unavailable.load();
  n.self->send(n.dir.owner_for(id), input_atom::value, id,
               saga_input{input_kind::complete_requested, 0, {}});
  while (r.stats->unavailable.load() == answered && n.sched.try_run_once()) {
  }
  REQUIRE(r.stats->unavailable.load() == answered + 1);
  // Now the idle sweep comes due (its owner still has the order at a waiting step, no step
  // was reported): the sweep's `passivate` and the order's `unserved` cross.
  n.sched.clock().advance_time(std::chrono::milliseconds(cfg.saga_passivate_after_ms + 100));
  n.run();
  CHECK(n.ctx->stats->live_order_actors.load() == 0);
  CHECK(n.ctx->stats->passive_orders.load() == 1);
  CHECK(n.view(id).state.step == saga_step::committing_inventory);
  // Served again: it is activated and commits.
  n.self->send(r.fw, route_atom::value, r.real);
  n.self->send(n.dir.owner_for(id), served_atom::value, r.slot);
  n.run();
  n.advance(std::chrono::milliseconds(200));
  CHECK(n.view(id).state.step == saga_step::completed);
  CHECK(n.sku("A").committed == 2);
  n.self->send_exit(r.fw, caf::exit_reason::user_shutdown);
}

TEST_CASE("an order reaches its owner directly even when the owner's slot in the directory is a "
          "forwarder (its last messages then come before its end)", "[actor][passive][cluster]") {
  temp_dir d;
  node_fixture n(d.path.string(), passivating_config(), 1'000'000, false);
  remote_sku r(n, true);
  n.self->send(r.fw, route_atom::value, r.real);
  n.run();
  auto before = r.own_stats.forwarded.load();
  // A whole saga, with the idle sweep letting it go while it waits for its payment: its
  // steps (`changed`), its wake-up and its end are the order's messages to its owner.
  auto id = n.create({{"A", 2, 0}});
  n.advance(std::chrono::milliseconds(passivating_config().saga_passivate_after_ms + 100));
  REQUIRE(n.verify(id, "succeeded").code == errc::ok);
  n.advance(20s);
  CHECK(n.view(id).state.status == order_status::completed);
  CHECK(r.own_stats.forwarded.load() == before); // none went through the forwarder
}
