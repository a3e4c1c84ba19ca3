#include "actors/inspect/timeline.hpp"

namespace saga {

int64_t step_budget_ms(const node_config& cfg, saga_step step) {
  constexpr int64_t active_default_ms = 5000;
  auto configured = [&](size_t i, int64_t derived) {
    return cfg.inspect_budget_ms[i] > 0 ? cfg.inspect_budget_ms[i] : derived;
  };
  switch (step) {
    case saga_step::reserving_inventory: return configured(0, active_default_ms);
    case saga_step::initiating_payment: return configured(1, active_default_ms);
    case saga_step::awaiting_payment:
      return configured(2, cfg.payment_timeout_ms + active_default_ms);
    case saga_step::awaiting_completion:
      return configured(3, cfg.saga_auto_complete_ms + active_default_ms);
    case saga_step::committing_inventory: return configured(4, active_default_ms);
    case saga_step::releasing_inventory: return configured(5, active_default_ms);
    case saga_step::refunding_payment: return configured(6, active_default_ms);
    case saga_step::completed:
    case saga_step::failed: return 0;
  }
  return 0;
}

saga_step step_after(event_type type, bool paid, bool open, saga_step current) {
  // Mirrors decide() in actors/order/saga.cpp (checked against it in the unit tests).
  // A compensated order settles an open payment in refunding_payment: there a success is
  // refunded (the step stays) and a failure or cancellation ends it.
  bool settling = current == saga_step::refunding_payment;
  switch (type) {
    case event_type::ordercreated: return saga_step::reserving_inventory;
    case event_type::inventory_reserved: return saga_step::initiating_payment;
    case event_type::payment_initiated: return saga_step::awaiting_payment;
    case event_type::payment_succeeded:
      return settling ? saga_step::refunding_payment : saga_step::awaiting_completion;
    case event_type::order_completed: return saga_step::committing_inventory;
    case event_type::inventory_committed: return saga_step::completed;
    case event_type::payment_failed:
      return settling ? saga_step::failed : saga_step::releasing_inventory;
    case event_type::inventory_reservation_failed:
    case event_type::inventory_commit_failed:
    case event_type::order_cancelled: return saga_step::releasing_inventory;
    case event_type::inventory_released:
      return paid || open ? saga_step::refunding_payment : saga_step::failed;
    case event_type::payment_refunded: return saga_step::failed;
    case event_type::order_admin_action: return saga_step::failed; // not a step: skipped
  }
  return saga_step::failed;
}

std::vector<step_span> step_timeline(const std::vector<saga_event>& events) {
  std::vector<step_span> out;
  bool paid = false;
  bool open = false; // an intent may exist and has no verdict yet
  for (auto& ev : events) {
    if (ev.type == event_type::order_admin_action)
      continue; // an operator's action; the step is the one it was taken in
    auto current = out.empty() ? saga_step::reserving_inventory : out.back().step;
    // A late capture and its refund (saga.cpp, late_refund) do not move the step, except
    // that they settle a refunding one; the order was never paid as far as it goes.
    if (ev.data.find("\"late\":true") != std::string::npos) {
      auto step = ev.type == event_type::payment_refunded && current == saga_step::refunding_payment
                    ? saga_step::failed
                    : current;
      open = false;
      if (!out.empty() && out.back().step != step) {
        out.back().left_ms = ev.ts_ms;
        out.push_back({step, ev.ts_ms, 0});
      }
      continue;
    }
    if (ev.type == event_type::payment_succeeded)
      paid = true;
    auto step = step_after(ev.type, paid, open, current);
    if (ev.type == event_type::inventory_reserved)
      open = true;
    if (ev.type == event_type::payment_succeeded || ev.type == event_type::payment_failed)
      open = false;
    if (!out.empty() && out.back().step == step)
      continue;
    if (!out.empty())
      out.back().left_ms = ev.ts_ms;
    out.push_back({step, ev.ts_ms, 0});
  }
  return out;
}

} // namespace saga
