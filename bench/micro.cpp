// Micro-benchmarks of the hot paths (Google Benchmark):
//   build/bin/bench_micro --benchmark_min_time=0.5
#include <benchmark/benchmark.h>

#include <filesystem>

#include <nlohmann/json.hpp>

#include <caf/binary_deserializer.hpp>
#include <caf/binary_serializer.hpp>

#include "actors/messages.hpp"
#include "gateway/requests.hpp"
#include "actors/inventory/inventory_book.hpp"
#include "actors/inventory/inventory_codec.hpp"
#include "actors/order/order_codec.hpp"
#include "actors/payment/payment_codec.hpp"
#include "actors/sink/event_envelope.hpp"
#include "storage/keys.hpp"
#include "storage/store.hpp"
#include "runtime/runtime.hpp"

using namespace saga;

namespace {

const saga_config cfg{30000, 120000, 10000};

order_state sample_state() {
  auto s = create_order(cfg, "ord_0123456789abcdef", "customer-42", {{"SKU-1", 2, 1999}, {"SKU-2", 1, 500}}, 1).next;
  s = decide(cfg, s, {input_kind::inventory_reserved, 2, {}}).next;
  s = decide(cfg, s, {input_kind::payment_intent_created, 3, {}}).next;
  return s;
}

void BM_saga_full_happy_path(benchmark::State& state) {
  for (auto _ : state) {
    auto d = create_order(cfg, "ord_0123456789abcdef", "customer-42", {{"SKU-1", 2, 1999}}, 1);
    auto s = d.next;
    for (auto k : {input_kind::inventory_reserved, input_kind::payment_intent_created,
                   input_kind::payment_succeeded, input_kind::complete_requested,
                   input_kind::inventory_committed}) {
      auto n = decide(cfg, s, {k, 2, {}});
      s = std::move(n.next);
      benchmark::DoNotOptimize(n.events);
    }
  }
  state.SetItemsProcessed(state.iterations() * 6); // 6 saga steps per iteration
}
BENCHMARK(BM_saga_full_happy_path);

void BM_saga_duplicate_input(benchmark::State& state) {
  auto s = sample_state();
  for (auto _ : state)
    benchmark::DoNotOptimize(decide(cfg, s, {input_kind::inventory_reserved, 5, {}}));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_saga_duplicate_input);

// One reservation's life in the inventory book: reserve two SKUs, commit, forget. Its
// invariant checks (no oversell, no negative stock) run in every build.
void BM_inventory_reserve_commit(benchmark::State& state) {
  inventory_book b;
  b.set_stock("A", int64_t{1} << 60, 100);
  b.set_stock("B", int64_t{1} << 60, 100);
  const std::string id = "ord_0000000000000001";
  const std::vector<reservation_item> items{{"A", 1}, {"B", 2}};
  for (auto _ : state) {
    auto r = b.reserve(id, items, 1000);
    auto c = b.commit(id, 1);
    b.forget(id);
    benchmark::DoNotOptimize(r.ok && c.ok);
  }
}
BENCHMARK(BM_inventory_reserve_commit);

/// The events of the sample order so far (as its record holds them).
std::vector<saga_event> sample_history() {
  auto d = create_order(cfg, "ord_0123456789abcdef", "customer-42", {{"SKU-1", 2, 1999}, {"SKU-2", 1, 500}}, 1);
  auto h = d.events;
  auto s = d.next;
  for (auto k : {input_kind::inventory_reserved, input_kind::payment_intent_created}) {
    auto n = decide(cfg, s, {k, 2, {}});
    s = n.next;
    h.insert(h.end(), n.events.begin(), n.events.end());
  }
  return h;
}

// Format 1 (JSON snapshot, events apart) against format 2 (one binary record with them).
void BM_snapshot_json_encode(benchmark::State& state) {
  auto s = sample_state();
  for (auto _ : state)
    benchmark::DoNotOptimize(saga::encode_v1(s));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_snapshot_json_encode);

void BM_snapshot_json_decode(benchmark::State& state) {
  auto raw = saga::encode_v1(sample_state());
  for (auto _ : state) {
    order_state s;
    benchmark::DoNotOptimize(saga::decode(raw, s));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_snapshot_json_decode);

void BM_order_record_encode(benchmark::State& state) {
  auto s = sample_state();
  auto h = sample_history();
  std::string raw;
  for (auto _ : state) {
    raw = saga::encode(s, h);
    benchmark::DoNotOptimize(raw);
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["bytes"] = static_cast<double>(raw.size());
}
BENCHMARK(BM_order_record_encode);

void BM_order_record_decode_with_events(benchmark::State& state) {
  auto raw = saga::encode(sample_state(), sample_history());
  for (auto _ : state) {
    order_state s;
    std::vector<saga_event> h;
    benchmark::DoNotOptimize(saga::decode(raw, s, &h));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_order_record_decode_with_events);

// A payment intent and a reservation item, JSON (format 1) against binary (format 2): each
// is written several times per saga and read back on demand.
payment_intent sample_intent() {
  return {"pay_ord_0123456789abcdef", "ord_0123456789abcdef", 4498, payment_status::pending,
          1'764'000'000'000, 1'764'000'000'000};
}

void BM_intent_encode(benchmark::State& state) {
  auto p = sample_intent();
  bool json = state.range(0) == 1;
  for (auto _ : state)
    benchmark::DoNotOptimize(json ? saga::encode_v1(p) : saga::encode(p));
  state.SetItemsProcessed(state.iterations());
  state.SetLabel(json ? "json" : "binary");
}
BENCHMARK(BM_intent_encode)->Arg(1)->Arg(2);

void BM_intent_decode(benchmark::State& state) {
  auto p = sample_intent();
  bool json = state.range(0) == 1;
  auto raw = json ? saga::encode_v1(p) : saga::encode(p);
  for (auto _ : state) {
    payment_intent x;
    benchmark::DoNotOptimize(saga::decode(raw, x));
  }
  state.SetItemsProcessed(state.iterations());
  state.SetLabel(json ? "json" : "binary");
}
BENCHMARK(BM_intent_decode)->Arg(1)->Arg(2);

void BM_reservation_item_encode(benchmark::State& state) {
  reservation r{"ord_0123456789abcdef", {}, reservation_state::reserved, 1'764'000'000'000};
  reservation_item item{"SKU-123456", 2};
  bool json = state.range(0) == 1;
  for (auto _ : state)
    benchmark::DoNotOptimize(json ? saga::encode_v1(r, item) : saga::encode(r, item));
  state.SetItemsProcessed(state.iterations());
  state.SetLabel(json ? "json" : "binary");
}
BENCHMARK(BM_reservation_item_encode)->Arg(1)->Arg(2);

void BM_event_envelope_encode(benchmark::State& state) {
  saga_event ev{"ord_0123456789abcdef", 3, event_type::payment_initiated, 1, "order",
                R"({"payment_id":"pay_ord_0123456789abcdef","amount_cents":4498,"expires_at_ms":123})"};
  for (auto _ : state)
    benchmark::DoNotOptimize(saga::encode(ev, "node-1"));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_event_envelope_encode);

/// What the relay and the transactional producer read of every envelope they publish:
/// in place (the layout `encode` writes), against a full parse (the layout before).
void BM_event_envelope_head(benchmark::State& state) {
  saga_event ev{"ord_0123456789abcdef", 3, event_type::payment_initiated, 1, "order",
                R"({"payment_id":"pay_ord_0123456789abcdef","amount_cents":4498,"expires_at_ms":123})"};
  auto env = saga::encode(ev, "node-1");
  if (state.range(0) == 1) // the previous layout: keys sorted, data first
    env = nlohmann::json::parse(env).dump();
  envelope_head h;
  for (auto _ : state)
    benchmark::DoNotOptimize(read_head(env, h));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_event_envelope_head)->Arg(0)->Arg(1);

void BM_caf_message_roundtrip(benchmark::State& state) {
  // the order snapshot as it would cross nodes (CAF's binary format)
  auto s = sample_state();
  std::vector<char> buf;
  for (auto _ : state) {
    buf.clear();
    caf::binary_serializer sink{nullptr, buf};
    auto e1 = sink(s);
    order_state out;
    caf::binary_deserializer source{nullptr, buf};
    auto e2 = source(out);
    benchmark::DoNotOptimize(e1);
    benchmark::DoNotOptimize(e2);
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["bytes"] = static_cast<double>(buf.size());
}
BENCHMARK(BM_caf_message_roundtrip);

void BM_parse_create_order_request(benchmark::State& state) {
  std::string body = R"({"customer_id":"customer-42","items":[{"sku":"SKU-1","quantity":2},{"sku":"SKU-2","quantity":1}]})";
  for (auto _ : state) {
    create_order_request r;
    benchmark::DoNotOptimize(parse_create_order(body, r));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_parse_create_order_request);

/// One saga step as the order actor writes it: the order record + outbox entry, fsync'd.
/// range(0) = steps per RocksDB write (1 = no group commit).
void BM_rocksdb_step_write_synced(benchmark::State& state) {
  auto dir = std::filesystem::temp_directory_path() / "saga-bench-micro-rocks";
  std::filesystem::remove_all(dir);
  std::string err;
  auto db = storage::store::open(dir.string(), err);
  auto s = sample_state();
  auto snap = saga::encode(s, sample_history());
  saga_event ev{s.order_id, 3, event_type::payment_initiated, 1, "order", "{}"};
  auto env = saga::encode(ev, "node-1");
  const int group = static_cast<int>(state.range(0));
  std::vector<storage::batch> batches(group);
  uint64_t n = 0;
  for (auto _ : state) {
    std::vector<const storage::batch*> ptrs;
    for (auto& b : batches) {
      b.ops.clear();
      b.outbox.clear();
      auto id = "ord_" + std::to_string(n++);
      b.ops.push_back({storage::family::orders, id, snap, false});
      b.outbox.push_back(env);
      ptrs.push_back(&b);
    }
    if (!db->commit(ptrs, true).empty())
      state.SkipWithError("commit failed");
  }
  state.SetItemsProcessed(state.iterations() * group); // durable steps
  db.reset();
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_rocksdb_step_write_synced)->Arg(1)->Arg(16)->Arg(128)->UseRealTime();

/// What a takeover of one order partition reads before it serves (runtime/takeover.cpp,
/// load_state), against a start's load of the whole store: 50,000 orders in flight over 8
/// partitions, each with a reservation deadline, and 20,000 SKUs, in a real RocksDB.
/// range(0) = 0: the whole store; 1: one partition's orders, the SKUs and reservation
/// deadlines still read (a takeover until the tenth session); 2: one partition's orders
/// without the SKU side (a takeover now).
void BM_load_order_partition(benchmark::State& state) {
  constexpr size_t orders = 50000, parts = 8, skus = 20000;
  auto dir = std::filesystem::temp_directory_path() / "saga-bench-micro-load";
  std::filesystem::remove_all(dir);
  std::string err;
  auto db = storage::store::open(dir.string(), err);
  if (!db) {
    state.SkipWithError(err.c_str());
    return;
  }
  auto s = sample_state();
  auto history = sample_history();
  for (size_t i = 0; i < orders;) {
    storage::batch b;
    for (size_t j = 0; j < 1000 && i < orders; ++j, ++i) {
      s.order_id = "ord_" + std::to_string(1000000 + i);
      b.ops.push_back({storage::family::orders, s.order_id, saga::encode(s, history), false});
      b.ops.push_back({storage::family::meta, storage::inflight_key(s.order_id), {}, false});
      b.ops.push_back({storage::family::meta,
                       storage::due_reservation_key(1000000 + static_cast<int64_t>(i),
                                                    s.order_id, "SKU-" + std::to_string(i % skus)),
                       {}, false});
    }
    if (!db->commit({&b}, false).empty()) {
      state.SkipWithError("commit failed");
      return;
    }
  }
  for (size_t i = 0; i < skus;) {
    storage::batch b;
    for (size_t j = 0; j < 1000 && i < skus; ++j, ++i) {
      sku_record r{"SKU-" + std::to_string(i), 100, 3, 7, 1999, 110};
      b.ops.push_back({storage::family::inventory, r.sku, saga::encode(r), false});
    }
    if (!db->commit({&b}, false).empty()) {
      state.SkipWithError("commit failed");
      return;
    }
  }
  std::vector<uint8_t> foreign;
  if (state.range(0) >= 1) {
    foreign.assign(parts, 1);
    foreign[3] = 0;
  }
  size_t loaded = 0;
  for (auto _ : state) {
    auto x = load_state(*db, 4, 2, parts, false, foreign, state.range(0) != 2);
    loaded = x.resume.size() + x.passive.size();
    benchmark::DoNotOptimize(loaded);
  }
  state.counters["orders_loaded"] = static_cast<double>(loaded);
  db.reset();
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_load_order_partition)->Arg(0)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();

} // namespace

BENCHMARK_MAIN();
