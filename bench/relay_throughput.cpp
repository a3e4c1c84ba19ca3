// Events per second through the Kafka relay, and end-to-end lag from step commit to
// broker acknowledgement, against a real broker (or any bootstrap address).
//   build/bin/bench_relay BROKERS [events=200000] [paced_rate=5000] [paced_seconds=10]
// Phase 1 (throughput): `events` envelopes already in the outbox, time until all are
// acknowledged and deleted. Phase 2 (lag): steps committed at `paced_rate` per second
// while the relay runs; lag percentiles come from the relay's histogram (bucket bounds).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include <spdlog/sinks/null_sink.h>
#include <spdlog/sinks/stdout_sinks.h>

#include "actors/sink/kafka_relay.hpp"
#include "actors/plumbing/writer.hpp"
#include "actors/sink/event_envelope.hpp"

using namespace saga;
using namespace std::chrono_literals;

namespace {

/// `orders` x `per_order` events, seq by seq (an order's events interleaved with the
/// others', as sagas in progress write them).
void fill(storage::store& db, runtime_context& ctx, uint64_t first_order, int orders,
          int per_order = 1) {
  storage::batch b;
  for (int s = 1; s <= per_order; ++s)
    for (int o = 0; o < orders; ++o) {
      saga_event ev{"ord_" + std::to_string(first_order + o), static_cast<uint64_t>(s),
                    event_type::ordercreated, ctx.now_ms(), "order",
                    R"({"customer_id":"c","selling_price_cents":500})"};
      b.outbox.push_back(saga::encode(ev, "bench"));
    }
  if (auto err = db.commit({&b}, false); !err.empty())
    std::abort();
}

size_t outbox_size(storage::store& db) {
  size_t n = 0;
  (void)db.scan(storage::family::outbox, "", [&](auto, auto) { return ++n, true; });
  return n;
}

int64_t percentile(const metrics& m, double q) {
  uint64_t total = 0;
  for (auto& b : m.kafka_lag)
    total += b.load();
  uint64_t cum = 0;
  for (size_t i = 0; i < m.kafka_lag.size(); ++i) {
    cum += m.kafka_lag[i].load();
    if (cum >= q * total)
      return i < metrics::lag_bounds_ms.size() ? metrics::lag_bounds_ms[i] : -1;
  }
  return -1;
}

} // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  if (argc < 2) {
    std::fprintf(stderr, "usage: bench_relay BROKERS [events] [paced_rate] [paced_seconds] "
                         "[events_per_order]\n");
    return 2;
  }
  std::string brokers = argv[1];
  int events = argc > 2 ? std::atoi(argv[2]) : 200000;
  int rate = argc > 3 ? std::atoi(argv[3]) : 5000;
  int paced_s = argc > 4 ? std::atoi(argv[4]) : 10;
  // The backlog's events per order (1: every event a different order; 6: a saga's).
  int per_order = argc > 5 ? std::max(1, std::atoi(argv[5])) : 1;
  auto dir = std::filesystem::temp_directory_path() / "saga-bench-relay";
  std::filesystem::remove_all(dir);
  std::string err;
  auto db = storage::store::open(dir.string(), err);
  auto ctx = std::make_shared<runtime_context>();
  ctx->cfg.storage_sync = false;
  ctx->db = db.get();
  ctx->clock = std::make_shared<wall_clock>();
  // SAGA_BENCH_LOG=1: the relay's log on stderr (info and above).
  if (std::getenv("SAGA_BENCH_LOG") != nullptr)
    ctx->log = std::make_shared<spdlog::logger>("b", std::make_shared<spdlog::sinks::stderr_sink_mt>());
  else
    ctx->log = std::make_shared<spdlog::logger>("b", std::make_shared<spdlog::sinks::null_sink_mt>());
  caf::actor_system_config cfg;
  register_message_types(cfg);
  cfg.set("scheduler.max-threads", size_t{2});
  cfg.set("logger.file-verbosity", caf::atom("quiet"));
  {
    caf::actor_system sys{cfg};
    auto writer = spawn_writer(sys, ctx);
    int chunk = std::max(1, 1200 / per_order); // orders per commit
    for (int i = 0; i < events; i += chunk * per_order)
      fill(*db, *ctx, static_cast<uint64_t>(i), chunk, per_order);
    auto t0 = std::chrono::steady_clock::now();
    // Topics provisioned as by sagad (a cluster may have auto-create off).
    auto relay = sys.spawn(kafka_relay, ctx, writer, brokers, true);
    while (outbox_size(*db) > 0)
      std::this_thread::sleep_for(20ms);
    auto dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    int filled = (events + chunk * per_order - 1) / (chunk * per_order) * chunk * per_order;
    std::printf("throughput: %d events (%d per order) acknowledged and deleted in %.2f s = %.0f "
                "events/s\n", filled, per_order, dt, filled / dt);
    for (auto& b : ctx->stats->kafka_lag)
      b = 0;
    // paced: commit small batches every millisecond-ish at `rate` events/s
    auto start = std::chrono::steady_clock::now();
    uint64_t sent = 0;
    while (std::chrono::steady_clock::now() - start < std::chrono::seconds(paced_s)) {
      auto due = static_cast<uint64_t>(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() * rate);
      if (due > sent) {
        fill(*db, *ctx, 10000000 + sent, static_cast<int>(due - sent));
        sent = due;
      }
      std::this_thread::sleep_for(1ms);
    }
    for (int i = 0; outbox_size(*db) > 0; ++i) {
      std::this_thread::sleep_for(20ms);
      if (i % 250 == 249) // every 5 s: say where it stands
        std::fprintf(stderr, "waiting: outbox %zu entries, depth %lld, age %lld ms, published %llu, resets %llu\n",
                     outbox_size(*db), static_cast<long long>(ctx->stats->outbox_depth.load()),
                     static_cast<long long>(ctx->stats->outbox_age_ms.load()),
                     static_cast<unsigned long long>(ctx->stats->kafka_published.load()),
                     static_cast<unsigned long long>(ctx->stats->kafka_relay_resets.load()));
    }
    std::printf("lag at %d events/s for %d s (%llu events): p50 <= %lld ms, p99 <= %lld ms "
                "(histogram bucket bounds)\n",
                rate, paced_s, static_cast<unsigned long long>(sent),
                static_cast<long long>(percentile(*ctx->stats, 0.5)),
                static_cast<long long>(percentile(*ctx->stats, 0.99)));
    caf::anon_send_exit(relay, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(writer, caf::exit_reason::user_shutdown);
  }
  db.reset();
  std::filesystem::remove_all(dir);
}
