#pragma once
// The order saga as a pure state machine: no CAF, no I/O, no clock, no randomness.
// The order actor (actors/order/order_actor.cpp) only does: receive -> decide -> persist the
// next state and the events in one RocksDB write -> then send the commands.
//
//   create ──> [reserving_inventory] ──reserved──> [initiating_payment] ──intent created──>
//                                                  [awaiting_payment] (payment_initiated)
//                   │ rejected                       │ succeeded           │ failed / expired
//                   v                                v                     v
//            [releasing_inventory] <──────┐   [awaiting_completion]   [releasing_inventory]
//                   │ released            │          │ complete                │ released
//                   v                     │          v                         v
//               (FAILED)                  │   [committing_inventory]       (FAILED)
//                                         │     │ committed   │ commit rejected
//                                         │     v             v
//                                         │ (COMPLETED)  [releasing_inventory] ─released─>
//                                         └───────────────────  [refunding_payment] ─refunded─> (FAILED)
//
// payment_initiated is recorded only once the payment worker holds the intent, so a client
// that sees PAYMENT_INITIATED can always verify the payment.
// Status (external) stays PENDING until the payment is initiated, PAYMENT_INITIATED until
// the saga ends, then COMPLETED or FAILED. The step is the internal position.

#include <cstdint>
#include <string>
#include <vector>

namespace saga {

enum class order_status : uint8_t { pending, payment_initiated, completed, failed };

enum class saga_step : uint8_t {
  reserving_inventory,
  initiating_payment,
  awaiting_payment,
  awaiting_completion,
  committing_inventory,
  releasing_inventory,
  refunding_payment,
  completed,
  failed,
};

enum class failure_reason : uint8_t {
  none,
  inventory_reservation_failed,
  payment_failed,
  payment_expired,
  inventory_commit_failed,
  cancelled,
};

enum class payment_status : uint8_t { none, pending, succeeded, failed, expired, refunded };

/// The seed's event names (each is also a Kafka topic), plus payment_refunded.
enum class event_type : uint8_t {
  ordercreated,
  inventory_reserved,
  inventory_reservation_failed,
  payment_initiated,
  payment_succeeded,
  payment_failed,
  order_completed,
  inventory_committed,
  inventory_commit_failed,
  order_cancelled,
  inventory_released,
  payment_refunded,
  order_admin_action, // an operator's retry or compensate of a parked order (data: action)
};

const char* to_string(order_status x);
const char* to_string(saga_step x);
const char* to_string(failure_reason x);
const char* to_string(payment_status x);
const char* to_string(event_type x);
/// Parsers return false on an unknown name (used when reading snapshots back).
bool from_string(const std::string& s, order_status& x);
bool from_string(const std::string& s, saga_step& x);
bool from_string(const std::string& s, failure_reason& x);
bool from_string(const std::string& s, payment_status& x);
bool from_string(const std::string& s, event_type& x);

struct order_item {
  std::string sku;
  int64_t quantity = 0;
  int64_t unit_price_cents = 0;
};

/// One recorded saga event. `seq` is the order's own gapless sequence starting at 1.
struct saga_event {
  std::string order_id;
  uint64_t seq = 0;
  event_type type = event_type::ordercreated;
  int64_t ts_ms = 0;
  std::string source; // "order", "inventory", "payment"
  std::string data;   // compact JSON object with event details
};

/// The order's durable snapshot.
struct order_state {
  std::string order_id;
  std::string customer_id;
  std::vector<order_item> items;
  int64_t selling_price_cents = 0;
  order_status status = order_status::pending;
  saga_step step = saga_step::reserving_inventory;
  failure_reason reason = failure_reason::none;
  uint64_t seq = 0; // seq of the last recorded event
  std::string payment_id;
  payment_status payment = payment_status::none;
  int64_t payment_expires_at_ms = 0;
  /// Durable timer of the order itself: when the payment succeeded but nobody asked to
  /// complete the order, the saga completes it at this time (0 = no timer pending).
  int64_t complete_deadline_ms = 0;
  int64_t created_at_ms = 0;
  int64_t updated_at_ms = 0;
};

bool is_terminal(saga_step s);
/// Steps in which the saga waits for something outside (a payment verdict, a completion
/// request or its deadline) with no command of its own under way: an idle order in one of
/// them can be passive (no actor) until the next message for it.
inline bool waits_outside(saga_step s) {
  return s == saga_step::awaiting_payment || s == saga_step::awaiting_completion;
}

/// Inputs the saga reacts to. Every input carries the time it was observed at.
enum class input_kind : uint8_t {
  inventory_reserved,
  inventory_reservation_rejected,
  payment_intent_created,
  payment_succeeded,
  payment_failed,
  payment_expired,
  complete_requested,
  complete_timer_fired,
  inventory_committed,
  inventory_commit_rejected,
  inventory_released,
  payment_refunded,
  admin_retry,      // operator: resume a parked order from its snapshot (re-send its step)
  admin_compensate, // operator: give up on the order: release, refund if paid, FAILED
};
constexpr int input_kind_count = 14;
const char* to_string(input_kind x);

struct saga_input {
  input_kind kind = input_kind::inventory_reserved;
  int64_t now_ms = 0;
  std::string detail; // e.g. why a reservation or commit was rejected
};

enum class command_kind : uint8_t {
  reserve_inventory,
  release_inventory,
  create_payment_intent,
  commit_inventory,
  refund_payment,
  arm_complete_timer,
  cancel_payment, // settle an intent a compensated order may have left pending
};
const char* to_string(command_kind x);

struct saga_command {
  command_kind kind = command_kind::reserve_inventory;
  int64_t deadline_ms = 0; // create_payment_intent: expires_at; arm_complete_timer: when
};

struct saga_config {
  int64_t payment_timeout_ms = 30000;
  int64_t reservation_ttl_ms = 60000;
  int64_t auto_complete_ms = 10000;
};

enum class outcome : uint8_t {
  applied,   // state changed; persist `next` + `events`, then send `commands`
  duplicate, // already handled (idempotent repeat); nothing changes
  rejected,  // not valid in this step (out of order or contradicting); nothing changes
};

struct decision {
  outcome result = outcome::rejected;
  order_state next;
  std::vector<saga_event> events;
  std::vector<saga_command> commands;
  std::string why; // for duplicate/rejected: a human-readable reason
};

/// Creates a new order: its first state, the `ordercreated` event and the reserve command.
decision create_order(const saga_config& cfg, std::string order_id, std::string customer_id,
                      std::vector<order_item> items, int64_t now_ms);

/// The saga's transition function.
decision decide(const saga_config& cfg, const order_state& state, const saga_input& in);

/// Commands to re-send when an order actor resumes from a snapshot (after a restart or a
/// crash): the commands of the step it is in. Every receiver is idempotent per order.
std::vector<saga_command> resume_commands(const order_state& state);

} // namespace saga
