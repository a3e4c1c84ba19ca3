#pragma once
// What every actor of a node shares, read-only: configuration, the store (thread-safe
// reads; only the writer actor writes) and the clock.

#include <algorithm>
#include <atomic>
#include <functional>
#include <memory>
#include <string>

#include <spdlog/spdlog.h>

#include "runtime/clock.hpp"
#include "runtime/config.hpp"
#include "runtime/metrics.hpp"
#include "storage/store.hpp"

namespace saga {

struct runtime_context {
  node_config cfg;
  storage::store* db = nullptr;
  std::shared_ptr<const clock_source> clock;
  std::shared_ptr<spdlog::logger> log;
  std::shared_ptr<metrics> stats = std::make_shared<metrics>();
  /// Writer actor runs on its own thread (it blocks on fsync). Off in deterministic tests.
  bool detached_writer = true;
  /// Set once the node must stop (a RocksDB write failed): nothing is acknowledged any
  /// more, /readyz and new orders answer 503, and `on_fatal` (sagad: log, then shut the
  /// process down with a non-zero exit) was called with the reason.
  mutable std::atomic<bool> halted{false};
  std::function<void(const std::string&)> on_fatal;
  /// Fault injection for the e2e tests (SAGA_FAULT_CRASH_SKU, off when empty): an order
  /// actor holding this SKU crashes whenever its payment intent is reported created, so
  /// the order is restarted, then parked, as a poison order would be.
  std::string fault_crash_sku;
  /// Failover's liveness lease (actors/cluster/ownership.hpp): the clock's mono_ms() at the
  /// ownership actor's last tick, 0 while no lease is in force (a single node, failover
  /// off). Peers take a partition only after they have not seen its node for
  /// cluster.failover_after_ms: a node that itself did not run for longer than `lease_ms()`
  /// (frozen, stopped, starved) may have lost its partitions meanwhile, so from the moment
  /// it runs again it answers nothing (`unresponsive_ms`), and its next tick stops it.
  mutable std::atomic<int64_t> alive_mono_ms{0};
  /// The process's own liveness (runtime/lease_ticker.hpp), a thread of its own beside the
  /// actors: the clock's mono_ms at its last tick (0: no ticker runs, as in actor tests),
  /// and the gap it saw when it found the process had not run for longer than the lease
  /// (0: never; once set, for good). The ownership actor's ticks alone cannot tell a frozen
  /// process (its peers may have cut it) from a scheduler that was busy for a while (the
  /// middleman kept the connections alive): a late tick with a fresh process ticker is not a
  /// freeze.
  mutable std::atomic<int64_t> process_alive_mono_ms{0};
  mutable std::atomic<int64_t> process_frozen_ms{0};

  /// Stops the node (first caller wins): memory must never run ahead of the disk.
  void halt(const std::string& why) const {
    if (halted.exchange(true))
      return;
    log->critical("stopping the node: {}", why);
    if (on_fatal)
      on_fatal(why);
  }

  int64_t now_ms() const { return clock->now_ms(); }
  /// How long the lease has lapsed by: 0 while it holds (or none is in force), else the
  /// milliseconds since the last tick, once they are beyond `lease_ms()`.
  int64_t unresponsive_ms() const {
    if (auto frozen = process_frozen_ms.load(std::memory_order_acquire); frozen > 0)
      return frozen;
    auto at = alive_mono_ms.load(std::memory_order_acquire);
    if (at == 0)
      return 0;
    auto now = clock->mono_ms();
    auto gap = now - at;
    if (gap <= lease_ms())
      return 0;
    // The ownership actor is late; if the process ticker ran meanwhile, the process was not
    // frozen (the actors were only busy): not a lapse.
    auto p = process_alive_mono_ms.load(std::memory_order_acquire);
    if (p != 0 && now - p <= lease_ms())
      return 0;
    return gap;
  }
  /// The lease: the shorter of cluster.failover_after_ms and cluster.connection_timeout_ms.
  int64_t lease_ms() const {
    return cfg.cluster_failover_after_ms > 0
             ? std::min(cfg.cluster_failover_after_ms, cfg.cluster_connection_timeout_ms)
             : cfg.cluster_connection_timeout_ms;
  }
  /// Why a node whose lease lapsed answers nothing (and stops).
  std::string unresponsive_reason(int64_t gap_ms) const {
    return "this node did not run for " + std::to_string(gap_ms) + " ms (frozen, stopped or "
           "starved), longer than its lease (" + std::to_string(lease_ms())
           + " ms, cluster.failover_after_ms): its peers may have "
           "taken its partitions over meanwhile, so it answers nothing more and stops; start "
           "it again and it takes its partitions back";
  }
  std::chrono::milliseconds request_timeout() const {
    return std::chrono::milliseconds(cfg.saga_request_timeout_ms);
  }
};

using context_ptr = std::shared_ptr<const runtime_context>;

/// Milliseconds from now until `deadline_ms`, never negative.
inline std::chrono::milliseconds until(const runtime_context& ctx, int64_t deadline_ms) {
  auto d = deadline_ms - ctx.now_ms();
  return std::chrono::milliseconds(d < 0 ? 0 : d);
}

} // namespace saga
