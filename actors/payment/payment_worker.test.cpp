// Actor tests on CAF's deterministic test coordinator over a real RocksDB directory.
// The payment partition: a crashed one restarts and keeps its intents.
#include "tests/node_fixture.hpp"

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
