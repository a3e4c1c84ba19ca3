#pragma once
// An inventory worker: the single owner of one hash partition of SKUs (see
// directory::inventory_partition). Reserve / commit / release are idempotent per order.
// Every change is durable before it is answered; reservation expiry is a durable timer
// (the deadline is an entry of the store's deadline index, written with the reservation,
// read back when the worker starts; the reservation itself is read when it is needed).

#include <unordered_map>

#include "actors/plumbing/deadline_index.hpp"
#include "actors/inventory/inventory_book.hpp"
#include "actors/inspect/introspection.hpp"
#include "actors/messages.hpp"
#include "runtime/context.hpp"

namespace saga {

struct inventory_worker_state {
  context_ptr ctx;
  caf::actor writer;
  size_t partition = 0;
  inventory_book book;
  int64_t inflight_writes = 0;
  /// Writes of each order's reservation queued at the writer and not yet durable: it
  /// leaves memory only when none is (payment_worker.hpp, the same rule).
  std::unordered_map<std::string, int> writing;
  deadline_index deadlines; // reservation TTLs behind one timer (actors/plumbing/deadline_index.hpp)
  int64_t counted = 0; // reservations in memory as last published to the metrics
  actor_probe probe;
  static inline const char* name = "inventory_worker";
  ~inventory_worker_state() {
    if (ctx)
      ctx->stats->reservations_in_memory -= counted; // a restarted worker counts afresh
  }
};

caf::behavior inventory_worker(caf::stateful_actor<inventory_worker_state>* self,
                               context_ptr ctx, caf::actor writer, size_t partition,
                               inventory_book book, due_list due = {});

} // namespace saga
