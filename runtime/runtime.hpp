#pragma once
// Wiring of one node's actors: load every kind of state from RocksDB, spawn the writer,
// the inventory and payment pools and the order supervisor, and build the directory.
// Used by `sagad` and by the actor-level tests alike.

#include <array>
#include <vector>

#include "actors/inventory_book.hpp"
#include "actors/messages.hpp"
#include "actors/payment_book.hpp"
#include "runtime/context.hpp"

namespace saga {

struct loaded_state {
  std::vector<order_state> resume; // non-terminal, non-parked orders
  std::vector<inventory_book> inventory;
  std::vector<payment_book> payment;
  size_t orders_total = 0;
  std::array<int64_t, 4> by_status{}; // every stored order, by status
  size_t parked = 0;
};

/// Reads the store and splits inventory and payments into the configured partitions.
loaded_state load_state(const storage::store& db, size_t inventory_workers,
                        size_t payment_workers);

struct runtime_handles {
  directory dir;
  std::vector<order_state> resume;
};

/// Spawns every actor. The caller sends `(start_atom, dir, resume)` to `dir.supervisor`
/// and the node is ready when that is answered.
runtime_handles spawn_runtime(caf::actor_system& sys, context_ptr ctx, loaded_state state,
                              uint64_t seed);

/// Stops every actor of the runtime.
void stop_runtime(const directory& dir);

} // namespace saga
