#include "gateway/api.hpp"

// The admin routes (token required): parked orders and an operator's action on one.

#include <memory>
#include <nlohmann/json.hpp>

#include "actors/cluster/cluster.hpp"
#include "actors/plumbing/partitions.hpp"
#include "actors/payment/payment_book.hpp"
#include "gateway/api_util.hpp"
#include "gateway/requests.hpp"
#include "gateway/slot_request.hpp"
#include "actors/cluster/cluster_layout.hpp"

using nlohmann::json;
using namespace saga::gateway_detail;

namespace saga {

bool api::admin_allowed(const http_request& req) const {
  return signature_equal(req.authorization, "Bearer " + ctx_->cfg.security_admin_token);
}

namespace {

json parked_json(const parked_order& p) {
  return {{"order_id", p.order_id},
          {"reason", p.reason},
          {"saga_step", to_string(p.step)},
          {"status", to_string(p.status)},
          {"payment_status", to_string(p.payment)},
          {"holds_money", p.holds_money},
          {"holds_stock", p.holds_stock},
          {"updated_at", p.updated_at_ms}};
}

} // namespace

void api::admin_parked(responder respond) {
  auto dir = dir_;
  auto timeout = ctx_->request_timeout();
  spawn_bridge(sys_, ctx_->stats, [=](caf::event_based_actor* self) {
    ask_all<std::vector<parked_order>>(
      self, dir.local_owners(), timeout,
        [=](std::vector<std::vector<parked_order>> parts) {
          auto xs = merge_parked(std::move(parts));
          json orders = json::array();
          int64_t money = 0, stock = 0;
          for (auto& p : xs) {
            orders.push_back(parked_json(p));
            money += p.holds_money ? 1 : 0;
            stock += p.holds_stock ? 1 : 0;
          }
          respond(ok_json(200, {{"parked", orders},
                                {"count", xs.size()},
                                {"holding_money", money},
                                {"holding_stock", stock}}));
        },
        [=](caf::error& e) { respond(error(503, "unavailable", render(self->system(), e))); },
        parked_atom::value);
  });
}

void api::admin_action(const std::string& id, const std::string& action, const http_request& req,
                       responder respond) {
  if (!valid_id(id))
    return respond(error(404, "not_found", "unknown order"));
  // Optional body: {"note": "why"} (recorded with the action).
  std::string note;
  if (!req.body.empty()) {
    auto j = json::parse(req.body, nullptr, false);
    if (j.is_discarded() || !j.is_object())
      return respond(error(400, "malformed_json", "the body must be a JSON object (or empty)"));
    if (auto n = j.find("note"); n != j.end()) {
      if (!n->is_string())
        return respond(error(422, "wrong_type", "field 'note' must be a string"));
      note = n->get<std::string>();
      if (note.size() > 500)
        return respond(error(422, "invalid_field", "field 'note' must have at most 500 characters"));
    }
  }
  auto kind = action == "retry" ? input_kind::admin_retry : input_kind::admin_compensate;
  auto dir = dir_;
  auto timeout = ctx_->request_timeout() * 2;
  auto layout = layout_;
  auto cfg = std::make_shared<const node_config>(ctx_->cfg);
  auto part = directory::order_partition(id, dir.orders.size());
  auto* resends = &ctx_->stats->gateway_resends;
  bool forwards = slot_forwards(*cfg, dir, dir.order_partition_remote(part));
  spawn_bridge(sys_, ctx_->stats, [=](caf::event_based_actor* self) {
    request_slot(self, dir.owner_for(id), forwards, timeout, resends, admin_atom::value, id, kind,
                 note)
      .then(
        [=](const input_reply& r) {
          if (r.code != errc::ok)
            return respond(error(status_of(r.code), to_string(r.code), r.message));
          auto resp = ok_json(200, {{"order_id", id},
                                    {"action", action},
                                    {"status", to_string(r.state.status)},
                                    {"saga_step", to_string(r.state.step)}});
          resp.order_id = id;
          respond(resp);
        },
        [=](caf::error& e) {
          respond(partition_failure(self->system(), *cfg, *layout, dir, e,
                                    partition_kind::orders, part));
        });
  });
}

} // namespace saga
