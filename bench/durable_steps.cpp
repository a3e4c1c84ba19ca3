// Durable saga steps per second through the real writer actor and RocksDB with fsync,
// with and without group commit. K concurrent "order" actors each write a step the size
// of a real one (snapshot + event + outbox entry), wait until it is durable, and repeat.
//   build/bin/bench_durable_steps [seconds=3] [dir=/tmp/saga-bench]
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <thread>

#include <spdlog/sinks/null_sink.h>

#include "actors/messages.hpp"
#include "actors/plumbing/writer.hpp"
#include "runtime/clock.hpp"

using namespace saga;

namespace {

struct bench_config : caf::actor_system_config {
  bench_config() {
    register_message_types(*this);
    set("scheduler.max-threads", size_t{2});
    set("logger.file-verbosity", caf::atom("quiet"));
  }
};

storage::batch make_step(uint64_t order, uint64_t seq) {
  storage::batch b;
  auto id = "ord_" + std::to_string(order);
  (void)seq;
  // As the order actor writes a step: its record (snapshot and events) and the envelope.
  b.ops.push_back({storage::family::orders, id, std::string(600, 's'), false});
  b.outbox.push_back(std::string(260, 'e'));
  return b;
}

double run(bool group_commit, int clients, double seconds, const std::string& dir) {
  std::filesystem::remove_all(dir);
  std::string err;
  auto db = storage::store::open(dir, err);
  if (!db) {
    std::fprintf(stderr, "%s\n", err.c_str());
    std::exit(1);
  }
  auto ctx = std::make_shared<runtime_context>();
  ctx->cfg.storage_sync = true;
  ctx->cfg.storage_group_commit = group_commit;
  ctx->db = db.get();
  ctx->clock = std::make_shared<wall_clock>();
  ctx->log = std::make_shared<spdlog::logger>("bench", std::make_shared<spdlog::sinks::null_sink_mt>());
  std::atomic<uint64_t> steps{0};
  std::atomic<bool> stop{false};
  {
    bench_config cfg;
    caf::actor_system sys{cfg};
    auto writer = spawn_writer(sys, ctx);
    for (int c = 0; c < clients; ++c)
      sys.spawn([&, c, writer](caf::event_based_actor* self) -> caf::behavior {
        auto seq = std::make_shared<uint64_t>(0);
        self->send(self, flush_atom::value);
        return {
          [=, &steps, &stop](flush_atom) {
            if (stop) {
              self->quit();
              return;
            }
            self->request(writer, caf::infinite, write_atom::value, make_step(c, ++*seq))
              .then([=, &steps](bool) {
                ++steps;
                self->send(self, flush_atom::value);
              });
          },
        };
      });
    std::this_thread::sleep_for(std::chrono::milliseconds(200)); // warm-up
    auto s0 = steps.load();
    auto t0 = std::chrono::steady_clock::now();
    std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
    auto s1 = steps.load();
    auto dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    stop = true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    caf::anon_send_exit(writer, caf::exit_reason::user_shutdown);
    return (s1 - s0) / dt;
  }
}

} // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  double seconds = argc > 1 ? std::atof(argv[1]) : 3.0;
  std::string dir = argc > 2 ? argv[2] : "/tmp/saga-bench-durable";
  std::printf("%-14s %-8s %16s\n", "group_commit", "clients", "durable steps/s");
  for (int clients : {1, 64, 512})
    for (bool gc : {false, true})
      std::printf("%-14s %-8d %16.0f\n", gc ? "on" : "off", clients, run(gc, clients, seconds, dir));
  std::filesystem::remove_all(dir);
}
