// Actor tests on CAF's deterministic test coordinator over a real RocksDB directory.
// Order partitions: orders spread over the owners, an id names its partition, pages merge
// across partitions, GET's body as stored.
#include "tests/node_fixture.hpp"

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
