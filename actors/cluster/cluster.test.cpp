// The cluster's messages and actors without a network: every message that crosses nodes
// survives CAF's serializer (an unregistered type fails only at run time, on the remote
// side), the hello check refuses every difference, and a forwarder hands requests on or
// answers node_unavailable while its node is down.
#include <catch2/catch.hpp>

#include <spdlog/sinks/null_sink.h>

#include "actors/cluster/cluster.hpp"
#include "gateway/api.hpp"
#include "gateway/slot_request.hpp"

using namespace saga;
using namespace std::chrono_literals;

namespace {

struct cluster_test_config : caf::actor_system_config {
  explicit cluster_test_config(bool deterministic = true) {
    register_message_types(*this);
    if (deterministic)
      set("scheduler.policy", caf::atom("testing"));
    set("logger.file-verbosity", caf::atom("quiet"));
    set("logger.console-verbosity", caf::atom("quiet"));
  }
};

/// Serializes `msg` as BASP does (a caf::message: type names, then each element) and
/// reads it back.
caf::message round_trip(caf::actor_system& sys, const caf::message& msg) {
  std::vector<char> buf;
  caf::binary_serializer sink{sys, buf};
  auto copy = msg;
  if (auto err = sink(copy))
    FAIL("serializing " << to_string(msg) << ": " << sys.render(err));
  caf::binary_deserializer source{sys, buf};
  caf::message out;
  if (auto err = source(out))
    FAIL("deserializing " << to_string(msg) << ": " << sys.render(err));
  return out;
}

caf::behavior echo_owner(caf::event_based_actor*, std::string /* name */) {
  return {
    [](get_atom, const std::string& id) { return "owner:" + id; },
  };
}

caf::behavior named_owner(caf::event_based_actor*, std::string name) {
  return {
    [name](get_atom, const std::string& id) { return name + ":" + id; },
  };
}

} // namespace

TEST_CASE("every cross-node message and reply survives CAF's serializer",
          "[actors][cluster]") {
  cluster_test_config cfg{false};
  caf::actor_system sys{cfg};
  auto someone = sys.spawn(echo_owner, std::string("someone"));
  order_state s;
  s.order_id = "ord_0001000000000001";
  s.customer_id = "c1";
  s.items = {{"sku-1", 2, 150}};
  s.status = order_status::payment_initiated;
  s.step = saga_step::awaiting_payment;
  saga_event ev;
  ev.order_id = s.order_id;
  ev.seq = 3;
  ev.type = event_type::payment_initiated;
  ev.data = R"({"payment_id":"pay_x"})";
  payment_intent intent{"pay_x", s.order_id, 300, payment_status::pending, 5000, 1000};
  cluster_hello hello = make_hello(node_config{});
  cluster_welcome welcome;
  welcome.ok = true;
  welcome.node_id = "node-2";
  welcome.orders = {someone, caf::actor{}};
  welcome.inventory = {caf::actor{}, someone};
  welcome.payment_by_order = {someone, caf::actor{}};
  order_inspection oi;
  oi.view.state = s;
  oi.view.events = {ev};
  oi.live = true;
  oi.actor.kind = "order";
  std::vector<caf::message> msgs = {
    // inventory partitions (orders on other nodes, any gateway)
    caf::make_message(reserve_atom::value, s.order_id,
                      std::vector<reservation_item>{{"sku-1", 2}, {"sku-2", 1}}),
    caf::make_message(commit_atom::value, s.order_id),
    caf::make_message(release_atom::value, s.order_id),
    caf::make_message(prices_atom::value, std::vector<std::string>{"sku-1", "sku-2"}),
    caf::make_message(stock_atom::value, std::string("sku-1"), int64_t{10}, int64_t{150}),
    caf::make_message(get_atom::value, std::string("sku-1")),
    caf::make_message(op_reply{false, "insufficient stock for sku sku-1"}),
    caf::make_message(sku_reply{errc::ok, "", sku_record{"sku-1", 8, 2, 0, 150}}),
    caf::make_message(prices_reply{errc::ok, "", {150, 250}}),
    // payment workers (verify from any gateway)
    caf::make_message(verify_atom::value, s.order_id, std::string("pay_x"),
                      std::string("succeeded"), std::string("ab12")),
    caf::make_message(intent_atom::value, intent),
    caf::make_message(payment_reply{errc::ok, "", intent}),
    // order partition owners (POST, GET, long-poll, complete, admin, inspect)
    caf::make_message(create_atom::value, std::string("c1"), s.items, std::string("key"),
                      std::string("digest")),
    caf::make_message(input_atom::value, s.order_id,
                      saga_input{input_kind::complete_requested, 0, {}}),
    caf::make_message(wait_atom::value, s.order_id, order_status::completed, int64_t{1000}),
    caf::make_message(admin_atom::value, s.order_id, input_kind::admin_retry, std::string("n")),
    caf::make_message(inspect_atom::value, s.order_id),
    caf::make_message(create_reply{s, true, false}),
    caf::make_message(input_reply{errc::conflict, outcome::rejected, "why", s}),
    caf::make_message(order_view{errc::ok, "", s, {ev}, ""}),
    caf::make_message(oi),
    // the handshake, link status, and the error a forwarder answers
    caf::make_message(protocol_atom::value, cluster_protocol, std::string("node-1")),
    caf::make_message(cluster_protocol),
    caf::make_message(hello_atom::value, hello),
    caf::make_message(welcome),
    caf::make_message(peer_status{"node-2", "up", 123, ""}),
    caf::make_message(node_unavailable("node-2", "inventory/3")),
  };
  for (auto& msg : msgs) {
    auto text = to_string(msg);
    INFO(text);
    auto back = round_trip(sys, msg);
    CHECK(to_string(back) == text);
    CHECK(back.type_token() == msg.type_token());
  }
  // Handles come back as the same actor (on one node; across nodes, as its proxy).
  auto back = round_trip(sys, caf::make_message(welcome));
  auto& w = back.get_as<cluster_welcome>(0);
  CHECK(w.orders[0] == someone);
  CHECK(!w.orders[1]);
  // The forwarder's error still names the node and partition after the trip.
  auto err_back = round_trip(sys, caf::make_message(node_unavailable("node-2", "inventory/3")));
  std::string node, slot;
  CHECK(is_node_unavailable(err_back.get_as<caf::error>(0), node, slot));
  CHECK(node == "node-2");
  CHECK(slot == "inventory/3");
  caf::anon_send_exit(someone, caf::exit_reason::user_shutdown);
}

TEST_CASE("a hello that differs in layout, replication, cluster name or identity is "
          "refused, naming it",
          "[actors][cluster]") {
  node_config here;
  here.node_id = "node-1";
  here.cluster_members = {{"node-1", "127.0.0.1", 4101, 8081}, {"node-2", "127.0.0.1", 4102, 8082}};
  here.cluster_nodes = {"node-1", "node-2"};
  auto there = here;
  there.node_id = "node-2";
  CHECK(check_hello(here, make_hello(there)).empty());
  auto parts = there;
  parts.saga_partitions = 8;
  CHECK(check_hello(here, make_hello(parts)) == "saga.partitions: 4 here, 8 at node-2");
  auto nodes = there;
  nodes.cluster_members.push_back({"node-3", "127.0.0.1", 4103, 8083});
  CHECK(check_hello(here, make_hello(nodes)) == "cluster.nodes: node-3 is listed at node-2, not here");
  // Nodes that keep partitions differently, or in another cluster's changelog and
  // transactional.ids, cannot rebuild or fence each other's partitions.
  auto replicated = there;
  replicated.cluster_replication = "kafka";
  CHECK(check_hello(here, make_hello(replicated))
        == "cluster.replication: none here, kafka at node-2");
  auto named = there;
  named.cluster_name = "shop-b";
  CHECK(check_hello(here, make_hello(named)) == "cluster.name: saga here, shop-b at node-2");
  CHECK(check_hello(here, make_hello(here)).find("connected to itself") != std::string::npos);
  auto stranger = there;
  stranger.node_id = "node-9";
  CHECK(check_hello(here, make_hello(stranger)) == "node 'node-9' is not in cluster.nodes here");
}

TEST_CASE("a node's entry welcomes only a peer that said its cluster protocol first, and the same one",
          "[actors][cluster]") {
  cluster_test_config cfg;
  caf::actor_system sys{cfg};
  auto& sched = dynamic_cast<caf::scheduler::test_coordinator&>(sys.scheduler());
  auto run = [&] {
    while (sched.try_run_once()) {
    }
  };
  auto ctx = std::make_shared<runtime_context>();
  ctx->cfg.node_id = "node-1";
  ctx->cfg.cluster_members = {{"node-1", "127.0.0.1", 4101, 8081},
                              {"node-2", "127.0.0.1", 4102, 8082}};
  ctx->cfg.cluster_nodes = {"node-1", "node-2"};
  ctx->clock = std::make_shared<actor_clock_source>(sys.clock(), 1'000'000);
  ctx->log = std::make_shared<spdlog::logger>("test", std::make_shared<spdlog::sinks::null_sink_mt>());
  auto owner = sys.spawn([](caf::event_based_actor*, int) -> caf::behavior {
    return {[](welcome_atom) {
      cluster_welcome w;
      w.ok = true;
      w.node_id = "node-1";
      return w;
    }};
  }, 0);
  auto entry = sys.spawn(node_entry, ctx, owner);
  caf::scoped_actor self{sys, true};
  auto there = ctx->cfg;
  there.node_id = "node-2";
  auto hello = [&] {
    auto h = self->request(entry, caf::infinite, hello_atom::value, make_hello(there));
    run();
    cluster_welcome got;
    std::move(h).receive([&](cluster_welcome& w) { got = std::move(w); },
                         [&](caf::error& e) { FAIL(sys.render(e)); });
    return got;
  };
  auto say = [&](uint32_t protocol) {
    uint32_t got = 0;
    auto h = self->request(entry, caf::infinite, protocol_atom::value, protocol,
                           std::string("node-2"));
    run();
    std::move(h).receive([&](uint32_t p) { got = p; }, [&](caf::error& e) { FAIL(sys.render(e)); });
    return got;
  };
  // An older sagad says hello without its protocol: refused, naming why.
  auto w = hello();
  CHECK_FALSE(w.ok);
  CHECK(w.refusal == "cluster protocol: " + std::to_string(cluster_protocol)
                       + " here, none at node-2 (an older sagad): every node of a cluster runs "
                         "the same protocol; upgrade node-2");
  // Another protocol: the entry answers its own (the link refuses on its side too).
  CHECK(say(cluster_protocol + 1) == cluster_protocol);
  w = hello();
  CHECK_FALSE(w.ok);
  CHECK(w.refusal.find("cluster protocol: " + std::to_string(cluster_protocol) + " here, "
                       + std::to_string(cluster_protocol + 1) + " at node-2")
        == 0);
  CHECK(protocol_difference(cluster_protocol + 1, "node-2") == w.refusal);
  // The same one: welcomed with what the ownership actor says this node holds.
  CHECK(say(cluster_protocol) == cluster_protocol);
  w = hello();
  CHECK(w.ok);
  CHECK(w.node_id == "node-1");
  CHECK(protocol_difference(cluster_protocol, "node-2").empty());
  // What it said counts for that hello only: node-2 restarted as an older sagad says none.
  w = hello();
  CHECK_FALSE(w.ok);
  CHECK(w.refusal.find("none at node-2") != std::string::npos);
  // Said by one link that died before its hello; node-2 came back as an older sagad whose
  // link says hello without it: what the dead one said does not count.
  {
    caf::scoped_actor dead_link{sys, true};
    auto h = dead_link->request(entry, caf::infinite, protocol_atom::value, cluster_protocol,
                                std::string("node-2"));
    run();
    std::move(h).receive([](uint32_t) {}, [&](caf::error& e) { FAIL(sys.render(e)); });
  }
  w = hello();
  CHECK_FALSE(w.ok);
  CHECK(w.refusal.find("none at node-2") != std::string::npos);
  self->send_exit(entry, caf::exit_reason::user_shutdown);
  self->send_exit(owner, caf::exit_reason::user_shutdown);
  run();
}

TEST_CASE("a forwarder answers node_unavailable while its node is down and hands requests "
          "on while it is up", "[actors][cluster]") {
  cluster_test_config cfg;
  caf::actor_system sys{cfg};
  auto& sched = dynamic_cast<caf::scheduler::test_coordinator&>(sys.scheduler());
  auto run = [&] {
    while (sched.try_run_once()) {
    }
  };
  metrics::peer_stats stats;
  stats.id = "node-2";
  auto fw = sys.spawn(forwarder, std::string("node-2"), std::string("orders/1"), &stats);
  auto owner = sys.spawn(echo_owner, std::string("owner"));
  caf::scoped_actor self{sys, true};
  auto ask_async = [&](std::string& got, caf::error& err) {
    // The test coordinator runs the actors between the send and the receive.
    auto h = self->request(fw, caf::infinite, get_atom::value, std::string("ord_1"));
    run();
    std::move(h).receive([&](const std::string& x) { got = x; }, [&](caf::error& e) { err = e; });
  };
  std::string got, node, slot;
  caf::error err;
  ask_async(got, err); // no route yet: the owner's node is not connected
  CHECK(got.empty());
  REQUIRE(is_node_unavailable(err, node, slot));
  CHECK(node == "node-2");
  CHECK(slot == "orders/1");
  CHECK(stats.unavailable == 1);
  self->send(fw, route_atom::value, owner);
  run();
  err = caf::error{};
  ask_async(got, err);
  CHECK(!err);
  CHECK(got == "owner:ord_1"); // answered by the owner, straight to the requester
  CHECK(stats.forwarded == 1);
  self->send(fw, route_atom::value, caf::actor{}); // the peer went down
  run();
  got.clear();
  ask_async(got, err);
  CHECK(got.empty());
  CHECK(is_node_unavailable(err, node, slot));
  CHECK(stats.unavailable == 2);
  caf::anon_send_exit(fw, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(owner, caf::exit_reason::user_shutdown);
  run();
}

TEST_CASE("a forwarder holds requests during a hand-off and hands them to the new holder, "
          "or answers them node_unavailable when the hold ends without one",
          "[actors][cluster][failover]") {
  cluster_test_config cfg;
  caf::actor_system sys{cfg};
  auto& sched = dynamic_cast<caf::scheduler::test_coordinator&>(sys.scheduler());
  auto run = [&] {
    while (sched.try_run_once()) {
    }
  };
  metrics::peer_stats stats;
  auto fw = sys.spawn(forwarder, std::string("node-2"), std::string("inventory/3"), &stats);
  auto old_owner = sys.spawn(named_owner, std::string("old"));
  auto new_owner = sys.spawn(named_owner, std::string("new"));
  caf::scoped_actor self{sys, true};
  self->send(fw, route_atom::value, old_owner);
  self->send(fw, hold_atom::value, true, int64_t{1000}); // node-2 is stopping
  run();
  // (Finite request time-outs on the test clock: a wrong answer fails, never hangs.)
  auto h = self->request(fw, std::chrono::milliseconds(500), get_atom::value,
                         std::string("ord_1"));
  run();
  CHECK(stats.forwarded == 0); // held: not handed to the old holder
  self->send(fw, route_atom::value, new_owner); // the takeover is done
  run();
  sched.clock().advance_time(std::chrono::milliseconds(600)); // a time-out if unanswered
  run();
  std::string got;
  caf::error err;
  std::move(h).receive([&](const std::string& x) { got = x; }, [&](caf::error& e) { err = e; });
  CHECK(got == "new:ord_1"); // answered by the new holder, to the original requester
  CHECK(!err);
  // A hold that ends without a new holder: the held request is answered node_unavailable,
  // a held plain message is dropped.
  self->send(fw, route_atom::value, caf::actor{});
  self->send(fw, hold_atom::value, true, int64_t{1000});
  run();
  self->send(fw, get_atom::value, std::string("ord_2"));
  auto h2 = self->request(fw, std::chrono::milliseconds(1500), get_atom::value,
                          std::string("ord_3"));
  run();
  sched.clock().advance_time(std::chrono::milliseconds(1001));
  run();
  sched.clock().advance_time(std::chrono::milliseconds(600));
  run();
  std::string node, slot;
  got.clear();
  std::move(h2).receive([&](const std::string& x) { got = x; }, [&](caf::error& e) { err = e; });
  CHECK(got.empty());
  CHECK(is_node_unavailable(err, node, slot));
  CHECK(slot == "inventory/3");
  for (auto& a : {fw, old_owner, new_owner})
    caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
  run();
}

TEST_CASE("the gateway answers a request whose partition actor ended as it arrived (it moved) "
          "503 node_unavailable with Retry-After in a cluster", "[actors][cluster][failover]") {
  cluster_test_config cfg;
  caf::actor_system sys{cfg};
  node_config nc;
  cluster_layout layout;
  layout.nodes = {{"node-1", "127.0.0.1", 1, 2}, {"node-2", "127.0.0.1", 3, 4}};
  layout.order_partitions = 4;
  layout.sku_partitions = 4;
  directory dir;
  auto moved = caf::make_error(caf::sec::request_receiver_down);
  auto r = partition_failure(sys, nc, layout, dir, moved, partition_kind::orders, 1);
  CHECK(r.status == 503);
  CHECK(r.headers.count("Retry-After") == 1);
  auto body = nlohmann::json::parse(r.body);
  CHECK(body["error"]["code"] == "node_unavailable");
  CHECK(body["error"]["partition"] == "orders/1");
  CHECK(body["error"]["message"].get<std::string>().find("moved") != std::string::npos);
  // An owner's own receiver_down (with its reason) is not a move.
  auto lost = caf::make_error(caf::sec::request_receiver_down, "order x was lost before it was stored");
  r = partition_failure(sys, nc, layout, dir, lost, partition_kind::orders, 1);
  CHECK(nlohmann::json::parse(r.body)["error"]["code"] == "unavailable");
  // One node: an actor that ended is its own node stopping, not a move.
  layout.nodes.resize(1);
  r = partition_failure(sys, nc, layout, dir, moved, partition_kind::orders, 1);
  CHECK(r.status == 503);
  CHECK(nlohmann::json::parse(r.body)["error"]["code"] == "unavailable");
  CHECK(r.headers.count("Retry-After") == 0);
}

TEST_CASE("a gateway request whose partition actor ended as it arrived goes again through "
          "its forwarder, to the new holder, within its deadline", "[actors][cluster][failover]") {
  cluster_test_config cfg;
  caf::actor_system sys{cfg};
  auto& sched = dynamic_cast<caf::scheduler::test_coordinator&>(sys.scheduler());
  auto run = [&] {
    while (sched.try_run_once()) {
    }
  };
  metrics::peer_stats stats;
  auto fw = sys.spawn(forwarder, std::string("node-2"), std::string("orders/1"), &stats);
  auto old_owner = sys.spawn(named_owner, std::string("old"));
  auto new_owner = sys.spawn(named_owner, std::string("new"));
  caf::anon_send(fw, route_atom::value, old_owner);
  caf::anon_send_exit(old_owner, caf::exit_reason::user_shutdown); // released by its node
  run();
  struct outcome {
    std::string got;
    caf::error err;
    bool done = false;
  };
  std::atomic<uint64_t> resends{0};
  // The gateway's bridge: asks through the slot, as api_orders.cpp does.
  auto ask = [&](bool forwards, std::chrono::milliseconds timeout) {
    auto out = std::make_shared<outcome>();
    sys.spawn(
      [&resends, out, fw, forwards, timeout](caf::event_based_actor* self, std::string id) {
        gateway_detail::request_slot(self, fw, forwards, timeout, &resends, get_atom::value, id)
          .then(
            [out](const std::string& x) {
              out->got = x;
              out->done = true;
            },
            [out](caf::error& e) {
              out->err = e;
              out->done = true;
            });
      },
      std::string("ord_1"));
    return out;
  };
  auto a = ask(true, 1000ms);
  run(); // handed to the ended actor: bounced, sent again with a pause
  CHECK_FALSE(a->done);
  CHECK(resends == 1);
  caf::anon_send(fw, route_atom::value, new_owner); // this node learns the new holder
  run();
  sched.clock().advance_time(std::chrono::milliseconds(gateway_detail::resend_pause_ms(0)));
  run();
  REQUIRE(a->done);
  CHECK(a->got == "new:ord_1"); // answered by the new holder
  CHECK(!a->err);
  CHECK(resends == 1);

  // No new holder learnt in time: re-sent with growing pauses while the deadline leaves
  // room, then the bounce is the caller's (the gateway's 503 with Retry-After).
  auto gone = sys.spawn(named_owner, std::string("gone"));
  caf::anon_send(fw, route_atom::value, gone);
  caf::anon_send_exit(gone, caf::exit_reason::user_shutdown);
  run();
  resends = 0;
  auto b = ask(true, 200ms);
  for (int i = 0; i < 20 && !b->done; ++i) {
    run();
    sched.clock().advance_time(10ms);
  }
  run();
  REQUIRE(b->done);
  CHECK(b->err == caf::sec::request_receiver_down);
  CHECK(gateway_detail::ended_on_arrival(b->err));
  CHECK(resends == 2); // 25 ms and 50 ms pauses fit in 200 ms, 100 ms would not
  // A slot that is not a forwarder (a partition that never moves) is not asked again.
  resends = 0;
  auto c = ask(false, 1000ms);
  run();
  REQUIRE(c->done);
  CHECK(c->err == caf::sec::request_receiver_down);
  CHECK(resends == 0);
  // A re-sent request finds nobody holding the partition after its pause (its node went
  // down meanwhile): answered node_unavailable.
  auto d = ask(true, 1000ms);
  run();
  CHECK_FALSE(d->done);
  caf::anon_send(fw, route_atom::value, caf::actor{});
  run();
  sched.clock().advance_time(std::chrono::milliseconds(gateway_detail::resend_pause_ms(0)));
  run();
  REQUIRE(d->done);
  std::string node, slot;
  CHECK(is_node_unavailable(d->err, node, slot));
  // A slot that ended itself (its node's runtime stopped) bounces the re-send at once, not
  // after a pause: given up after one re-send, not asked again in a loop.
  caf::anon_send_exit(fw, caf::exit_reason::user_shutdown);
  run();
  resends = 0;
  auto e = ask(true, 1000ms);
  run();
  REQUIRE(e->done);
  CHECK(e->err == caf::sec::request_receiver_down);
  CHECK(resends == 1);
  for (auto& x : {fw, new_owner})
    caf::anon_send_exit(x, caf::exit_reason::user_shutdown);
  run();
}
