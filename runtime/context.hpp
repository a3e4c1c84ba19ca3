#pragma once
// What every actor of a node shares, read-only: configuration, the store (thread-safe
// reads; only the writer actor writes) and the clock.

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

  /// Stops the node (first caller wins): memory must never run ahead of the disk.
  void halt(const std::string& why) const {
    if (halted.exchange(true))
      return;
    log->critical("stopping the node: {}", why);
    if (on_fatal)
      on_fatal(why);
  }

  int64_t now_ms() const { return clock->now_ms(); }
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
