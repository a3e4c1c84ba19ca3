#include "actors/payment/payment_codec.hpp"

#include <nlohmann/json.hpp>

#include "storage/record_format.hpp"

using nlohmann::json;

namespace saga {

// One past the enum's last value, for storage::record_reader::e.
constexpr uint64_t enum_end(payment_status) {
  return static_cast<uint64_t>(payment_status::refunded) + 1;
}

std::string encode(const payment_intent& x) {
  std::string out;
  out.reserve(16 + x.payment_id.size() + x.order_id.size() + 24);
  out.push_back(storage::record_v2);
  storage::put_s(out, x.payment_id);
  storage::put_s(out, x.order_id);
  storage::put_i(out, x.amount_cents);
  storage::put_u(out, static_cast<uint64_t>(x.status));
  storage::put_i(out, x.expires_at_ms);
  storage::put_i(out, x.updated_at_ms);
  return out;
}

std::string encode_v1(const payment_intent& x) {
  return json{{"v", 1},
              {"payment_id", x.payment_id},
              {"order_id", x.order_id},
              {"amount_cents", x.amount_cents},
              {"status", to_string(x.status)},
              {"expires_at_ms", x.expires_at_ms},
              {"updated_at_ms", x.updated_at_ms}}
    .dump();
}

bool decode(const std::string& s, payment_intent& x) {
  if (!s.empty() && s.front() == storage::record_v2) {
    storage::record_reader r{std::string_view(s).substr(1)};
    x.payment_id = r.s();
    x.order_id = r.s();
    x.amount_cents = r.i();
    r.e(x.status);
    x.expires_at_ms = r.i();
    x.updated_at_ms = r.i();
    return r.ok && r.in.empty();
  }
  if (s.empty() || s.front() != '{')
    return false;
  return storage::json_guarded(s, [&](const json& j) {
    x.payment_id = j.at("payment_id").get<std::string>();
    x.order_id = j.at("order_id").get<std::string>();
    x.amount_cents = j.at("amount_cents").get<int64_t>();
    x.expires_at_ms = j.at("expires_at_ms").get<int64_t>();
    x.updated_at_ms = j.at("updated_at_ms").get<int64_t>();
    return storage::json_enum(j, "status", x.status);
  });
}
} // namespace saga
