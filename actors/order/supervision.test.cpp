// Actor tests on CAF's deterministic test coordinator over a real RocksDB directory.
// The order supervisor's restarts and parking: a crashing order is restarted from its
// snapshot, then parked; an operator retries or compensates a parked order.
#include "actors/plumbing/component_supervisor.hpp"
#include "tests/node_fixture.hpp"

TEST_CASE("an order actor that throws is restarted from its snapshot and finishes", "[actor][supervision]") {
  temp_dir d;
  node_fixture n(d.path.string());
  n.stock("A", 3, 100);
  auto id = n.create({{"A", 1, 0}});
  n.self->send(n.dir.owner_for(id), crash_atom::value, id);
  n.run();
  auto stats = n.ask<supervisor_stats>(n.dir.owner_for(id), stats_atom::value);
  CHECK(stats.restarted == 1);
  CHECK(stats.parked == 0);
  CHECK(stats.live == 1);
  REQUIRE(n.verify(id, "succeeded").code == errc::ok);
  n.run();
  CHECK(n.complete(id).code == errc::ok);
  n.run();
  CHECK(n.view(id).state.status == order_status::completed);
  CHECK(n.sku("A").committed == 1);
  CHECK(n.view(id).events.size() == 6); // no event twice after the restart
}

TEST_CASE("an order that keeps crashing is parked with a reason, not lost", "[actor][supervision]") {
  temp_dir d;
  node_fixture n(d.path.string()); // saga.max_restarts = 2
  n.stock("A", 3, 100);
  auto id = n.create({{"A", 1, 0}});
  for (int i = 0; i < 3; ++i) {
    n.self->send(n.dir.owner_for(id), crash_atom::value, id);
    n.run();
  }
  auto v = n.view(id);
  CHECK_FALSE(v.parked_reason.empty());
  CHECK(v.state.step == saga_step::awaiting_payment);
  auto r = n.complete(id);
  CHECK(r.code == errc::unavailable);
}

TEST_CASE("a partition past its restart budget fails loudly and its sagas end parked",
          "[actor][supervision]") {
  temp_dir d;
  auto nc = test_node_config();
  nc.supervision_max_restarts = 1;
  nc.saga_max_retries = 2;
  nc.saga_max_restarts = 1;
  node_fixture n(d.path.string(), nc);
  n.stock("A", 10, 100);
  auto handle = n.dir.inventory_for("A");
  for (int i = 0; i < 2; ++i) {
    n.self->send(handle, crash_atom::value);
    n.run();
  }
  auto failed = n.ctx->stats->failed_components();
  REQUIRE(failed.size() == 1);
  CHECK(failed[0].rfind("inventory_worker/", 0) == 0);
  CHECK(n.ctx->stats->render().find("saga_components_failed 1") != std::string::npos);
  // A saga that needs the failed partition: its requests fail at once, it retries with
  // backoff, gives up, is restarted, gives up again and is parked with the reason.
  std::vector<order_item> items{{"A", 1, 100}};
  auto s = n.ask<create_reply>(n.dir.orders[0], create_atom::value, std::string("c"), items,
                               std::string(), std::string()).state;
  n.advance(std::chrono::milliseconds(60000));
  auto v = n.view(s.order_id);
  CHECK_FALSE(v.parked_reason.empty());
  CHECK(v.state.step == saga_step::reserving_inventory);
  CHECK(n.ask<supervisor_stats>(n.dir.owner_for(s.order_id), stats_atom::value).parked == 1);
}

TEST_CASE("a parked paid order is visible and an operator's compensate releases and refunds it",
          "[actor][supervision][admin]") {
  temp_dir d;
  node_fixture n(d.path.string()); // saga.max_restarts = 2
  n.stock("A", 3, 100);
  auto id = n.create({{"A", 1, 0}});
  REQUIRE(n.verify(id, "succeeded").code == errc::ok); // the customer paid
  n.run();
  for (int i = 0; i < 3; ++i) {
    n.self->send(n.dir.owner_for(id), crash_atom::value, id);
    n.run();
  }
  auto parked = n.ask<std::vector<parked_order>>(n.dir.owner_for(id), parked_atom::value);
  REQUIRE(parked.size() == 1);
  CHECK(parked[0].order_id == id);
  CHECK(parked[0].holds_money);
  CHECK(parked[0].holds_stock);
  CHECK_FALSE(parked[0].reason.empty());
  CHECK(n.ctx->stats->parked_holding_money.load() == 1);
  auto r = n.ask<input_reply>(n.dir.owner_for(id), admin_atom::value, id, input_kind::admin_compensate,
                              std::string("customer asked"));
  CHECK(r.code == errc::ok);
  n.run();
  auto v = n.view(id);
  CHECK(v.state.status == order_status::failed);
  CHECK(v.state.payment == payment_status::refunded);
  CHECK(v.parked_reason.empty()); // un-parked in the same write as the recorded action
  bool recorded = false;
  for (auto& e : v.events)
    recorded = recorded || (e.type == event_type::order_admin_action
                            && e.data.find("compensate") != std::string::npos
                            && e.data.find("customer asked") != std::string::npos);
  CHECK(recorded);
  CHECK(n.sku("A").reserved == 0);
  CHECK(n.sku("A").available == 3);
  CHECK(n.ask<std::vector<parked_order>>(n.dir.owner_for(id), parked_atom::value).empty());
  CHECK(n.ctx->stats->parked_now.load() == 0);
  // a second action finds nothing parked
  auto again = n.ask<input_reply>(n.dir.owner_for(id), admin_atom::value, id,
                                  input_kind::admin_compensate, std::string());
  CHECK(again.code == errc::conflict);
}

TEST_CASE("parked orders are loaded at start, with what they hold", "[actor][supervision][admin]") {
  temp_dir d;
  std::string id;
  {
    node_fixture n(d.path.string());
    n.stock("A", 3, 100);
    id = n.create({{"A", 2, 0}});
    for (int i = 0; i < 3; ++i) {
      n.self->send(n.dir.owner_for(id), crash_atom::value, id);
      n.run();
    }
  }
  node_fixture n(d.path.string()); // a restart on the same RocksDB
  auto parked = n.ask<std::vector<parked_order>>(n.dir.owner_for(id), parked_atom::value);
  REQUIRE(parked.size() == 1);
  CHECK(parked[0].order_id == id);
  CHECK(parked[0].holds_stock);
  CHECK_FALSE(parked[0].holds_money);
  CHECK(n.ctx->stats->parked_now.load() == 1);
  CHECK(n.ctx->stats->parked_holding_stock.load() == 1);
  CHECK(n.ctx->stats->render().find("saga_orders_parked_holding{what=\"stock\"} 1") != std::string::npos);
}

TEST_CASE("an operator's retry resumes a parked order, which then finishes",
          "[actor][supervision][admin]") {
  temp_dir d;
  node_fixture n(d.path.string());
  n.stock("A", 3, 100);
  auto id = n.create({{"A", 1, 0}});
  for (int i = 0; i < 3; ++i) {
    n.self->send(n.dir.owner_for(id), crash_atom::value, id);
    n.run();
  }
  REQUIRE_FALSE(n.view(id).parked_reason.empty());
  auto r = n.ask<input_reply>(n.dir.owner_for(id), admin_atom::value, id, input_kind::admin_retry,
                              std::string());
  CHECK(r.code == errc::ok);
  n.run();
  CHECK(n.view(id).parked_reason.empty());
  REQUIRE(n.verify(id, "succeeded").code == errc::ok);
  n.run();
  CHECK(n.complete(id).code == errc::ok);
  n.run();
  CHECK(n.view(id).state.status == order_status::completed);
  CHECK(n.sku("A").committed == 1);
}

TEST_CASE("an order that crashes with writes queued is not resumed from a stale snapshot",
          "[actor][durability][supervision]") {
  temp_dir d;
  node_fixture n(d.path.string());
  n.stock("A", 10, 100);
  auto id = n.create({{"A", 1, 0}});
  auto seq_before = n.view(id).state.seq;
  hold_writer(n, true);
  // The order decides the payment (its write queued), dies, and a message for it arrives
  // before the write lands: resuming now would decide the same `seq` again.
  n.self->send(n.dir.owner_for(id), input_atom::value, id, input(input_kind::payment_succeeded));
  n.run();
  n.self->send(n.dir.owner_for(id), crash_atom::value, id);
  n.run();
  n.self->send(n.dir.owner_for(id), input_atom::value, id, input(input_kind::payment_succeeded));
  n.self->send(n.dir.owner_for(id), payment_update_atom::value, id, payment_status::succeeded);
  n.run();
  auto early = drain(n);
  CHECK(early.inputs.empty()); // the held message waits for the recovery
  hold_writer(n, false);
  n.run();
  auto late = drain(n);
  REQUIRE(late.inputs.size() == 1);
  CHECK(late.inputs[0].result == outcome::duplicate); // answered by the resumed order
  auto v = n.view(id);
  CHECK(v.state.seq == seq_before + 1);
  CHECK(v.state.payment == payment_status::succeeded);
  CHECK(n.complete(id).code == errc::ok);
  n.run();
  CHECK(n.view(id).state.status == order_status::completed);
  auto stats = n.ask<supervisor_stats>(n.dir.owner_for(id), stats_atom::value);
  CHECK(stats.restarted == 1);
  CHECK(check_outbox(n, id) == n.view(id).events.size());
}

namespace {
/// Stands in for a registered long-lived actor; answers nothing.
caf::behavior stand_in_actor(caf::event_based_actor*, std::string /* name */) {
  return {[](inspect_atom) {}};
}

/// The inspector's registry: each long-lived actor's kind (and key).
std::multiset<std::string> registry(node_fixture& n, bool with_key) {
  std::multiset<std::string> out;
  for (auto& a : n.ask<std::vector<actor_info>>(n.dir.inspector, list_atom::value))
    out.insert(with_key ? a.kind + "/" + a.key : a.kind);
  return out;
}
} // namespace

TEST_CASE("the inspector and the retention sweeper are supervised: restarted with their "
          "registrations, and on a stopping node they answer node_stopping, not 'receiver down'",
          "[actor][supervision]") {
  temp_dir d;
  node_fixture n(d.path.string());
  auto kinds = [&] { return registry(n, false); };
  auto before = kinds();
  REQUIRE(before.count("writer") == 1);
  REQUIRE(before.count("retention_sweeper") == 1);
  REQUIRE(before.count("order_supervisor") == n.dir.orders.size());
  n.self->send(n.dir.inspector, crash_atom::value);
  n.self->send(n.handles.sweeper, crash_atom::value);
  n.run();
  CHECK(kinds() == before); // a new inspector, told of every long-lived actor again
  auto sweeper = n.ask<actor_info>(n.handles.sweeper, inspect_atom::value);
  CHECK(sweeper.restarts == 1);
  // A storage failure stops the node: a component that dies now stays down, and says why.
  n.ctx->halt("a test's storage failure");
  for (auto& [who, ask] : {std::pair{n.dir.inspector, caf::make_message(list_atom::value)},
                           std::pair{n.handles.sweeper, caf::make_message(flush_atom::value)}}) {
    n.self->send(who, crash_atom::value);
    n.run();
    n.self->send(who, ask);
    n.run();
    std::string said;
    n.self->receive([](caf::message&) {}, [&](caf::error& e) { said = n.sys.render(e); },
                    caf::after(0s) >> [] {});
    CHECK(said.find("node_stopping") != std::string::npos);
    CHECK(n.ask<actor_info>(who, inspect_atom::value).state == "stopping");
  }
}

TEST_CASE("an actor registered with the inspector that ends (a released partition) leaves the "
          "registry, and a restarted inspector is not told of it again",
          "[actor][supervision]") {
  temp_dir d;
  node_fixture n(d.path.string());
  auto kinds = [&] { return registry(n, true); };
  auto before = kinds();
  // The supervisor's list of what to tell a restarted inspector (single-threaded test
  // scheduler: read in place).
  auto* sup = dynamic_cast<caf::stateful_actor<component_supervisor_state>*>(
    caf::actor_cast<caf::abstract_actor*>(n.dir.inspector));
  REQUIRE(sup != nullptr);
  auto kept = sup->state.registrations.size();
  n.stock("A", 3, 100);
  n.create({{"A", 1, 0}}); // an order waiting for its payment: live in the summary
  auto first = n.ask<inspect_summary>(n.dir.inspector, summary_atom::value);
  REQUIRE(first.orders.live == 1);
  // What a takeover registers: a partition's owner and its payment worker (stand-ins that
  // answer nothing; they end as a release ends them).
  // (CAF 0.17: a function actor spawned without arguments dereferences a null argument
  // tuple, which a checked standard library aborts on: it takes its name.)
  auto stand_in = [&] { return n.sys.spawn(stand_in_actor, std::string("stand-in")); };
  auto owner = stand_in();
  auto worker = stand_in();
  n.self->send(n.dir.inspector, register_atom::value, std::string("order_supervisor"),
               std::string("7"), owner);
  n.self->send(n.dir.inspector, register_atom::value, std::string("payment_worker"),
               std::string("7"), worker);
  n.run();
  CHECK(sup->state.registrations.size() == kept + 2);
  for (auto& a : {owner, worker})
    n.self->send_exit(a, caf::exit_reason::user_shutdown);
  n.run();
  CHECK(kinds() == before);
  CHECK(sup->state.registrations.size() == kept);
  // The summary asks the live owners only (a dead one is not asked for ever).
  auto s = n.ask<inspect_summary>(n.dir.inspector, summary_atom::value);
  CHECK(s.actors.size() == before.size());
  CHECK(s.orders.live == first.orders.live); // not lost to a failed ask of the dead owner
  CHECK(s.orders.by_step == first.orders.by_step);
  n.self->send(n.dir.inspector, crash_atom::value);
  n.run();
  CHECK(kinds() == before); // the restarted inspector was not given the ended ones
}

namespace {
/// Crashes the order past saga.max_restarts (2): it is parked.
void park(node_fixture& n, const std::string& id) {
  for (int i = 0; i < 3; ++i) {
    n.self->send(n.dir.owner_for(id), crash_atom::value, id);
    n.run();
  }
  REQUIRE_FALSE(n.view(id).parked_reason.empty());
}

} // namespace

TEST_CASE("a success that arrives after an operator compensated an order parked while awaiting "
          "payment is recorded and refunded", "[actor][supervision][admin][late_payment]") {
  temp_dir d;
  node_fixture n(d.path.string()); // saga.max_restarts = 2
  n.stock("A", 3, 100);
  auto id = n.create({{"A", 1, 0}});
  REQUIRE(n.view(id).state.step == saga_step::awaiting_payment);
  park(n, id);
  auto r = n.ask<input_reply>(n.dir.owner_for(id), admin_atom::value, id,
                              input_kind::admin_compensate, std::string("customer gave up"));
  REQUIRE(r.code == errc::ok);
  n.run();
  REQUIRE(n.view(id).state.status == order_status::failed);
  REQUIRE(n.view(id).state.payment == payment_status::failed); // its intent was cancelled
  auto late = n.verify(id, "succeeded"); // the provider had captured it meanwhile
  CHECK(late.code == errc::ok);
  CHECK(late.intent.status == payment_status::refunded);
  n.run();
  auto v = n.view(id);
  CHECK(v.state.status == order_status::failed);
  CHECK(v.state.payment == payment_status::refunded);
  CHECK(v.events.back().type == event_type::payment_refunded);
  CHECK(check_outbox(n, id) == v.events.size());
  CHECK(n.sku("A").available == 3);
}

TEST_CASE("an operator's compensate of a waiting order that is not parked releases its stock, "
          "cancels its payment and fails it; retry stays for parked orders",
          "[actor][supervision][admin]") {
  temp_dir d;
  auto c = test_node_config();
  c.payment_timeout_ms = 600000; // it would wait for its payment for ten minutes
  c.inventory_reservation_ttl_ms = 900000;
  c.saga_passivate_after_ms = 1000;
  node_fixture n(d.path.string(), c);
  n.stock("A", 3, 100);
  auto id = n.create({{"A", 2, 0}});
  REQUIRE(n.view(id).state.step == saga_step::awaiting_payment);
  n.advance(std::chrono::milliseconds(5000)); // passive by now: no actor, a row
  REQUIRE(n.view(id).state.step == saga_step::awaiting_payment);
  REQUIRE(n.view(id).parked_reason.empty());
  CHECK(n.sku("A").reserved == 2);
  auto retry = n.ask<input_reply>(n.dir.owner_for(id), admin_atom::value, id,
                                  input_kind::admin_retry, std::string());
  CHECK(retry.code == errc::conflict); // nothing to retry: it is not stuck, it waits
  CHECK(n.view(id).state.step == saga_step::awaiting_payment);
  auto r = n.ask<input_reply>(n.dir.owner_for(id), admin_atom::value, id,
                              input_kind::admin_compensate, std::string("customer left"));
  REQUIRE(r.code == errc::ok);
  n.run();
  auto v = n.view(id);
  CHECK(v.state.status == order_status::failed);
  CHECK(v.state.payment == payment_status::failed); // its intent was cancelled
  CHECK(n.sku("A").reserved == 0);
  CHECK(n.sku("A").available == 3);
  bool recorded = false;
  for (auto& e : v.events)
    recorded = recorded || (e.type == event_type::order_admin_action
                            && e.data.find("customer left") != std::string::npos);
  CHECK(recorded);
  // Finished: nothing more to compensate.
  auto again = n.ask<input_reply>(n.dir.owner_for(id), admin_atom::value, id,
                                  input_kind::admin_compensate, std::string());
  CHECK(again.code == errc::conflict);
}

namespace {
payment_reply late_success(node_fixture& n, const std::string& id) {
  auto pid = "pay_" + id;
  auto r = n.ask<payment_reply>(n.dir.payment_for(id), verify_atom::value, id, pid,
                                std::string("succeeded"), payment_signature("k", id, pid, "succeeded"));
  n.run();
  return r;
}
} // namespace

TEST_CASE("a late capture for an order parked with its payment still open is answered at once; "
          "the operator's compensation records it", "[actor][supervision][admin][late_payment]") {
  temp_dir d;
  node_fixture n(d.path.string()); // payment.timeout_ms = 1000
  n.stock("A", 3, 100);
  auto id = n.create({{"A", 1, 0}});
  park(n, id);
  n.advance(1100ms); // the intent expires at its worker; the parked order does not hear it
  REQUIRE(n.view(id).state.payment == payment_status::pending);
  auto late = late_success(n, id);
  CHECK(late.code == errc::ok);
  CHECK(late.intent.status == payment_status::refunded);
  auto r = n.ask<input_reply>(n.dir.owner_for(id), admin_atom::value, id,
                              input_kind::admin_compensate, std::string("ops"));
  REQUIRE(r.code == errc::ok);
  n.run();
  auto v = n.view(id);
  CHECK(v.state.status == order_status::failed);
  CHECK(v.state.payment == payment_status::refunded); // its cancel found the refund
  CHECK(std::count_if(v.events.begin(), v.events.end(), [](const saga_event& e) {
          return e.type == event_type::payment_refunded
                 && e.data.find("\"late\":true") != std::string::npos;
        }) == 1);
  CHECK(n.sku("A").available == 3);
}

TEST_CASE("a late capture for an order parked with its payment decided answers 503 until an "
          "operator's action lets the order record it", "[actor][supervision][admin][late_payment]") {
  temp_dir d;
  std::string id;
  {
    node_fixture n(d.path.string());
    n.stock("A", 3, 100);
    id = n.create({{"A", 1, 0}});
    park(n, id);
  }
  {
    // As if it had been parked while releasing its stock after the payment expired.
    std::string err, raw;
    auto db = storage::store::open(d.path.string(), err);
    REQUIRE(db);
    REQUIRE(db->get(storage::family::orders, id, raw) == storage::read_status::found);
    order_state s;
    std::vector<saga_event> history;
    REQUIRE(decode(raw, s, &history));
    s.step = saga_step::releasing_inventory;
    s.payment = payment_status::expired;
    storage::batch b;
    b.ops.push_back({storage::family::orders, id, encode(s, history), false});
    REQUIRE(db->commit({&b}, true).empty());
  }
  node_fixture n(d.path.string());
  REQUIRE_FALSE(n.view(id).parked_reason.empty());
  n.advance(1100ms);
  auto late = late_success(n, id);
  CHECK(late.code == errc::unavailable); // refunded, but not on the order yet
  CHECK(late.intent.status == payment_status::refunded);
  CHECK(n.view(id).state.payment == payment_status::expired);
  auto r = n.ask<input_reply>(n.dir.owner_for(id), admin_atom::value, id,
                              input_kind::admin_compensate, std::string("ops"));
  REQUIRE(r.code == errc::ok);
  n.run();
  REQUIRE(n.view(id).state.status == order_status::failed);
  auto again = late_success(n, id); // the provider repeats itself
  CHECK(again.code == errc::ok);
  CHECK(again.intent.status == payment_status::refunded);
  auto v = n.view(id);
  CHECK(v.state.payment == payment_status::refunded);
  CHECK(v.events.back().type == event_type::payment_refunded);
  CHECK(n.sku("A").available == 3);
}
