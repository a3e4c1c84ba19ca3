// Actor tests on CAF's deterministic test coordinator over a real RocksDB directory.
// The writer: grouped commits, and nothing answered, counted or shown before the write
// that makes it true (a writer that holds its commits).
#include "tests/node_fixture.hpp"

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

TEST_CASE("barriers are answered without a write, and a group of unsynced batches skips the fsync",
          "[actor][storage]") {
  temp_dir d;
  node_fixture n(d.path.string());
  n.ctx->cfg.storage_sync = true;
  auto before = n.ask<writer_stats>(n.dir.writer, stats_atom::value);
  CHECK(n.ask<bool>(n.dir.writer, write_atom::value, storage::batch{}));
  auto after = n.ask<writer_stats>(n.dir.writer, stats_atom::value);
  CHECK(after.commits == before.commits);
  CHECK(after.barriers == before.barriers + 1);
  // An unsynced batch (the relay's deletions) is written, without an fsync.
  storage::batch unsynced;
  unsynced.ops.push_back({storage::family::meta, "t/unsynced", "1", false});
  unsynced.sync = false;
  CHECK(n.ask<bool>(n.dir.writer, write_atom::value, unsynced));
  auto third = n.ask<writer_stats>(n.dir.writer, stats_atom::value);
  CHECK(third.commits == after.commits + 1);
  CHECK(third.synced == after.synced);
  std::string v;
  CHECK(n.db->get(storage::family::meta, "t/unsynced", v) == storage::read_status::found);
  // In a group with a synced batch, the group is synced.
  storage::batch synced;
  synced.ops.push_back({storage::family::meta, "t/synced", "1", false});
  n.self->send(n.dir.writer, write_atom::value, unsynced);
  n.self->send(n.dir.writer, write_atom::value, synced);
  n.run();
  auto fourth = n.ask<writer_stats>(n.dir.writer, stats_atom::value);
  CHECK(fourth.synced == third.synced + 1);
  CHECK(fourth.commits == third.commits + 1);
  // /metrics shows the same counts (saga_storage_commits_total, saga_storage_barriers_total).
  CHECK(n.ctx->stats->storage_commits.load() == fourth.commits);
  CHECK(n.ctx->stats->storage_synced_commits.load() == fourth.synced);
  CHECK(n.ctx->stats->storage_barriers.load() == fourth.barriers);
  auto text = n.ctx->stats->render();
  CHECK(text.find("saga_storage_commits_total{sync=\"false\"} "
                  + std::to_string(fourth.commits - fourth.synced) + "\n")
        != std::string::npos);
}
