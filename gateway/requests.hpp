#pragma once
// Parsing and validation of request bodies: pure functions (no actors, no I/O), so the
// fuzz target and the unit tests exercise exactly what the gateway runs.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "actors/order/saga.hpp"

namespace saga {

/// A rejected request: HTTP status, error code, message.
struct request_error {
  int status = 0; // 0 = no error
  std::string code;
  std::string message;
  explicit operator bool() const { return status != 0; }
};

struct create_order_request {
  std::string customer_id;
  std::vector<order_item> items; // unit prices are filled in from the catalog later
};

struct verify_request {
  std::string order_id, payment_id, status, signature;
};

struct stock_request {
  int64_t on_hand = 0;
  int64_t price_cents = 0;
};

constexpr size_t max_id_chars = 128;
constexpr size_t max_sku_chars = 64;
constexpr size_t max_order_items = 100;
constexpr int64_t max_item_quantity = 1000000;
constexpr int64_t max_stock_units = 1000000000;
constexpr int64_t max_price_cents = 100000000000;
/// Largest order total (sum of quantity x unit price): 2^53, exact as a JSON double.
constexpr int64_t max_order_total_cents = int64_t{1} << 53;

request_error parse_create_order(const std::string& body, create_order_request& out);
request_error parse_verify(const std::string& body, verify_request& out);
request_error parse_complete(const std::string& body, std::string& order_id);
request_error parse_stock(const std::string& body, stock_request& out);
/// The Idempotency-Key as stored: scoped by customer, so one customer's key can never
/// name another customer's order (length-prefixed: no two pairs give the same string).
std::string scoped_idempotency_key(const std::string& customer_id, const std::string& key);
/// Hex SHA-256 of the request's meaning (customer, skus and quantities in order), so the
/// same order sent with other whitespace or key order is the same request.
std::string request_digest(const create_order_request& r);
/// The request target for logs: the value of every `token` query parameter replaced.
std::string redact_target(const std::string& target);

/// Idempotency keys and path ids: printable ASCII, 1..max_id_chars.
bool valid_id(const std::string& s, size_t max_len = max_id_chars);

/// A query parameter's value as the client meant it: every %XX (two hex digits) decoded to
/// its byte; a '%' not followed by two hex digits stays as it is ('+' too: not a form body).
std::string percent_decode(std::string_view s);

} // namespace saga
