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
    {R"({"customer_id":"c","items":[{"sku":"A","quantity":1.5}]})", 422, "wrong_type"},
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

TEST_CASE("the access log never shows a token from the query", "[unit][gateway][security]") {
  CHECK(redact_target("/inspect/stream?token=s3cret") == "/inspect/stream?token=REDACTED");
  CHECK(redact_target("/console?a=1&token=s3cret&b=2") == "/console?a=1&token=REDACTED&b=2");
  CHECK(redact_target("/orders/x?wait=COMPLETED") == "/orders/x?wait=COMPLETED");
  CHECK(redact_target("/orders") == "/orders");
  CHECK(redact_target("/x?mytoken=1&token=") == "/x?mytoken=1&token=REDACTED");
}

TEST_CASE("idempotency keys are scoped by customer and bound to the request", "[unit][gateway][security]") {
  CHECK(scoped_idempotency_key("a", "b/c") != scoped_idempotency_key("a/b", "c"));
  CHECK(scoped_idempotency_key("alice", "k") != scoped_idempotency_key("bob", "k"));
  create_order_request a, b, c;
  REQUIRE_FALSE(parse_create_order(R"({"customer_id":"c","items":[{"sku":"A","quantity":2}]})", a));
  REQUIRE_FALSE(parse_create_order(R"({ "items":[{"quantity":2, "sku":"A"}], "customer_id":"c" })", b));
  REQUIRE_FALSE(parse_create_order(R"({"customer_id":"c","items":[{"sku":"A","quantity":3}]})", c));
  CHECK(request_digest(a) == request_digest(b)); // same meaning, other spelling
  CHECK(request_digest(a) != request_digest(c));
  CHECK(request_digest(a).size() == 64);
}

TEST_CASE("an integral JSON number is an integer, whatever its spelling", "[unit][gateway]") {
  create_order_request r;
  REQUIRE_FALSE(parse_create_order(R"({"customer_id":"c","items":[{"sku":"A","quantity":2.0}]})", r));
  CHECK(r.items[0].quantity == 2);
  REQUIRE_FALSE(parse_create_order(R"({"customer_id":"c","items":[{"sku":"A","quantity":1e3}]})", r));
  CHECK(r.items[0].quantity == 1000);
  CHECK(parse_create_order(R"({"customer_id":"c","items":[{"sku":"A","quantity":1e300}]})", r).code
        == "out_of_range");
  CHECK(parse_create_order(R"({"customer_id":"c","items":[{"sku":"A","quantity":-0.5}]})", r).code
        == "wrong_type");
}

TEST_CASE("query values are percent-decoded before they are checked", "[unit][gateway]") {
  CHECK(percent_decode("ord_1") == "ord_1");
  CHECK(percent_decode("a%3Ab%2fc") == "a:b/c");
  CHECK(percent_decode("%C3%97") == "\xC3\x97");
  CHECK_FALSE(valid_id(percent_decode("%C3%97%C3%B8"))); // not printable ASCII: refused
  CHECK(percent_decode("100%") == "100%");   // not an escape: kept
  CHECK(percent_decode("%G1%4") == "%G1%4");
  CHECK(percent_decode("a+b") == "a+b");     // a query, not a form body
}
