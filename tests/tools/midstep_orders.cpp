// Test tool: writes N orders that are mid-step (reserving inventory: created, their
// reservation not yet answered) into a stopped node's data directory, as a crash under load
// would leave them, so that a start has N sagas to re-activate at once (e2e_recovery_window).
// Records are made by the node's own codecs and written in the node's own atomic batches:
// the order record, its `inflight/` index entry, its `ordercreated` event in the outbox and
// the per-status counter.
//   midstep_orders DATA_DIR COUNT SKU UNIT_PRICE_CENTS PARTITIONS
#include <cstdio>
#include <cstdlib>
#include <string>

#include "actors/order/order_codec.hpp"
#include "actors/sink/event_envelope.hpp"
#include "storage/keys.hpp"
#include "storage/store.hpp"

int main(int argc, char** argv) {
  if (argc != 6) {
    std::fprintf(stderr, "usage: %s DATA_DIR COUNT SKU UNIT_PRICE_CENTS PARTITIONS\n", argv[0]);
    return 2;
  }
  std::string dir = argv[1], sku = argv[3];
  long count = std::atol(argv[2]), price = std::atol(argv[4]), parts = std::atol(argv[5]);
  if (count <= 0 || price <= 0 || parts <= 0) {
    std::fprintf(stderr, "COUNT, UNIT_PRICE_CENTS and PARTITIONS must be positive\n");
    return 2;
  }
  std::string err;
  auto db = storage::store::open(dir, err);
  if (!db) {
    std::fprintf(stderr, "%s\n", err.c_str());
    return 1;
  }
  saga::saga_config cfg;
  const int64_t now = 1'000'000;
  storage::batch b;
  for (long i = 0; i < count; ++i) {
    char id[48]; // ord_ + 4 hex digits of the partition + 12 of the rest (directory.hpp)
    std::snprintf(id, sizeof(id), "ord_%04lx%012lx", static_cast<unsigned long>(i % parts) & 0xffff,
                  (0xabc000000000UL + static_cast<unsigned long>(i)) & 0xffffffffffffUL);
    auto d = saga::create_order(cfg, id, "cust-recovery", {{sku, 1, price}}, now);
    b.ops.push_back({storage::family::orders, id, saga::encode(d.next, d.events), false});
    b.ops.push_back({storage::family::meta, storage::inflight_key(id), {}, false});
    b.counters.push_back({saga::order_status_counter(d.next.status), 1});
    for (auto& ev : d.events)
      b.outbox.push_back(saga::encode(ev, "node-1"));
    if (b.ops.size() >= 4096 || i + 1 == count) {
      if (auto e = db->commit({&b}, true); !e.empty()) {
        std::fprintf(stderr, "%s\n", e.c_str());
        return 1;
      }
      b = {};
    }
  }
  std::printf("%ld mid-step orders written to %s\n", count, dir.c_str());
  return 0;
}
