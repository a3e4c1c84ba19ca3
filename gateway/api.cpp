#include "gateway/api.hpp"

#include <memory>
#include <nlohmann/json.hpp>

#include "actors/payment_book.hpp"

using nlohmann::json;

namespace saga {

namespace {

constexpr size_t max_id_len = 128;
constexpr size_t max_items = 100;
constexpr int64_t max_quantity = 1000000;
constexpr int64_t max_stock = 1000000000;
constexpr int64_t max_price_cents = 100000000000; // 1e9 currency units

http_response ok_json(int status, const json& j) {
  http_response r;
  r.status = status;
  r.body = j.dump();
  return r;
}

int status_of(errc c) {
  switch (c) {
    case errc::ok: return 200;
    case errc::invalid: return 422;
    case errc::not_found: return 404;
    case errc::conflict: return 409;
    case errc::bad_signature: return 401;
    case errc::unavailable: return 503;
  }
  return 500;
}

json to_json(const order_view& v) {
  auto& s = v.state;
  json items = json::array();
  for (auto& i : s.items)
    items.push_back({{"sku", i.sku}, {"quantity", i.quantity}, {"unit_price_cents", i.unit_price_cents}});
  json events = json::array();
  for (auto& e : v.events)
    events.push_back({{"seq", e.seq},
                      {"type", to_string(e.type)},
                      {"ts", e.ts_ms},
                      {"source", e.source},
                      {"data", json::parse(e.data.empty() ? "{}" : e.data, nullptr, false)}});
  json payment = nullptr;
  if (!s.payment_id.empty())
    payment = {{"payment_id", s.payment_id},
               {"status", to_string(s.payment)},
               {"expires_at", s.payment_expires_at_ms}};
  json j = {{"order_id", s.order_id},
            {"customer_id", s.customer_id},
            {"status", to_string(s.status)},
            {"saga_step", to_string(s.step)},
            {"items", items},
            {"selling_price_cents", s.selling_price_cents},
            {"payment", payment},
            {"failure_reason", s.reason == failure_reason::none ? json(nullptr) : json(to_string(s.reason))},
            {"events", events},
            {"created_at", s.created_at_ms},
            {"updated_at", s.updated_at_ms}};
  if (!v.parked_reason.empty())
    j["parked_reason"] = v.parked_reason;
  return j;
}

json to_json(const sku_record& r) {
  return {{"sku", r.sku},
          {"on_hand", r.on_hand()},
          {"reserved", r.reserved},
          {"available", r.available},
          {"committed", r.committed},
          {"price_cents", r.price_cents}};
}

/// Parses a JSON object body; on failure fills `err` with the HTTP error.
bool parse_object(const std::string& body, json& out, http_response& err) {
  out = json::parse(body, nullptr, false);
  if (out.is_discarded()) {
    err = api::error(400, "malformed_json", "the body is not valid JSON (or not UTF-8)");
    return false;
  }
  if (!out.is_object()) {
    err = api::error(400, "malformed_json", "the body must be a JSON object");
    return false;
  }
  return true;
}

/// Reads a required string field of bounded length.
bool get_string(const json& j, const char* key, std::string& out, http_response& err,
                size_t max_len = max_id_len) {
  auto i = j.find(key);
  if (i == j.end()) {
    err = api::error(422, "missing_field", std::string("missing field '") + key + "'");
    return false;
  }
  if (!i->is_string()) {
    err = api::error(422, "wrong_type", std::string("field '") + key + "' must be a string");
    return false;
  }
  out = i->get<std::string>();
  if (out.empty() || out.size() > max_len) {
    err = api::error(422, "invalid_field", std::string("field '") + key + "' must have 1 to "
                                             + std::to_string(max_len) + " characters");
    return false;
  }
  return true;
}

/// Reads a required integer field within [lo, hi].
bool get_int(const json& j, const char* key, int64_t lo, int64_t hi, int64_t& out,
             http_response& err) {
  auto i = j.find(key);
  if (i == j.end()) {
    err = api::error(422, "missing_field", std::string("missing field '") + key + "'");
    return false;
  }
  if (!i->is_number_integer()) {
    err = api::error(422, "wrong_type", std::string("field '") + key + "' must be an integer");
    return false;
  }
  // nlohmann stores non-negative literals as unsigned: compare in the matching type.
  bool out_of_range = i->is_number_unsigned()
                        ? (i->get<uint64_t>() > static_cast<uint64_t>(hi)
                           || (lo > 0 && i->get<uint64_t>() < static_cast<uint64_t>(lo)))
                        : (i->get<int64_t>() < lo || i->get<int64_t>() > hi);
  if (out_of_range) {
    err = api::error(422, "out_of_range", std::string("field '") + key + "' must be between "
                                            + std::to_string(lo) + " and " + std::to_string(hi));
    return false;
  }
  out = i->get<int64_t>();
  return true;
}

std::string render(caf::actor_system& sys, const caf::error& e) { return sys.render(e); }

/// Spawns a short-lived bridge actor running `f(self)`: it makes its requests and ends
/// when the last reply was handled. (`f` travels as a spawn argument: CAF 0.17 spawning
/// a function without arguments dereferences a null pointer, which UBSan reports.)
template <class F>
void spawn_bridge(caf::actor_system& sys, F f) {
  sys.spawn([](caf::event_based_actor* self, F fn) { fn(self); }, std::move(f));
}

} // namespace

http_response api::error(int status, const std::string& code, const std::string& message) {
  return ok_json(status, json{{"error", {{"code", code}, {"message", message}}}});
}

void api::handle(const http_request& req, responder respond) {
  auto path = req.target.substr(0, req.target.find('?'));
  auto only = [&](const char* method) {
    if (req.method == method)
      return true;
    auto r = error(405, "method_not_allowed", req.method + " is not allowed on " + path);
    r.headers["Allow"] = method;
    respond(r);
    return false;
  };
  if (path == "/healthz") {
    if (only("GET"))
      respond(ok_json(200, {{"status", "ok"}, {"node", ctx_->cfg.node_id}}));
    return;
  }
  if (path == "/readyz") {
    if (only("GET"))
      respond(ready ? ok_json(200, {{"status", "ready"}})
                    : error(503, "not_ready", "recovery in progress"));
    return;
  }
  if (!ready && path != "/healthz") {
    respond(error(503, "not_ready", "the node is recovering; retry shortly"));
    return;
  }
  if (path == "/orders") {
    if (only("POST"))
      post_order(req, std::move(respond));
    return;
  }
  if (path.rfind("/orders/", 0) == 0 && path.size() > 8 && path.find('/', 8) == std::string::npos) {
    if (only("GET"))
      get_order(path.substr(8), std::move(respond));
    return;
  }
  if (path == "/payment/verify") {
    if (only("POST"))
      verify_payment(req, std::move(respond));
    return;
  }
  if (path == "/order/complete") {
    if (only("POST"))
      complete_order(req, std::move(respond));
    return;
  }
  if (path.rfind("/inventory/", 0) == 0 && path.size() > 11
      && path.find('/', 11) == std::string::npos) {
    auto sku = path.substr(11);
    if (req.method == "GET")
      get_inventory(sku, std::move(respond));
    else if (req.method == "PUT")
      put_inventory(sku, req, std::move(respond));
    else {
      auto r = error(405, "method_not_allowed", req.method + " is not allowed on " + path);
      r.headers["Allow"] = "GET, PUT";
      respond(r);
    }
    return;
  }
  respond(error(404, "not_found", "no route " + path));
}

void api::post_order(const http_request& req, responder respond) {
  json j;
  http_response err;
  std::string customer_id;
  if (!parse_object(req.body, j, err) || !get_string(j, "customer_id", customer_id, err))
    return respond(err);
  auto items_it = j.find("items");
  if (items_it == j.end())
    return respond(error(422, "missing_field", "missing field 'items'"));
  if (!items_it->is_array() || items_it->empty() || items_it->size() > max_items)
    return respond(error(422, "invalid_field", "'items' must be an array of 1 to "
                                                 + std::to_string(max_items) + " items"));
  std::vector<order_item> items;
  std::map<size_t, std::vector<std::string>> skus_by_partition;
  for (auto& it : *items_it) {
    if (!it.is_object())
      return respond(error(422, "wrong_type", "each item must be an object"));
    order_item item;
    if (!get_string(it, "sku", item.sku, err, 64)
        || !get_int(it, "quantity", 1, max_quantity, item.quantity, err))
      return respond(err);
    for (auto& other : items)
      if (other.sku == item.sku)
        return respond(error(422, "duplicate_sku", "sku " + item.sku + " appears twice"));
    skus_by_partition[dir_.inventory_partition(item.sku)].push_back(item.sku);
    items.push_back(std::move(item));
  }
  // Prices come from the inventory's catalog: ask every partition involved, then create.
  auto dir = dir_;
  auto timeout = ctx_->request_timeout();
  spawn_bridge(sys_, [dir, timeout, customer_id, items, skus_by_partition,
              respond](caf::event_based_actor* self) mutable {
    struct gather {
      size_t remaining = 0;
      bool done = false;
      std::map<std::string, int64_t> prices;
    };
    auto g = std::make_shared<gather>();
    g->remaining = skus_by_partition.size();
    for (auto& [p, skus] : skus_by_partition) {
      self->request(dir.inventory[p], timeout, prices_atom::value, skus)
        .then(
          [=](const prices_reply& r) mutable {
            if (g->done)
              return;
            if (r.code != errc::ok) {
              g->done = true;
              return respond(error(422, "unknown_sku", r.message));
            }
            for (size_t i = 0; i < skus.size(); ++i)
              g->prices[skus[i]] = r.prices_cents[i];
            if (--g->remaining > 0)
              return;
            g->done = true;
            for (auto& item : items)
              item.unit_price_cents = g->prices[item.sku];
            self->request(dir.supervisor, timeout, create_atom::value, customer_id, items)
              .then(
                [=](const order_state& s) {
                  respond(ok_json(201, {{"order_id", s.order_id},
                                        {"status", to_string(s.status)},
                                        {"selling_price_cents", s.selling_price_cents}}));
                },
                [=](caf::error& e) {
                  respond(error(503, "unavailable", "order not created: " + render(self->system(), e)));
                });
          },
          [=](caf::error& e) {
            if (g->done)
              return;
            g->done = true;
            respond(error(503, "unavailable", "inventory unavailable: " + render(self->system(), e)));
          });
    }
  });
}

void api::get_order(const std::string& id, responder respond) {
  if (id.size() > max_id_len)
    return respond(error(404, "not_found", "unknown order"));
  auto dir = dir_;
  auto timeout = ctx_->request_timeout();
  spawn_bridge(sys_, [dir, timeout, id, respond](caf::event_based_actor* self) {
    self->request(dir.supervisor, timeout, get_atom::value, id)
      .then(
        [=](const order_view& v) {
          if (v.code != errc::ok)
            return respond(error(status_of(v.code), to_string(v.code), v.message));
          respond(ok_json(200, to_json(v)));
        },
        [=](caf::error& e) { respond(error(503, "unavailable", render(self->system(), e))); });
  });
}

void api::verify_payment(const http_request& req, responder respond) {
  json j;
  http_response err;
  std::string order_id, payment_id, status, signature;
  if (!parse_object(req.body, j, err) || !get_string(j, "order_id", order_id, err)
      || !get_string(j, "payment_id", payment_id, err) || !get_string(j, "status", status, err)
      || !get_string(j, "signature", signature, err, 256))
    return respond(err);
  if (status != "succeeded" && status != "failed")
    return respond(error(422, "invalid_field", "'status' must be \"succeeded\" or \"failed\""));
  auto dir = dir_;
  auto timeout = ctx_->request_timeout();
  spawn_bridge(sys_, [=](caf::event_based_actor* self) {
    self->request(dir.payment_for(order_id), timeout, verify_atom::value, order_id, payment_id,
                  status, signature)
      .then(
        [=](const payment_reply& r) {
          if (r.code != errc::ok)
            return respond(error(status_of(r.code), to_string(r.code), r.message));
          json body = {{"order_id", order_id},
                       {"payment_id", payment_id},
                       {"payment_status", to_string(r.intent.status)}};
          if (r.intent.status != payment_status::succeeded)
            return respond(ok_json(200, body));
          // As in the seed's diagram, a succeeded payment completes the order.
          self->request(dir.supervisor, timeout, input_atom::value, order_id,
                        saga_input{input_kind::complete_requested, 0, {}})
            .then(
              [=](const input_reply& ir) mutable {
                body["order_status"] = to_string(ir.state.status);
                body["complete"] = ir.code == errc::ok ? "accepted" : ir.message;
                respond(ok_json(200, body));
              },
              [=](caf::error&) mutable {
                // The payment is durable; the saga's complete timer finishes the order.
                body["complete"] = "deferred";
                respond(ok_json(200, body));
              });
        },
        [=](caf::error& e) { respond(error(503, "unavailable", render(self->system(), e))); });
  });
}

void api::complete_order(const http_request& req, responder respond) {
  json j;
  http_response err;
  std::string order_id;
  if (!parse_object(req.body, j, err) || !get_string(j, "order_id", order_id, err))
    return respond(err);
  auto dir = dir_;
  auto timeout = ctx_->request_timeout();
  spawn_bridge(sys_, [=](caf::event_based_actor* self) {
    self->request(dir.supervisor, timeout, input_atom::value, order_id,
                  saga_input{input_kind::complete_requested, 0, {}})
      .then(
        [=](const input_reply& r) {
          if (r.code != errc::ok)
            return respond(error(status_of(r.code), to_string(r.code), r.message));
          respond(ok_json(200, {{"order_id", order_id},
                                {"status", to_string(r.state.status)},
                                {"saga_step", to_string(r.state.step)},
                                {"result", r.result == outcome::applied ? "completing"
                                                                        : "already_completing"}}));
        },
        [=](caf::error& e) { respond(error(503, "unavailable", render(self->system(), e))); });
  });
}

void api::put_inventory(const std::string& sku, const http_request& req, responder respond) {
  auto expected = "Bearer " + ctx_->cfg.security_admin_token;
  if (!signature_equal(req.authorization, expected))
    return respond(error(401, "unauthorized", "admin token required (Authorization: Bearer ...)"));
  if (sku.size() > 64)
    return respond(error(422, "invalid_field", "sku must have 1 to 64 characters"));
  json j;
  http_response err;
  int64_t on_hand = 0, price = 0;
  if (!parse_object(req.body, j, err) || !get_int(j, "on_hand", 0, max_stock, on_hand, err)
      || !get_int(j, "price_cents", 0, max_price_cents, price, err))
    return respond(err);
  auto worker = dir_.inventory_for(sku);
  auto timeout = ctx_->request_timeout();
  spawn_bridge(sys_, [=](caf::event_based_actor* self) {
    self->request(worker, timeout, stock_atom::value, sku, on_hand, price)
      .then(
        [=](const sku_reply& r) {
          if (r.code != errc::ok)
            return respond(error(status_of(r.code), to_string(r.code), r.message));
          respond(ok_json(200, to_json(r.record)));
        },
        [=](caf::error& e) { respond(error(503, "unavailable", render(self->system(), e))); });
  });
}

void api::get_inventory(const std::string& sku, responder respond) {
  auto worker = dir_.inventory_for(sku);
  auto timeout = ctx_->request_timeout();
  spawn_bridge(sys_, [=](caf::event_based_actor* self) {
    self->request(worker, timeout, get_atom::value, sku)
      .then(
        [=](const sku_reply& r) {
          if (r.code != errc::ok)
            return respond(error(status_of(r.code), to_string(r.code), r.message));
          respond(ok_json(200, to_json(r.record)));
        },
        [=](caf::error& e) { respond(error(503, "unavailable", render(self->system(), e))); });
  });
}

} // namespace saga
