#include "actors/inventory/inventory_codec.hpp"

#include <nlohmann/json.hpp>

#include "storage/record_format.hpp"

using nlohmann::json;

namespace saga {

// One past the enum's last value, for storage::record_reader::e.
constexpr uint64_t enum_end(reservation_state) {
  return static_cast<uint64_t>(reservation_state::expired) + 1;
}

// SKU, reservation and payment records: the same version byte and primitives as the order
// record; the JSON of older data directories ("v": 1, first byte '{') still decodes, and
// a record is rewritten in the new format the next time it changes.

std::string encode(const sku_record& x) {
  std::string out;
  out.reserve(16 + x.sku.size() + 5 * 4);
  out.push_back(storage::record_v2);
  storage::put_s(out, x.sku);
  storage::put_i(out, x.available);
  storage::put_i(out, x.reserved);
  storage::put_i(out, x.committed);
  storage::put_i(out, x.price_cents);
  storage::put_i(out, x.restocked_total);
  return out;
}

std::string encode_v1(const sku_record& x) {
  return json{{"v", 1},
              {"sku", x.sku},
              {"available", x.available},
              {"reserved", x.reserved},
              {"committed", x.committed},
              {"price_cents", x.price_cents},
              {"restocked_total", x.restocked_total}}
    .dump();
}

bool decode(const std::string& s, sku_record& x) {
  if (!s.empty() && s.front() == storage::record_v2) {
    storage::record_reader r{std::string_view(s).substr(1)};
    x.sku = r.s();
    x.available = r.i();
    x.reserved = r.i();
    x.committed = r.i();
    x.price_cents = r.i();
    x.restocked_total = r.i();
    return r.ok && r.in.empty();
  }
  if (s.empty() || s.front() != '{')
    return false;
  return storage::json_guarded(s, [&](const json& j) {
    x.sku = j.at("sku").get<std::string>();
    x.available = j.at("available").get<int64_t>();
    x.reserved = j.at("reserved").get<int64_t>();
    x.committed = j.at("committed").get<int64_t>();
    x.price_cents = j.at("price_cents").get<int64_t>();
    x.restocked_total = j.at("restocked_total").get<int64_t>();
    return true;
  });
}

std::string encode(const reservation& r, const reservation_item& item) {
  std::string out;
  out.reserve(16 + r.order_id.size() + item.sku.size() + 16);
  out.push_back(storage::record_v2);
  storage::put_s(out, r.order_id);
  storage::put_s(out, item.sku);
  storage::put_i(out, item.quantity);
  storage::put_u(out, static_cast<uint64_t>(r.state));
  storage::put_i(out, r.expires_at_ms);
  return out;
}

std::string encode_v1(const reservation& r, const reservation_item& item) {
  return json{{"v", 1},
              {"order_id", r.order_id},
              {"sku", item.sku},
              {"quantity", item.quantity},
              {"state", to_string(r.state)},
              {"expires_at_ms", r.expires_at_ms}}
    .dump();
}

bool decode(const std::string& s, reservation& r, reservation_item& item) {
  if (!s.empty() && s.front() == storage::record_v2) {
    storage::record_reader in{std::string_view(s).substr(1)};
    r.order_id = in.s();
    item.sku = in.s();
    item.quantity = in.i();
    in.e(r.state);
    r.expires_at_ms = in.i();
    return in.ok && in.in.empty();
  }
  if (s.empty() || s.front() != '{')
    return false;
  return storage::json_guarded(s, [&](const json& j) {
    r.order_id = j.at("order_id").get<std::string>();
    r.expires_at_ms = j.at("expires_at_ms").get<int64_t>();
    item.sku = j.at("sku").get<std::string>();
    item.quantity = j.at("quantity").get<int64_t>();
    return from_string(j.at("state").get<std::string>(), r.state);
  });
}
} // namespace saga
