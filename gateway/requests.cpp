#include "gateway/requests.hpp"

#include <cmath>
#include <nlohmann/json.hpp>
#include <openssl/evp.h>

using nlohmann::json;

namespace saga {

namespace {

request_error fail(int status, std::string code, std::string message) {
  return {status, std::move(code), std::move(message)};
}

request_error parse_object(const std::string& body, json& out) {
  out = json::parse(body, nullptr, false);
  if (out.is_discarded())
    return fail(400, "malformed_json", "the body is not valid JSON (or not UTF-8)");
  if (!out.is_object())
    return fail(400, "malformed_json", "the body must be a JSON object");
  return {};
}

request_error get_string(const json& j, const char* key, std::string& out,
                         size_t max_len = max_id_chars) {
  auto i = j.find(key);
  if (i == j.end())
    return fail(422, "missing_field", std::string("missing field '") + key + "'");
  if (!i->is_string())
    return fail(422, "wrong_type", std::string("field '") + key + "' must be a string");
  out = i->get<std::string>();
  if (out.empty() || out.size() > max_len)
    return fail(422, "invalid_field", std::string("field '") + key + "' must have 1 to "
                                        + std::to_string(max_len) + " characters");
  return {};
}

request_error get_int(const json& j, const char* key, int64_t lo, int64_t hi, int64_t& out) {
  auto i = j.find(key);
  if (i == j.end())
    return fail(422, "missing_field", std::string("missing field '") + key + "'");
  if (i->is_number_float()) {
    // JSON has one number type: 2.0 is the integer 2 (as JSON Schema says); 2.5 is not.
    auto d = i->get<double>();
    if (!(d == std::floor(d)))
      return fail(422, "wrong_type", std::string("field '") + key + "' must be an integer");
    if (d < static_cast<double>(lo) || d > static_cast<double>(hi))
      return fail(422, "out_of_range", std::string("field '") + key + "' must be between "
                                         + std::to_string(lo) + " and " + std::to_string(hi));
    out = static_cast<int64_t>(d);
    return {};
  }
  if (!i->is_number_integer())
    return fail(422, "wrong_type", std::string("field '") + key + "' must be an integer");
  // nlohmann stores non-negative literals as unsigned: compare in the matching type.
  bool out_of_range = i->is_number_unsigned()
                        ? (i->get<uint64_t>() > static_cast<uint64_t>(hi)
                           || (lo > 0 && i->get<uint64_t>() < static_cast<uint64_t>(lo)))
                        : (i->get<int64_t>() < lo || i->get<int64_t>() > hi);
  if (out_of_range)
    return fail(422, "out_of_range", std::string("field '") + key + "' must be between "
                                       + std::to_string(lo) + " and " + std::to_string(hi));
  out = i->get<int64_t>();
  return {};
}

} // namespace

std::string scoped_idempotency_key(const std::string& customer_id, const std::string& key) {
  return std::to_string(customer_id.size()) + ":" + customer_id + "/" + key;
}

std::string request_digest(const create_order_request& r) {
  json items = json::array();
  for (auto& i : r.items)
    items.push_back({i.sku, i.quantity});
  auto text = json{{"customer_id", r.customer_id}, {"items", items}}.dump();
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(text.data(), text.size(), md, &len, EVP_sha256(), nullptr);
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < len; ++i) {
    out += hex[md[i] >> 4];
    out += hex[md[i] & 0x0f];
  }
  return out;
}

std::string redact_target(const std::string& target) {
  auto q = target.find('?');
  if (q == std::string::npos)
    return target;
  std::string out = target.substr(0, q + 1);
  size_t pos = q + 1;
  while (pos <= target.size()) {
    auto end = target.find('&', pos);
    auto part = target.substr(pos, end == std::string::npos ? std::string::npos : end - pos);
    auto eq = part.find('=');
    auto name = part.substr(0, eq);
    out += (eq != std::string::npos && (name == "token" || name == "access_token"))
             ? name + "=REDACTED"
             : part;
    if (end == std::string::npos)
      break;
    out += '&';
    pos = end + 1;
  }
  return out;
}

bool valid_id(const std::string& s, size_t max_len) {
  if (s.empty() || s.size() > max_len)
    return false;
  for (unsigned char c : s)
    if (c < 0x21 || c > 0x7e)
      return false;
  return true;
}

request_error parse_create_order(const std::string& body, create_order_request& out) {
  json j;
  if (auto e = parse_object(body, j))
    return e;
  if (auto e = get_string(j, "customer_id", out.customer_id))
    return e;
  auto items = j.find("items");
  if (items == j.end())
    return fail(422, "missing_field", "missing field 'items'");
  if (!items->is_array() || items->empty() || items->size() > max_order_items)
    return fail(422, "invalid_field",
                "'items' must be an array of 1 to " + std::to_string(max_order_items) + " items");
  out.items.clear();
  for (auto& it : *items) {
    if (!it.is_object())
      return fail(422, "wrong_type", "each item must be an object");
    order_item item;
    if (auto e = get_string(it, "sku", item.sku, max_sku_chars))
      return e;
    if (auto e = get_int(it, "quantity", 1, max_item_quantity, item.quantity))
      return e;
    for (auto& other : out.items)
      if (other.sku == item.sku)
        return fail(422, "duplicate_sku", "sku " + item.sku + " appears twice");
    out.items.push_back(std::move(item));
  }
  return {};
}

request_error parse_verify(const std::string& body, verify_request& out) {
  json j;
  if (auto e = parse_object(body, j))
    return e;
  if (auto e = get_string(j, "order_id", out.order_id))
    return e;
  if (auto e = get_string(j, "payment_id", out.payment_id))
    return e;
  if (auto e = get_string(j, "status", out.status))
    return e;
  if (auto e = get_string(j, "signature", out.signature, 256))
    return e;
  if (out.status != "succeeded" && out.status != "failed")
    return fail(422, "invalid_field", "'status' must be \"succeeded\" or \"failed\"");
  return {};
}

request_error parse_complete(const std::string& body, std::string& order_id) {
  json j;
  if (auto e = parse_object(body, j))
    return e;
  return get_string(j, "order_id", order_id);
}

request_error parse_stock(const std::string& body, stock_request& out) {
  json j;
  if (auto e = parse_object(body, j))
    return e;
  if (auto e = get_int(j, "on_hand", 0, max_stock_units, out.on_hand))
    return e;
  return get_int(j, "price_cents", 0, max_price_cents, out.price_cents);
}

std::string percent_decode(std::string_view s) {
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9')
      return c - '0';
    if (c >= 'a' && c <= 'f')
      return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
      return c - 'A' + 10;
    return -1;
  };
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && hex(s[i + 1]) >= 0 && hex(s[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hex(s[i + 1]) * 16 + hex(s[i + 2])));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

} // namespace saga
