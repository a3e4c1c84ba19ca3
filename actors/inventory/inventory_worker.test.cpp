// Actor tests on CAF's deterministic test coordinator over a real RocksDB directory.
// The inventory partition (and the payment partition beside it where both keep the same
// rule): restarts from durable state, finished entries leaving memory, the deadline index.
#include "tests/node_fixture.hpp"

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
    (void)db.scan(storage::family::meta, "due/", [&](std::string_view k, std::string_view) {
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
    (void)n.db->scan(storage::family::meta, "due/", [&](std::string_view k, std::string_view) {
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
  b.ops.push_back({storage::family::orders, orphan(7), saga::encode(s, {}), false});
  b.ops.push_back({storage::family::meta, storage::inflight_key(orphan(7)), {}, false});
  REQUIRE(db->commit({&b}, true).empty());
  auto refusal = upgrade_order_records(*db, converted);
  CHECK(refusal.find("column family 'reservations'") != std::string::npos);
  CHECK(refusal.find(orphan(7)) != std::string::npos);
  std::string have;
  CHECK(db->get(storage::family::meta, "layout/due_index", have) == storage::read_status::absent);
  REQUIRE(upgrade_order_records(*db, converted, true).empty());
  CHECK(db->get(storage::family::meta, "layout/due_index", have) == storage::read_status::found);
  CHECK(db->get(storage::family::meta,
                "quarantine/reservations/" + storage::reservation_key(orphan(7), "B"), have) == storage::read_status::found);
}
