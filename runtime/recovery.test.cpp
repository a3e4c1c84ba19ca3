// Actor tests on CAF's deterministic test coordinator over a real RocksDB directory.
// A node's start: recovery of every kind of state from RocksDB, each owner handed its own
// partition's orders, the format-1 conversion and the index of orders in flight.
#include "storage/record_format.hpp"
#include "tests/node_fixture.hpp"

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
  REQUIRE(db->get(storage::family::meta, "layout/order_partitions", raw) == storage::read_status::found);
  CHECK(raw == "4"); // the refusal changed nothing
}

TEST_CASE("the node list is fixed when the data directory is created: a start with another is "
          "refused, naming what changed", "[actor][partitions]") {
  temp_dir d;
  std::string err;
  auto db = storage::store::open(d.path.string(), err);
  REQUIRE(db);
  node_config c;
  c.cluster_nodes = {"node-2", "node-1", "node-3"};
  CHECK(check_layout(*db, c).empty()); // recorded
  c.cluster_nodes = {"node-1", "node-2", "node-3"};
  CHECK(check_layout(*db, c).empty()); // the same ids in another order: nothing moves
  c.cluster_nodes = {"node-1", "node-2", "node-4"};
  auto e = check_layout(*db, c);
  CHECK(e.find("cluster.nodes = [node-1,node-2,node-3]") != std::string::npos);
  CHECK(e.find("added: node-4; removed: node-3") != std::string::npos);
  c.cluster_nodes = {"node-1", "node-2"};
  CHECK(check_layout(*db, c).find("removed: node-3") != std::string::npos);
  std::string raw;
  REQUIRE(db->get(storage::family::meta, "layout/cluster_nodes", raw) == storage::read_status::found);
  CHECK(raw == "node-1,node-2,node-3"); // the refusals changed nothing
  // A directory written before the list was recorded gets it at its next start.
  storage::batch forget;
  forget.ops.push_back({storage::family::meta, "layout/cluster_nodes", "", true});
  REQUIRE(db->commit({&forget}, true).empty());
  CHECK(check_layout(*db, c).empty());
  REQUIRE(db->get(storage::family::meta, "layout/cluster_nodes", raw) == storage::read_status::found);
  CHECK(raw == "node-1,node-2");
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
    REQUIRE(db->get(storage::family::orders, id, raw) == storage::read_status::found);
    REQUIRE(saga::decode(raw, s));
    storage::batch b;
    b.ops.push_back({storage::family::orders, id, saga::encode_v1(s), false});
    for (auto& ev : history)
      b.ops.push_back({storage::family::events, storage::event_key(id, ev.seq),
                       saga::encode(ev, "n1"), false});
    b.ops.push_back({storage::family::meta, "layout/order_format", {}, true});
    REQUIRE(db->commit({&b}, true).empty());
    // Read as it is (before the conversion) it is still whole.
    auto v = load_order_view(*db, id);
    REQUIRE(v.code == errc::ok);
    CHECK(v.events.size() == history.size());
    size_t converted = 0;
    REQUIRE(upgrade_order_records(*db, converted).empty());
    CHECK(converted == 1);
    REQUIRE(db->get(storage::family::orders, id, raw) == storage::read_status::found);
    CHECK(raw[0] == storage::record_v2);
    size_t left = 0;
    (void)db->scan(storage::family::events, "", [&](std::string_view, std::string_view) {
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
    (void)db.scan(storage::family::meta, "inflight/", [&](std::string_view k, std::string_view) {
      ids.emplace_back(k.substr(9));
      return true;
    });
    return ids;
  };
  auto counts = [](storage::store& db) {
    std::vector<int64_t> out;
    for (auto s : {order_status::pending, order_status::payment_initiated,
                   order_status::completed, order_status::failed})
      out.push_back(db.counter(saga::order_status_counter(s)));
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
  CHECK(n.db->counter(saga::order_status_counter(order_status::completed)) == 2);
  CHECK(n.db->counter(saga::order_status_counter(order_status::payment_initiated)) == 0);
}

TEST_CASE("a load for some partitions reads only their orders in flight: another partition's "
          "rows (a standby copy) are not read, even a corrupt one",
          "[actor][recovery][partitions]") {
  temp_dir d;
  std::vector<std::string> ids;
  {
    node_fixture n(d.path.string(), passivating_config());
    n.stock("A", 20, 100);
    for (int i = 0; i < 12; ++i)
      ids.push_back(n.create({{"A", 1, 0}}));
  }
  const size_t parts = 4;
  std::string err;
  auto db = storage::store::open(d.path.string(), err);
  REQUIRE(db);
  auto all = load_state(*db, 2, 2, parts);
  REQUIRE(all.error.empty());
  REQUIRE(all.passive.size() + all.resume.size() == ids.size());
  // Keep partition `mine` only (a takeover's load); one order of another partition is corrupt.
  size_t mine = directory::order_partition(ids[0], parts);
  std::string other;
  size_t in_mine = 0;
  for (auto& id : ids) {
    if (directory::order_partition(id, parts) == mine)
      ++in_mine;
    else if (other.empty())
      other = id;
  }
  REQUIRE_FALSE(other.empty());
  storage::batch b;
  b.ops.push_back({storage::family::orders, other, "not an order record", false});
  REQUIRE(db->commit({&b}, true).empty());
  CHECK_FALSE(load_state(*db, 2, 2, parts).error.empty()); // the whole store: refused
  std::vector<uint8_t> foreign(parts, 1);
  foreign[mine] = 0;
  auto one = load_state(*db, 2, 2, parts, false, foreign);
  CHECK(one.error.empty());
  CHECK(one.corrupt.empty());
  CHECK(one.passive.size() + one.resume.size() == in_mine);
  for (auto& s : one.passive)
    CHECK(directory::order_partition(s.order_id, parts) == mine);
  for (auto& s : one.resume)
    CHECK(directory::order_partition(s.order_id, parts) == mine);
  CHECK(one.orders_total == all.orders_total); // the counters stay the store's
  CHECK_FALSE(one.inventory.at(directory::hash("A") % 2).skus().empty());
  // A takeover of an order partition reads no SKU: not even a corrupt one stops it, and
  // no book or reservation deadline is loaded.
  storage::batch bad_sku;
  bad_sku.ops.push_back({storage::family::inventory, "B", "not a SKU record", false});
  REQUIRE(db->commit({&bad_sku}, true).empty());
  CHECK_FALSE(load_state(*db, 2, 2, parts, false, foreign).error.empty());
  auto orders_only = load_state(*db, 2, 2, parts, false, foreign, /*skus=*/false);
  CHECK(orders_only.error.empty());
  CHECK(orders_only.passive.size() + orders_only.resume.size() == in_mine);
  for (auto& book : orders_only.inventory)
    CHECK(book.skus().empty());
  for (auto& due : orders_only.inventory_due)
    CHECK(due.empty());
}
