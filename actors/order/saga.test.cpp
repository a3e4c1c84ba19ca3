// The saga state machine: every branch, and every input in every step (exhaustive).
#include <catch2/catch.hpp>

#include <set>

#include "actors/order/saga.hpp"

using namespace saga;

namespace {

const saga_config cfg{1000, 5000, 2000};

order_state created() {
  auto d = create_order(cfg, "o1", "c1", {{"A", 2, 150}, {"B", 1, 1000}}, 100);
  return d.next;
}

/// Feeds inputs in turn, requiring each to be applied; returns the final state and
/// the types of all events (ordercreated included).
std::pair<order_state, std::vector<event_type>> run(std::vector<input_kind> inputs) {
  auto c = create_order(cfg, "o1", "c1", {{"A", 2, 150}}, 100);
  auto s = c.next;
  std::vector<event_type> types{c.events[0].type};
  int64_t t = 100;
  for (auto k : inputs) {
    auto d = decide(cfg, s, {k, t += 10, "why"});
    INFO("input " << to_string(k) << " in step " << to_string(s.step));
    REQUIRE(d.result == outcome::applied);
    for (auto& ev : d.events) {
      REQUIRE(ev.seq == types.size() + 1); // gapless
      types.push_back(ev.type);
    }
    s = d.next;
  }
  return {s, types};
}

using E = event_type;
using I = input_kind;

} // namespace

TEST_CASE("create_order prices the order and asks for a reservation", "[unit][saga]") {
  auto d = create_order(cfg, "o1", "c1", {{"A", 2, 150}, {"B", 1, 1000}}, 100);
  REQUIRE(d.result == outcome::applied);
  CHECK(d.next.selling_price_cents == 1300);
  CHECK(d.next.status == order_status::pending);
  CHECK(d.next.step == saga_step::reserving_inventory);
  REQUIRE(d.events.size() == 1);
  CHECK(d.events[0].type == E::ordercreated);
  CHECK(d.events[0].seq == 1);
  REQUIRE(d.commands.size() == 1);
  CHECK(d.commands[0].kind == command_kind::reserve_inventory);
}

TEST_CASE("happy path completes the order with the seed's events", "[unit][saga]") {
  auto [s, types] = run({I::inventory_reserved, I::payment_intent_created, I::payment_succeeded, I::complete_requested,
                         I::inventory_committed});
  CHECK(s.status == order_status::completed);
  CHECK(s.step == saga_step::completed);
  CHECK(s.payment == payment_status::succeeded);
  CHECK(types == std::vector<E>{E::ordercreated, E::inventory_reserved, E::payment_initiated,
                                E::payment_succeeded, E::order_completed,
                                E::inventory_committed});
}

TEST_CASE("reservation failure cancels and releases", "[unit][saga]") {
  auto [s, types] = run({I::inventory_reservation_rejected, I::inventory_released});
  CHECK(s.status == order_status::failed);
  CHECK(s.reason == failure_reason::inventory_reservation_failed);
  CHECK(types == std::vector<E>{E::ordercreated, E::inventory_reservation_failed,
                                E::order_cancelled, E::inventory_released});
}

TEST_CASE("payment failure cancels and releases", "[unit][saga]") {
  auto [s, types] = run({I::inventory_reserved, I::payment_intent_created, I::payment_failed, I::inventory_released});
  CHECK(s.status == order_status::failed);
  CHECK(s.reason == failure_reason::payment_failed);
  CHECK(s.payment == payment_status::failed);
  CHECK(types == std::vector<E>{E::ordercreated, E::inventory_reserved, E::payment_initiated,
                                E::payment_failed, E::order_cancelled, E::inventory_released});
}

TEST_CASE("payment expiry takes the payment-failed path", "[unit][saga]") {
  auto [s, types] = run({I::inventory_reserved, I::payment_intent_created, I::payment_expired, I::inventory_released});
  CHECK(s.status == order_status::failed);
  CHECK(s.reason == failure_reason::payment_expired);
  CHECK(s.payment == payment_status::expired);
  CHECK(types.back() == E::inventory_released);
}

TEST_CASE("commit failure after payment releases and refunds", "[unit][saga]") {
  auto [s, types] = run({I::inventory_reserved, I::payment_intent_created, I::payment_succeeded, I::complete_requested,
                         I::inventory_commit_rejected, I::inventory_released,
                         I::payment_refunded});
  CHECK(s.status == order_status::failed);
  CHECK(s.reason == failure_reason::inventory_commit_failed);
  CHECK(s.payment == payment_status::refunded);
  CHECK(types == std::vector<E>{E::ordercreated, E::inventory_reserved, E::payment_initiated,
                                E::payment_succeeded, E::order_completed,
                                E::inventory_commit_failed, E::order_cancelled,
                                E::inventory_released, E::payment_refunded});
}

TEST_CASE("the complete timer completes a paid order nobody completed", "[unit][saga]") {
  auto [s, types] = run({I::inventory_reserved, I::payment_intent_created, I::payment_succeeded});
  CHECK(s.complete_deadline_ms > 0);
  auto d = decide(cfg, s, {I::complete_timer_fired, s.complete_deadline_ms, {}});
  REQUIRE(d.result == outcome::applied);
  CHECK(d.next.step == saga_step::committing_inventory);
  CHECK(d.next.complete_deadline_ms == 0);
}

TEST_CASE("payment intent deadline comes from the payment time-out", "[unit][saga]") {
  auto s = created();
  auto d = decide(cfg, s, {I::inventory_reserved, 500, {}});
  CHECK(d.next.payment_expires_at_ms == 500 + cfg.payment_timeout_ms);
  REQUIRE(d.commands.size() == 1);
  CHECK(d.commands[0].kind == command_kind::create_payment_intent);
  CHECK(d.commands[0].deadline_ms == d.next.payment_expires_at_ms);
}

TEST_CASE("PAYMENT_INITIATED is recorded only once the intent exists", "[unit][saga]") {
  auto s = decide(cfg, created(), {I::inventory_reserved, 500, {}}).next;
  CHECK(s.status == order_status::pending);
  CHECK(s.step == saga_step::initiating_payment);
  CHECK(decide(cfg, s, {I::payment_succeeded, 600, {}}).result == outcome::rejected);
  auto d = decide(cfg, s, {I::payment_intent_created, 600, {}});
  REQUIRE(d.result == outcome::applied);
  CHECK(d.next.status == order_status::payment_initiated);
  REQUIRE(d.events.size() == 1);
  CHECK(d.events[0].type == E::payment_initiated);
  CHECK(d.commands.empty());
  CHECK(decide(cfg, d.next, {I::payment_intent_created, 700, {}}).result == outcome::duplicate);
}

TEST_CASE("complete before payment succeeded is rejected", "[unit][saga]") {
  auto [s, types] = run({I::inventory_reserved});
  auto d = decide(cfg, s, {I::complete_requested, 1, {}});
  CHECK(d.result == outcome::rejected);
  CHECK(d.events.empty());
}

TEST_CASE("contradicting payment verdict after success is rejected", "[unit][saga]") {
  auto [s, types] = run({I::inventory_reserved, I::payment_intent_created, I::payment_succeeded});
  CHECK(decide(cfg, s, {I::payment_failed, 1, {}}).result == outcome::rejected);
  CHECK(decide(cfg, s, {I::payment_succeeded, 1, {}}).result == outcome::duplicate);
  // an expiry timer racing a success is harmless
  CHECK(decide(cfg, s, {I::payment_expired, 1, {}}).result == outcome::duplicate);
}

// Every reachable state, paired with every input: the outcome is one of the three, and
// duplicate/rejected change nothing; applied emits gapless events and never leaves a
// terminal state; no step accepts an input twice (re-applying is a duplicate).
TEST_CASE("every input in every reachable step is applied, a duplicate or rejected",
          "[unit][saga][exhaustive]") {
  std::vector<std::vector<I>> paths = {
    {},
    {I::inventory_reserved},
    {I::inventory_reserved, I::payment_intent_created},
    {I::inventory_reservation_rejected},
    {I::inventory_reservation_rejected, I::inventory_released},
    {I::inventory_reserved, I::payment_intent_created, I::payment_succeeded},
    {I::inventory_reserved, I::payment_intent_created, I::payment_failed},
    {I::inventory_reserved, I::payment_intent_created, I::payment_expired},
    {I::inventory_reserved, I::payment_intent_created, I::payment_failed, I::inventory_released},
    {I::inventory_reserved, I::payment_intent_created, I::payment_succeeded, I::complete_requested},
    {I::inventory_reserved, I::payment_intent_created, I::payment_succeeded, I::complete_timer_fired},
    {I::inventory_reserved, I::payment_intent_created, I::payment_succeeded, I::complete_requested, I::inventory_committed},
    {I::inventory_reserved, I::payment_intent_created, I::payment_succeeded, I::complete_requested,
     I::inventory_commit_rejected},
    {I::inventory_reserved, I::payment_intent_created, I::payment_succeeded, I::complete_requested,
     I::inventory_commit_rejected, I::inventory_released},
    {I::inventory_reserved, I::payment_intent_created, I::payment_succeeded, I::complete_requested,
     I::inventory_commit_rejected, I::inventory_released, I::payment_refunded},
    // compensated by an operator while the payment was open: settled before failing
    {I::inventory_reserved, I::admin_compensate, I::inventory_released},
    {I::inventory_reserved, I::payment_intent_created, I::admin_compensate},
    {I::inventory_reserved, I::payment_intent_created, I::admin_compensate, I::inventory_released},
    {I::inventory_reserved, I::payment_intent_created, I::admin_compensate, I::inventory_released,
     I::payment_succeeded},
    {I::inventory_reserved, I::payment_intent_created, I::admin_compensate, I::inventory_released,
     I::payment_failed},
  };
  std::set<saga_step> seen;
  int combos = 0;
  for (auto& path : paths) {
    auto [s, types] = run(path);
    seen.insert(s.step);
    for (int k = 0; k < input_kind_count; ++k) {
      auto kind = static_cast<I>(k);
      INFO("step " << to_string(s.step) << " input " << to_string(kind));
      auto d = decide(cfg, s, {kind, 10000, "x"});
      ++combos;
      switch (d.result) {
        case outcome::applied: {
          // A finished order takes one fact only: a late capture the worker refunded, and
          // it stays where it is.
          if (is_terminal(s.step)) {
            CHECK(kind == I::payment_refunded);
            CHECK(d.next.step == s.step);
            CHECK(d.next.status == s.status);
          }
          REQUIRE_FALSE(d.events.empty());
          for (size_t i = 0; i < d.events.size(); ++i)
            CHECK(d.events[i].seq == s.seq + i + 1);
          CHECK(d.next.seq == s.seq + d.events.size());
          // applying the same input again is never a second transition (an operator's
          // action is a command, not a fact: each one is applied and recorded)
          auto again = decide(cfg, d.next, {kind, 10001, "x"});
          if (kind != I::admin_retry && kind != I::admin_compensate)
            CHECK(again.result != outcome::applied);
          break;
        }
        case outcome::duplicate:
        case outcome::rejected:
          CHECK(d.events.empty());
          CHECK(d.commands.empty());
          CHECK(d.next.seq == s.seq);
          CHECK(d.next.step == s.step);
          CHECK_FALSE(d.why.empty());
          break;
      }
    }
  }
  CHECK(seen.size() == 9); // every step was reached
  CHECK(combos == static_cast<int>(paths.size()) * input_kind_count);
}

TEST_CASE("terminal orders accept nothing new", "[unit][saga]") {
  for (auto path : {std::vector<I>{I::inventory_reservation_rejected, I::inventory_released},
                    std::vector<I>{I::inventory_reserved, I::payment_intent_created, I::payment_succeeded,
                                   I::complete_requested, I::inventory_committed}}) {
    auto [s, types] = run(path);
    for (int k = 0; k < input_kind_count; ++k)
      CHECK(decide(cfg, s, {static_cast<I>(k), 1, {}}).result != outcome::applied);
  }
}

TEST_CASE("resume re-sends the command of the current step", "[unit][saga]") {
  auto [s, types] = run({I::inventory_reserved});
  auto cmds = resume_commands(s);
  REQUIRE(cmds.size() == 1);
  CHECK(cmds[0].kind == command_kind::create_payment_intent);
  CHECK(cmds[0].deadline_ms == s.payment_expires_at_ms);
  auto [done, t2] = run({I::inventory_reservation_rejected, I::inventory_released});
  CHECK(resume_commands(done).empty());
}

TEST_CASE("names round-trip", "[unit][saga]") {
  for (int i = 0; i < 13; ++i) {
    event_type x;
    REQUIRE(from_string(to_string(static_cast<event_type>(i)), x));
    CHECK(static_cast<int>(x) == i);
  }
  for (int i = 0; i < 9; ++i) {
    saga_step x;
    REQUIRE(from_string(to_string(static_cast<saga_step>(i)), x));
    CHECK(static_cast<int>(x) == i);
  }
}

TEST_CASE("an operator's compensate of a paid order releases, refunds and fails it",
          "[unit][saga][admin]") {
  auto [s, types] = run({I::inventory_reserved, I::payment_intent_created, I::payment_succeeded,
                         I::complete_requested}); // parked while committing, money taken
  REQUIRE(s.step == saga_step::committing_inventory);
  auto d = decide(cfg, s, {I::admin_compensate, 500, "by ops"});
  REQUIRE(d.result == outcome::applied);
  REQUIRE(d.events.size() == 2);
  CHECK(d.events[0].type == event_type::order_admin_action);
  CHECK(d.events[0].data.find("\"action\":\"compensate\"") != std::string::npos);
  CHECK(d.events[0].data.find("\"step\":\"committing_inventory\"") != std::string::npos);
  CHECK(d.events[0].ts_ms == 500);
  CHECK(d.events[1].type == event_type::order_cancelled);
  CHECK(d.next.step == saga_step::releasing_inventory);
  CHECK(d.next.reason == failure_reason::cancelled);
  REQUIRE(d.commands.size() == 1);
  CHECK(d.commands[0].kind == command_kind::release_inventory);
  auto released = decide(cfg, d.next, {I::inventory_released, 600, {}});
  CHECK(released.next.step == saga_step::refunding_payment); // paid: refund before failing
  auto refunded = decide(cfg, released.next, {I::payment_refunded, 700, {}});
  CHECK(refunded.next.step == saga_step::failed);
  CHECK(refunded.next.status == order_status::failed);
}

TEST_CASE("an operator's retry re-sends the step's command and records the action",
          "[unit][saga][admin]") {
  auto [s, types] = run({I::inventory_reserved, I::payment_intent_created});
  auto d = decide(cfg, s, {I::admin_retry, 500, {}});
  REQUIRE(d.result == outcome::applied);
  REQUIRE(d.events.size() == 1);
  CHECK(d.events[0].type == event_type::order_admin_action);
  CHECK(d.events[0].data.find("\"action\":\"retry\"") != std::string::npos);
  CHECK(d.next.step == s.step);
  REQUIRE(d.commands.size() == 1);
  CHECK(d.commands[0].kind == command_kind::create_payment_intent);
  auto [done, t2] = run({I::inventory_reservation_rejected, I::inventory_released});
  CHECK(decide(cfg, done, {I::admin_retry, 1, {}}).result == outcome::rejected);
  CHECK(decide(cfg, done, {I::admin_compensate, 1, {}}).result == outcome::rejected);
}

TEST_CASE("an operator's compensate of an order awaiting payment settles its intent",
          "[unit][saga][admin]") {
  auto [s, types] = run({I::inventory_reserved, I::payment_intent_created, I::admin_compensate});
  REQUIRE(s.step == saga_step::releasing_inventory);
  auto released = decide(cfg, s, {I::inventory_released, 600, {}});
  REQUIRE(released.result == outcome::applied);
  CHECK(released.next.step == saga_step::refunding_payment); // not FAILED with an open intent
  REQUIRE(released.commands.size() == 1);
  CHECK(released.commands[0].kind == command_kind::cancel_payment);
  auto resumed = resume_commands(released.next); // after a crash: settle again
  REQUIRE(resumed.size() == 1);
  CHECK(resumed[0].kind == command_kind::cancel_payment);
  SECTION("the worker cancelled the pending intent") {
    auto d = decide(cfg, released.next, {I::payment_failed, 700, "cancelled"});
    REQUIRE(d.result == outcome::applied);
    REQUIRE(d.events.size() == 1);
    CHECK(d.events[0].type == event_type::payment_failed);
    CHECK(d.events[0].data.find("\"reason\":\"cancelled\"") != std::string::npos);
    CHECK(d.next.step == saga_step::failed);
    CHECK(d.next.status == order_status::failed);
    CHECK(d.commands.empty());
  }
  SECTION("the provider's success got there first: it is refunded") {
    auto d = decide(cfg, released.next, {I::payment_succeeded, 700, {}});
    REQUIRE(d.result == outcome::applied);
    CHECK(d.events[0].type == event_type::payment_succeeded);
    CHECK(d.next.payment == payment_status::succeeded);
    CHECK(d.next.step == saga_step::refunding_payment);
    REQUIRE(d.commands.size() == 1);
    CHECK(d.commands[0].kind == command_kind::refund_payment);
    auto refunded = decide(cfg, d.next, {I::payment_refunded, 800, {}});
    CHECK(refunded.next.step == saga_step::failed);
    CHECK(refunded.next.payment == payment_status::refunded);
  }
  SECTION("the worker found a late capture and refunded it: recorded, and the order fails") {
    auto d = decide(cfg, released.next, {I::payment_refunded, 700, "late"});
    REQUIRE(d.result == outcome::applied);
    REQUIRE(d.events.size() == 2);
    CHECK(d.events[0].type == event_type::payment_succeeded);
    CHECK(d.events[1].type == event_type::payment_refunded);
    CHECK(d.events[1].data.find("\"late\":true") != std::string::npos);
    CHECK(d.next.payment == payment_status::refunded);
    CHECK(d.next.step == saga_step::failed);
    CHECK(d.commands.empty());
  }
}

TEST_CASE("a late capture the worker refunded is recorded on the order, whatever its step, once",
          "[unit][saga]") {
  SECTION("a failed order (its intent expired) records the capture and its refund, and stays "
          "failed") {
    auto [s, types] = run({I::inventory_reserved, I::payment_intent_created, I::payment_expired,
                           I::inventory_released});
    REQUIRE(s.step == saga_step::failed);
    REQUIRE(s.reason == failure_reason::payment_expired);
    auto d = decide(cfg, s, {I::payment_refunded, 9000, "late"});
    REQUIRE(d.result == outcome::applied);
    REQUIRE(d.events.size() == 2);
    CHECK(d.events[0].type == event_type::payment_succeeded);
    CHECK(d.events[0].data.find("\"late\":true") != std::string::npos);
    CHECK(d.events[1].type == event_type::payment_refunded);
    CHECK(d.events[1].data.find("\"amount_cents\"") != std::string::npos);
    CHECK(d.next.step == saga_step::failed);
    CHECK(d.next.status == order_status::failed);
    CHECK(d.next.reason == failure_reason::payment_expired);
    CHECK(d.next.payment == payment_status::refunded);
    CHECK(d.commands.empty());
    CHECK(decide(cfg, d.next, {I::payment_refunded, 9001, "late"}).result == outcome::duplicate);
  }
  SECTION("an order still waiting for its verdict learns the expiry, compensates, and records "
          "the refund") {
    auto [s, types] = run({I::inventory_reserved, I::payment_intent_created});
    REQUIRE(s.step == saga_step::awaiting_payment);
    auto d = decide(cfg, s, {I::payment_refunded, 9000, "late"});
    REQUIRE(d.result == outcome::applied);
    std::vector<event_type> got;
    for (auto& e : d.events)
      got.push_back(e.type);
    CHECK(got == std::vector<event_type>{event_type::payment_failed, event_type::order_cancelled,
                                         event_type::payment_succeeded,
                                         event_type::payment_refunded});
    CHECK(d.next.step == saga_step::releasing_inventory);
    CHECK(d.next.reason == failure_reason::payment_expired);
    REQUIRE(d.commands.size() == 1);
    CHECK(d.commands[0].kind == command_kind::release_inventory);
    auto released = decide(cfg, d.next, {I::inventory_released, 9100, {}});
    CHECK(released.next.step == saga_step::failed); // nothing left to refund
    CHECK(released.next.payment == payment_status::refunded);
  }
  SECTION("a completed order never takes one (its payment succeeded)") {
    auto [s, types] = run({I::inventory_reserved, I::payment_intent_created,
                           I::payment_succeeded, I::complete_requested, I::inventory_committed});
    REQUIRE(s.step == saga_step::completed);
    CHECK(decide(cfg, s, {I::payment_refunded, 9000, "late"}).result != outcome::applied);
  }
}
