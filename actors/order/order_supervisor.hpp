#pragma once
// The order supervisor, one per order partition (saga.partitions): the partition's owner.
// It keeps a row per order in flight of its partition and an actor for each active one.
// It activates an order (spawns its actor from the durable snapshot) when a message for it
// arrives, lets an order that waits idle outside go passive (no actor), monitors the
// actors, and restarts one from its last durable snapshot when it dies abnormally — at
// most `saga.max_restarts` times within `saga.restart_window_ms`; past that the order is
// parked with a reason (stored, visible in GET, never lost). It is also the directory
// entry for orders: every message to an order goes through it, so nothing else holds
// order actor handles. New orders get ids in its partition.

#include <array>
#include <deque>
#include <functional>
#include <map>
#include <random>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "actors/plumbing/deadline_index.hpp"
#include "actors/order/idempotency.hpp"
#include "actors/inspect/introspection.hpp"
#include "actors/messages.hpp"
#include "runtime/context.hpp"

namespace saga {

struct order_supervisor_state {
  context_ptr ctx;
  directory dir;
  size_t partition = 0; // the order partition it owns
  /// This owner's share of the node-wide gauges (each owner adds its changes).
  struct shares {
    int64_t live = 0, passive = 0, parked = 0, parked_money = 0, parked_stock = 0,
            restart_entries = 0, stuck = 0, recovery_pending = 0, recovery_active = 0;
  } published;
  /// One row per order in flight, ordered by id (GET /inspect/actors pages through it).
  /// An active order has an actor; a passive one (waiting for its payment or completion,
  /// idle for saga.passivate_after_ms, or loaded so at start) has none until the next
  /// message for it activates it from its durable snapshot.
  struct order_row {
    caf::actor handle;     // invalid: passive
    bool passivating = false; // asked to passivate; messages for it are held meanwhile
    int64_t wake_ms = 0;   // its auto-complete deadline, in `wakes` (0: none)
    int64_t idle_key = -1; // key in `idle` (step_since_ms), -1: not in it
    saga_step step = saga_step::reserving_inventory;
    order_status status = order_status::pending; // durable status (long-poll waiters)
    int64_t step_since_ms = 0;
    int64_t spawned_at_ms = 0;
    int64_t deadline_ms = 0; // step_since_ms + the step's budget (0: not indexed)
    uint64_t processed = 0;  // as last reported by the order actor
    int64_t mailbox = 0;
    uint64_t restarts = 0;
    std::string waits_on; // passive for a partition nobody serves ("inventory/3"), in `unserved`
  };
  std::map<std::string, order_row> live;
  /// Stuck-saga detector: (deadline, order id) of every live order.
  std::set<std::pair<int64_t, std::string>> deadlines;
  /// Live-stream subscribers (GET /inspect/stream): they get every order_progress.
  std::vector<caf::actor> subscribers;
  std::array<uint64_t, 9> by_step{}; // live orders per saga_step
  actor_probe probe;
  std::unordered_map<caf::actor_addr, std::string> ids;
  std::unordered_map<std::string, std::deque<int64_t>> restarts; // restart times per order
  /// Orders whose actor died and whose last writes may still be queued at the writer. Until
  /// a writer barrier (or the parking write) is answered, the store may hold a snapshot
  /// older than what the dead actor decided: nothing resumes the order from it. Messages for
  /// it wait here and are handed on with the resumed actor (or none: finished, parked).
  using held_message = std::function<void(const caf::actor&)>;
  std::unordered_map<std::string, std::vector<held_message>> recovering;
  /// Active orders in a waiting step, by when they entered it: the passivation sweep (one
  /// timer) asks those idle for saga.passivate_after_ms to let go.
  std::set<std::pair<int64_t, std::string>> idle;
  /// Orders' auto-complete deadlines, active or passive: one timer for all of them (no CAF
  /// timer per order).
  deadline_index wakes;
  /// Orders that were mid-step at start, waiting for their turn to be re-activated.
  std::deque<std::string> to_recover;
  /// Those re-activated and not settled yet (waiting outside, finished, passive, crashed):
  /// at most this owner's share of saga.recovery_batch at once, refilled as they settle,
  /// so a large recovery never queues more commands than the pools answer in time.
  std::unordered_set<std::string> recovery_active;
  bool recover_scheduled = false;
  /// Orders waiting passive for a partition nobody serves (their command was answered
  /// node_unavailable), by partition ("inventory/3"): re-activated when the ownership actor
  /// says it is served again (`served`), not re-sending meanwhile. And when each partition
  /// was last said served: an order whose failed request was sent before that stays live
  /// (its re-send finds the new holder).
  std::unordered_map<std::string, std::set<std::string>> unserved;
  std::unordered_map<std::string, int64_t> served_at_ms;
  size_t passive = 0; // rows without an actor
  /// Idempotency keys of orders whose actor is alive (older ones are read from the store).
  /// Keys are scoped by customer (the gateway's scoped_idempotency_key); each is bound to
  /// the digest of the request that created its order.
  std::unordered_map<std::string, idempotency_record> key_to_order;
  std::unordered_map<std::string, std::string> order_to_key;
  /// Long-poll waiters per order: told `true` when the order reaches the wanted status or
  /// a terminal one (the order actor reports status changes after they are durable), or
  /// `false` at their time-out. The caller reads the order itself (not the supervisor).
  struct waiter {
    order_status wanted;
    caf::response_promise rp;
    uint64_t token;
  };
  std::unordered_map<std::string, std::vector<waiter>> waiters;
  uint64_t next_waiter = 0;
  std::mt19937_64 rng;
  /// Parked orders (loaded at start, added when an order is parked, removed once an
  /// operator's retry or compensate is durable): what /admin/parked and the gauges show.
  std::map<std::string, parked_order> parked;
  uint64_t restarted_total = 0;
  uint64_t parked_total = 0;
  static inline const char* name = "order_supervisor";
};

/// Starts idle; `(start_atom, directory, resume, passive)` hands it the directory and the
/// orders in flight: those mid-step are re-activated in the background, the waiting ones
/// stay passive. It answers at once with how many orders are in flight.
caf::behavior order_supervisor(caf::stateful_actor<order_supervisor_state>* self,
                               context_ptr ctx, uint64_t seed, size_t partition = 0);


} // namespace saga
