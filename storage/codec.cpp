#include "storage/codec.hpp"

#include <nlohmann/json.hpp>

using nlohmann::json;

namespace storage {

namespace {

template <class Enum>
bool get_enum(const json& j, const char* key, Enum& out) {
  return saga::from_string(j.at(key).get<std::string>(), out);
}

template <class F>
bool guarded(const std::string& s, F f) {
  try {
    auto j = json::parse(s);
    return f(j);
  } catch (const json::exception&) {
    return false;
  }
}

} // namespace

std::string encode(const saga::order_state& x) {
  json items = json::array();
  for (auto& i : x.items)
    items.push_back({{"sku", i.sku}, {"quantity", i.quantity}, {"unit_price_cents", i.unit_price_cents}});
  return json{{"v", 1},
              {"order_id", x.order_id},
              {"customer_id", x.customer_id},
              {"items", items},
              {"selling_price_cents", x.selling_price_cents},
              {"status", saga::to_string(x.status)},
              {"step", saga::to_string(x.step)},
              {"reason", saga::to_string(x.reason)},
              {"seq", x.seq},
              {"payment_id", x.payment_id},
              {"payment", saga::to_string(x.payment)},
              {"payment_expires_at_ms", x.payment_expires_at_ms},
              {"complete_deadline_ms", x.complete_deadline_ms},
              {"created_at_ms", x.created_at_ms},
              {"updated_at_ms", x.updated_at_ms}}
    .dump();
}

bool decode(const std::string& s, saga::order_state& x) {
  return guarded(s, [&](const json& j) {
    x.order_id = j.at("order_id").get<std::string>();
    x.customer_id = j.at("customer_id").get<std::string>();
    x.items.clear();
    for (auto& i : j.at("items"))
      x.items.push_back({i.at("sku").get<std::string>(), i.at("quantity").get<int64_t>(),
                         i.at("unit_price_cents").get<int64_t>()});
    x.selling_price_cents = j.at("selling_price_cents").get<int64_t>();
    x.seq = j.at("seq").get<uint64_t>();
    x.payment_id = j.at("payment_id").get<std::string>();
    x.payment_expires_at_ms = j.at("payment_expires_at_ms").get<int64_t>();
    x.complete_deadline_ms = j.at("complete_deadline_ms").get<int64_t>();
    x.created_at_ms = j.at("created_at_ms").get<int64_t>();
    x.updated_at_ms = j.at("updated_at_ms").get<int64_t>();
    return get_enum(j, "status", x.status) && get_enum(j, "step", x.step)
           && get_enum(j, "reason", x.reason) && get_enum(j, "payment", x.payment);
  });
}

std::string event_id(const std::string& order_id, uint64_t seq) {
  return order_id + "-" + std::to_string(seq);
}

std::string encode(const saga::saga_event& x, const std::string& node) {
  return json{{"event_id", event_id(x.order_id, x.seq)},
              {"type", saga::to_string(x.type)},
              {"order_id", x.order_id},
              {"seq", x.seq},
              {"ts", x.ts_ms},
              {"node", node},
              {"source", x.source},
              {"data", json::parse(x.data.empty() ? "{}" : x.data)}}
    .dump();
}

bool decode(const std::string& s, saga::saga_event& x) {
  return guarded(s, [&](const json& j) {
    x.order_id = j.at("order_id").get<std::string>();
    x.seq = j.at("seq").get<uint64_t>();
    x.ts_ms = j.at("ts").get<int64_t>();
    x.source = j.at("source").get<std::string>();
    x.data = j.at("data").dump();
    return get_enum(j, "type", x.type);
  });
}

std::string encode(const saga::sku_record& x) {
  return json{{"v", 1},
              {"sku", x.sku},
              {"available", x.available},
              {"reserved", x.reserved},
              {"committed", x.committed},
              {"price_cents", x.price_cents},
              {"restocked_total", x.restocked_total}}
    .dump();
}

bool decode(const std::string& s, saga::sku_record& x) {
  return guarded(s, [&](const json& j) {
    x.sku = j.at("sku").get<std::string>();
    x.available = j.at("available").get<int64_t>();
    x.reserved = j.at("reserved").get<int64_t>();
    x.committed = j.at("committed").get<int64_t>();
    x.price_cents = j.at("price_cents").get<int64_t>();
    x.restocked_total = j.at("restocked_total").get<int64_t>();
    return true;
  });
}

std::string encode(const saga::reservation& r, const saga::reservation_item& item) {
  return json{{"v", 1},
              {"order_id", r.order_id},
              {"sku", item.sku},
              {"quantity", item.quantity},
              {"state", saga::to_string(r.state)},
              {"expires_at_ms", r.expires_at_ms}}
    .dump();
}

bool decode(const std::string& s, saga::reservation& r, saga::reservation_item& item) {
  return guarded(s, [&](const json& j) {
    r.order_id = j.at("order_id").get<std::string>();
    r.expires_at_ms = j.at("expires_at_ms").get<int64_t>();
    item.sku = j.at("sku").get<std::string>();
    item.quantity = j.at("quantity").get<int64_t>();
    return saga::from_string(j.at("state").get<std::string>(), r.state);
  });
}

std::string encode(const saga::payment_intent& x) {
  return json{{"v", 1},
              {"payment_id", x.payment_id},
              {"order_id", x.order_id},
              {"amount_cents", x.amount_cents},
              {"status", saga::to_string(x.status)},
              {"expires_at_ms", x.expires_at_ms},
              {"updated_at_ms", x.updated_at_ms}}
    .dump();
}

bool decode(const std::string& s, saga::payment_intent& x) {
  return guarded(s, [&](const json& j) {
    x.payment_id = j.at("payment_id").get<std::string>();
    x.order_id = j.at("order_id").get<std::string>();
    x.amount_cents = j.at("amount_cents").get<int64_t>();
    x.expires_at_ms = j.at("expires_at_ms").get<int64_t>();
    x.updated_at_ms = j.at("updated_at_ms").get<int64_t>();
    return get_enum(j, "status", x.status);
  });
}

} // namespace storage
