#pragma once
// Named kill points for the fault suite (tests/fault/). In a build with SAGA_FAULT_POINTS
// (CMake option, on with BUILD_TESTING) the environment variable
//   SAGA_FAULT_KILL_POINT=<point>[@<saga step>][:<n>]
// kills the process with SIGKILL at the n-th time (default 1) that an order actor reaches
// <point> while entering <saga step> (any step when omitted). Points, in a step's order:
//   before_persist  the step is decided, nothing is written yet
//   after_persist   the step is durable, its commands are not sent yet
//   after_send      the commands are sent, the caller is not answered yet
// Without SAGA_FAULT_POINTS, or without the variable, `kill_point` does nothing and costs
// one branch. The process also reads SAGA_FAULT_CLOCK_OFFSET_MS (a clock that is wrong
// from the start) and, on SIGUSR2, jumps its clock forward by SAGA_FAULT_CLOCK_JUMP_MS
// (default 60000), and back by as much on the next SIGUSR2: see `skewed_clock`.

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "runtime/clock.hpp"

namespace saga::fault {

/// Reads SAGA_FAULT_KILL_POINT once (sagad's main, before any actor runs). Returns a
/// description for the log, or an empty string when no point is armed. Throws
/// std::invalid_argument for a malformed value or an unknown point, so a typo in a test
/// never silently tests nothing.
std::string arm_from_env();

/// Kills the process when the armed point, step and count match.
void kill_point(const char* point, const char* step);

/// True when this build has the fault points compiled in.
bool compiled_in();

/// A wall clock with an offset that a test can move while the process runs (SIGUSR2).
class skewed_clock final : public clock_source {
public:
  explicit skewed_clock(int64_t offset_ms) : offset_ms_(offset_ms) {}
  int64_t now_ms() const override { return base_.now_ms() + offset_ms_.load(std::memory_order_relaxed); }
  void jump(int64_t ms) { offset_ms_.fetch_add(ms, std::memory_order_relaxed); }
  int64_t offset_ms() const { return offset_ms_.load(std::memory_order_relaxed); }

private:
  wall_clock base_;
  std::atomic<int64_t> offset_ms_;
};

} // namespace saga::fault
