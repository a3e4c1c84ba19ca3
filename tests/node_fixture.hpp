#pragma once
// The actor tests' node on CAF's deterministic test coordinator (actors/*/*.test.cpp,
// tests/simulation.test.cpp): the real actors of one node over a real RocksDB directory, the
// test clock, and helpers that ask them synchronously.
#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <random>
#include <set>

#include <nlohmann/json.hpp>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/sinks/stdout_sinks.h>

#include "actors/messages.hpp"
#include "actors/order/order_store.hpp"
#include "actors/order/order_supervisor.hpp"
#include "actors/plumbing/partitions.hpp"
#include "gateway/api_util.hpp"
#include "runtime/runtime.hpp"
#include "actors/inventory/inventory_codec.hpp"
#include "actors/order/order_codec.hpp"
#include "actors/payment/payment_codec.hpp"
#include "actors/sink/event_envelope.hpp"
#include "storage/keys.hpp"
#include "tests/temp_dir.hpp"

using namespace saga;
using namespace std::chrono_literals;

namespace {

using saga_test::temp_dir;

struct test_config : caf::actor_system_config {
  test_config() {
    register_message_types(*this);
    set("scheduler.policy", caf::atom("testing"));
    set("logger.file-verbosity", caf::atom("quiet"));
    set("logger.console-verbosity", caf::atom("quiet"));
  }
};

node_config test_node_config() {
  node_config c;
  c.payment_timeout_ms = 1000;
  c.inventory_reservation_ttl_ms = 5000;
  c.saga_auto_complete_ms = 3000;
  c.saga_max_restarts = 2;
  c.storage_sync = false; // durability across process crashes is the e2e test's job
  c.payment_provider_secret = "k";
  return c;
}

/// One node on the test coordinator. Destroying it and building another on the same
/// directory is a restart.
struct node_fixture {
  test_config cfg;
  caf::actor_system sys;
  caf::scheduler::test_coordinator& sched;
  caf::scoped_actor self;
  std::unique_ptr<storage::store> db;
  std::shared_ptr<runtime_context> ctx;
  directory dir;
  runtime_handles handles;
  size_t next_owner = 0;
  size_t running_before = 0; // actors running before the node's own were spawned
  std::vector<caf::actor> committers; // replication: the writer's (fake) committers

  node_fixture(const std::string& path, node_config nc = test_node_config(),
               int64_t epoch_ms = 1'000'000, bool auto_start = true, uint64_t seed = 42,
               const storage::store_options& so = {},
               std::function<std::vector<caf::actor>(caf::actor_system&)> make_committers = {})
    : sys(cfg),
      sched(dynamic_cast<caf::scheduler::test_coordinator&>(sys.scheduler())),
      self(sys, true) {
    running_before = sys.registry().running();
    std::string err;
    db = storage::store::open(path, err, so);
    REQUIRE(db);
    ctx = std::make_shared<runtime_context>();
    ctx->cfg = nc;
    ctx->db = db.get();
    ctx->clock = std::make_shared<actor_clock_source>(sys.clock(), epoch_ms);
    // SAGA_TEST_LOG=1: the actors' log on stderr, at debug level (to follow a seed).
    if (std::getenv("SAGA_TEST_LOG") != nullptr) {
      ctx->log = std::make_shared<spdlog::logger>("test", std::make_shared<spdlog::sinks::stderr_sink_mt>());
      ctx->log->set_level(spdlog::level::debug);
    } else {
      ctx->log = std::make_shared<spdlog::logger>("test", std::make_shared<spdlog::sinks::null_sink_mt>());
    }
    ctx->detached_writer = false;
    db->on_read_failure([c = ctx.get()](const std::string& why) { c->halt(why); });
    auto state = load_state(*db, static_cast<size_t>(nc.inventory_workers),
                            static_cast<size_t>(nc.payment_workers),
                            static_cast<size_t>(nc.saga_partitions));
    if (make_committers)
      committers = make_committers(sys);
    handles = spawn_runtime(sys, ctx, std::move(state), seed, committers);
    dir = handles.dir;
    if (auto_start)
      start();
  }

  /// Hands every partition's owner the directory and its orders in flight, as sagad does
  /// once its gateway listens.
  void start() {
    auto n = dir.orders.size();
    auto resume = by_partition(handles.resume, n);
    auto passive = by_partition(handles.passive, n);
    for (size_t p = 0; p < n; ++p)
      self->send(dir.orders[p], start_atom::value, dir, resume[p], passive[p]);
    run();
    size_t started = 0;
    for (size_t p = 0; p < n; ++p)
      self->receive([&](uint64_t) { ++started; }, caf::after(0s) >> [] {});
    REQUIRE(started == n);
  }

  /// Stops the node's actors and runs them until they are gone. Returns how many are
  /// still running: any is an actor that outlived its supervisor, which would hold up
  /// sagad's stop. Then time passes until such stragglers end (as in real time), or the
  /// system's destructor would wait for ever.
  size_t stop() {
    stopped = true;
    stop_runtime(handles);
    for (auto& c : committers)
      if (c)
        caf::anon_send_exit(c, caf::exit_reason::user_shutdown);
    run();
    auto left = sys.registry().running() - std::min(running_before, sys.registry().running());
    for (int i = 0; i < 600 && sys.registry().running() > running_before; ++i) {
      sched.clock().advance_time(100ms);
      run();
    }
    return left;
  }

  ~node_fixture() {
    if (!stopped)
      CHECK(stop() == 0); // no actor outlives the node's stop
  }
  bool stopped = false;

  /// Runs every ready actor until nothing is left (timers do not fire).
  void run() {
    while (sched.try_run_once()) {
    }
  }

  /// Moves the test clock forward, firing due timers, and runs.
  void advance(std::chrono::milliseconds ms) {
    // step in small slices so timers armed by fired timers also fire in order
    for (auto left = ms; left > 0ms; left -= 10ms) {
      sched.clock().advance_time(std::min(left, std::chrono::milliseconds(10)));
      run();
    }
  }

  template <class T, class... Ts>
  T ask(const caf::actor& dest, Ts&&... xs) {
    self->send(dest, std::forward<Ts>(xs)...);
    run();
    T out{};
    bool got = false;
    self->receive([&](T& x) { out = std::move(x); got = true; },
                  [&](caf::error& e) { FAIL("error reply: " << sys.render(e)); },
                  caf::after(0s) >> [] {});
    REQUIRE(got);
    return out;
  }

  void stock(const std::string& sku, int64_t on_hand, int64_t price) {
    auto r = ask<sku_reply>(dir.inventory_for(sku), stock_atom::value, sku, on_hand, price);
    REQUIRE(r.code == errc::ok);
  }

  sku_record sku(const std::string& s) {
    return ask<sku_reply>(dir.inventory_for(s), get_atom::value, s).record;
  }

  std::string create(std::vector<order_item> items) {
    for (auto& i : items) {
      auto p = ask<prices_reply>(dir.inventory_for(i.sku), prices_atom::value,
                                 std::vector<std::string>{i.sku});
      REQUIRE(p.code == errc::ok);
      i.unit_price_cents = p.prices_cents[0];
    }
    // New orders take turns over the partitions, as at the gateway.
    auto& owner = dir.orders[next_owner++ % dir.orders.size()];
    auto s = ask<create_reply>(owner, create_atom::value, std::string("cust"), items,
                               std::string(), std::string()).state;
    REQUIRE_FALSE(s.order_id.empty());
    run();
    return s.order_id;
  }

  order_view view(const std::string& id) { return ask<order_view>(dir.owner_for(id), get_atom::value, id); }

  payment_reply verify(const std::string& id, const std::string& status) {
    auto pid = "pay_" + id;
    return ask<payment_reply>(dir.payment_for(id), verify_atom::value, id, pid, status,
                              payment_signature("k", id, pid, status));
  }

  input_reply complete(const std::string& id) {
    return ask<input_reply>(dir.owner_for(id), input_atom::value, id,
                            saga_input{input_kind::complete_requested, 0, {}});
  }

  std::vector<event_type> events(const std::string& id) {
    std::vector<event_type> out;
    for (auto& e : view(id).events)
      out.push_back(e.type);
    return out;
  }
};

using E = event_type;

[[maybe_unused]] bool conserved(const sku_record& s) {
  return s.available + s.reserved + s.committed == s.restocked_total && s.available >= 0;
}

/// Two SKUs that land in different inventory partitions (2 workers).
[[maybe_unused]] std::pair<std::string, std::string> two_partitions() {
  std::string a = "sku-a";
  for (int i = 0; i < 100; ++i) {
    auto b = "sku-b" + std::to_string(i);
    if (directory::hash(a) % 2 != directory::hash(b) % 2)
      return {a, b};
  }
  FAIL("no two partitions");
  return {};
}

// ---- shared by the actor tests of several participants ----

[[maybe_unused]] actor_info order_row(node_fixture& n, const std::string& id) {
  auto page = n.ask<order_page>(n.dir.owner_for(id), list_atom::value, std::string(), std::string(),
                                uint64_t{1000});
  for (auto& r : page.rows)
    if (r.key == id)
      return r;
  FAIL("no row for order " << id);
  return {};
}


/// Every reply waiting in the test actor's mailbox, by kind.
struct replies {
  std::vector<input_reply> inputs;
  std::vector<create_reply> creates;
  std::vector<sku_reply> skus;
  std::vector<caf::error> errors;
  size_t total() const { return inputs.size() + creates.size() + skus.size() + errors.size(); }
};

[[maybe_unused]] replies drain(node_fixture& n) {
  replies out;
  for (bool more = true; more;)
    n.self->receive([&](input_reply& r) { out.inputs.push_back(std::move(r)); },
                    [&](create_reply& r) { out.creates.push_back(std::move(r)); },
                    [&](sku_reply& r) { out.skus.push_back(std::move(r)); },
                    [&](caf::error& e) { out.errors.push_back(std::move(e)); },
                    caf::after(0s) >> [&] { more = false; });
  return out;
}

[[maybe_unused]] void hold_writer(node_fixture& n, bool on) {
  n.self->send(n.dir.writer, hold_atom::value, on);
  n.run();
}

[[maybe_unused]] saga_input input(input_kind k) { return saga_input{k, 0, {}}; }

/// Checks every outbox entry: no (order, `seq`) decided twice, no event_id with two
/// payloads. Returns how many entries are `order_id`'s.
[[maybe_unused]] size_t check_outbox(node_fixture& n, const std::string& order_id = {}) {
  std::map<std::pair<std::string, uint64_t>, std::string> seen;
  std::map<std::string, std::string> by_event_id;
  size_t entries = 0;
  (void)n.db->scan(storage::family::outbox, "", [&](std::string_view, std::string_view v) {
    auto j = nlohmann::json::parse(v);
    auto key = std::make_pair(j["order_id"].get<std::string>(), j["seq"].get<uint64_t>());
    auto payload = j["data"].dump() + j["type"].get<std::string>();
    CHECK(seen.emplace(key, payload).second); // no seq decided twice
    auto [it, fresh] = by_event_id.emplace(j["event_id"].get<std::string>(), std::string(v));
    CHECK((fresh || it->second == std::string(v))); // one payload per event_id
    entries += key.first == order_id ? 1 : 0;
    return true;
  });
  return entries;
}



[[maybe_unused]] node_config passivating_config() {
  auto c = test_node_config();
  c.saga_passivate_after_ms = 500;
  c.payment_timeout_ms = 60000; // the payment waits longer than the passivation
  return c;
}

} // namespace
