// The event envelope: valid JSON with every field of the contract, whatever the strings
// hold, and its head (type, order_id, seq, ts) read in place or, for envelopes of older
// builds, by parsing.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "actors/sink/event_envelope.hpp"

using namespace saga;
using nlohmann::json;

namespace {

saga_event sample() {
  return {"ord_0123456789abcdef", 3, event_type::payment_initiated, 1733270400123, "order",
          R"({"payment_id":"pay_x","amount_cents":4498})"};
}

} // namespace

TEST_CASE("an envelope is the contract's JSON, data copied as it is", "[unit][envelope]") {
  auto env = encode(sample(), "node-1");
  auto j = json::parse(env);
  CHECK(j.size() == 8);
  CHECK(j["event_id"] == "ord_0123456789abcdef-3");
  CHECK(j["type"] == "payment_initiated");
  CHECK(j["order_id"] == "ord_0123456789abcdef");
  CHECK(j["seq"] == 3);
  CHECK(j["ts"] == 1733270400123);
  CHECK(j["node"] == "node-1");
  CHECK(j["source"] == "order");
  CHECK(j["data"] == json::parse(sample().data));
  // decode reads it back field for field
  saga_event back;
  REQUIRE(decode(env, back));
  CHECK(back.order_id == sample().order_id);
  CHECK(back.seq == 3);
  CHECK(back.type == event_type::payment_initiated);
  CHECK(json::parse(back.data) == json::parse(sample().data));
  // empty data is an empty object
  auto e = sample();
  e.data.clear();
  CHECK(json::parse(encode(e, "n"))["data"] == json::object());
}

TEST_CASE("strings that need escapes still make valid JSON, and read the same",
          "[unit][envelope]") {
  auto e = sample();
  e.order_id = "ord_\"q\\\n\t\x01";
  std::string node = "nöde-\x1f";
  auto env = encode(e, node);
  auto j = json::parse(env); // throws on invalid JSON
  CHECK(j["order_id"] == e.order_id);
  CHECK(j["node"] == node);
  CHECK(j["event_id"] == e.order_id + "-3");
  envelope_head h;
  REQUIRE(read_head(env, h)); // escaped: the long way
  CHECK(h.order_id == e.order_id);
  CHECK(h.type == "payment_initiated");
  CHECK(h.seq == 3);
  CHECK(h.ts == 1733270400123);
}

TEST_CASE("the head of an envelope is read in place, or parsed for older layouts",
          "[unit][envelope]") {
  envelope_head h;
  REQUIRE(read_head(encode(sample(), "node-1"), h));
  CHECK(h.type == "payment_initiated");
  CHECK(h.order_id == "ord_0123456789abcdef");
  CHECK(h.seq == 3);
  CHECK(h.ts == 1733270400123);
  // An older build's envelope (nlohmann's dump: keys sorted, data first) reads the same.
  auto old = json{{"event_id", "ord_1-7"}, {"type", "ordercreated"}, {"order_id", "ord_1"},
                  {"seq", 7}, {"ts", -5}, {"node", "n"}, {"source", "order"},
                  {"data", json::object()}}.dump();
  envelope_head o;
  REQUIRE(read_head(old, o));
  CHECK(o.type == "ordercreated");
  CHECK(o.order_id == "ord_1");
  CHECK(o.seq == 7);
  CHECK(o.ts == -5);
  // Not an envelope, or cut: refused (the relay dead-letters it), never half-read.
  envelope_head bad;
  CHECK_FALSE(read_head("", bad));
  CHECK_FALSE(read_head("not json", bad));
  CHECK_FALSE(read_head("[1,2]", bad));
  CHECK_FALSE(read_head("{\"order_id\": \"ord_x\", \"seq\": 1, trunc", bad));
  auto whole = encode(sample(), "node-1");
  // (The in-place read checks the closing brace, not the whole text: a stored entry is
  // whole by RocksDB's checksums, this only guards against a cut one.)
  CHECK_FALSE(read_head(whole.substr(0, whole.size() - 2), bad));
  CHECK_FALSE(read_head(whole.substr(0, 60), bad));
}
