// Actor tests on CAF's deterministic test coordinator over a real RocksDB directory.
// The stuck-saga detector: each order's step tracked by its owner and flagged past its
// budget, by the test clock.
#include "tests/node_fixture.hpp"

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
