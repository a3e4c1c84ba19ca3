// The retention sweeper over a real RocksDB directory.
#include "actors/order/idempotency.hpp"
#include "actors/plumbing/retention.hpp"
#include "tests/node_fixture.hpp"

TEST_CASE("the idempotency sweeper erases only the binding it read: a key re-bound between "
          "its read and its write keeps its new order",
          "[actor][retention]") {
  temp_dir d;
  std::string err;
  auto db = storage::store::open(d.path.string(), err);
  REQUIRE(db);
  const std::string key = "alice:K";
  const int64_t retention_ms = 1000;
  idempotency_record first{"ord_first", "digest-1", 100};
  storage::batch bind;
  bind.ops = {{storage::family::meta, "idem/" + key, encode_idempotency(first), false},
              {storage::family::meta, idempotency_index_key(first.created_at_ms, key), "", false}};
  REQUIRE(db->commit({&bind}, true).empty());
  // The sweeper reads the expired binding and builds its round ...
  size_t found = 0;
  auto round = expired_idempotency_keys(*db, 5000, retention_ms, 1000, found);
  CHECK(found == 1);
  // ... a retry with the same key, after it expired, binds it to a new order first ...
  idempotency_record second{"ord_second", "digest-2", 4900};
  storage::batch rebind;
  rebind.ops = {{storage::family::meta, "idem/" + key, encode_idempotency(second), false},
                {storage::family::meta, idempotency_index_key(second.created_at_ms, key), "",
                 false}};
  REQUIRE(db->commit({&rebind}, true).empty());
  // ... then the sweeper's write arrives: the new binding stays, the old index entry goes.
  REQUIRE(db->commit({&round}, true).empty());
  std::string raw;
  REQUIRE(db->get(storage::family::meta, "idem/" + key, raw) == storage::read_status::found);
  idempotency_record now;
  REQUIRE(decode_idempotency(raw, now));
  CHECK(now.order_id == "ord_second");
  CHECK(db->get(storage::family::meta, idempotency_index_key(first.created_at_ms, key), raw) == storage::read_status::absent);
  CHECK(db->get(storage::family::meta, idempotency_index_key(second.created_at_ms, key), raw) == storage::read_status::found);
  // Without a re-binding the sweeper's round erases the binding it read.
  size_t later = 0;
  auto next = expired_idempotency_keys(*db, 4900 + retention_ms, retention_ms, 1000, later);
  CHECK(later == 1);
  REQUIRE(db->commit({&next}, true).empty());
  CHECK(db->get(storage::family::meta, "idem/" + key, raw) == storage::read_status::absent);
}
