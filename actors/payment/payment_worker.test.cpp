// Actor tests on CAF's deterministic test coordinator over a real RocksDB directory.
// The payment partition: a crashed one restarts and keeps its intents.
#include "tests/node_fixture.hpp"
#include "actors/payment/payment_worker.hpp"

TEST_CASE("a crashed payment partition restarts and keeps its intents", "[actor][supervision]") {
  temp_dir d;
  node_fixture n(d.path.string());
  n.stock("A", 10, 100);
  auto id = n.create({{"A", 1, 0}});
  n.self->send(n.dir.payment_for(id), crash_atom::value);
  n.run();
  CHECK(n.ctx->stats->component_restarts.load() == 1);
  REQUIRE(n.verify(id, "succeeded").code == errc::ok); // the intent was read back
  n.run();
  CHECK(n.complete(id).code == errc::ok);
  n.run();
  CHECK(n.view(id).state.status == order_status::completed);
}

namespace {

/// An order owner that answers `late_refund` as scripted, in turn (then `ok`): `down` is
/// an order actor that ended under the request, `unserved` a partition nobody serves.
enum class owner_says { down, unserved, ok };

caf::behavior scripted_owner(caf::event_based_actor*, std::shared_ptr<std::vector<owner_says>> script,
                             std::shared_ptr<int> asked) {
  return {
    [script, asked](late_refund_atom, const std::string&) -> caf::result<input_reply> {
      ++*asked;
      auto says = script->empty() ? owner_says::ok : script->front();
      if (!script->empty())
        script->erase(script->begin());
      if (says == owner_says::down)
        return caf::make_error(caf::sec::request_receiver_down);
      input_reply r;
      r.code = says == owner_says::ok ? errc::ok : errc::unavailable;
      r.message = says == owner_says::ok ? "" : "nobody serves the partition";
      if (says == owner_says::ok)
        r.state.payment = payment_status::refunded;
      return r;
    },
    [](payment_update_atom, const std::string&, payment_status) {}, // the expiry's
  };
}

} // namespace

TEST_CASE("a late capture is answered only once its order has recorded the refund; an order "
          "that cannot record it now makes the verification answer 503, and the provider's "
          "repeat asks it again", "[actor][late_payment]") {
  temp_dir d;
  node_fixture n(d.path.string());
  auto script = std::make_shared<std::vector<owner_says>>(
    std::vector<owner_says>{owner_says::down, owner_says::ok, owner_says::unserved, owner_says::ok});
  auto asked = std::make_shared<int>(0);
  auto owner = n.sys.spawn(scripted_owner, script, asked);
  auto w = n.sys.spawn(payment_worker, n.ctx, n.dir.writer, std::vector<caf::actor>{owner},
                       size_t{0}, payment_book{}, due_list{});
  auto now = n.ctx->now_ms();
  auto created = n.ask<payment_reply>(w, intent_atom::value,
                                      payment_intent{"pay_o1", "o1", 100, payment_status::pending,
                                                     now + 100, now});
  REQUIRE(created.code == errc::ok);
  n.advance(200ms); // expired by its timer
  auto sig = payment_signature("k", "o1", "pay_o1", "succeeded");
  auto verify = [&] {
    n.self->send(w, verify_atom::value, std::string("o1"), std::string("pay_o1"),
                 std::string("succeeded"), sig);
    n.run();
  };
  auto answer = [&](payment_reply& out) {
    bool got = false;
    n.self->receive([&](payment_reply& r) { out = std::move(r); got = true; },
                    caf::after(0s) >> [] {});
    return got;
  };
  payment_reply r;

  // The payment's write is held: the order is not asked, nothing is answered.
  hold_writer(n, true);
  verify();
  CHECK(*asked == 0);
  CHECK_FALSE(answer(r));
  // Durable: the order is asked; its actor had just ended (CAF bounces the request), so
  // the worker asks again after a pause, and answers only then.
  hold_writer(n, false);
  CHECK(*asked == 1);
  CHECK_FALSE(answer(r));
  n.advance(60ms);
  CHECK(*asked == 2);
  REQUIRE(answer(r));
  CHECK(r.code == errc::ok);
  CHECK(r.intent.status == payment_status::refunded);
  CHECK(r.message == late_refund_message);

  // A repeat asks the order again (it may have missed it); its partition is not served
  // now: 503, with the payment refunded all the same.
  verify();
  CHECK(*asked == 3);
  REQUIRE(answer(r));
  CHECK(r.code == errc::unavailable);
  CHECK(r.intent.status == payment_status::refunded);
  // The provider repeats it once more: the order records it, the verification succeeds.
  verify();
  CHECK(*asked == 4);
  REQUIRE(answer(r));
  CHECK(r.code == errc::ok);
  CHECK(r.intent.status == payment_status::refunded);

  n.self->send_exit(w, caf::exit_reason::user_shutdown);
  n.self->send_exit(owner, caf::exit_reason::user_shutdown);
  n.run();
}
