#pragma once
// The one source of time. Deadlines are wall-clock milliseconds (they are persisted and
// must mean the same after a restart); timers are armed through CAF's actor clock.
// `actor_clock_source` derives wall time from CAF's clock, so in deterministic tests
// advancing the test coordinator's clock advances both together.

#include <caf/actor_clock.hpp>
#include <chrono>
#include <cstdint>

namespace saga {

class clock_source {
public:
  virtual ~clock_source() = default;
  virtual int64_t now_ms() const = 0;
  /// Monotonic milliseconds, for measuring how long something took or how long the process
  /// did not run (a freeze): never moved by a wall-clock step.
  virtual int64_t mono_ms() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
  }
};

class wall_clock final : public clock_source {
public:
  int64_t now_ms() const override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
  }
};

class actor_clock_source final : public clock_source {
public:
  actor_clock_source(caf::actor_clock& clk, int64_t epoch_ms)
    : clock_(clk), epoch_ms_(epoch_ms), start_(clk.now()) {}
  int64_t now_ms() const override {
    return epoch_ms_
           + std::chrono::duration_cast<std::chrono::milliseconds>(clock_.now() - start_).count();
  }
  int64_t mono_ms() const override {
    return 1 + std::chrono::duration_cast<std::chrono::milliseconds>(clock_.now() - start_).count();
  }

private:
  caf::actor_clock& clock_;
  int64_t epoch_ms_;
  caf::actor_clock::time_point start_;
};

} // namespace saga
