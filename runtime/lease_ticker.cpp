#include "runtime/lease_ticker.hpp"

#include <chrono>

namespace saga {

bool lease_tick(const runtime_context& ctx, int64_t& last_mono) {
  if (ctx.process_frozen_ms.load(std::memory_order_acquire) > 0)
    return false;
  auto now = ctx.clock->mono_ms();
  auto gap = last_mono == 0 ? 0 : now - last_mono;
  last_mono = now;
  if (gap > ctx.lease_ms()) {
    ctx.process_frozen_ms.store(gap, std::memory_order_release);
    ctx.log->critical("cluster: the process did not run for {} ms, longer than its lease "
                      "({} ms): it answers nothing more", gap, ctx.lease_ms());
    return false;
  }
  ctx.process_alive_mono_ms.store(std::max<int64_t>(1, now), std::memory_order_release);
  return true;
}

bool renew_lease(const runtime_context& ctx, int64_t& last_tick_mono) {
  auto now = ctx.clock->mono_ms();
  auto gap = last_tick_mono == 0 ? 0 : now - last_tick_mono;
  last_tick_mono = now;
  if (auto frozen = ctx.process_frozen_ms.load(std::memory_order_acquire); frozen > 0) {
    ctx.halt("cluster: " + ctx.unresponsive_reason(frozen));
    return false;
  }
  if (gap > ctx.lease_ms()) {
    auto p = ctx.process_alive_mono_ms.load(std::memory_order_acquire);
    if (p == 0 || now - p > ctx.lease_ms()) {
      ctx.halt("cluster: " + ctx.unresponsive_reason(gap));
      return false;
    }
    // Only the actors were late (a busy scheduler): the process ran, its connections were
    // kept alive, so no peer cut it for that.
    ctx.log->warn("cluster: the ownership actor did not run for {} ms (longer than the "
                  "lease, {} ms), but the process did (its ticker ran {} ms ago): the "
                  "actors were busy, the node was not frozen; it goes on",
                  gap, ctx.lease_ms(), now - p);
  }
  ctx.alive_mono_ms.store(std::max<int64_t>(1, now), std::memory_order_release);
  return true;
}

lease_ticker::lease_ticker(context_ptr ctx) : ctx_(std::move(ctx)) {
  auto period = std::chrono::milliseconds(std::max<int64_t>(10, ctx_->lease_ms() / 10));
  thread_ = std::thread([this, period] {
    int64_t last = 0;
    while (!stop_.load(std::memory_order_acquire)) {
      if (!lease_tick(*ctx_, last))
        return; // frozen: the ownership actor stops the node
      std::this_thread::sleep_for(period);
    }
  });
}

lease_ticker::~lease_ticker() {
  stop_.store(true, std::memory_order_release);
  if (thread_.joinable())
    thread_.join();
}

} // namespace saga
