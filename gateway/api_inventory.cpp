#include "gateway/api.hpp"

// The inventory routes: PUT /inventory/{sku} (admin) and GET /inventory/{sku}.

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

void api::put_inventory(const std::string& sku, const http_request& req, responder respond) {
  auto expected = "Bearer " + ctx_->cfg.security_admin_token;
  if (!signature_equal(req.authorization, expected))
    return respond(error(401, "unauthorized", "admin token required (Authorization: Bearer ...)"));
  if (!valid_id(sku, max_sku_chars))
    return respond(error(422, "invalid_field", "sku must be 1 to 64 printable characters"));
  stock_request sr;
  if (auto e = parse_stock(req.body, sr))
    return respond(error(e.status, e.code, e.message));
  auto on_hand = sr.on_hand, price = sr.price_cents;
  auto worker = dir_.inventory_for(sku);
  auto timeout = ctx_->request_timeout();
  auto layout = layout_;
  auto cfg = std::make_shared<const node_config>(ctx_->cfg);
  auto dir = dir_;
  auto part = dir_.inventory_partition(sku);
  auto* resends = &ctx_->stats->gateway_resends;
  bool forwards = slot_forwards(*cfg, dir, dir.inventory_partition_remote(part));
  spawn_bridge(sys_, ctx_->stats, [=](caf::event_based_actor* self) {
    request_slot(self, worker, forwards, timeout, resends, stock_atom::value, sku, on_hand, price)
      .then(
        [=](const sku_reply& r) {
          if (r.code != errc::ok)
            return respond(error(status_of(r.code), to_string(r.code), r.message));
          respond(ok_json(200, to_json(r.record)));
        },
        [=](caf::error& e) {
          respond(partition_failure(self->system(), *cfg, *layout, dir, e,
                                    partition_kind::inventory, part));
        });
  });
}

void api::get_inventory(const std::string& sku, responder respond) {
  auto worker = dir_.inventory_for(sku);
  auto timeout = ctx_->request_timeout();
  auto layout = layout_;
  auto cfg = std::make_shared<const node_config>(ctx_->cfg);
  auto dir = dir_;
  auto part = dir_.inventory_partition(sku);
  auto* resends = &ctx_->stats->gateway_resends;
  bool forwards = slot_forwards(*cfg, dir, dir.inventory_partition_remote(part));
  spawn_bridge(sys_, ctx_->stats, [=](caf::event_based_actor* self) {
    request_slot(self, worker, forwards, timeout, resends, get_atom::value, sku)
      .then(
        [=](const sku_reply& r) {
          if (r.code != errc::ok)
            return respond(error(status_of(r.code), to_string(r.code), r.message));
          respond(ok_json(200, to_json(r.record)));
        },
        [=](caf::error& e) {
          respond(partition_failure(self->system(), *cfg, *layout, dir, e,
                                    partition_kind::inventory, part));
        });
  });
}

} // namespace saga
