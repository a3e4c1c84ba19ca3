// Every module's records through a real RocksDB directory: each codec's round trip, the
// older JSON formats, and garbage refused.
#include <catch2/catch.hpp>

#include <algorithm>

#include <filesystem>
#include <random>
#include <thread>

#include "actors/inventory/inventory_codec.hpp"
#include "actors/order/order_codec.hpp"
#include "actors/payment/payment_codec.hpp"
#include "actors/sink/event_envelope.hpp"
#include "storage/record_format.hpp"
#include "storage/store.hpp"
#include "tests/temp_dir.hpp"

using namespace storage;

using saga_test::temp_dir;

TEST_CASE("every record kind survives a close and reopen", "[unit][storage]") {
  temp_dir dir;
  saga::order_state o;
  o.order_id = "o1";
  o.customer_id = "c";
  o.items = {{"A", 2, 150}};
  o.selling_price_cents = 300;
  o.step = saga::saga_step::awaiting_payment;
  o.status = saga::order_status::payment_initiated;
  o.seq = 3;
  o.payment_id = "pay_o1";
  o.payment = saga::payment_status::pending;
  o.payment_expires_at_ms = 777;
  saga::saga_event ev{"o1", 3, saga::event_type::payment_initiated, 55, "order", "{\"a\":1}"};
  saga::sku_record sku{"A", 3, 2, 0, 150, 5};
  saga::reservation r{"o1", {}, saga::reservation_state::reserved, 999};
  saga::reservation_item item{"A", 2};
  saga::payment_intent p{"pay_o1", "o1", 300, saga::payment_status::pending, 777, 1};
  {
    std::string err;
    auto db = store::open(dir.path.string(), err);
    REQUIRE(db);
    batch b;
    b.ops.push_back({family::orders, "o1", encode(o, {ev}), false});
    b.ops.push_back({family::events, event_key("o1", 3), encode(ev, "n1"), false});
    b.ops.push_back({family::inventory, "A", encode(sku), false});
    b.ops.push_back({family::reservations, reservation_key("o1", "A"), encode(r, item), false});
    b.ops.push_back({family::payments, "pay_o1", encode(p), false});
    b.outbox.push_back(encode(ev, "n1"));
    REQUIRE(db->commit({&b}, true).empty());
    CHECK(db->outbox_next_seq() == 2);
  }
  std::string err;
  auto db = store::open(dir.path.string(), err);
  REQUIRE(db);
  CHECK(db->outbox_next_seq() == 2);
  std::string raw;
  saga::order_state o2;
  REQUIRE(db->get(family::orders, "o1", raw) == storage::read_status::found);
  std::vector<saga::saga_event> history;
  REQUIRE(decode(raw, o2, &history));
  REQUIRE(history.size() == 1);
  CHECK(history[0].seq == 3);
  CHECK(history[0].order_id == "o1");
  CHECK(history[0].data == ev.data);
  CHECK(o2.step == saga::saga_step::awaiting_payment);
  CHECK(o2.payment_expires_at_ms == 777);
  CHECK(o2.items[0].unit_price_cents == 150);
  saga::saga_event ev2;
  REQUIRE(db->get(family::events, event_key("o1", 3), raw) == storage::read_status::found);
  REQUIRE(decode(raw, ev2));
  CHECK(ev2.type == saga::event_type::payment_initiated);
  CHECK(ev2.data == "{\"a\":1}");
  saga::sku_record sku2;
  REQUIRE(db->get(family::inventory, "A", raw) == storage::read_status::found);
  REQUIRE(decode(raw, sku2));
  CHECK(sku2.restocked_total == 5);
  saga::reservation r2;
  saga::reservation_item item2;
  REQUIRE(db->get(family::reservations, reservation_key("o1", "A"), raw) == storage::read_status::found);
  REQUIRE(decode(raw, r2, item2));
  CHECK(r2.expires_at_ms == 999);
  CHECK(item2.quantity == 2);
  saga::payment_intent p2;
  REQUIRE(db->get(family::payments, "pay_o1", raw) == storage::read_status::found);
  REQUIRE(decode(raw, p2));
  CHECK(p2.status == saga::payment_status::pending);
  int outbox = 0;
  (void)db->scan(family::outbox, "", [&](std::string_view k, std::string_view) {
    CHECK(from_be64(k) == 1);
    ++outbox;
    return true;
  });
  CHECK(outbox == 1);
}

TEST_CASE("decoders refuse garbage", "[unit][storage]") {
  saga::order_state o;
  CHECK_FALSE(decode("not json", o));
  CHECK_FALSE(decode("{\"order_id\": 1}", o));
}

TEST_CASE("an order record is one binary record of both snapshot and events; a format-1 JSON "
          "snapshot still decodes, anything else is refused",
          "[unit][storage]") {
  saga::order_state o;
  o.order_id = "ord_0001000000000abc";
  o.customer_id = "c";
  o.items = {{"A", 2, 150}, {"B", -1, 0}};
  o.selling_price_cents = 300;
  o.step = saga::saga_step::awaiting_completion;
  o.status = saga::order_status::payment_initiated;
  o.reason = saga::failure_reason::none;
  o.payment = saga::payment_status::succeeded;
  o.seq = 4;
  o.payment_id = "pay_x";
  o.payment_expires_at_ms = -5;
  o.complete_deadline_ms = 1ll << 50;
  o.created_at_ms = 1;
  o.updated_at_ms = 2;
  std::vector<saga::saga_event> h{{o.order_id, 1, saga::event_type::ordercreated, 10, "order", "{}"},
                                  {o.order_id, 4, saga::event_type::payment_succeeded, 40,
                                   "payment", std::string("{\"x\":\"\0\"}", 10)}};
  auto raw = encode(o, h);
  CHECK(raw[0] == record_v2);
  saga::order_state o2;
  std::vector<saga::saga_event> h2;
  bool with = false;
  REQUIRE(decode(raw, o2, &h2, &with));
  CHECK(with);
  CHECK(encode(o2, h2) == raw); // every field round-trips
  REQUIRE(h2.size() == 2);
  CHECK(h2[1].data == h[1].data);
  CHECK(h2[1].order_id == o.order_id);
  saga::order_state o3;
  REQUIRE(decode(raw, o3)); // without the events: checked, not copied
  CHECK(o3.complete_deadline_ms == o.complete_deadline_ms);
  // Format 1: the state, no events.
  saga::order_state o4;
  REQUIRE(decode(encode_v1(o), o4, &h2, &with));
  CHECK_FALSE(with);
  CHECK(h2.empty());
  CHECK(o4.items.size() == 2);
  CHECK(encode(o4, h) == raw);
  // Truncated, extended, unknown version, an enum out of range: refused, never misread.
  for (size_t n = 0; n < raw.size(); ++n)
    CHECK_FALSE(decode(std::string_view(raw).substr(0, n), o2, &h2));
  CHECK_FALSE(decode(raw + "x", o2, &h2));
  CHECK_FALSE(decode(raw + "x", o2));
  auto v3 = raw;
  v3[0] = 0x03;
  CHECK_FALSE(decode(v3, o2, &h2));
  for (int v : {4, 77, 255}) {
    saga::order_state e = o;
    e.status = static_cast<saga::order_status>(v);
    CHECK_FALSE(decode(encode(e, h), o2, &h2));
    auto bad_event = h;
    bad_event[0].type = static_cast<saga::event_type>(std::min(v + 9, 255));
    CHECK_FALSE(decode(encode(o, bad_event), o2, &h2));
    CHECK_FALSE(decode(encode(o, bad_event), o2)); // checked even when not copied
  }
}

TEST_CASE("SKU, reservation and payment records are binary; their older JSON still decodes to "
          "the same values, anything else is refused",
          "[unit][storage]") {
  saga::sku_record sku{"A/b", 3, -2, 7, 150, 8};
  saga::reservation r{"ord_0001000000000001", {}, saga::reservation_state::expired, 999};
  saga::reservation_item item{"A/b", 2};
  saga::payment_intent p{"pay_1", "ord_1", 300, saga::payment_status::refunded, 777, 1};
  auto same_sku = [&](const saga::sku_record& x) {
    return x.sku == sku.sku && x.available == sku.available && x.reserved == sku.reserved
           && x.committed == sku.committed && x.price_cents == sku.price_cents
           && x.restocked_total == sku.restocked_total;
  };
  auto same_res = [&](const saga::reservation& x, const saga::reservation_item& i) {
    return x.order_id == r.order_id && x.state == r.state && x.expires_at_ms == r.expires_at_ms
           && i.sku == item.sku && i.quantity == item.quantity;
  };
  auto same_pay = [&](const saga::payment_intent& x) {
    return x.payment_id == p.payment_id && x.order_id == p.order_id
           && x.amount_cents == p.amount_cents && x.status == p.status
           && x.expires_at_ms == p.expires_at_ms && x.updated_at_ms == p.updated_at_ms;
  };
  for (auto enc : {encode(sku), encode_v1(sku)}) {
    saga::sku_record x;
    REQUIRE(decode(enc, x));
    CHECK(same_sku(x));
  }
  for (auto enc : {encode(r, item), encode_v1(r, item)}) {
    saga::reservation x;
    saga::reservation_item i;
    REQUIRE(decode(enc, x, i));
    CHECK(same_res(x, i));
  }
  for (auto enc : {encode(p), encode_v1(p)}) {
    saga::payment_intent x;
    REQUIRE(decode(enc, x));
    CHECK(same_pay(x));
  }
  CHECK(encode(sku).front() == record_v2);
  CHECK(encode(sku).size() < encode_v1(sku).size() / 4);
  // Every strict prefix of a binary record, and one byte more, is refused.
  auto refused_cut = [](const std::string& enc, auto decode_one) {
    for (size_t n = 0; n < enc.size(); ++n)
      if (decode_one(enc.substr(0, n)))
        return false;
    return !decode_one(enc + "x");
  };
  CHECK(refused_cut(encode(sku), [](const std::string& s) {
    saga::sku_record x;
    return decode(s, x);
  }));
  CHECK(refused_cut(encode(r, item), [](const std::string& s) {
    saga::reservation x;
    saga::reservation_item i;
    return decode(s, x, i);
  }));
  CHECK(refused_cut(encode(p), [](const std::string& s) {
    saga::payment_intent x;
    return decode(s, x);
  }));
  // An enum value past its range is refused, not cast.
  auto bad_state = encode(r, item);
  bad_state[bad_state.size() - 3] = 9; // the state byte (expires 999 is two varint bytes)
  saga::reservation x;
  saga::reservation_item i;
  CHECK_FALSE(decode(bad_state, x, i));
  saga::payment_intent q;
  CHECK_FALSE(decode(std::string("\x03") + encode(p).substr(1), q)); // unknown version
  CHECK_FALSE(decode(std::string("not json"), q));
}
