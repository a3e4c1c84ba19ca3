// Takeover time against standby lag (issue 25): how long a node takes to own a partition of
// the changelog when its store is 0, 10k or 100k records behind, against a real broker.
//   build/bin/bench_takeover BROKERS [records=100000] [behind=10000] [record_bytes=300]
// A takeover here is what runtime/takeover.cpp does before it loads the partition's rows:
// open the partition's transactional producer (init_transactions fences the previous one),
// ask the changelog's end, and have the standby applier (actors/replication/standby.hpp)
// apply the records after the store's offset through the writer, each with its offset
// mark. Stores: A, fed `records - behind`, then `behind` more written (lag = behind), then
// again (lag 0); B, empty (lag = records). Each record puts three keys (an order row, an
// index entry, an idempotency key: about `record_bytes` in all) and moves a counter.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>

#include <spdlog/sinks/null_sink.h>

#include "actors/plumbing/writer.hpp"
#include "actors/replication/standby.hpp"
#include "actors/replication/txn_producer.hpp"
#include "storage/changelog.hpp"

using namespace saga;
using namespace std::chrono_literals;

namespace {

using steady = std::chrono::steady_clock;

double ms_since(steady::time_point t) {
  return std::chrono::duration<double, std::milli>(steady::now() - t).count();
}

struct node {
  std::filesystem::path dir;
  std::unique_ptr<storage::store> db;
  std::shared_ptr<runtime_context> ctx;
  caf::actor writer, standby;

  node(caf::actor_system& sys, const node_config& cfg, const std::string& brokers,
       const std::string& name) {
    dir = std::filesystem::temp_directory_path() / ("saga-bench-takeover-" + name);
    std::filesystem::remove_all(dir);
    std::string err;
    db = storage::store::open(dir.string(), err);
    if (!db) {
      std::fprintf(stderr, "store: %s\n", err.c_str());
      std::exit(1);
    }
    ctx = std::make_shared<runtime_context>();
    ctx->cfg = cfg;
    ctx->db = db.get();
    ctx->clock = std::make_shared<wall_clock>();
    ctx->log = std::make_shared<spdlog::logger>("bench", std::make_shared<spdlog::sinks::null_sink_mt>());
    writer = spawn_writer(sys, ctx);
    standby = spawn_standby(sys, ctx, writer, brokers, {}, err); // takeovers only
    if (!standby) {
      std::fprintf(stderr, "standby: %s\n", err.c_str());
      std::exit(1);
    }
  }
  void stop() {
    caf::anon_send_exit(standby, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(writer, caf::exit_reason::user_shutdown);
    standby = writer = caf::actor{};
  }
};

/// `n` records to the producer's partition, 500 per transaction.
void produce(txn_producer& prod, int64_t n, size_t record_bytes, uint64_t& next_id) {
  std::string value(record_bytes > 120 ? record_bytes - 120 : 16, 'v');
  for (int64_t done = 0; done < n;) {
    std::vector<std::string> records;
    for (int i = 0; i < 500 && done < n; ++i, ++done, ++next_id) {
      storage::batch b;
      auto id = std::to_string(next_id);
      b.ops.push_back({storage::family::orders, "ord_0000" + id, value, false});
      b.ops.push_back({storage::family::meta, "idx/ord_0000" + id, "PENDING", false});
      b.ops.push_back({storage::family::meta, "idem/key-" + id, "ord_0000" + id, false});
      b.counters.push_back({"orders_PENDING", 1});
      records.push_back(storage::encode_changelog({&b}));
    }
    auto o = prod.commit(records, {});
    if (!o.error.empty()) {
      std::fprintf(stderr, "commit: %s\n", o.error.c_str());
      std::exit(1);
    }
  }
}

/// One takeover of partition 0 by `n`: returns the producer it opened (it writes next).
std::unique_ptr<txn_producer> take(caf::actor_system& sys, node& n, const node_config& cfg,
                                   const std::string& brokers, const char* label) {
  auto t0 = steady::now();
  std::string err;
  auto prod = txn_producer::open(cfg, brokers, 0, n.ctx->log, err);
  if (!prod) {
    std::fprintf(stderr, "open: %s\n", err.c_str());
    std::exit(1);
  }
  auto open_ms = ms_since(t0);
  auto end = prod->end_offset(err);
  if (end < 0) {
    std::fprintf(stderr, "%s\n", err.c_str());
    std::exit(1);
  }
  auto t1 = steady::now();
  uint64_t applied = 0;
  caf::scoped_actor self{sys};
  self->request(n.standby, std::chrono::seconds(3600), catch_up_atom::value, int32_t{0}, end)
    .receive([&](uint64_t x) { applied = x; },
             [&](caf::error& e) {
               std::fprintf(stderr, "catch-up: %s\n", sys.render(e).c_str());
               std::exit(1);
             });
  auto apply_ms = ms_since(t1);
  std::printf("TAKEOVER %-28s applied=%-7llu open_ms=%7.1f apply_ms=%8.1f total_ms=%8.1f "
              "(%.0f records/s)\n",
              label, static_cast<unsigned long long>(applied), open_ms, apply_ms,
              ms_since(t0), applied > 0 ? applied / (apply_ms / 1000.0) : 0.0);
  std::fflush(stdout);
  return prod;
}

} // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: bench_takeover BROKERS [records=100000] [behind=10000] "
                         "[record_bytes=300]\n");
    return 2;
  }
  std::string brokers = argv[1];
  int64_t records = argc > 2 ? std::atoll(argv[2]) : 100000;
  int64_t behind = argc > 3 ? std::atoll(argv[3]) : 10000;
  size_t record_bytes = argc > 4 ? static_cast<size_t>(std::atoll(argv[4])) : 300;
  if (behind > records)
    behind = records;
  node_config cfg;
  cfg.cluster_replication = "kafka";
  auto run = std::to_string(std::random_device{}() % 1000000);
  cfg.cluster_name = "bench-takeover-" + run;
  cfg.kafka_topic_prefix = "bt" + run + "_"; // a changelog of its own per run
  cfg.storage_sync = false;
  cfg.kafka_provision_timeout_ms = 10000;
  cfg.cluster_standby_poll_ms = 10;

  caf::actor_system_config sys_cfg;
  register_message_types(sys_cfg);
  sys_cfg.set("logger.file-verbosity", caf::atom("quiet"));
  caf::actor_system sys{sys_cfg};

  node a(sys, cfg, brokers, "a-" + run);
  node b(sys, cfg, brokers, "b-" + run);
  uint64_t next_id = 0;
  std::string err;
  auto writer_prod = txn_producer::open(cfg, brokers, 0, a.ctx->log, err);
  if (!writer_prod) {
    std::fprintf(stderr, "open: %s\n", err.c_str());
    return 1;
  }
  auto t0 = steady::now();
  produce(*writer_prod, records - behind, record_bytes, next_id);
  std::printf("produced %lld records of about %zu bytes in %.0f ms\n",
              static_cast<long long>(records - behind), record_bytes, ms_since(t0));
  auto label = [](const char* what, int64_t n) {
    return std::string(what) + " " + std::to_string(n) + " behind";
  };
  writer_prod = take(sys, a, cfg, brokers, label("A (fed)", records - behind).c_str());
  produce(*writer_prod, behind, record_bytes, next_id);
  writer_prod = take(sys, a, cfg, brokers, label("A", behind).c_str());
  writer_prod = take(sys, a, cfg, brokers, label("A", 0).c_str());
  writer_prod = take(sys, b, cfg, brokers, label("B (empty store)", records).c_str());
  std::printf("store A counter orders_PENDING=%lld, store B %lld (each should be %lld)\n",
              static_cast<long long>(a.db->counter("orders_PENDING")),
              static_cast<long long>(b.db->counter("orders_PENDING")),
              static_cast<long long>(records));
  bool ok = a.db->counter("orders_PENDING") == records && b.db->counter("orders_PENDING") == records;
  writer_prod.reset();
  a.stop();
  b.stop();
  return ok ? 0 : 1;
}
