#pragma once
// Inside the order owner (order_supervisor.hpp): what its files share. One file per job:
//   order_supervisor.cpp   the actor: its start, its behaviour, which only dispatches
//   owner_rows.cpp         rows of orders in flight, the step and idle indexes, gauges
//   owner_activation.cpp   activation and passivation, routing and held messages
//   owner_restarts.cpp     restarts after a crash, parking, an operator's action
//   owner_waiters.cpp      long-poll waiters and progress reports
//   owner_idempotency.cpp  creation: Idempotency-Keys, admission, new ids
//   owner_recovery.cpp     the start: rows of orders in flight, bounded re-activation
//   owner_inspect.cpp      summary, pages and one order's inspection
// Nothing outside actors/order/ includes this header.

#include <map>
#include <string>
#include <vector>

#include "actors/order/order_codec.hpp"
#include "actors/order/order_store.hpp"
#include "actors/order/order_supervisor.hpp"

namespace saga::owner {

using self_ptr = caf::stateful_actor<order_supervisor_state>*;
using row_iterator = std::map<std::string, order_supervisor_state::order_row>::iterator;

/// The owner once started (order_supervisor.cpp).
caf::behavior running(self_ptr self);

// ---- rows (owner_rows.cpp) ----
void unindex(order_supervisor_state& st, const std::string& id,
             order_supervisor_state::order_row& row);
void index(order_supervisor_state& st, const std::string& id,
           order_supervisor_state::order_row& row);
/// Moves a live order to `step` (entered at `since_ms`): step counts and budget index.
void set_step(order_supervisor_state& st, const std::string& id,
              order_supervisor_state::order_row& row, saga_step step, int64_t since_ms);
/// Keeps `st.idle` true for one row.
void index_idle(order_supervisor_state& st, const std::string& id,
                order_supervisor_state::order_row& row);
/// Moves a node-wide gauge by this owner's change.
void publish(std::atomic<int64_t>& gauge, int64_t& last, int64_t now);
void publish_rows(order_supervisor_state& st);
void publish_restarts(order_supervisor_state& st);
/// Starts tracking an order: a freshly spawned actor, or with an invalid `a` a passive order.
void track(self_ptr self, const std::string& id, const caf::actor& a, saga_step step,
           order_status status, int64_t since_ms);
void untrack(order_supervisor_state& st, row_iterator i);
actor_info row_info(const order_supervisor_state& st, const std::string& id,
                    const order_supervisor_state::order_row& row, int64_t now_ms);
/// Orders over their step's budget right now (O(stuck)).
uint64_t count_stuck(const order_supervisor_state& st, int64_t now_ms);

// ---- activation and passivation (owner_activation.cpp) ----
caf::actor spawn_order(self_ptr self, order_state initial, std::vector<saga_event> history = {},
                       bool lazy = false);
/// Spawns the actor of a stored, non-terminal order and tracks it.
caf::actor resume_order(self_ptr self, order_state s, std::vector<saga_event> history,
                        bool lazy = false);
/// The live actor of an order, or one spawned from its snapshot; invalid when the order is
/// terminal, parked or unknown. Never called for an order in `recovering`.
caf::actor find_or_resume(self_ptr self, const std::string& id);
/// An order's actor let go of it: the row stays, without an actor.
void passivated(self_ptr self, row_iterator i);
/// Period of the passivation sweep.
int64_t sweep_ms(const runtime_context& ctx);
/// The answer to an input for an order without a live actor, from its snapshot.
input_reply answer_from_store(self_ptr self, const std::string& id, saga_input in);
void on_wake(self_ptr self, const std::string& id, int64_t deadline);
void on_wakes_due(self_ptr self, int64_t at);
void on_idle_sweep(self_ptr self);
void on_busy(self_ptr self, const std::string& id);
caf::result<input_reply> on_input(self_ptr self, const std::string& id, saga_input& in);
void on_payment_update(self_ptr self, const std::string& id, payment_status status);
/// A late capture the payment worker refunded: recorded on the order whatever its step (a
/// finished one too), answered once durable; a repeat answers what the order holds.
caf::result<input_reply> on_late_refund(self_ptr self, const std::string& id);
/// An order's command found partition `slot` unserved (its request sent at `sent_ms`, the
/// clock's mono_ms, as `served_at_ms`: a wall-clock step must not order the two): it
/// goes passive and waits there for `served`.
void on_unserved(self_ptr self, const std::string& id, const std::string& slot, int64_t sent_ms);
/// Partition `slot` is served again: the orders waiting for it are re-activated in the
/// background (the recovery's window), each re-sending its step's command.
void on_served(self_ptr self, const std::string& slot);

// ---- restarts and parking (owner_restarts.cpp) ----
/// What a parked order holds: the customer's money and stock.
parked_order parked_row(const order_state& s, std::string reason);
void publish_parked(order_supervisor_state& st);
/// Ends an order's recovery: hands the messages held for it to `a` (or the store's answer).
void release_held(self_ptr self, const std::string& id, const caf::actor& a);
/// Restarts the order from its durable snapshot, or parks it past the restart budget.
void on_crash(self_ptr self, const std::string& id, const caf::error& reason);
caf::result<input_reply> on_admin(self_ptr self, const std::string& id, input_kind kind,
                                  const std::string& note);
/// An order actor ended: let go, finished, or crashed.
void on_order_down(self_ptr self, caf::down_msg& dm);

// ---- waiters (owner_waiters.cpp) ----
caf::result<bool> on_wait(self_ptr self, const std::string& id, order_status wanted,
                          int64_t timeout_ms);
void on_changed(self_ptr self, order_progress& p);
void on_wait_timeout(self_ptr self, const std::string& id, uint64_t token);

// ---- creation (owner_idempotency.cpp) ----
/// Drops the in-memory binding of an order's Idempotency-Key (the store keeps it).
void forget_key(order_supervisor_state& st, const std::string& id);
/// A fresh id in this owner's partition.
std::string new_order_id(self_ptr self);
caf::result<create_reply> on_create(self_ptr self, const std::string& customer_id,
                                    std::vector<order_item>& items,
                                    const std::string& idempotency_key,
                                    const std::string& request_digest);

// ---- start and recovery (owner_recovery.cpp) ----
uint64_t on_start(self_ptr self, directory& dir, std::vector<order_state>& resume,
                  std::vector<order_state>& passive);
void on_recover_batch(self_ptr self);
/// Re-activates passive orders in the background, in the recovery's bounded window.
void recover_later(self_ptr self, const std::vector<std::string>& ids);
/// Publishes the recovery's backlog and window (saga_recovery_pending / _active, /readyz).
void publish_recovery(order_supervisor_state& st);
/// An order re-activated by the recovery settled (or ended): its slot in the window is free.
void recovery_settled(self_ptr self, const std::string& id);

// ---- introspection (owner_inspect.cpp) ----
order_summary on_summary(self_ptr self);
order_page on_list(self_ptr self, const std::string& step, const std::string& cursor,
                   uint64_t limit);
caf::result<order_inspection> on_inspect_order(self_ptr self, const std::string& id);

} // namespace saga::owner
