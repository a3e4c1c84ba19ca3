#pragma once
// Pure helpers of the introspection (no CAF): step budgets of the stuck-saga detector and
// an order's step timeline read back from its events.

#include <cstdint>
#include <vector>

#include "actors/order/saga.hpp"
#include "runtime/config.hpp"

namespace saga {

/// The time budget of `step` (never 0 for a non-terminal step; 0 for terminal ones).
int64_t step_budget_ms(const node_config& cfg, saga_step step);

/// The saga step an order is in right after `type` was recorded. `paid`: a
/// payment_succeeded came before (INVENTORY_RELEASED leads to a refund then); `open`: the
/// payment intent may be undecided (inventory reserved, no verdict yet: a compensated order
/// settles it in refunding_payment); `current`: the step before this event.
saga_step step_after(event_type type, bool paid, bool open, saga_step current);

/// One stretch of an order's saga: the step, when it was entered and left (0: current).
struct step_span {
  saga_step step;
  int64_t entered_ms = 0;
  int64_t left_ms = 0;
};

/// The steps an order went through, from its events (oldest first), consecutive events
/// that keep the step merged.
std::vector<step_span> step_timeline(const std::vector<saga_event>& events);

} // namespace saga
