// Actor-level tests on CAF's deterministic test coordinator: the real order, inventory,
// payment, supervisor and writer actors over a real RocksDB directory; time is the test
// clock, so payment expiry and reservation TTL are driven in simulated milliseconds.
#include "actors/node_fixture.test.hpp"

TEST_CASE("happy path: reserve, pay, complete, commit through the real actors", "[actor]") {
  temp_dir d;
  node_fixture n(d.path.string());
  n.stock("A", 10, 250);
  auto id = n.create({{"A", 2, 0}});
  auto v = n.view(id);
  CHECK(v.state.status == order_status::payment_initiated);
  CHECK(v.state.selling_price_cents == 500);
  CHECK(n.sku("A").reserved == 2);
  REQUIRE(n.verify(id, "succeeded").code == errc::ok);
  n.run();
  CHECK(n.view(id).state.step == saga_step::awaiting_completion);
  CHECK(n.complete(id).code == errc::ok);
  n.run();
  v = n.view(id);
  CHECK(v.state.status == order_status::completed);
  CHECK(n.events(id) == std::vector<E>{E::ordercreated, E::inventory_reserved, E::payment_initiated,
                                       E::payment_succeeded, E::order_completed, E::inventory_committed});
  auto s = n.sku("A");
  CHECK(s.committed == 2);
  CHECK(s.reserved == 0);
  CHECK(conserved(s));
  // a completed order's actor is gone; repeats answer from the snapshot
  auto again = n.complete(id);
  CHECK(again.code == errc::ok);
  CHECK(again.result == outcome::duplicate);
}

TEST_CASE("out of stock on one partition releases the other and fails", "[actor]") {
  temp_dir d;
  node_fixture n(d.path.string());
  auto [a, b] = two_partitions();
  n.stock(a, 5, 100);
  n.stock(b, 1, 100);
  auto id = n.create({{a, 2, 0}, {b, 3, 0}});
  auto v = n.view(id);
  CHECK(v.state.status == order_status::failed);
  CHECK(v.state.reason == failure_reason::inventory_reservation_failed);
  CHECK(n.events(id) == std::vector<E>{E::ordercreated, E::inventory_reservation_failed,
                                       E::order_cancelled, E::inventory_released});
  CHECK(n.sku(a).available == 5);
  CHECK(n.sku(a).reserved == 0);
  CHECK(n.sku(b).available == 1);
}

TEST_CASE("payment failure releases the reservation", "[actor]") {
  temp_dir d;
  node_fixture n(d.path.string());
  n.stock("A", 3, 100);
  auto id = n.create({{"A", 3, 0}});
  CHECK(n.sku("A").available == 0);
  REQUIRE(n.verify(id, "failed").code == errc::ok);
  n.run();
  auto v = n.view(id);
  CHECK(v.state.status == order_status::failed);
  CHECK(v.state.reason == failure_reason::payment_failed);
  CHECK(n.sku("A").available == 3);
  // contradicting verdict afterwards is a conflict and changes nothing
  CHECK(n.verify(id, "succeeded").code == errc::conflict);
  CHECK(n.complete(id).code == errc::conflict);
}

TEST_CASE("a bad signature changes nothing", "[actor]") {
  temp_dir d;
  node_fixture n(d.path.string());
  n.stock("A", 3, 100);
  auto id = n.create({{"A", 1, 0}});
  auto r = n.ask<payment_reply>(n.dir.payment_for(id), verify_atom::value, id, "pay_" + id,
                                std::string("succeeded"), std::string(64, 'a'));
  CHECK(r.code == errc::bad_signature);
  n.run();
  CHECK(n.view(id).state.step == saga_step::awaiting_payment);
}

TEST_CASE("payment expiry, driven by the test clock, fails the order and releases stock", "[actor]") {
  temp_dir d;
  node_fixture n(d.path.string());
  n.stock("A", 3, 100);
  auto id = n.create({{"A", 2, 0}});
  n.advance(900ms);
  CHECK(n.view(id).state.step == saga_step::awaiting_payment);
  n.advance(200ms);
  auto v = n.view(id);
  CHECK(v.state.status == order_status::failed);
  CHECK(v.state.reason == failure_reason::payment_expired);
  CHECK(v.state.payment == payment_status::expired);
  CHECK(n.sku("A").available == 3);
  CHECK(n.verify(id, "succeeded").code == errc::conflict);
}

TEST_CASE("an expired reservation makes the commit fail, and the payment is refunded", "[actor]") {
  temp_dir d;
  auto nc = test_node_config();
  nc.inventory_reservation_ttl_ms = 500; // shorter than the payment time-out
  node_fixture n(d.path.string(), nc);
  n.stock("A", 3, 100);
  auto id = n.create({{"A", 2, 0}});
  n.advance(600ms); // the reservation TTL timer fires: stock returns
  CHECK(n.sku("A").available == 3);
  REQUIRE(n.verify(id, "succeeded").code == errc::ok);
  n.run();
  CHECK(n.complete(id).code == errc::ok);
  n.run();
  auto v = n.view(id);
  CHECK(v.state.status == order_status::failed);
  CHECK(v.state.reason == failure_reason::inventory_commit_failed);
  CHECK(v.state.payment == payment_status::refunded);
  CHECK(n.events(id) == std::vector<E>{E::ordercreated, E::inventory_reserved, E::payment_initiated,
                                       E::payment_succeeded, E::order_completed,
                                       E::inventory_commit_failed, E::order_cancelled,
                                       E::inventory_released, E::payment_refunded});
  auto s = n.sku("A");
  CHECK(s.available == 3);
  CHECK(s.committed == 0);
  CHECK(conserved(s));
}

actor_info order_row(node_fixture& n, const std::string& id) {
  auto page = n.ask<order_page>(n.dir.owner_for(id), list_atom::value, std::string(), std::string(),
                                uint64_t{1000});
  for (auto& r : page.rows)
    if (r.key == id)
      return r;
  FAIL("no row for order " << id);
  return {};
}

TEST_CASE("a paid order nobody completes is completed by its durable timer", "[actor]") {
  temp_dir d;
  node_fixture n(d.path.string());
  n.stock("A", 3, 100);
  auto id = n.create({{"A", 1, 0}});
  REQUIRE(n.verify(id, "succeeded").code == errc::ok);
  n.run();
  // The owner holds the deadline (one timer per partition), the active actor none.
  auto row = order_row(n, id);
  CHECK_FALSE(row.passive);
  CHECK(row.wake_at_ms == n.view(id).state.complete_deadline_ms);
  n.advance(2900ms);
  CHECK(n.view(id).state.step == saga_step::awaiting_completion);
  n.advance(200ms);
  CHECK(n.view(id).state.status == order_status::completed);
  CHECK(n.sku("A").committed == 1);
}

TEST_CASE("an order actor that throws is restarted from its snapshot and finishes", "[actor][supervision]") {
  temp_dir d;
  node_fixture n(d.path.string());
  n.stock("A", 3, 100);
  auto id = n.create({{"A", 1, 0}});
  n.self->send(n.dir.owner_for(id), crash_atom::value, id);
  n.run();
  auto stats = n.ask<supervisor_stats>(n.dir.owner_for(id), stats_atom::value);
  CHECK(stats.restarted == 1);
  CHECK(stats.parked == 0);
  CHECK(stats.live == 1);
  REQUIRE(n.verify(id, "succeeded").code == errc::ok);
  n.run();
  CHECK(n.complete(id).code == errc::ok);
  n.run();
  CHECK(n.view(id).state.status == order_status::completed);
  CHECK(n.sku("A").committed == 1);
  CHECK(n.view(id).events.size() == 6); // no event twice after the restart
}

TEST_CASE("an order that keeps crashing is parked with a reason, not lost", "[actor][supervision]") {
  temp_dir d;
  node_fixture n(d.path.string()); // saga.max_restarts = 2
  n.stock("A", 3, 100);
  auto id = n.create({{"A", 1, 0}});
  for (int i = 0; i < 3; ++i) {
    n.self->send(n.dir.owner_for(id), crash_atom::value, id);
    n.run();
  }
  auto v = n.view(id);
  CHECK_FALSE(v.parked_reason.empty());
  CHECK(v.state.step == saga_step::awaiting_payment);
  auto r = n.complete(id);
  CHECK(r.code == errc::unavailable);
}

TEST_CASE("a crashed inventory partition restarts from its durable state", "[actor][supervision]") {
  temp_dir d;
  node_fixture n(d.path.string());
  n.stock("A", 10, 100);
  auto first = n.create({{"A", 2, 0}});
  auto handle = n.dir.inventory_for("A");
  n.self->send(handle, crash_atom::value);
  n.run();
  CHECK(n.ctx->stats->component_restarts.load() == 1);
  auto rec = n.sku("A"); // the same handle answers: the supervisor stands in for the worker
  CHECK(rec.on_hand() == 10);
  CHECK(rec.reserved == 2); // read back from RocksDB, not lost with the worker's memory
  auto second = n.create({{"A", 3, 0}});
  CHECK(n.sku("A").reserved == 5);
  REQUIRE(n.verify(first, "succeeded").code == errc::ok);
  n.run();
  CHECK(n.complete(first).code == errc::ok);
  n.run();
  CHECK(n.view(first).state.status == order_status::completed);
  CHECK(n.sku("A").committed == 2);
  CHECK(n.ctx->stats->failed_components().empty());
  (void) second;
}

TEST_CASE("a crashed payment partition restarts and keeps its intents", "[actor][supervision]") {
  temp_dir d;
  node_fixture n(d.path.string());
  n.stock("A", 10, 100);
  auto id = n.create({{"A", 1, 0}});
  n.self->send(n.dir.payment_for(id), crash_atom::value);
  n.run();
  CHECK(n.ctx->stats->component_restarts.load() == 1);
  REQUIRE(n.verify(id, "succeeded").code == errc::ok); // the intent was read back
  n.run();
  CHECK(n.complete(id).code == errc::ok);
  n.run();
  CHECK(n.view(id).state.status == order_status::completed);
}

TEST_CASE("a partition past its restart budget fails loudly and its sagas end parked",
          "[actor][supervision]") {
  temp_dir d;
  auto nc = test_node_config();
  nc.supervision_max_restarts = 1;
  nc.saga_max_retries = 2;
  nc.saga_max_restarts = 1;
  node_fixture n(d.path.string(), nc);
  n.stock("A", 10, 100);
  auto handle = n.dir.inventory_for("A");
  for (int i = 0; i < 2; ++i) {
    n.self->send(handle, crash_atom::value);
    n.run();
  }
  auto failed = n.ctx->stats->failed_components();
  REQUIRE(failed.size() == 1);
  CHECK(failed[0].rfind("inventory_worker/", 0) == 0);
  CHECK(n.ctx->stats->render().find("saga_components_failed 1") != std::string::npos);
  // A saga that needs the failed partition: its requests fail at once, it retries with
  // backoff, gives up, is restarted, gives up again and is parked with the reason.
  std::vector<order_item> items{{"A", 1, 100}};
  auto s = n.ask<create_reply>(n.dir.orders[0], create_atom::value, std::string("c"), items,
                               std::string(), std::string()).state;
  n.advance(std::chrono::milliseconds(60000));
  auto v = n.view(s.order_id);
  CHECK_FALSE(v.parked_reason.empty());
  CHECK(v.state.step == saga_step::reserving_inventory);
  CHECK(n.ask<supervisor_stats>(n.dir.owner_for(s.order_id), stats_atom::value).parked == 1);
}

TEST_CASE("a parked paid order is visible and an operator's compensate releases and refunds it",
          "[actor][supervision][admin]") {
  temp_dir d;
  node_fixture n(d.path.string()); // saga.max_restarts = 2
  n.stock("A", 3, 100);
  auto id = n.create({{"A", 1, 0}});
  REQUIRE(n.verify(id, "succeeded").code == errc::ok); // the customer paid
  n.run();
  for (int i = 0; i < 3; ++i) {
    n.self->send(n.dir.owner_for(id), crash_atom::value, id);
    n.run();
  }
  auto parked = n.ask<std::vector<parked_order>>(n.dir.owner_for(id), parked_atom::value);
  REQUIRE(parked.size() == 1);
  CHECK(parked[0].order_id == id);
  CHECK(parked[0].holds_money);
  CHECK(parked[0].holds_stock);
  CHECK_FALSE(parked[0].reason.empty());
  CHECK(n.ctx->stats->parked_holding_money.load() == 1);
  auto r = n.ask<input_reply>(n.dir.owner_for(id), admin_atom::value, id, input_kind::admin_compensate,
                              std::string("customer asked"));
  CHECK(r.code == errc::ok);
  n.run();
  auto v = n.view(id);
  CHECK(v.state.status == order_status::failed);
  CHECK(v.state.payment == payment_status::refunded);
  CHECK(v.parked_reason.empty()); // un-parked in the same write as the recorded action
  bool recorded = false;
  for (auto& e : v.events)
    recorded = recorded || (e.type == event_type::order_admin_action
                            && e.data.find("compensate") != std::string::npos
                            && e.data.find("customer asked") != std::string::npos);
  CHECK(recorded);
  CHECK(n.sku("A").reserved == 0);
  CHECK(n.sku("A").available == 3);
  CHECK(n.ask<std::vector<parked_order>>(n.dir.owner_for(id), parked_atom::value).empty());
  CHECK(n.ctx->stats->parked_now.load() == 0);
  // a second action finds nothing parked
  auto again = n.ask<input_reply>(n.dir.owner_for(id), admin_atom::value, id,
                                  input_kind::admin_compensate, std::string());
  CHECK(again.code == errc::conflict);
}

TEST_CASE("parked orders are loaded at start, with what they hold", "[actor][supervision][admin]") {
  temp_dir d;
  std::string id;
  {
    node_fixture n(d.path.string());
    n.stock("A", 3, 100);
    id = n.create({{"A", 2, 0}});
    for (int i = 0; i < 3; ++i) {
      n.self->send(n.dir.owner_for(id), crash_atom::value, id);
      n.run();
    }
  }
  node_fixture n(d.path.string()); // a restart on the same RocksDB
  auto parked = n.ask<std::vector<parked_order>>(n.dir.owner_for(id), parked_atom::value);
  REQUIRE(parked.size() == 1);
  CHECK(parked[0].order_id == id);
  CHECK(parked[0].holds_stock);
  CHECK_FALSE(parked[0].holds_money);
  CHECK(n.ctx->stats->parked_now.load() == 1);
  CHECK(n.ctx->stats->parked_holding_stock.load() == 1);
  CHECK(n.ctx->stats->render().find("saga_orders_parked_holding{what=\"stock\"} 1") != std::string::npos);
}

TEST_CASE("an operator's retry resumes a parked order, which then finishes",
          "[actor][supervision][admin]") {
  temp_dir d;
  node_fixture n(d.path.string());
  n.stock("A", 3, 100);
  auto id = n.create({{"A", 1, 0}});
  for (int i = 0; i < 3; ++i) {
    n.self->send(n.dir.owner_for(id), crash_atom::value, id);
    n.run();
  }
  REQUIRE_FALSE(n.view(id).parked_reason.empty());
  auto r = n.ask<input_reply>(n.dir.owner_for(id), admin_atom::value, id, input_kind::admin_retry,
                              std::string());
  CHECK(r.code == errc::ok);
  n.run();
  CHECK(n.view(id).parked_reason.empty());
  REQUIRE(n.verify(id, "succeeded").code == errc::ok);
  n.run();
  CHECK(n.complete(id).code == errc::ok);
  n.run();
  CHECK(n.view(id).state.status == order_status::completed);
  CHECK(n.sku("A").committed == 1);
}

TEST_CASE("finished reservations and intents leave memory; repeats still answer the same",
          "[actor][bounded]") {
  temp_dir d;
  node_fixture n(d.path.string());
  n.stock("A", 100, 100);
  std::vector<std::string> ids;
  for (int i = 0; i < 20; ++i)
    ids.push_back(n.create({{"A", 1, 0}}));
  CHECK(n.ctx->stats->reservations_in_memory.load() == 20);
  CHECK(n.ctx->stats->intents_in_memory.load() == 20);
  for (auto& id : ids) {
    REQUIRE(n.verify(id, "succeeded").code == errc::ok);
    n.run();
    CHECK(n.complete(id).code == errc::ok);
    n.run();
  }
  CHECK(n.view(ids[0]).state.status == order_status::completed);
  // Memory holds only work in flight: nothing is in flight now.
  CHECK(n.ctx->stats->reservations_in_memory.load() == 0);
  CHECK(n.ctx->stats->intents_in_memory.load() == 0);
  CHECK(n.sku("A").committed == 20);
  // A late repeat of a finished order's commands (a zombie, a restart): idempotent, read
  // back from the store, and out of memory again afterwards.
  auto worker = n.dir.inventory_for("A");
  auto again = n.ask<op_reply>(worker, reserve_atom::value, ids[0],
                               std::vector<reservation_item>{{"A", 1}});
  CHECK(again.ok); // already reserved and committed: the same answer as the first time
  auto commit = n.ask<op_reply>(worker, commit_atom::value, ids[0]);
  CHECK(commit.ok);
  CHECK(n.sku("A").committed == 20); // nothing sold twice
  CHECK(n.sku("A").reserved == 0);
  auto pay = n.ask<payment_reply>(n.dir.payment_for(ids[0]), get_atom::value, "pay_" + ids[0]);
  CHECK(pay.intent.status == payment_status::succeeded);
  n.run();
  CHECK(n.ctx->stats->reservations_in_memory.load() == 0);
  CHECK(n.ctx->stats->intents_in_memory.load() == 0);
}

TEST_CASE("deadlines live in the store's index: written with their record, erased when moot, "
          "read back at start instead of the reservations and intents, rebuilt for an older "
          "data directory",
          "[actor][recovery][deadlines]") {
  temp_dir d;
  auto due_keys = [](storage::store& db) {
    std::vector<std::string> out;
    db.scan(storage::family::meta, "due/", [&](std::string_view k, std::string_view) {
      out.emplace_back(k);
      return true;
    });
    return out;
  };
  auto count = [](const std::vector<std::string>& xs, const char* prefix) {
    return std::count_if(xs.begin(), xs.end(),
                         [&](const std::string& k) { return k.rfind(prefix, 0) == 0; });
  };
  std::string waiting, paid, done;
  const std::string orphan = "ord_ffff000000000001"; // held stock without an order record
  std::vector<std::string> before;
  {
    node_fixture n(d.path.string());
    n.stock("A", 10, 100);
    n.stock("B", 10, 100);
    waiting = n.create({{"A", 1, 0}, {"B", 1, 0}});
    paid = n.create({{"A", 2, 0}});
    done = n.create({{"A", 1, 0}});
    REQUIRE(n.verify(paid, "succeeded").code == errc::ok);
    REQUIRE(n.verify(done, "succeeded").code == errc::ok);
    n.run();
    REQUIRE(n.complete(done).code == errc::ok);
    n.run();
    auto orphan_reply = n.ask<op_reply>(n.dir.inventory_for("B"), reserve_atom::value, orphan,
                                        std::vector<reservation_item>{{"B", 3}});
    REQUIRE(orphan_reply.ok);
    n.self->send(n.dir.writer, write_atom::value, storage::batch{});
    n.run();
    n.self->receive([](bool) {}, caf::after(0s) >> [] {});
    before = due_keys(*n.db);
    // Held: waiting's A and B, paid's A, the orphan's B. Pending: waiting's intent only.
    CHECK(count(before, storage::due_reservation_prefix) == 4);
    CHECK(count(before, storage::due_payment_prefix) == 1);
    storage::due_entry e;
    REQUIRE(storage::parse_due_key(before.back(), 'r', e)); // sorted: "due/p" < "due/r"
    CHECK(e.deadline_ms == 1'005'000); // the clock stood at 1'000'000: the 5 s TTL
    CHECK_FALSE(storage::parse_due_key(before.back(), 'p', e));
    REQUIRE(storage::parse_due_key(before.front(), 'p', e));
    CHECK(e.id == "pay_" + waiting);
    CHECK(e.deadline_ms == 1'001'000); // payment.timeout_ms = 1 s
  }
  { // A data directory from before the index: the start's one-time pass rebuilds it.
    std::string err;
    auto db = storage::store::open(d.path.string(), err);
    REQUIRE(db);
    storage::batch b;
    for (auto& k : before)
      b.ops.push_back({storage::family::meta, k, {}, true});
    b.ops.push_back({storage::family::meta, "layout/due_index", {}, true});
    REQUIRE(db->commit({&b}, true).empty());
    CHECK(due_keys(*db).empty());
    size_t converted = 0;
    REQUIRE(upgrade_order_records(*db, converted).empty());
    // The orphan's stock has no order in flight to find it by: only it is not rebuilt.
    auto rebuilt = due_keys(*db);
    std::vector<std::string> expected;
    for (auto& k : before)
      if (k.find(orphan) == std::string::npos)
        expected.push_back(k);
    CHECK(rebuilt == expected);
    b.ops.clear(); // put the orphan's entry back for what follows
    for (auto& k : before)
      if (k.find(orphan) != std::string::npos)
        b.ops.push_back({storage::family::meta, k, {}, false});
    REQUIRE(db->commit({&b}, true).empty());
  }
  node_fixture n(d.path.string(), test_node_config(), 1'000'100);
  // Nothing but the index was read: no reservation or intent is in memory.
  CHECK(n.ctx->stats->reservations_in_memory.load() == 0);
  CHECK(n.ctx->stats->intents_in_memory.load() == 0);
  CHECK(n.sku("A").reserved == 3);
  CHECK(n.sku("B").reserved == 4);
  n.advance(1100ms); // waiting's intent expires: the order fails and gives A and B back
  CHECK(n.view(waiting).state.status == order_status::failed);
  CHECK(n.sku("B").reserved == 3);
  n.advance(2500ms); // paid's auto-complete commits its A
  CHECK(n.view(paid).state.status == order_status::completed);
  n.advance(2000ms); // the orphan's TTL: its B comes back
  CHECK(n.sku("A").reserved == 0);
  CHECK(n.sku("A").committed == 3);
  CHECK(n.sku("B").reserved == 0);
  CHECK(n.sku("B").available == 10);
  CHECK(conserved(n.sku("A")));
  CHECK(conserved(n.sku("B")));
  n.self->send(n.dir.writer, write_atom::value, storage::batch{});
  n.run();
  n.self->receive([](bool) {}, caf::after(0s) >> [] {});
  CHECK(due_keys(*n.db).empty()); // every deadline was met or made moot, and erased
  CHECK(n.ctx->stats->reservations_in_memory.load() == 0);
  CHECK(n.ctx->stats->intents_in_memory.load() == 0);
}

TEST_CASE("a backlog of overdue deadlines is worked off in slices; an unreadable reservation "
          "keeps its index entry; the one-time index pass refuses or quarantines it",
          "[actor][recovery][deadlines]") {
  temp_dir d;
  auto orphan = [](int i) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "ord_ffff%012x", i);
    return std::string(buf);
  };
  const int n_orphans = 300; // over max_due_per_round
  {
    node_fixture n(d.path.string());
    n.stock("B", 1000, 100);
    auto worker = n.dir.inventory_for("B");
    for (int i = 0; i < n_orphans; ++i)
      REQUIRE(n.ask<op_reply>(worker, reserve_atom::value, orphan(i),
                              std::vector<reservation_item>{{"B", 1}})
                .ok);
  }
  { // One reservation record is damaged on disk.
    std::string err;
    auto db = storage::store::open(d.path.string(), err);
    REQUIRE(db);
    storage::batch b;
    b.ops.push_back({storage::family::reservations, storage::reservation_key(orphan(7), "B"),
                     "\x02garbage", false});
    REQUIRE(db->commit({&b}, true).empty());
  }
  {
    node_fixture n(d.path.string(), test_node_config(), 1'010'000); // every TTL is past
    CHECK(n.sku("B").reserved == n_orphans);
    n.advance(50ms);
    // All but the damaged one expired, over two rounds of the worker's timer.
    CHECK(n.sku("B").reserved == 1);
    CHECK(conserved(n.sku("B")));
    n.self->send(n.dir.writer, write_atom::value, storage::batch{});
    n.run();
    n.self->receive([](bool) {}, caf::after(0s) >> [] {});
    std::vector<std::string> left;
    n.db->scan(storage::family::meta, "due/", [&](std::string_view k, std::string_view) {
      left.emplace_back(k);
      return true;
    });
    REQUIRE(left.size() == 1); // kept for a record restored from a backup
    CHECK(left[0].find(orphan(7)) != std::string::npos);
  }
  // An older data directory (no index yet) with the damaged record: the index pass refuses
  // it, naming it, and writes nothing; with quarantine it is moved aside first.
  std::string err;
  auto db = storage::store::open(d.path.string(), err);
  REQUIRE(db);
  storage::batch b;
  b.ops.push_back({storage::family::meta, "layout/due_index", {}, true});
  REQUIRE(db->commit({&b}, true).empty());
  size_t converted = 0;
  // Only orders in flight are looked at: the orphans have no order, so make one point at it.
  order_state s;
  s.order_id = orphan(7);
  s.step = saga_step::awaiting_payment;
  b.ops.clear();
  b.ops.push_back({storage::family::orders, orphan(7), storage::encode(s, {}), false});
  b.ops.push_back({storage::family::meta, storage::inflight_key(orphan(7)), {}, false});
  REQUIRE(db->commit({&b}, true).empty());
  auto refusal = upgrade_order_records(*db, converted);
  CHECK(refusal.find("column family 'reservations'") != std::string::npos);
  CHECK(refusal.find(orphan(7)) != std::string::npos);
  std::string have;
  CHECK_FALSE(db->get(storage::family::meta, "layout/due_index", have));
  REQUIRE(upgrade_order_records(*db, converted, true).empty());
  CHECK(db->get(storage::family::meta, "layout/due_index", have));
  CHECK(db->get(storage::family::meta,
                "quarantine/reservations/" + storage::reservation_key(orphan(7), "B"), have));
}

TEST_CASE("a restart recovers orders, stock, payments and timers from RocksDB", "[actor][recovery]") {
  temp_dir d;
  std::string paid, waiting, done;
  {
    node_fixture n(d.path.string());
    n.stock("A", 10, 100);
    done = n.create({{"A", 1, 0}});
    REQUIRE(n.verify(done, "succeeded").code == errc::ok);
    n.run();
    n.complete(done);
    n.run();
    paid = n.create({{"A", 2, 0}});
    REQUIRE(n.verify(paid, "succeeded").code == errc::ok);
    n.run();
    waiting = n.create({{"A", 3, 0}});
    CHECK(n.sku("A").reserved == 5);
  }
  // The second node starts later on the same directory; wall time moved on by 100 ms.
  node_fixture n(d.path.string(), test_node_config(), 1'000'100);
  auto s = n.sku("A");
  CHECK(s.committed == 1);
  CHECK(s.reserved == 5);
  CHECK(conserved(s));
  CHECK(n.view(done).state.status == order_status::completed);
  CHECK(n.view(paid).state.step == saga_step::awaiting_completion);
  CHECK(n.view(waiting).state.step == saga_step::awaiting_payment);
  // re-armed timers: the payment expires, the paid order completes itself
  n.advance(3100ms);
  CHECK(n.view(waiting).state.reason == failure_reason::payment_expired);
  CHECK(n.view(paid).state.status == order_status::completed);
  s = n.sku("A");
  CHECK(s.committed == 3);
  CHECK(s.reserved == 0);
  CHECK(s.available == 7);
  CHECK(conserved(s));
}

TEST_CASE("the writer groups concurrent steps into one commit", "[actor][storage]") {
  temp_dir d;
  node_fixture n(d.path.string());
  n.stock("A", 100, 100);
  auto before = n.ask<writer_stats>(n.dir.writer, stats_atom::value);
  for (int i = 0; i < 20; ++i) {
    std::vector<order_item> items{{"A", 1, 100}};
    n.self->send(n.dir.orders[0], create_atom::value, std::string("c"), items, std::string(),
                 std::string());
  }
  n.run();
  auto after = n.ask<writer_stats>(n.dir.writer, stats_atom::value);
  auto batches = after.batches - before.batches;
  auto commits = after.commits - before.commits;
  CHECK(batches >= 20 * 3); // created, reserved (+ inventory), payment intent per order
  CHECK(commits < batches);  // grouped
  CHECK(n.sku("A").reserved == 20);
}

TEST_CASE("the supervisor tracks each order's step and flags it stuck past its budget, by the test clock",
          "[actor][inspect]") {
  temp_dir dir;
  auto nc = test_node_config();
  nc.payment_timeout_ms = 60000;         // the order stays in awaiting_payment
  nc.inspect_budget_ms[2] = 400;         // awaiting_payment budget
  nc.inspect_tick_ms = 100;
  node_fixture n(dir.path.string(), nc);
  n.stock("A", 10, 100);
  auto id = n.create({{"A", 1, 0}});
  auto page = n.ask<order_page>(n.dir.owner_for(id), list_atom::value, std::string(), std::string(),
                                uint64_t{10});
  REQUIRE(page.rows.size() == 1);
  CHECK(page.rows[0].key == id);
  CHECK(page.rows[0].state == "awaiting_payment");
  CHECK(page.rows[0].processed >= 3); // create + reserve reply + intent reply
  CHECK_FALSE(page.rows[0].stuck);
  auto s = n.ask<order_summary>(n.dir.owner_for(id), summary_atom::value);
  CHECK(s.live == 1);
  CHECK(s.by_step[static_cast<size_t>(saga_step::awaiting_payment)] == 1);
  CHECK(s.stuck == 0);
  n.advance(300ms);
  CHECK(n.ask<order_summary>(n.dir.owner_for(id), summary_atom::value).stuck == 0);
  n.advance(200ms); // 500 ms in the step > 400 ms budget
  s = n.ask<order_summary>(n.dir.owner_for(id), summary_atom::value);
  CHECK(s.stuck == 1);
  REQUIRE(s.stuck_oldest.size() == 1);
  CHECK(s.stuck_oldest[0].key == id);
  CHECK(n.ctx->stats->stuck_orders.load() == 1); // the detector's tick set the gauge
  // The order actor answers for itself; the inspector lists every long-lived actor.
  auto oi = n.ask<order_inspection>(n.dir.owner_for(id), inspect_atom::value, id);
  CHECK(oi.live);
  CHECK(oi.actor.stuck);
  CHECK(oi.actor.mailbox == 0);
  auto all = n.ask<std::vector<actor_info>>(n.dir.inspector, list_atom::value);
  std::multiset<std::string> kinds;
  for (auto& a : all)
    kinds.insert(a.kind);
  CHECK(kinds.count("inspector") == 1);
  CHECK(kinds.count("order_supervisor") == static_cast<size_t>(n.ctx->cfg.saga_partitions));
  CHECK(kinds.count("writer") == 1);
  CHECK(kinds.count("inventory_worker") == 2);
  CHECK(kinds.count("payment_worker") == 2);
  // Once paid and completed the order leaves the table and the stuck index.
  REQUIRE(n.verify(id, "succeeded").code == errc::ok);
  n.run();
  REQUIRE(n.complete(id).code == errc::ok);
  n.run();
  s = n.ask<order_summary>(n.dir.owner_for(id), summary_atom::value);
  CHECK(s.live == 0);
  CHECK(s.stuck == 0);
  n.advance(200ms);
  CHECK(n.ctx->stats->stuck_orders.load() == 0);
}

// ---- nothing runs ahead of durability (a writer that holds its commits) ----

namespace {

/// Every reply waiting in the test actor's mailbox, by kind.
struct replies {
  std::vector<input_reply> inputs;
  std::vector<create_reply> creates;
  std::vector<sku_reply> skus;
  std::vector<caf::error> errors;
  size_t total() const { return inputs.size() + creates.size() + skus.size() + errors.size(); }
};

replies drain(node_fixture& n) {
  replies out;
  for (bool more = true; more;)
    n.self->receive([&](input_reply& r) { out.inputs.push_back(std::move(r)); },
                    [&](create_reply& r) { out.creates.push_back(std::move(r)); },
                    [&](sku_reply& r) { out.skus.push_back(std::move(r)); },
                    [&](caf::error& e) { out.errors.push_back(std::move(e)); },
                    caf::after(0s) >> [&] { more = false; });
  return out;
}

void hold_writer(node_fixture& n, bool on) {
  n.self->send(n.dir.writer, hold_atom::value, on);
  n.run();
}

saga_input input(input_kind k) { return saga_input{k, 0, {}}; }

/// Checks every outbox entry: no (order, `seq`) decided twice, no event_id with two
/// payloads. Returns how many entries are `order_id`'s.
size_t check_outbox(node_fixture& n, const std::string& order_id = {}) {
  std::map<std::pair<std::string, uint64_t>, std::string> seen;
  std::map<std::string, std::string> by_event_id;
  size_t entries = 0;
  n.db->scan(storage::family::outbox, "", [&](std::string_view, std::string_view v) {
    auto j = nlohmann::json::parse(v);
    auto key = std::make_pair(j["order_id"].get<std::string>(), j["seq"].get<uint64_t>());
    auto payload = j["data"].dump() + j["type"].get<std::string>();
    CHECK(seen.emplace(key, payload).second); // no seq decided twice
    auto [it, fresh] = by_event_id.emplace(j["event_id"].get<std::string>(), std::string(v));
    CHECK((fresh || it->second == std::string(v))); // one payload per event_id
    entries += key.first == order_id ? 1 : 0;
    return true;
  });
  return entries;
}

} // namespace

TEST_CASE("with the writer holding its commits nothing is answered, counted or shown",
          "[actor][durability]") {
  temp_dir d;
  node_fixture n(d.path.string());
  n.stock("A", 10, 100);
  auto id = n.create({{"A", 1, 0}}); // waits for its payment, durable
  auto& gauges = n.ctx->stats->orders_by_status;
  auto initiated = gauges[static_cast<size_t>(order_status::payment_initiated)].load();
  auto pending = gauges[static_cast<size_t>(order_status::pending)].load();
  auto keys = n.ctx->stats->idempotency_keys.load();
  hold_writer(n, true);
  // An applied step, then a duplicate and a rejection while its write is queued.
  n.self->send(n.dir.owner_for(id), input_atom::value, id, input(input_kind::payment_succeeded));
  n.self->send(n.dir.owner_for(id), input_atom::value, id, input(input_kind::payment_succeeded));
  n.self->send(n.dir.owner_for(id), input_atom::value, id,
               input(input_kind::inventory_reservation_rejected));
  // A new order with an Idempotency-Key, and the same request repeated.
  std::vector<order_item> items{{"A", 2, 100}};
  for (int i = 0; i < 2; ++i)
    n.self->send(n.dir.orders[0], create_atom::value, std::string("cust"), items,
                 std::string("cust/key-1"), std::string("digest-1"));
  n.run();
  // A stock change, and a read of that SKU while the change is queued.
  n.self->send(n.dir.inventory_for("B"), stock_atom::value, std::string("B"), int64_t{7},
               int64_t{300});
  n.self->send(n.dir.inventory_for("B"), get_atom::value, std::string("B"));
  n.advance(2000ms); // time passes too: nothing is released by a timer either
  auto early = drain(n);
  CHECK(early.total() == 0);
  CHECK(gauges[static_cast<size_t>(order_status::payment_initiated)].load() == initiated);
  CHECK(gauges[static_cast<size_t>(order_status::pending)].load() == pending);
  CHECK(n.ctx->stats->idempotency_keys.load() == keys);

  hold_writer(n, false);
  n.run();
  auto late = drain(n);
  REQUIRE(late.inputs.size() == 3);
  CHECK(late.inputs[0].result == outcome::applied);
  CHECK(late.inputs[1].result == outcome::duplicate);
  CHECK(late.inputs[2].result == outcome::rejected);
  REQUIRE(late.creates.size() == 2);
  CHECK(late.creates[0].state.order_id == late.creates[1].state.order_id);
  CHECK(late.creates[0].existing + late.creates[1].existing == 1);
  REQUIRE(late.skus.size() == 2);
  CHECK(late.skus[1].code == errc::ok); // not "unknown sku": the read waited for the write
  CHECK(late.skus[1].record.available == 7);
  CHECK(n.ctx->stats->idempotency_keys.load() == keys + 1);
  // once durable: the keyed order moved on to its payment (the paid one keeps its status)
  CHECK(gauges[static_cast<size_t>(order_status::payment_initiated)].load() == initiated + 1);
  check_outbox(n);
}

TEST_CASE("an order that crashes with writes queued is not resumed from a stale snapshot",
          "[actor][durability][supervision]") {
  temp_dir d;
  node_fixture n(d.path.string());
  n.stock("A", 10, 100);
  auto id = n.create({{"A", 1, 0}});
  auto seq_before = n.view(id).state.seq;
  hold_writer(n, true);
  // The order decides the payment (its write queued), dies, and a message for it arrives
  // before the write lands: resuming now would decide the same `seq` again.
  n.self->send(n.dir.owner_for(id), input_atom::value, id, input(input_kind::payment_succeeded));
  n.run();
  n.self->send(n.dir.owner_for(id), crash_atom::value, id);
  n.run();
  n.self->send(n.dir.owner_for(id), input_atom::value, id, input(input_kind::payment_succeeded));
  n.self->send(n.dir.owner_for(id), payment_update_atom::value, id, payment_status::succeeded);
  n.run();
  auto early = drain(n);
  CHECK(early.inputs.empty()); // the held message waits for the recovery
  hold_writer(n, false);
  n.run();
  auto late = drain(n);
  REQUIRE(late.inputs.size() == 1);
  CHECK(late.inputs[0].result == outcome::duplicate); // answered by the resumed order
  auto v = n.view(id);
  CHECK(v.state.seq == seq_before + 1);
  CHECK(v.state.payment == payment_status::succeeded);
  CHECK(n.complete(id).code == errc::ok);
  n.run();
  CHECK(n.view(id).state.status == order_status::completed);
  auto stats = n.ask<supervisor_stats>(n.dir.owner_for(id), stats_atom::value);
  CHECK(stats.restarted == 1);
  CHECK(check_outbox(n, id) == n.view(id).events.size());
}

// ---- passive orders: waiting ones are rows at the owner, activated on demand ----

namespace {

node_config passivating_config() {
  auto c = test_node_config();
  c.saga_passivate_after_ms = 500;
  c.payment_timeout_ms = 60000; // the payment waits longer than the passivation
  return c;
}


} // namespace

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
    REQUIRE(db->get(storage::family::payments, pid, raw));
    REQUIRE(storage::decode(raw, x));
    x.status = payment_status::succeeded;
    storage::batch b; // as the worker writes a verdict: the intent leaves the deadline index
    b.ops.push_back({storage::family::payments, pid, storage::encode(x), false});
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

// ---- order partitions: one owner each, ids carry their partition ----

TEST_CASE("orders are spread over the partitions' owners; an id names its partition, and its "
          "payment lives with it",
          "[actor][partitions]") {
  temp_dir d;
  auto nc = test_node_config();
  nc.saga_partitions = 4;
  nc.payment_workers = 2;
  std::vector<std::string> ids;
  {
    node_fixture n(d.path.string(), nc);
    REQUIRE(n.dir.orders.size() == 4);
    n.stock("A", 100, 100);
    for (int i = 0; i < 8; ++i)
      ids.push_back(n.create({{"A", 1, 0}}));
    for (size_t i = 0; i < ids.size(); ++i) {
      // "ord_" + four hex digits of the partition + twelve random ones.
      CHECK(ids[i].size() == 20);
      CHECK(ids[i].substr(4, 4) == "000" + std::to_string(i % 4));
      CHECK(directory::order_partition(ids[i], 4) == i % 4);
      CHECK(directory::payment_partition(ids[i], 4, 2) == (i % 4) % 2);
    }
    // Each owner holds only its own partition's orders.
    for (size_t p = 0; p < 4; ++p) {
      auto page = n.ask<order_page>(n.dir.orders[p], list_atom::value, std::string(),
                                    std::string(), uint64_t{100});
      REQUIRE(page.rows.size() == 2);
      for (auto& r : page.rows)
        CHECK(directory::order_partition(r.key, 4) == p);
    }
    // The node-wide gauge is the sum of every owner's share.
    CHECK(n.ctx->stats->live_order_actors.load() == 8);
    // Pages over every partition merge into one page ordered by id.
    std::vector<order_page> parts;
    for (auto& o : n.dir.orders)
      parts.push_back(n.ask<order_page>(o, list_atom::value, std::string(), std::string(),
                                        uint64_t{3}));
    auto first = merge_pages(parts, 3);
    REQUIRE(first.rows.size() == 3);
    auto sorted = ids;
    std::sort(sorted.begin(), sorted.end());
    CHECK(first.rows[0].key == sorted[0]);
    CHECK(first.rows[2].key == sorted[2]);
    CHECK(first.next_cursor == sorted[2]);
    // Every order's payment went to its partition's worker, and a verdict finds its order.
    for (size_t i = 0; i < ids.size(); ++i) {
      REQUIRE(n.verify(ids[i], i % 2 == 0 ? "succeeded" : "failed").code == errc::ok);
      n.run();
    }
    for (size_t i = 0; i < ids.size(); i += 2)
      REQUIRE(n.complete(ids[i]).code == errc::ok);
    n.run();
    for (size_t i = 0; i < ids.size(); ++i)
      CHECK(n.view(ids[i]).state.status
            == (i % 2 == 0 ? order_status::completed : order_status::failed));
    CHECK(n.sku("A").on_hand() == 96);
    CHECK(n.ctx->stats->live_order_actors.load() == 0);
  }
}

TEST_CASE("a restart hands each owner its own partition's orders in flight",
          "[actor][partitions][recovery]") {
  temp_dir d;
  std::vector<std::string> ids;
  {
    node_fixture n(d.path.string(), passivating_config());
    n.stock("A", 10, 100);
    for (int i = 0; i < 6; ++i)
      ids.push_back(n.create({{"A", 1, 0}}));
  }
  node_fixture n(d.path.string(), passivating_config(), 1'000'100);
  for (size_t p = 0; p < n.dir.orders.size(); ++p) {
    auto page = n.ask<order_page>(n.dir.orders[p], list_atom::value, std::string(),
                                  std::string(), uint64_t{100});
    for (auto& r : page.rows) {
      CHECK(directory::order_partition(r.key, n.dir.orders.size()) == p);
      CHECK(r.passive);
    }
  }
  CHECK(n.ctx->stats->passive_orders.load() == 6);
  for (auto& id : ids)
    REQUIRE(n.verify(id, "failed").code == errc::ok);
  n.run();
  for (auto& id : ids)
    CHECK(n.view(id).state.status == order_status::failed);
  CHECK(n.sku("A").reserved == 0);
  CHECK(n.ctx->stats->passive_orders.load() == 0);
}

TEST_CASE("the number of order partitions is fixed when the data directory is created",
          "[actor][partitions]") {
  temp_dir d;
  std::string err;
  auto db = storage::store::open(d.path.string(), err);
  REQUIRE(db);
  node_config c;
  c.saga_partitions = 4;
  CHECK(check_layout(*db, c).empty()); // recorded
  CHECK(check_layout(*db, c).empty()); // the same again
  c.saga_partitions = 8;
  auto e = check_layout(*db, c);
  CHECK(e.find("saga.partitions = 4") != std::string::npos);
  CHECK(e.find("saga.partitions = 8") != std::string::npos);
  std::string raw;
  REQUIRE(db->get(storage::family::meta, "layout/order_partitions", raw));
  CHECK(raw == "4"); // the refusal changed nothing
}

TEST_CASE("pages from several partitions merge only up to where every partition is complete",
          "[unit][partitions]") {
  auto row = [](std::string k) {
    actor_info a;
    a.key = std::move(k);
    return a;
  };
  order_page a, b;
  a.rows = {row("a1"), row("a5")};
  a.next_cursor = "a5"; // stopped early (scan bound): nothing known past a5
  a.scanned = 2;
  b.rows = {row("a2"), row("a7"), row("a9")};
  b.scanned = 3; // complete
  auto m = merge_pages({a, b}, 10);
  REQUIRE(m.rows.size() == 3); // a7 and a9 wait for the next page: a6 may exist in `a`
  CHECK(m.rows[0].key == "a1");
  CHECK(m.rows[2].key == "a5");
  CHECK(m.next_cursor == "a5");
  CHECK(m.scanned == 5);
  auto last = merge_pages({order_page{}, b}, 2);
  REQUIRE(last.rows.size() == 2);
  CHECK(last.next_cursor == "a7");
  auto all = merge_pages({order_page{}, b}, 3);
  CHECK(all.rows.size() == 3);
  CHECK(all.next_cursor.empty());
}

TEST_CASE("GET's order body copies the events' data as stored and equals the parsed document",
          "[unit][read]") {
  order_view v;
  v.state.order_id = "ord_0002000000000001";
  v.state.customer_id = "c\"q";
  v.state.items = {{"A", 1, 5}};
  v.events = {{v.state.order_id, 1, event_type::ordercreated, 7, "order", R"({"k":[1,{"x":"\u00e9"}]})"},
              {v.state.order_id, 2, event_type::inventory_reserved, 8, "inventory", ""}};
  v.parked_reason = "why";
  auto body = nlohmann::json::parse(gateway_detail::order_body(v));
  CHECK(body == gateway_detail::to_json(v));
  CHECK(body["events"][1]["data"] == nlohmann::json::object());
  CHECK(body["events"][0]["data"]["k"][1]["x"] == "\u00e9");
}

TEST_CASE("a data directory with format-1 order records is converted at start, events and all",
          "[actor][recovery][format]") {
  temp_dir d;
  std::string id;
  std::vector<saga_event> history;
  {
    node_fixture n(d.path.string());
    n.stock("A", 10, 100);
    id = n.create({{"A", 1, 0}});
    history = n.view(id).events;
    REQUIRE(history.size() >= 3);
  }
  { // Rewrite it as an older node stored it: a JSON snapshot, its events in `events`.
    std::string err;
    auto db = storage::store::open(d.path.string(), err);
    REQUIRE(db);
    std::string raw;
    order_state s;
    REQUIRE(db->get(storage::family::orders, id, raw));
    REQUIRE(storage::decode(raw, s));
    storage::batch b;
    b.ops.push_back({storage::family::orders, id, storage::encode_v1(s), false});
    for (auto& ev : history)
      b.ops.push_back({storage::family::events, storage::event_key(id, ev.seq),
                       storage::encode(ev, "n1"), false});
    b.ops.push_back({storage::family::meta, "layout/order_format", {}, true});
    REQUIRE(db->commit({&b}, true).empty());
    // Read as it is (before the conversion) it is still whole.
    auto v = load_order_view(*db, id);
    REQUIRE(v.code == errc::ok);
    CHECK(v.events.size() == history.size());
    size_t converted = 0;
    REQUIRE(upgrade_order_records(*db, converted).empty());
    CHECK(converted == 1);
    REQUIRE(db->get(storage::family::orders, id, raw));
    CHECK(raw[0] == storage::order_record_v2);
    size_t left = 0;
    db->scan(storage::family::events, "", [&](std::string_view, std::string_view) {
      return ++left, true;
    });
    CHECK(left == 0);
    REQUIRE(upgrade_order_records(*db, converted).empty());
    CHECK(converted == 0); // recorded: the next start does not scan again
  }
  node_fixture n(d.path.string());
  auto v = n.view(id);
  REQUIRE(v.events.size() == history.size());
  for (size_t i = 0; i < history.size(); ++i) {
    CHECK(v.events[i].seq == history[i].seq);
    CHECK(v.events[i].type == history[i].type);
    CHECK(nlohmann::json::parse(v.events[i].data) == nlohmann::json::parse(history[i].data));
  }
  REQUIRE(n.verify(id, "succeeded").code == errc::ok);
  n.run();
  REQUIRE(n.complete(id).code == errc::ok);
  n.run();
  CHECK(n.view(id).state.status == order_status::completed);
  auto after = n.view(id).events; // the resumed history goes on: seq 1..N, no gap
  CHECK(after.size() > history.size());
  for (size_t i = 0; i < after.size(); ++i)
    CHECK(after[i].seq == i + 1);
}

TEST_CASE("start reads only the index of orders in flight; stored orders per status are counters "
          "kept in the same writes, or rebuilt once for an older data directory",
          "[actor][recovery][format]") {
  temp_dir d;
  std::string done, failed, waiting;
  {
    node_fixture n(d.path.string());
    n.stock("A", 10, 100);
    done = n.create({{"A", 1, 0}});
    failed = n.create({{"A", 1, 0}});
    waiting = n.create({{"A", 1, 0}});
    REQUIRE(n.verify(done, "succeeded").code == errc::ok);
    REQUIRE(n.verify(failed, "failed").code == errc::ok);
    n.run();
    REQUIRE(n.complete(done).code == errc::ok);
    n.run();
  }
  auto inflight = [](storage::store& db) {
    std::vector<std::string> ids;
    db.scan(storage::family::meta, "inflight/", [&](std::string_view k, std::string_view) {
      ids.emplace_back(k.substr(9));
      return true;
    });
    return ids;
  };
  auto counts = [](storage::store& db) {
    std::vector<int64_t> out;
    for (auto s : {order_status::pending, order_status::payment_initiated,
                   order_status::completed, order_status::failed})
      out.push_back(db.counter(storage::order_status_counter(s)));
    return out;
  };
  const std::vector<int64_t> expected{0, 1, 1, 1};
  {
    std::string err;
    auto db = storage::store::open(d.path.string(), err);
    REQUIRE(db);
    CHECK(inflight(*db) == std::vector<std::string>{waiting});
    CHECK(counts(*db) == expected);
    auto state = load_state(*db, 2, 2, 4);
    CHECK(state.orders_total == 3);
    REQUIRE(state.passive.size() == 1);
    CHECK(state.passive[0].order_id == waiting);
    // An older data directory has neither: the start's one pass builds them.
    storage::batch b;
    b.ops.push_back({storage::family::meta, storage::inflight_key(waiting), {}, true});
    for (auto s : {"PENDING", "PAYMENT_INITIATED", "COMPLETED", "FAILED"})
      b.ops.push_back({storage::family::meta, std::string("count/orders/") + s, {}, true});
    REQUIRE(db->commit({&b}, true).empty());
  }
  {
    std::string err;
    auto db = storage::store::open(d.path.string(), err);
    REQUIRE(db);
    CHECK(inflight(*db).empty());
    size_t converted = 0;
    REQUIRE(upgrade_order_records(*db, converted).empty());
    CHECK(converted == 0); // the records were format 2 already
    CHECK(inflight(*db) == std::vector<std::string>{waiting});
    CHECK(counts(*db) == expected);
  }
  node_fixture n(d.path.string());
  CHECK(n.ctx->stats->orders_by_status[1].load() == 1);
  CHECK(n.ctx->stats->orders_by_status[2].load() == 1);
  REQUIRE(n.verify(waiting, "succeeded").code == errc::ok);
  n.run();
  REQUIRE(n.complete(waiting).code == errc::ok);
  n.run();
  n.self->send(n.dir.writer, write_atom::value, storage::batch{});
  n.run();
  n.self->receive([](bool) {}, caf::after(0s) >> [] {});
  CHECK(inflight(*n.db).empty());
  CHECK(n.db->counter(storage::order_status_counter(order_status::completed)) == 2);
  CHECK(n.db->counter(storage::order_status_counter(order_status::payment_initiated)) == 0);
}
