#include "actors/order/saga.hpp"

#include <nlohmann/json.hpp>

namespace saga {

namespace {

template <class Enum, size_t N>
bool parse_enum(const std::string& s, Enum& x, const char* (&names)[N]) {
  for (size_t i = 0; i < N; ++i)
    if (s == names[i]) {
      x = static_cast<Enum>(i);
      return true;
    }
  return false;
}

const char* status_names[] = {"PENDING", "PAYMENT_INITIATED", "COMPLETED", "FAILED"};
const char* step_names[] = {"reserving_inventory", "initiating_payment", "awaiting_payment",
                            "awaiting_completion", "committing_inventory",
                            "releasing_inventory", "refunding_payment",
                            "completed",           "failed"};
const char* reason_names[] = {"",
                              "inventory_reservation_failed",
                              "payment_failed",
                              "payment_expired",
                              "inventory_commit_failed",
                              "cancelled"};
const char* payment_names[] = {"NONE", "PENDING", "SUCCEEDED", "FAILED", "EXPIRED", "REFUNDED"};
const char* event_names[] = {"ordercreated",
                             "inventory_reserved",
                             "inventory_reservation_failed",
                             "payment_initiated",
                             "payment_succeeded",
                             "payment_failed",
                             "order_completed",
                             "inventory_committed",
                             "inventory_commit_failed",
                             "order_cancelled",
                             "inventory_released",
                             "payment_refunded",
                             "order_admin_action"};
const char* input_names[] = {"inventory_reserved",  "inventory_reservation_rejected",
                             "payment_intent_created",
                             "payment_succeeded",   "payment_failed",
                             "payment_expired",     "complete_requested",
                             "complete_timer_fired", "inventory_committed",
                             "inventory_commit_rejected", "inventory_released",
                             "payment_refunded",    "admin_retry",
                             "admin_compensate"};
const char* command_names[] = {"reserve_inventory",     "release_inventory",
                               "create_payment_intent", "commit_inventory",
                               "refund_payment",        "arm_complete_timer",
                               "cancel_payment"};

/// Appends an event with the next seq to the decision.
void emit(decision& d, event_type type, int64_t now_ms, const char* source,
          nlohmann::json data = nlohmann::json::object()) {
  saga_event ev;
  ev.order_id = d.next.order_id;
  ev.seq = ++d.next.seq;
  ev.type = type;
  ev.ts_ms = now_ms;
  ev.source = source;
  ev.data = data.dump();
  d.events.push_back(std::move(ev));
}

void command(decision& d, command_kind kind, int64_t deadline_ms = 0) {
  d.commands.push_back(saga_command{kind, deadline_ms});
}

/// An operator's compensate in initiating_payment or awaiting_payment leaves an intent
/// that may exist at the payment worker, undecided (or decided there and not yet told).
/// Such an order settles it before it fails: the worker cancels a pending intent (a late
/// verdict then gets 409, as after an expiry) or reports the success, which is refunded.
bool payment_unsettled(const order_state& s) {
  return !s.payment_id.empty()
         && (s.payment == payment_status::none || s.payment == payment_status::pending);
}

/// Starts the compensation: cancel the order and release its reservation.
void cancel(decision& d, failure_reason reason, int64_t now_ms) {
  d.next.reason = reason;
  d.next.step = saga_step::releasing_inventory;
  d.next.complete_deadline_ms = 0;
  emit(d, event_type::order_cancelled, now_ms, "order",
       {{"reason", to_string(reason)}});
  command(d, command_kind::release_inventory);
}

/// True when `kind` repeats something the state already accounts for, so it is a
/// harmless duplicate (a retry, a re-sent reply after a restart) and not a new fact.
bool already_accounted(const order_state& s, input_kind kind) {
  switch (kind) {
    case input_kind::inventory_reserved:
      return s.step != saga_step::reserving_inventory
             && s.reason != failure_reason::inventory_reservation_failed;
    case input_kind::inventory_reservation_rejected:
      return s.reason == failure_reason::inventory_reservation_failed;
    case input_kind::payment_intent_created:
      return s.step != saga_step::reserving_inventory && s.step != saga_step::initiating_payment
             && s.payment != payment_status::none;
    case input_kind::payment_succeeded:
      return s.payment == payment_status::succeeded || s.payment == payment_status::refunded;
    case input_kind::payment_failed:
      return s.payment == payment_status::failed;
    case input_kind::payment_expired:
      return s.payment == payment_status::expired
             // an expiry timer racing a success that already happened is harmless
             || s.payment == payment_status::succeeded || s.payment == payment_status::refunded;
    case input_kind::complete_requested:
    case input_kind::complete_timer_fired:
      return s.step == saga_step::committing_inventory || s.step == saga_step::completed;
    case input_kind::inventory_committed:
      return s.step == saga_step::completed;
    case input_kind::inventory_commit_rejected:
      return s.reason == failure_reason::inventory_commit_failed
             && s.step != saga_step::committing_inventory;
    case input_kind::inventory_released:
      return s.step == saga_step::refunding_payment || s.step == saga_step::failed;
    case input_kind::payment_refunded:
      return s.payment == payment_status::refunded;
    case input_kind::admin_retry:
    case input_kind::admin_compensate:
      return false; // only a finished order refuses them (rejected)
  }
  return false;
}

/// A late capture, refunded by the payment worker (payment_book::verify): the provider took
/// the money after the intent expired or after the order was compensated. The order records
/// it, whatever step it is in (a failed order too): the verdict it missed if it still
/// waited for one, then the success and its refund (both marked `late`), so its history and
/// Kafka say where the money went. A pending compensation goes on; a refunding step whose
/// cancel raced the capture is done.
void late_refund(decision& d, const saga_input& in) {
  auto& n = d.next;
  if (n.step == saga_step::initiating_payment) { // the intent exists: the worker refunded it
    n.status = order_status::payment_initiated;
    emit(d, event_type::payment_initiated, in.now_ms, "order",
         {{"payment_id", n.payment_id},
          {"amount_cents", n.selling_price_cents},
          {"expires_at_ms", n.payment_expires_at_ms}});
  }
  if (n.step == saga_step::initiating_payment || n.step == saga_step::awaiting_payment) {
    emit(d, event_type::payment_failed, in.now_ms, "payment",
         {{"payment_id", n.payment_id}, {"reason", "expired"}});
    cancel(d, failure_reason::payment_expired, in.now_ms);
  }
  emit(d, event_type::payment_succeeded, in.now_ms, "payment",
       {{"payment_id", n.payment_id}, {"late", true}});
  emit(d, event_type::payment_refunded, in.now_ms, "payment",
       {{"payment_id", n.payment_id}, {"amount_cents", n.selling_price_cents}, {"late", true}});
  n.payment = payment_status::refunded;
  if (n.step == saga_step::refunding_payment) {
    n.step = saga_step::failed;
    n.status = order_status::failed;
  }
}

/// An operator's action on an order (spec: parked orders are operable). Recorded as an
/// order_admin_action event with the action and the step it was taken in, in the same
/// write as its effect. Retry re-sends the step's commands; compensate cancels (release,
/// then refund when paid, then FAILED), or re-sends the compensation already under way.
void admin(decision& d, const order_state& state, const saga_input& in) {
  bool retry = in.kind == input_kind::admin_retry;
  nlohmann::json data = {{"action", retry ? "retry" : "compensate"},
                         {"step", to_string(state.step)}};
  if (!in.detail.empty())
    data["note"] = in.detail;
  emit(d, event_type::order_admin_action, in.now_ms, "admin", data);
  bool compensating = state.step == saga_step::releasing_inventory
                      || state.step == saga_step::refunding_payment;
  if (retry || compensating) {
    d.commands = resume_commands(state);
    return;
  }
  cancel(d, failure_reason::cancelled, in.now_ms);
}

} // namespace

const char* to_string(order_status x) { return status_names[static_cast<int>(x)]; }
const char* to_string(saga_step x) { return step_names[static_cast<int>(x)]; }
const char* to_string(failure_reason x) { return reason_names[static_cast<int>(x)]; }
const char* to_string(payment_status x) { return payment_names[static_cast<int>(x)]; }
const char* to_string(event_type x) { return event_names[static_cast<int>(x)]; }
const char* to_string(input_kind x) { return input_names[static_cast<int>(x)]; }
const char* to_string(command_kind x) { return command_names[static_cast<int>(x)]; }
bool from_string(const std::string& s, order_status& x) { return parse_enum(s, x, status_names); }
bool from_string(const std::string& s, saga_step& x) { return parse_enum(s, x, step_names); }
bool from_string(const std::string& s, failure_reason& x) { return parse_enum(s, x, reason_names); }
bool from_string(const std::string& s, payment_status& x) { return parse_enum(s, x, payment_names); }
bool from_string(const std::string& s, event_type& x) { return parse_enum(s, x, event_names); }

bool is_terminal(saga_step s) {
  switch (s) {
    case saga_step::completed:
    case saga_step::failed:
      return true;
    case saga_step::reserving_inventory:
    case saga_step::initiating_payment:
    case saga_step::awaiting_payment:
    case saga_step::awaiting_completion:
    case saga_step::committing_inventory:
    case saga_step::releasing_inventory:
    case saga_step::refunding_payment:
      return false;
  }
  return false;
}

decision create_order(const saga_config&, std::string order_id, std::string customer_id,
                      std::vector<order_item> items, int64_t now_ms) {
  decision d;
  d.result = outcome::applied;
  auto& s = d.next;
  s.order_id = std::move(order_id);
  s.customer_id = std::move(customer_id);
  s.items = std::move(items);
  for (auto& item : s.items)
    s.selling_price_cents += item.quantity * item.unit_price_cents;
  s.created_at_ms = now_ms;
  s.updated_at_ms = now_ms;
  nlohmann::json items_json = nlohmann::json::array();
  for (auto& item : s.items)
    items_json.push_back({{"sku", item.sku},
                          {"quantity", item.quantity},
                          {"unit_price_cents", item.unit_price_cents}});
  emit(d, event_type::ordercreated, now_ms, "order",
       {{"customer_id", s.customer_id},
        {"items", items_json},
        {"selling_price_cents", s.selling_price_cents}});
  command(d, command_kind::reserve_inventory);
  return d;
}

decision decide(const saga_config& cfg, const order_state& state, const saga_input& in) {
  decision d;
  d.next = state;
  d.result = outcome::applied;
  auto& n = d.next;
  const auto k = in.kind;
  if ((k == input_kind::admin_retry || k == input_kind::admin_compensate) && !is_terminal(state.step)) {
    admin(d, state, in);
    n.updated_at_ms = in.now_ms;
    return d;
  }
  // A refund the order did not ask for (it was not charged as far as it knows): a late
  // capture the payment worker refunded.
  if (k == input_kind::payment_refunded && !state.payment_id.empty()
      && state.payment != payment_status::succeeded && state.payment != payment_status::refunded
      && state.step != saga_step::completed) {
    late_refund(d, in);
    n.updated_at_ms = in.now_ms;
    return d;
  }
  switch (state.step) {
    case saga_step::reserving_inventory:
      if (k == input_kind::inventory_reserved) {
        emit(d, event_type::inventory_reserved, in.now_ms, "inventory");
        // The intent's id and deadline are fixed now, so re-sent creations are identical.
        n.step = saga_step::initiating_payment;
        n.payment_id = "pay_" + n.order_id;
        n.payment_expires_at_ms = in.now_ms + cfg.payment_timeout_ms;
        command(d, command_kind::create_payment_intent, n.payment_expires_at_ms);
      } else if (k == input_kind::inventory_reservation_rejected) {
        emit(d, event_type::inventory_reservation_failed, in.now_ms, "inventory",
             {{"reason", in.detail}});
        cancel(d, failure_reason::inventory_reservation_failed, in.now_ms);
      }
      break;
    case saga_step::initiating_payment:
      if (k == input_kind::payment_intent_created) {
        n.step = saga_step::awaiting_payment;
        n.status = order_status::payment_initiated;
        n.payment = payment_status::pending;
        emit(d, event_type::payment_initiated, in.now_ms, "order",
             {{"payment_id", n.payment_id},
              {"amount_cents", n.selling_price_cents},
              {"expires_at_ms", n.payment_expires_at_ms}});
      }
      break;
    case saga_step::awaiting_payment:
      if (k == input_kind::payment_succeeded) {
        emit(d, event_type::payment_succeeded, in.now_ms, "payment",
             {{"payment_id", n.payment_id}});
        n.step = saga_step::awaiting_completion;
        n.payment = payment_status::succeeded;
        n.complete_deadline_ms = in.now_ms + cfg.auto_complete_ms;
        command(d, command_kind::arm_complete_timer, n.complete_deadline_ms);
      } else if (k == input_kind::payment_failed || k == input_kind::payment_expired) {
        bool expired = k == input_kind::payment_expired;
        emit(d, event_type::payment_failed, in.now_ms, "payment",
             {{"payment_id", n.payment_id}, {"reason", expired ? "expired" : "declined"}});
        n.payment = expired ? payment_status::expired : payment_status::failed;
        cancel(d, expired ? failure_reason::payment_expired : failure_reason::payment_failed,
               in.now_ms);
      }
      break;
    case saga_step::awaiting_completion:
      if (k == input_kind::complete_requested || k == input_kind::complete_timer_fired) {
        emit(d, event_type::order_completed, in.now_ms, "order",
             {{"trigger", k == input_kind::complete_requested ? "request" : "timer"}});
        n.step = saga_step::committing_inventory;
        n.complete_deadline_ms = 0;
        command(d, command_kind::commit_inventory);
      }
      break;
    case saga_step::committing_inventory:
      if (k == input_kind::inventory_committed) {
        emit(d, event_type::inventory_committed, in.now_ms, "inventory");
        n.step = saga_step::completed;
        n.status = order_status::completed;
      } else if (k == input_kind::inventory_commit_rejected) {
        emit(d, event_type::inventory_commit_failed, in.now_ms, "inventory",
             {{"reason", in.detail}});
        cancel(d, failure_reason::inventory_commit_failed, in.now_ms);
      }
      break;
    case saga_step::releasing_inventory:
      if (k == input_kind::inventory_released) {
        emit(d, event_type::inventory_released, in.now_ms, "inventory");
        if (n.payment == payment_status::succeeded) {
          // The customer was charged but gets nothing: refund before failing.
          n.step = saga_step::refunding_payment;
          command(d, command_kind::refund_payment);
        } else if (payment_unsettled(n)) {
          // Compensated while its payment was open: settle it (cancel, or refund a
          // success) before failing. The refunding step does both.
          n.step = saga_step::refunding_payment;
          command(d, command_kind::cancel_payment);
        } else {
          n.step = saga_step::failed;
          n.status = order_status::failed;
        }
      }
      break;
    case saga_step::refunding_payment:
      if (payment_unsettled(n)) {
        // The worker's answer to cancel_payment (or a verdict that raced it).
        if (k == input_kind::payment_succeeded) {
          emit(d, event_type::payment_succeeded, in.now_ms, "payment",
               {{"payment_id", n.payment_id}});
          n.payment = payment_status::succeeded;
          command(d, command_kind::refund_payment); // charged for a cancelled order
        } else if (k == input_kind::payment_failed || k == input_kind::payment_expired) {
          bool expired = k == input_kind::payment_expired;
          emit(d, event_type::payment_failed, in.now_ms, "payment",
               {{"payment_id", n.payment_id},
                {"reason", expired ? "expired" : in.detail == "cancelled" ? "cancelled" : "declined"}});
          n.payment = expired ? payment_status::expired : payment_status::failed;
          n.step = saga_step::failed;
          n.status = order_status::failed;
        }
      } else if (k == input_kind::payment_refunded && n.payment == payment_status::succeeded) {
        emit(d, event_type::payment_refunded, in.now_ms, "payment",
             {{"payment_id", n.payment_id}, {"amount_cents", n.selling_price_cents}});
        n.payment = payment_status::refunded;
        n.step = saga_step::failed;
        n.status = order_status::failed;
      }
      break;
    case saga_step::completed:
    case saga_step::failed:
      break;
  }
  if (!d.events.empty()) {
    n.updated_at_ms = in.now_ms;
    return d;
  }
  // Not a transition of this step: a harmless repeat, or a rejected input.
  d.next = state;
  d.commands.clear();
  if (already_accounted(state, k)) {
    d.result = outcome::duplicate;
    d.why = std::string("duplicate ") + to_string(k) + " in step " + to_string(state.step);
  } else {
    d.result = outcome::rejected;
    d.why = std::string("unexpected ") + to_string(k) + " in step " + to_string(state.step);
  }
  return d;
}

std::vector<saga_command> resume_commands(const order_state& s) {
  switch (s.step) {
    case saga_step::reserving_inventory:
      return {{command_kind::reserve_inventory, 0}};
    case saga_step::initiating_payment:
    case saga_step::awaiting_payment:
      return {{command_kind::create_payment_intent, s.payment_expires_at_ms}};
    case saga_step::awaiting_completion:
      return {{command_kind::arm_complete_timer, s.complete_deadline_ms}};
    case saga_step::committing_inventory:
      return {{command_kind::commit_inventory, 0}};
    case saga_step::releasing_inventory:
      return {{command_kind::release_inventory, 0}};
    case saga_step::refunding_payment:
      if (payment_unsettled(s))
        return {{command_kind::cancel_payment, 0}};
      return {{command_kind::refund_payment, 0}};
    case saga_step::completed:
    case saga_step::failed:
      return {};
  }
  return {};
}

} // namespace saga
