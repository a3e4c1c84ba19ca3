#include "actors/order/order_codec.hpp"

#include <nlohmann/json.hpp>

#include "storage/record_format.hpp"

using nlohmann::json;

namespace saga {

// One past each enum's last value, for storage::record_reader::e (found by argument-
// dependent lookup): a value added after the last one is refused until this is updated.
constexpr uint64_t enum_end(order_status) {
  return static_cast<uint64_t>(order_status::failed) + 1;
}
constexpr uint64_t enum_end(saga_step) {
  return static_cast<uint64_t>(saga_step::failed) + 1;
}
constexpr uint64_t enum_end(failure_reason) {
  return static_cast<uint64_t>(failure_reason::cancelled) + 1;
}
constexpr uint64_t enum_end(payment_status) {
  return static_cast<uint64_t>(payment_status::refunded) + 1;
}
constexpr uint64_t enum_end(event_type) {
  return static_cast<uint64_t>(event_type::order_admin_action) + 1;
}

std::string encode(const order_state& x, const std::vector<saga_event>& history) {
  std::string out;
  out.reserve(128 + history.size() * 96);
  out.push_back(storage::record_v2);
  storage::put_s(out, x.order_id);
  storage::put_s(out, x.customer_id);
  storage::put_u(out, x.items.size());
  for (auto& i : x.items) {
    storage::put_s(out, i.sku);
    storage::put_i(out, i.quantity);
    storage::put_i(out, i.unit_price_cents);
  }
  storage::put_i(out, x.selling_price_cents);
  storage::put_u(out, static_cast<uint64_t>(x.status));
  storage::put_u(out, static_cast<uint64_t>(x.step));
  storage::put_u(out, static_cast<uint64_t>(x.reason));
  storage::put_u(out, x.seq);
  storage::put_s(out, x.payment_id);
  storage::put_u(out, static_cast<uint64_t>(x.payment));
  storage::put_i(out, x.payment_expires_at_ms);
  storage::put_i(out, x.complete_deadline_ms);
  storage::put_i(out, x.created_at_ms);
  storage::put_i(out, x.updated_at_ms);
  storage::put_u(out, history.size());
  for (auto& ev : history) {
    storage::put_u(out, ev.seq);
    storage::put_u(out, static_cast<uint64_t>(ev.type));
    storage::put_i(out, ev.ts_ms);
    storage::put_s(out, ev.source);
    storage::put_s(out, ev.data);
  }
  return out;
}

namespace {

bool decode_v1(const std::string& s, order_state& x);

} // namespace

bool decode(std::string_view s, order_state& x, std::vector<saga_event>* history,
            bool* has_history) {
  if (has_history != nullptr)
    *has_history = false;
  if (history != nullptr)
    history->clear();
  if (!s.empty() && s.front() == '{')
    return decode_v1(std::string(s), x);
  if (s.empty() || s.front() != storage::record_v2)
    return false; // neither format: never guessed at
  storage::record_reader r{s.substr(1)};
  x.order_id = r.s();
  x.customer_id = r.s();
  auto n = r.u();
  if (!r.ok || n > r.in.size())
    return false;
  x.items.clear();
  x.items.reserve(n);
  for (uint64_t k = 0; k < n && r.ok; ++k) {
    order_item i;
    i.sku = r.s();
    i.quantity = r.i();
    i.unit_price_cents = r.i();
    x.items.push_back(std::move(i));
  }
  x.selling_price_cents = r.i();
  r.e(x.status);
  r.e(x.step);
  r.e(x.reason);
  x.seq = r.u();
  x.payment_id = r.s();
  r.e(x.payment);
  x.payment_expires_at_ms = r.i();
  x.complete_deadline_ms = r.i();
  x.created_at_ms = r.i();
  x.updated_at_ms = r.i();
  auto events = r.u();
  if (!r.ok || events > r.in.size())
    return false;
  if (history == nullptr) { // not wanted: checked, not copied
    for (uint64_t k = 0; k < events && r.ok; ++k) {
      r.u();
      event_type t;
      r.e(t);
      r.i();
      r.skip_s();
      r.skip_s();
    }
    return r.ok && r.in.empty();
  }
  history->reserve(events);
  for (uint64_t k = 0; k < events && r.ok; ++k) {
    saga_event ev;
    ev.order_id = x.order_id;
    ev.seq = r.u();
    r.e(ev.type);
    ev.ts_ms = r.i();
    ev.source = r.s();
    ev.data = r.s();
    history->push_back(std::move(ev));
  }
  if (!r.ok || !r.in.empty())
    return false; // truncated, or bytes after the last event
  if (has_history != nullptr)
    *has_history = true;
  return true;
}

std::string encode_v1(const order_state& x) {
  json items = json::array();
  for (auto& i : x.items)
    items.push_back({{"sku", i.sku}, {"quantity", i.quantity}, {"unit_price_cents", i.unit_price_cents}});
  return json{{"v", 1},
              {"order_id", x.order_id},
              {"customer_id", x.customer_id},
              {"items", items},
              {"selling_price_cents", x.selling_price_cents},
              {"status", to_string(x.status)},
              {"step", to_string(x.step)},
              {"reason", to_string(x.reason)},
              {"seq", x.seq},
              {"payment_id", x.payment_id},
              {"payment", to_string(x.payment)},
              {"payment_expires_at_ms", x.payment_expires_at_ms},
              {"complete_deadline_ms", x.complete_deadline_ms},
              {"created_at_ms", x.created_at_ms},
              {"updated_at_ms", x.updated_at_ms}}
    .dump();
}

namespace {

bool decode_v1(const std::string& s, order_state& x) {
  return storage::json_guarded(s, [&](const json& j) {
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
    return storage::json_enum(j, "status", x.status) && storage::json_enum(j, "step", x.step)
           && storage::json_enum(j, "reason", x.reason) && storage::json_enum(j, "payment", x.payment);
  });
}

} // namespace
} // namespace saga
