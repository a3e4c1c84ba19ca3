// Actor tests on CAF's deterministic test coordinator over a real RocksDB directory.
// The saga through the real order, inventory and payment actors: every branch, with
// payment expiry and reservation TTL driven by the test clock.
#include "tests/node_fixture.hpp"

TEST_CASE("happy path: reserve, pay, complete, commit through the real actors", "[actor]") {
  temp_dir d;
  node_fixture n(d.path.string());
  n.stock("A", 10, 250);
  auto id = n.create({{"A", 2, 0}});
  auto v = n.view(id);
  CHECK(v.state.status == order_status::payment_initiated);
  CHECK(v.state.selling_price_cents == 500);
  CHECK(n.sku("A").reserved == 2);
  REQUIRE(n.verify(id, "succeeded").code == errc::ok);
  n.run();
  CHECK(n.view(id).state.step == saga_step::awaiting_completion);
  CHECK(n.complete(id).code == errc::ok);
  n.run();
  v = n.view(id);
  CHECK(v.state.status == order_status::completed);
  CHECK(n.events(id) == std::vector<E>{E::ordercreated, E::inventory_reserved, E::payment_initiated,
                                       E::payment_succeeded, E::order_completed, E::inventory_committed});
  auto s = n.sku("A");
  CHECK(s.committed == 2);
  CHECK(s.reserved == 0);
  CHECK(conserved(s));
  // a completed order's actor is gone; repeats answer from the snapshot
  auto again = n.complete(id);
  CHECK(again.code == errc::ok);
  CHECK(again.result == outcome::duplicate);
}

TEST_CASE("out of stock on one partition releases the other and fails", "[actor]") {
  temp_dir d;
  node_fixture n(d.path.string());
  auto [a, b] = two_partitions();
  n.stock(a, 5, 100);
  n.stock(b, 1, 100);
  auto id = n.create({{a, 2, 0}, {b, 3, 0}});
  auto v = n.view(id);
  CHECK(v.state.status == order_status::failed);
  CHECK(v.state.reason == failure_reason::inventory_reservation_failed);
  CHECK(n.events(id) == std::vector<E>{E::ordercreated, E::inventory_reservation_failed,
                                       E::order_cancelled, E::inventory_released});
  CHECK(n.sku(a).available == 5);
  CHECK(n.sku(a).reserved == 0);
  CHECK(n.sku(b).available == 1);
}

TEST_CASE("payment failure releases the reservation", "[actor]") {
  temp_dir d;
  node_fixture n(d.path.string());
  n.stock("A", 3, 100);
  auto id = n.create({{"A", 3, 0}});
  CHECK(n.sku("A").available == 0);
  REQUIRE(n.verify(id, "failed").code == errc::ok);
  n.run();
  auto v = n.view(id);
  CHECK(v.state.status == order_status::failed);
  CHECK(v.state.reason == failure_reason::payment_failed);
  CHECK(n.sku("A").available == 3);
  // contradicting verdict afterwards is a conflict and changes nothing
  CHECK(n.verify(id, "succeeded").code == errc::conflict);
  CHECK(n.complete(id).code == errc::conflict);
}

TEST_CASE("a bad signature changes nothing", "[actor]") {
  temp_dir d;
  node_fixture n(d.path.string());
  n.stock("A", 3, 100);
  auto id = n.create({{"A", 1, 0}});
  auto r = n.ask<payment_reply>(n.dir.payment_for(id), verify_atom::value, id, "pay_" + id,
                                std::string("succeeded"), std::string(64, 'a'));
  CHECK(r.code == errc::bad_signature);
  n.run();
  CHECK(n.view(id).state.step == saga_step::awaiting_payment);
}

TEST_CASE("payment expiry, driven by the test clock, fails the order and releases stock", "[actor]") {
  temp_dir d;
  node_fixture n(d.path.string());
  n.stock("A", 3, 100);
  auto id = n.create({{"A", 2, 0}});
  n.advance(900ms);
  CHECK(n.view(id).state.step == saga_step::awaiting_payment);
  n.advance(200ms);
  auto v = n.view(id);
  CHECK(v.state.status == order_status::failed);
  CHECK(v.state.reason == failure_reason::payment_expired);
  CHECK(v.state.payment == payment_status::expired);
  CHECK(n.sku("A").available == 3);
  CHECK(n.verify(id, "failed").code == errc::conflict); // a decline after expiry changes nothing
}

namespace {
/// An order of two "A" (of 3 in stock) whose payment expired: FAILED, stock back.
std::string expired_order(node_fixture& n) {
  n.stock("A", 3, 100);
  auto id = n.create({{"A", 2, 0}});
  n.advance(1100ms); // payment.timeout_ms = 1000
  return id;
}
} // namespace

TEST_CASE("a provider's success after the intent expired is recorded on the failed order and "
          "refunded, once", "[actor][late_payment]") {
  temp_dir d;
  node_fixture n(d.path.string());
  auto id = expired_order(n);
  auto before = n.view(id);
  REQUIRE(before.state.status == order_status::failed);
  REQUIRE(before.state.payment == payment_status::expired);
  auto late = n.verify(id, "succeeded");
  CHECK(late.code == errc::ok);
  CHECK(late.message == late_refund_message);
  CHECK(late.intent.status == payment_status::refunded);
  n.run();
  auto v = n.view(id);
  CHECK(v.state.status == order_status::failed);
  CHECK(v.state.reason == failure_reason::payment_expired);
  CHECK(v.state.payment == payment_status::refunded);
  REQUIRE(v.events.size() == before.events.size() + 2);
  CHECK(v.events[v.events.size() - 2].type == event_type::payment_succeeded);
  CHECK(v.events.back().type == event_type::payment_refunded);
  CHECK(v.events.back().data.find("\"late\":true") != std::string::npos);
  CHECK(check_outbox(n, id) == v.events.size()); // in Kafka too, in seq order
  CHECK(n.ctx->stats->live_order_actors.load() == 0); // the actor started for it ended
  // The provider repeats itself: answered the same, refunded once, nothing recorded twice.
  auto again = n.verify(id, "succeeded");
  CHECK(again.code == errc::ok);
  CHECK(again.intent.status == payment_status::refunded);
  n.run();
  CHECK(n.view(id).events.size() == v.events.size());
  CHECK(n.sku("A").available == 3);
}

TEST_CASE("a late capture is answered once the failed order's record of the refund is "
          "durable, not once the payment's is", "[actor][late_payment]") {
  temp_dir d;
  node_fixture n(d.path.string());
  auto id = expired_order(n);
  REQUIRE(n.view(id).state.payment == payment_status::expired);
  // The payment's write is let through, then every write after it is held: the order's
  // record of the capture and its refund waits at the writer, and so does the answer.
  hold_writer(n, true);
  auto pid = "pay_" + id;
  n.self->send(n.dir.payment_for(id), verify_atom::value, id, pid, std::string("succeeded"),
               payment_signature("k", id, pid, "succeeded"));
  n.run();
  n.self->send(n.dir.writer, hold_atom::value, false);
  n.self->send(n.dir.writer, hold_atom::value, true);
  n.run();
  bool answered = false;
  n.self->receive([&](payment_reply&) { answered = true; }, caf::after(0s) >> [] {});
  CHECK_FALSE(answered);
  hold_writer(n, false);
  payment_reply r;
  n.self->receive([&](payment_reply& x) { r = std::move(x); answered = true; },
                  caf::after(0s) >> [] {});
  REQUIRE(answered);
  CHECK(r.code == errc::ok);
  CHECK(r.intent.status == payment_status::refunded);
  auto v = n.view(id);
  CHECK(v.state.payment == payment_status::refunded);
  CHECK(v.events.back().type == event_type::payment_refunded);
}

TEST_CASE("an expired reservation makes the commit fail, and the payment is refunded", "[actor]") {
  temp_dir d;
  auto nc = test_node_config();
  nc.inventory_reservation_ttl_ms = 500; // shorter than the payment time-out
  node_fixture n(d.path.string(), nc);
  n.stock("A", 3, 100);
  auto id = n.create({{"A", 2, 0}});
  n.advance(600ms); // the reservation TTL timer fires: stock returns
  CHECK(n.sku("A").available == 3);
  REQUIRE(n.verify(id, "succeeded").code == errc::ok);
  n.run();
  CHECK(n.complete(id).code == errc::ok);
  n.run();
  auto v = n.view(id);
  CHECK(v.state.status == order_status::failed);
  CHECK(v.state.reason == failure_reason::inventory_commit_failed);
  CHECK(v.state.payment == payment_status::refunded);
  CHECK(n.events(id) == std::vector<E>{E::ordercreated, E::inventory_reserved, E::payment_initiated,
                                       E::payment_succeeded, E::order_completed,
                                       E::inventory_commit_failed, E::order_cancelled,
                                       E::inventory_released, E::payment_refunded});
  auto s = n.sku("A");
  CHECK(s.available == 3);
  CHECK(s.committed == 0);
  CHECK(conserved(s));
}

TEST_CASE("a paid order nobody completes is completed by its durable timer", "[actor]") {
  temp_dir d;
  node_fixture n(d.path.string());
  n.stock("A", 3, 100);
  auto id = n.create({{"A", 1, 0}});
  REQUIRE(n.verify(id, "succeeded").code == errc::ok);
  n.run();
  // The owner holds the deadline (one timer per partition), the active actor none.
  auto row = order_row(n, id);
  CHECK_FALSE(row.passive);
  CHECK(row.wake_at_ms == n.view(id).state.complete_deadline_ms);
  n.advance(2900ms);
  CHECK(n.view(id).state.step == saga_step::awaiting_completion);
  n.advance(200ms);
  CHECK(n.view(id).state.status == order_status::completed);
  CHECK(n.sku("A").committed == 1);
}
