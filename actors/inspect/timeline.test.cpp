// The introspection's pure helpers: the step read back from events must agree with the
// saga state machine, and step budgets follow their configuration.
#include <catch2/catch.hpp>

#include <random>
#include <set>

#include "actors/inspect/timeline.hpp"

using namespace saga;

TEST_CASE("the step timeline read from events agrees with decide() on every reachable path",
          "[unit][timeline]") {
  const saga_config cfg{1000, 5000, 2000};
  std::mt19937 rng(42); // seeded: reproducible
  std::set<saga_step> reached;
  int decisions = 0;
  for (int walk = 0; walk < 2000; ++walk) {
    auto c = create_order(cfg, "o1", "c1", {{"A", 2, 150}}, 100);
    auto s = c.next;
    std::vector<saga_event> events = c.events;
    REQUIRE(step_timeline(events).back().step == s.step);
    int64_t t = 100;
    for (int n = 0; n < 20 && !is_terminal(s.step); ++n) {
      auto kind = static_cast<input_kind>(rng() % input_kind_count);
      auto d = decide(cfg, s, {kind, t += 7, "x"});
      if (d.result != outcome::applied)
        continue;
      ++decisions;
      events.insert(events.end(), d.events.begin(), d.events.end());
      s = d.next;
      auto tl = step_timeline(events);
      INFO("after " << to_string(kind) << " the saga is in " << to_string(s.step));
      REQUIRE(tl.back().step == s.step);
      REQUIRE(tl.back().left_ms == 0);
      for (size_t i = 0; i + 1 < tl.size(); ++i) {
        CHECK(tl[i].step != tl[i + 1].step);         // consecutive events merged
        CHECK(tl[i].left_ms == tl[i + 1].entered_ms); // no gaps between steps
      }
      reached.insert(s.step);
    }
  }
  CHECK(reached.size() == 9); // every step was entered (an operator retry stays in reserving_inventory)
  CHECK(decisions > 4000);
}

TEST_CASE("step budgets: defaults derive from the time-outs, configured values win",
          "[unit][timeline]") {
  node_config c;
  c.payment_timeout_ms = 30000;
  c.saga_auto_complete_ms = 10000;
  CHECK(step_budget_ms(c, saga_step::reserving_inventory) == 5000);
  CHECK(step_budget_ms(c, saga_step::awaiting_payment) == 35000);
  CHECK(step_budget_ms(c, saga_step::awaiting_completion) == 15000);
  CHECK(step_budget_ms(c, saga_step::completed) == 0);
  CHECK(step_budget_ms(c, saga_step::failed) == 0);
  REQUIRE(apply_override("inspect.budget_ms.awaiting_payment=750", c).empty());
  CHECK(step_budget_ms(c, saga_step::awaiting_payment) == 750);
  CHECK(apply_override("inspect.budget_ms.awaiting_paymnt=750", c).find("unknown key") != std::string::npos);
  CHECK_FALSE(apply_override("inspect.budget_ms.refunding_payment=-1", c).empty());
}
