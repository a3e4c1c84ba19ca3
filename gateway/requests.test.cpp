// Request parsing: what is accepted and what each kind of bad input is answered with.
#include <catch2/catch.hpp>

#include "gateway/requests.hpp"

using namespace saga;

TEST_CASE("a valid order request parses", "[unit][gateway]") {
  create_order_request r;
  auto e = parse_create_order(R"({"customer_id":"c","items":[{"sku":"A","quantity":2},{"sku":"B","quantity":1}]})", r);
  REQUIRE_FALSE(e);
  CHECK(r.customer_id == "c");
  REQUIRE(r.items.size() == 2);
  CHECK(r.items[0].quantity == 2);
}

TEST_CASE("bad order requests get the right status and code", "[unit][gateway]") {
  struct row {
    const char* body;
    int status;
    const char* code;
  };
  row rows[] = {
    {"{", 400, "malformed_json"},
    {"[1]", 400, "malformed_json"},
    {R"({"customer_id":1,"items":[]})", 422, "wrong_type"},
    {R"({"customer_id":"c"})", 422, "missing_field"},
    {R"({"customer_id":"c","items":[]})", 422, "invalid_field"},
    {R"({"customer_id":"c","items":[{"sku":"A","quantity":0}]})", 422, "out_of_range"},
    {R"({"customer_id":"c","items":[{"sku":"A","quantity":-3}]})", 422, "out_of_range"},
    {R"({"customer_id":"c","items":[{"sku":"A","quantity":1e3}]})", 422, "wrong_type"},
    {R"({"customer_id":"c","items":[{"sku":"A","quantity":1},{"sku":"A","quantity":1}]})", 422, "duplicate_sku"},
  };
  for (auto& r : rows) {
    INFO(r.body);
    create_order_request out;
    auto e = parse_create_order(r.body, out);
    CHECK(e.status == r.status);
    CHECK(e.code == r.code);
  }
}

TEST_CASE("verify, complete and stock requests are validated", "[unit][gateway]") {
  verify_request v;
  CHECK(parse_verify(R"({"order_id":"o","payment_id":"p","status":"succeeded","signature":"s"})", v).status == 0);
  CHECK(parse_verify(R"({"order_id":"o","payment_id":"p","status":"ok","signature":"s"})", v).status == 422);
  std::string id;
  CHECK(parse_complete(R"({"order_id":"o"})", id).status == 0);
  CHECK(id == "o");
  CHECK(parse_complete(R"({"order_id":""})", id).status == 422);
  stock_request s;
  CHECK(parse_stock(R"({"on_hand":5,"price_cents":100})", s).status == 0);
  CHECK(parse_stock(R"({"on_hand":5,"price_cents":-1})", s).status == 422);
  CHECK_FALSE(valid_id("has space"));
  CHECK_FALSE(valid_id(std::string(129, 'a')));
  CHECK(valid_id("ord_0123"));
}
