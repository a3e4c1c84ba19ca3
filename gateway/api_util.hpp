#pragma once
// Helpers shared by the gateway's route files (api.cpp, inspect_api.cpp): JSON views of
// replies, error mapping, query strings and the bridge actors that talk to the runtime.

#include <memory>
#include <nlohmann/json.hpp>

#include "gateway/api.hpp"
#include "gateway/requests.hpp"

namespace saga::gateway_detail {

using nlohmann::json;

inline http_response ok_json(int status, const json& j) {
  http_response r;
  r.status = status;
  r.body = j.dump();
  return r;
}

inline int status_of(errc c) {
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

/// The order as GET /orders/{id} returns it, without its events.
inline json order_json_without_events(const order_view& v) {
  auto& s = v.state;
  json items = json::array();
  for (auto& i : s.items)
    items.push_back({{"sku", i.sku}, {"quantity", i.quantity}, {"unit_price_cents", i.unit_price_cents}});
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
            {"created_at", s.created_at_ms},
            {"updated_at", s.updated_at_ms}};
  if (!v.parked_reason.empty())
    j["parked_reason"] = v.parked_reason;
  return j;
}

inline json to_json(const order_view& v) {
  auto j = order_json_without_events(v);
  json events = json::array();
  for (auto& e : v.events)
    events.push_back({{"seq", e.seq},
                      {"type", to_string(e.type)},
                      {"ts", e.ts_ms},
                      {"source", e.source},
                      {"data", json::parse(e.data.empty() ? "{}" : e.data, nullptr, false)}});
  j["events"] = std::move(events);
  return j;
}

/// The same document as `to_json(v).dump()`, written without parsing the events' `data`:
/// each is already compact JSON (the order actor made it), so it is copied as it is.
inline std::string order_body(const order_view& v) {
  auto out = order_json_without_events(v).dump();
  std::string events = ",\"events\":[";
  for (size_t i = 0; i < v.events.size(); ++i) {
    auto& e = v.events[i];
    if (i > 0)
      events += ',';
    events += "{\"data\":";
    events += e.data.empty() ? std::string_view("{}") : std::string_view(e.data);
    events += ",\"seq\":" + std::to_string(e.seq);
    events += ",\"source\":" + json(e.source).dump();
    events += ",\"ts\":" + std::to_string(e.ts_ms);
    events += ",\"type\":\"";
    events += to_string(e.type);
    events += "\"}";
  }
  events += ']';
  out.insert(out.size() - 1, events); // before the object's closing brace
  return out;
}

inline json to_json(const sku_record& r) {
  return {{"sku", r.sku},
          {"on_hand", r.on_hand()},
          {"reserved", r.reserved},
          {"available", r.available},
          {"committed", r.committed},
          {"price_cents", r.price_cents}};
}

inline std::string render(caf::actor_system& sys, const caf::error& e) { return sys.render(e); }

/// A component's failure as a 503: `node_stopping` (with Retry-After) when the node stops
/// after a failed storage read or write, else `unavailable` with what the component said.
inline http_response component_unavailable(caf::actor_system& sys, const runtime_context& ctx,
                                           const std::string& who, const caf::error& e) {
  auto what = render(sys, e);
  if (!who.empty())
    what = who + ": " + what;
  if (ctx.halted.load() || what.find("node_stopping") != std::string::npos) {
    auto r = api::error(503, "node_stopping",
                        "a storage read or write failed; this node stops (" + what + ")");
    r.headers["Retry-After"] = "5";
    return r;
  }
  return api::error(503, "unavailable", what);
}

/// Spawns a short-lived bridge actor running `f(self)`: it makes its requests and ends
/// when the last reply was handled. (`f` travels as a spawn argument: CAF 0.17 spawning
/// a function without arguments dereferences a null pointer, which UBSan reports.)
/// Bridges are counted (saga_live_actors{kind="gateway_bridge"}, /inspect/summary).
template <class F>
void spawn_bridge(caf::actor_system& sys, const std::shared_ptr<metrics>& stats, F f) {
  ++stats->live_bridges;
  ++stats->bridges_spawned;
  sys.spawn(
    [](caf::event_based_actor* self, std::shared_ptr<metrics> m, F fn) {
      self->attach_functor([m] { --m->live_bridges; });
      fn(self);
    },
    stats, std::move(f));
}

/// Answers GET /orders/{id} (plain or long-poll) with the order or its error.
inline void respond_with_view(const order_view& v, const responder& respond) {
  if (v.code != errc::ok)
    return respond(api::error(status_of(v.code), to_string(v.code), v.message));
  http_response r;
  r.status = 200;
  r.body = order_body(v);
  r.order_id = v.state.order_id;
  respond(r);
}

/// True when the query string has the parameter `key` (with or without a value).
inline bool has_query_param(const std::string& query, const std::string& key) {
  size_t pos = 0;
  while (pos <= query.size() && !query.empty()) {
    auto end = query.find('&', pos);
    auto part = query.substr(pos, end == std::string::npos ? std::string::npos : end - pos);
    if (part == key || part.rfind(key + "=", 0) == 0)
      return true;
    if (end == std::string::npos)
      break;
    pos = end + 1;
  }
  return false;
}

/// The first parameter of `query` not in `known` ("" when all are known).
inline std::string unknown_query_param(const std::string& query,
                                       std::initializer_list<const char*> known) {
  size_t pos = 0;
  while (pos < query.size()) {
    auto end = query.find('&', pos);
    auto part = query.substr(pos, end == std::string::npos ? std::string::npos : end - pos);
    auto name = part.substr(0, part.find('='));
    bool ok = name.empty(); // "a=1&&b=2": an empty piece names nothing
    for (auto k : known)
      ok = ok || name == k;
    if (!ok)
      return name.size() > 64 ? name.substr(0, 64) + "..." : name;
    if (end == std::string::npos)
      break;
    pos = end + 1;
  }
  return {};
}

/// A plain decimal integer in [lo, hi]: digits only (no sign, no spaces, no exponent).
inline bool parse_decimal(const std::string& s, int64_t lo, int64_t hi, int64_t& out) {
  if (s.empty() || s.size() > 18)
    return false;
  int64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9')
      return false;
    v = v * 10 + (c - '0');
  }
  if (v < lo || v > hi)
    return false;
  out = v;
  return true;
}

/// Value of `key` in a query string, percent-decoded ("" when absent): what is checked is
/// what the client meant, not its encoding.
inline std::string query_param(const std::string& query, const std::string& key) {
  size_t pos = 0;
  while (pos <= query.size()) {
    auto end = query.find('&', pos);
    auto part = query.substr(pos, end == std::string::npos ? std::string::npos : end - pos);
    if (part.rfind(key + "=", 0) == 0)
      return percent_decode(std::string_view(part).substr(key.size() + 1));
    if (end == std::string::npos)
      break;
    pos = end + 1;
  }
  return {};
}

} // namespace saga::gateway_detail
