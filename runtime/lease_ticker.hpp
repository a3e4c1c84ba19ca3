#pragma once
// Failover's lease (runtime/context.hpp): renew_lease, the ownership actor's check, and the
// process's liveness beside the actors, a thread of its own that ticks every lease / 10 (at
// least 10 ms) and records the clock's mono_ms in `process_alive_mono_ms`. When it finds
// that it did not run for longer than the lease (SIGSTOP, a VM pause, the whole process
// starved), it records that gap in `process_frozen_ms` for good and renews nothing more:
// from then on the gateway answers 503 and the ownership actor's next tick stops the node,
// as before. A scheduler that was only busy (the ownership actor's tick late, this thread
// on time) is no longer taken for a freeze. A thread, not an actor: it must run when the
// scheduler's workers do not.

#include <atomic>
#include <thread>

#include "runtime/context.hpp"

namespace saga {

/// One tick: renews the process's liveness, or records the freeze (returns false then).
bool lease_tick(const runtime_context& ctx, int64_t& last_mono);

/// The ownership actor's tick (actors/cluster/ownership.hpp), `last_tick_mono` the previous
/// one's mono_ms. Peers cut a node they have not heard from (cluster.connection_timeout_ms)
/// and take its partitions failover_after_ms after that. A node whose process did not run
/// for longer than the lease (SIGSTOP, a VM pause, starvation) may have lost them, and its
/// store may be stale: it stops (ctx.halt; false), rather than answer reads from it until
/// its first commit is fenced. The gateway answers 503 from the moment the process runs
/// again (it sees the lapsed lease before this tick comes). A late tick while the ticker
/// ran is only logged. Otherwise renews `alive_mono_ms`.
bool renew_lease(const runtime_context& ctx, int64_t& last_tick_mono);

class lease_ticker {
public:
  explicit lease_ticker(context_ptr ctx);
  ~lease_ticker(); // stops and joins
  lease_ticker(const lease_ticker&) = delete;
  lease_ticker& operator=(const lease_ticker&) = delete;

private:
  context_ptr ctx_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

} // namespace saga
