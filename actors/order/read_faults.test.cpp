// Actor tests on CAF's deterministic test coordinator over a real RocksDB directory whose
// file system fails reads on demand (storage/fault_fs.hpp): a read that fails is never
// taken for "not there". The node stops, and nothing is decided on it.
#include <fstream>

#include "tests/node_fixture.hpp"

namespace {

/// Reads reach the table files: no block cache, and the memtables flushed by the test.
storage::store_options read_faults(const temp_dir& d) {
  storage::store_options so;
  so.read_fault_trigger = (d.path / "read-fault").string();
  so.block_cache_bytes = 0;
  return so;
}

size_t stored_orders(storage::store& db) {
  size_t n = 0;
  REQUIRE(db.scan(storage::family::orders, "", [&](auto, auto) { return ++n, true; }));
  return n;
}

} // namespace

TEST_CASE("an Idempotency-Key whose binding cannot be read is answered 503, never with a "
          "second order, and the node stops", "[actor][read_faults]") {
  temp_dir d;
  auto so = read_faults(d);
  node_fixture n(d.path.string(), test_node_config(), 1'000'000, true, 42, so);
  n.stock("A", 3, 100);
  std::vector<order_item> items{{"A", 1, 100}};
  auto& owner = n.dir.orders[0];
  auto first = n.ask<create_reply>(owner, create_atom::value, std::string("c"), items,
                                   std::string("key-1"), std::string("digest-1"));
  REQUIRE_FALSE(first.existing);
  auto id = first.state.order_id;
  REQUIRE(n.verify(id, "failed").code == errc::ok); // the order fails: its actor ends
  n.run();
  REQUIRE(n.view(id).state.status == order_status::failed);
  // The same request again: from the store now (the order's actor is gone).
  auto again = n.ask<create_reply>(owner, create_atom::value, std::string("c"), items,
                                   std::string("key-1"), std::string("digest-1"));
  REQUIRE(again.existing);
  REQUIRE(again.state.order_id == id);
  REQUIRE(n.db->flush().empty());
  REQUIRE(stored_orders(*n.db) == 1);
  { std::ofstream touch(so.read_fault_trigger); }
  n.self->send(owner, create_atom::value, std::string("c"), items, std::string("key-1"),
               std::string("digest-1"));
  n.run();
  bool refused = false;
  n.self->receive([&](create_reply& r) { FAIL("answered " << r.state.order_id
                                               << (r.existing ? " (existing)" : " (new)")); },
                  [&](caf::error& e) {
                    refused = true;
                    CHECK(n.sys.render(e).find("storage read failed") != std::string::npos);
                  },
                  caf::after(0s) >> [] {});
  CHECK(refused);
  CHECK(n.ctx->halted.load());
  std::filesystem::remove(so.read_fault_trigger);
  n.run();
  CHECK(stored_orders(*n.db) == 1); // no second order, and no second charge
}
