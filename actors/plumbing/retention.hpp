#pragma once
// Retention: what is kept only for a while is removed when its time is up, so the store
// grows with work in flight and configured retention, not with history. Today: the
// Idempotency-Key records (http.idempotency_retention_ms). The sweeper walks the time index
// (meta idem_t/...) from its oldest entry, at most `max_per_round` per round, and deletes
// an expired key with its index entry in one write. A key reused after it expired, with a
// newer record, is left alone, also when it is re-bound between the sweeper's read and its
// write: the erase is conditional on the record it read (storage::conditional_erase).

#include "actors/inspect/introspection.hpp"
#include "actors/messages.hpp"
#include "runtime/context.hpp"

namespace saga {

struct retention_sweeper_state {
  context_ptr ctx;
  caf::actor writer;
  bool busy = false;
  int64_t inflight_writes = 0;
  actor_probe probe;
  static inline const char* name = "retention_sweeper";
};

caf::behavior retention_sweeper(caf::stateful_actor<retention_sweeper_state>* self,
                                context_ptr ctx, caf::actor writer);

/// One round's deletions (pure on the store's contents; the sweeper writes the batch).
storage::batch expired_idempotency_keys(const storage::store& db, int64_t now_ms,
                                        int64_t retention_ms, size_t max_per_round,
                                        size_t& found);

} // namespace saga
