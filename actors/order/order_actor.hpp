#pragma once
// One actor per order: the single writer of its order's state and event stream. It only
// does: receive -> decide (actors/order/saga.hpp) -> persist snapshot + events in one write ->
// then send the commands. It is spawned and restarted by the order supervisor; a resumed
// actor re-sends the commands of its current step (every receiver is idempotent).

#include "actors/messages.hpp"
#include "runtime/context.hpp"

namespace saga {

/// The saga's timeouts, from the node's configuration (the pure saga does not read it).
inline saga_config saga_config_of(const node_config& c) {
  return saga_config{c.payment_timeout_ms, c.inventory_reservation_ttl_ms, c.saga_auto_complete_ms};
}

struct order_actor_state {
  context_ptr ctx;
  directory dir;
  order_state s;            // latest decided state (durable once inflight_writes == 0)
  std::vector<saga_event> history; // its events so far: stored in the same record as `s`
  int64_t inflight_writes = 0;
  int64_t retries = 0;      // re-sends of commands since the last applied input
  int64_t remote_retries = 0; // re-sends to another node's partition (unbounded: it waits)
  int64_t awaiting = 0;     // requests sent, not answered yet (passivation waits for none)
  /// A command found a partition nobody serves (node_unavailable): the order asked its
  /// owner to let it wait passive (`unserved`); cleared by the next persisted decision.
  bool unserved = false;
  // introspection (actors/inspect/introspection.hpp)
  uint64_t processed = 0;   // messages and replies handled
  int64_t spawned_at_ms = 0;
  int64_t step_since_ms = 0;
  static inline const char* name = "order";
};

/// `initial` is empty for a new order (it then expects `create`) or the snapshot to
/// resume from, with the events recorded so far (`history`).
caf::behavior order_actor(caf::stateful_actor<order_actor_state>* self, context_ptr ctx,
                          directory dir, order_state initial,
                          std::vector<saga_event> history = {});

} // namespace saga
