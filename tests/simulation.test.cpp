// Deterministic simulation of the saga core (issue 13, FoundationDB / TigerBeetle style): the
// real order, inventory, payment, supervisor and writer actors of one node on CAF's test
// coordinator. A seed decides everything: the orders and their items, the stock, which
// actor runs next among all that are ready (so messages interleave differently per seed),
// the client's calls (duplicate and late verifications, completions before the payment),
// crashes of order actors and of inventory and payment partitions, one fault of the whole
// node (a crash in a fifth of the seeds: a new node starts on a checkpoint of what the old
// one had committed at that moment; a failing disk in 15 %, failing writes or, in odd
// seeds, failing reads: the node stops itself and is restarted on the same directory), and
// how far the test clock jumps (payment expiry,
// reservation TTL, auto-complete). No actor may outlive a node's stop. After the seed's run the
// invariants of spec section 7 are checked on the actors' answers and on the outbox (what
// the Kafka relay would publish). The store is the real RocksDB in a temporary directory,
// unsynced; the payment provider is the test calling verify; there is no broker (the
// outbox is the sink's input).
//
// Thousands of seeds run per ctest run. A failing seed is printed with the command that
// re-runs it alone (SAGA_SIM_SEED=N), which replays it exactly, and is then kept in
// `regression_seeds` below. Environment: SAGA_SIM_SEEDS (count, default 1000),
// SAGA_SIM_FIRST_SEED (default 1), SAGA_SIM_SEED (one seed only, every action printed;
// with SAGA_TEST_LOG=1 the actors' log too).
#include "tests/node_fixture.hpp"

#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>

namespace {

/// Seeds that once found a bug: they run first, every time. 422 and 833: a payment
/// partition that crashed between writing a verdict and telling the order left the order
/// waiting forever (fixed in order_actor.cpp, arm_payment_check; the interleaving that
/// found it is also the deterministic test at the end of this file). 635: a payment worker
/// forgot an intent when an older write of it became durable while its expiry was still
/// queued; the next request read the older, pending record back and the order waited
/// forever (fixed in payment_worker.cpp, and the same rule in inventory_worker.cpp).
/// Each fails without its fix: reverting it replays the failing interleaving exactly.
/// Seed 94 (a failing disk) is not here: a regression seed runs without node faults. It
/// found an order supervisor that quit when the writer refused its restart barrier,
/// orphaning its order actors; the deterministic test at the end of this file guards it.
constexpr uint64_t regression_seeds[] = {422, 833, 635};

struct sim_totals {
  size_t seeds = 0, orders = 0, completed = 0, failed = 0, jobs = 0, crashes = 0, verifies = 0,
         node_crashes = 0, disk_faults = 0, disk_halts = 0, read_faults = 0, read_halts = 0;
};

/// Runs up to `max_jobs` ready actors, each time the one the seed picks among all ready.
size_t run_shuffled(node_fixture& n, std::mt19937_64& rng, size_t max_jobs = SIZE_MAX) {
  size_t k = 0;
  auto& jobs = n.sched.jobs;
  while (!jobs.empty() && k < max_jobs) {
    auto i = std::uniform_int_distribution<size_t>(0, jobs.size() - 1)(rng);
    if (i != 0)
      std::swap(jobs[0], jobs[i]);
    n.sched.run_once();
    ++k;
  }
  return k;
}

/// The seed's fault of the whole node, from its own stream: {crash_round, disk_round}, -1
/// when none. A failing disk is followed by a restart a few rounds later (crash_round).
std::pair<int, int> node_faults(uint64_t seed, std::mt19937_64& node_rng) {
  int crash_round = -1, disk_round = -1;
  if (std::find(std::begin(regression_seeds), std::end(regression_seeds), seed) == std::end(regression_seeds)) {
    auto r = std::uniform_real_distribution<double>(0, 1)(node_rng);
    auto at = 2 + int(std::uniform_int_distribution<int>(0, 35)(node_rng));
    if (r < 0.2) {
      crash_round = at;
    } else if (r < 0.35) {
      disk_round = at;
      crash_round = std::min(39, at + 1 + int(std::uniform_int_distribution<int>(0, 3)(node_rng)));
    }
  }
  return {crash_round, disk_round};
}

/// One seed. Returns what is wrong, or an empty string; `trace` gets what happened (the
/// orders' ids, final steps and event counts, and the number of actor runs), which is the
/// same every time the seed runs.
std::string simulate(uint64_t seed, sim_totals& t, std::string* trace = nullptr) {
  std::mt19937_64 rng(seed);
  auto jobs_at_start = t.jobs;
  auto coin = [&](double p) { return std::uniform_real_distribution<double>(0, 1)(rng) < p; };
  auto pick = [&](size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng); };
  std::vector<std::unique_ptr<temp_dir>> dirs; // the node's directory, then one per restart
  dirs.push_back(std::make_unique<temp_dir>());
  auto nc = test_node_config();
  nc.payment_timeout_ms = 500 + int64_t(pick(1500));
  nc.inventory_reservation_ttl_ms = 1000 + int64_t(pick(6000));
  nc.saga_auto_complete_ms = 200 + int64_t(pick(2000));
  // A fault of the whole node, in some seeds, drawn from a stream of its own (a seed
  // without one takes the same path as before these existed; the regression seeds keep
  // the path that found their bug):
  // - a crash (a fifth of the seeds): at `crash_round` the node dies between two actor
  //   runs and a new one starts on what it had committed;
  // - a failing disk (15 %): from `disk_round` every RocksDB write fails (the fault file
  //   system), so the writer stops the node (nothing acknowledged any more); at
  //   `crash_round` it is stopped, the disk healed, and a new node starts on the same
  //   directory. In odd seeds the disk fails reads instead (of table files: the memtables
  //   are flushed then, and there is no block cache), which stops the node as well.
  std::mt19937_64 node_rng(seed ^ 0x5bd1e9955bd1e995ull);
  auto [crash_round, disk_round] = node_faults(seed, node_rng);
  storage::store_options so;
  bool fails_reads = disk_round >= 0 && seed % 2 == 1;
  const std::string trigger = fails_reads ? "fail-reads" : "fail-writes";
  if (disk_round >= 0 && !fails_reads)
    so.disk_fault_trigger = trigger;
  if (fails_reads) {
    so.read_fault_trigger = trigger;
    so.block_cache_bytes = 0;
  }
  std::string node_dir = dirs.back()->path.string();
  auto node = std::make_unique<node_fixture>(node_dir, nc, 1'000'000, true, 42, so);
  node_fixture* n = node.get(); // the lambdas below follow it across a restart
  // SAGA_SIM_SEED (one seed): every action is printed, with the test clock.
  bool verbose = std::getenv("SAGA_SIM_SEED") != nullptr && trace == nullptr;
  auto say = [&](const std::string& what) {
    if (verbose)
      std::printf("  t=%lld ms %s\n", static_cast<long long>(n->ctx->now_ms() - 1'000'000), what.c_str());
  };
  if (verbose)
    std::printf("seed %llu: payment timeout %lld ms, reservation TTL %lld ms, auto-complete %lld ms\n",
                static_cast<unsigned long long>(seed), static_cast<long long>(nc.payment_timeout_ms),
                static_cast<long long>(nc.inventory_reservation_ttl_ms),
                static_cast<long long>(nc.saga_auto_complete_ms));
  std::vector<std::string> skus = {"A", "B", "C"};
  std::map<std::string, int64_t> put;
  for (size_t i = 0; i < skus.size(); ++i) {
    put[skus[i]] = 2 + int64_t(pick(14));
    n->stock(skus[i], put[skus[i]], 100 + int64_t(i));
  }
  std::vector<std::string> ids;
  std::set<std::string> crashed_orders, crashed_parts;
  size_t create_errors = 0;
  bool disk_failing = false; // creates may be refused meanwhile: the node has stopped
  auto collect = [&] {
    for (bool more = true; more;) {
      more = false;
      n->self->receive([&](create_reply& r) { ids.push_back(r.state.order_id); more = true;
                                             say("created " + r.state.order_id); },
                      [&](caf::error&) { create_errors += disk_failing ? 0 : 1; more = true; },
                      caf::after(0s) >> [] {});
    }
  };
  // Actors that outlive a node's stop (they would hold up sagad's stop), found with the
  // seed that shows them.
  std::string outlived;
  auto stopped_badly = [&](int round) {
    if (auto left = n->stop(); left > 0)
      outlived += std::to_string(left) + " actor(s) outlived the node's stop at round "
                  + std::to_string(round) + "; ";
  };
  auto orders = 3 + pick(6);
  size_t created = 0;
  for (int round = 0; round < 40; ++round) {
    if (round == disk_round) {
      if (fails_reads && !n->db->read_failed() && !n->ctx->halted.load()
          && !n->db->flush().empty())
        return "flush before the read faults failed";
      std::ofstream(node_dir + "/" + trigger).put('x');
      disk_failing = true;
      say(fails_reads ? "the disk fails every read of a table file from now on"
                      : "the disk fails every write from now on");
    }
    if (round == crash_round && disk_round < 0) {
      // The node dies here, between two actor runs: what the writer committed survives (a
      // checkpoint of the store as it stands), everything else is gone: actors' memory,
      // mailboxes, queued writes, answers not yet delivered. A new node starts on the copy,
      // at the same time, and resumes; orders whose create answer was lost are found in
      // the outbox below.
      collect();
      dirs.push_back(std::make_unique<temp_dir>());
      node_dir = (dirs.back()->path / "db").string();
      if (auto err = n->db->checkpoint(node_dir); !err.empty())
        return "node crash: " + err;
      auto now = n->ctx->now_ms();
      say("node crash; restart on what was durable");
      stopped_badly(round);
      node.reset();
      node = std::make_unique<node_fixture>(node_dir, nc, now, true, node_rng());
      n = node.get();
      ++t.node_crashes;
    } else if (round == crash_round) {
      // The stopped node goes (the operator restarts it after fixing the disk): the same
      // directory, opened again, as it was left.
      collect();
      auto halted = n->ctx->halted.load();
      auto now = n->ctx->now_ms();
      say(std::string(halted ? "the node has stopped itself" : "no write reached the disk")
          + "; disk healed, node restarted");
      stopped_badly(round);
      node.reset();
      std::filesystem::remove(node_dir + "/" + trigger);
      disk_failing = false;
      node = std::make_unique<node_fixture>(node_dir, nc, now, true, node_rng());
      n = node.get();
      ++(fails_reads ? t.read_faults : t.disk_faults);
      (fails_reads ? t.read_halts : t.disk_halts) += halted ? 1 : 0;
    }
    auto action = pick(10);
    if ((action < 3 || ids.empty()) && created < orders) {
      std::vector<order_item> items;
      for (auto& s : skus)
        if (coin(0.5) || (items.empty() && &s == &skus.back()))
          items.push_back({s, 1 + int64_t(pick(3)), 100 + (&s - skus.data())});
      n->self->send(n->dir.orders[pick(n->dir.orders.size())], create_atom::value, std::string("cust"),
                   items, std::string(), std::string());
      ++created;
    } else if (!ids.empty()) {
      auto& id = ids[pick(ids.size())];
      auto pid = "pay_" + id;
      switch (action) {
        case 3: case 4: case 5: { // the provider's callback, sometimes twice, sometimes late
          std::string status = coin(0.8) ? "succeeded" : "failed";
          for (int k = coin(0.2) ? 2 : 1; k > 0; --k)
            caf::anon_send(n->dir.payment_for(id), verify_atom::value, id, pid, status,
                           payment_signature("k", id, pid, status));
          say("verify " + id + " " + status);
          ++t.verifies;
          break;
        }
        case 6:
          caf::anon_send(n->dir.owner_for(id), input_atom::value, id,
                         saga_input{input_kind::complete_requested, 0, {}});
          say("complete " + id);
          break;
        case 7: // one crash per order actor and per SKU's inventory partition; the payment
                // partition at most once per order drawn (so a partition may crash a few
                // times per seed, within its restart budget)
          if (crashed_orders.insert(id).second) {
            caf::anon_send(n->dir.owner_for(id), crash_atom::value, id);
            say("crash order actor " + id);
            ++t.crashes;
          } else if (auto& s = skus[pick(skus.size())]; crashed_parts.insert("inv" + s).second) {
            caf::anon_send(n->dir.inventory_for(s), crash_atom::value);
            say("crash the inventory partition of " + s);
            ++t.crashes;
          } else if (crashed_parts.insert("pay" + id).second) {
            caf::anon_send(n->dir.payment_for(id), crash_atom::value);
            say("crash the payment partition of " + id);
            ++t.crashes;
          }
          break;
        default: { // time passes
          auto ms = pick(800);
          n->sched.clock().advance_time(std::chrono::milliseconds(ms));
          say("clock +" + std::to_string(ms) + " ms");
          break;
        }
      }
    }
    t.jobs += run_shuffled(*n, rng, pick(30));
    collect();
  }
  // Settle: everything delivered, then enough time for every deadline to fire.
  t.jobs += run_shuffled(*n, rng);
  collect();
  size_t jobs_before_settle = t.jobs - jobs_at_start;
  for (int i = 0; i < 100; ++i) {
    n->sched.clock().advance_time(200ms);
    t.jobs += run_shuffled(*n, rng);
  }
  collect();

  // Orders created whose answer died in a node crash or a disk fault: in the outbox
  // (order_created), so checked as the others are.
  if (crash_round >= 0) {
    std::set<std::string> known(ids.begin(), ids.end());
    (void)n->db->scan(storage::family::outbox, "", [&](std::string_view, std::string_view value) {
      std::string id = nlohmann::json::parse(value).at("order_id");
      if (known.insert(id).second) {
        ids.push_back(id);
        say("found in the outbox: " + id);
      }
      return true;
    });
  }
  std::ostringstream bad;
  if (create_errors > 0)
    bad << create_errors << " creates answered an error; ";
  std::map<std::string, int64_t> sold;
  std::map<std::string, std::vector<std::pair<uint64_t, event_type>>> want;
  for (auto& id : ids) {
    // Asked without the fixture's REQUIRE: an acknowledged order the node does not know is
    // a finding of this seed (lost), printed with it.
    order_view v;
    bool known = false;
    n->self->send(n->dir.owner_for(id), get_atom::value, id);
    n->run();
    n->self->receive([&](order_view& x) { v = std::move(x); known = true; }, [](caf::error&) {},
                     caf::after(0s) >> [] {});
    if (!known) {
      bad << id << " was acknowledged and is lost; ";
      continue;
    }
    ++t.orders;
    auto& s = v.state;
    if (s.step == saga_step::completed) {
      ++t.completed;
      for (auto& it : s.items)
        sold[it.sku] += it.quantity;
      if (s.payment != payment_status::succeeded)
        bad << id << " completed with payment " << int(s.payment) << "; ";
    } else if (s.step == saga_step::failed) {
      ++t.failed;
      if (s.payment == payment_status::succeeded)
        bad << id << " failed and keeps its payment; ";
    } else {
      bad << id << " stuck at " << to_string(s.step) << (v.parked_reason.empty() ? "" : " (parked: ")
          << v.parked_reason << (v.parked_reason.empty() ? "" : ")") << "; ";
    }
    for (size_t i = 0; i < v.events.size(); ++i) {
      if (v.events[i].seq != i + 1)
        bad << id << " event " << i << " has seq " << v.events[i].seq << "; ";
      want[id].push_back({v.events[i].seq, v.events[i].type});
    }
  }
  for (auto& s : skus) {
    auto r = n->sku(s);
    if (!conserved(r) || r.reserved != 0 || r.committed != sold[s] || r.available + r.committed != put[s])
      bad << "sku " << s << ": available " << r.available << " reserved " << r.reserved
          << " committed " << r.committed << ", stocked " << put[s] << ", completed orders hold "
          << sold[s] << "; ";
  }
  // The outbox (the Kafka relay's input): every event of every order once, in seq order.
  std::map<std::string, std::vector<std::pair<uint64_t, event_type>>> got;
  (void)n->db->scan(storage::family::outbox, "", [&](std::string_view, std::string_view value) {
    auto j = nlohmann::json::parse(value);
    saga_event e;
    std::string type = j.at("type");
    for (int k = 0; k <= int(event_type::order_admin_action); ++k)
      if (type == to_string(event_type(k)))
        e.type = event_type(k);
    got[j.at("order_id")].push_back({j.at("seq").get<uint64_t>(), e.type});
    return true;
  });
  for (auto& [id, evs] : want)
    if (got[id] != evs)
      bad << id << ": outbox has " << got[id].size() << " events, the order " << evs.size() << "; ";
  ++t.seeds;
  if (trace != nullptr) {
    std::ostringstream tr;
    tr << "runs before settling " << jobs_before_settle << ";";
    for (auto& id : ids)
      tr << " " << id << ":" << to_string(n->view(id).state.step) << "/" << want[id].size();
    *trace = tr.str();
  }
  stopped_badly(40);
  bad << outlived;
  return bad.str();
}

std::vector<uint64_t> seeds_to_run() {
  std::vector<uint64_t> out;
  if (auto one = std::getenv("SAGA_SIM_SEED"); one != nullptr && *one) {
    out.push_back(std::strtoull(one, nullptr, 10));
    return out;
  }
  for (auto s : regression_seeds)
    if (s != 0)
      out.push_back(s);
  uint64_t first = 1, count = 1000;
  if (auto f = std::getenv("SAGA_SIM_FIRST_SEED"); f != nullptr && *f)
    first = std::strtoull(f, nullptr, 10);
  if (auto c = std::getenv("SAGA_SIM_SEEDS"); c != nullptr && *c)
    count = std::strtoull(c, nullptr, 10);
  for (uint64_t s = first; s < first + count; ++s)
    out.push_back(s);
  return out;
}

} // namespace

TEST_CASE("simulation: seeded interleavings, crashes and clock jumps keep every invariant",
          "[simulation]") {
  sim_totals t;
  size_t failures = 0;
  auto t0 = std::chrono::steady_clock::now();
  for (auto seed : seeds_to_run()) {
    auto why = simulate(seed, t);
    if (!why.empty()) {
      ++failures;
      std::printf("SIMULATION FAILED seed=%llu: %s\n  replay it: SAGA_SIM_SEED=%llu "
                  "build/bin/actor_tests '[simulation]'\n",
                  static_cast<unsigned long long>(seed), why.c_str(),
                  static_cast<unsigned long long>(seed));
    }
  }
  auto secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("simulation: %zu seeds in %.1f s, %zu orders (%zu completed, %zu failed), %zu "
              "actor runs, %zu actor and partition crashes, %zu node crashes and restarts, %zu "
              "write faults (%zu stopped the node), %zu read faults (%zu stopped the node), %zu "
              "verifications; %zu seeds failed\n",
              t.seeds, secs, t.orders, t.completed, t.failed, t.jobs, t.crashes, t.node_crashes,
              t.disk_faults, t.disk_halts, t.read_faults, t.read_halts, t.verifies, failures);
  CHECK(failures == 0);
  // Failing reads must bite: some of those seeds read a table file while it failed.
  CHECK((t.read_faults == 0 || t.read_halts > 0));
  // A seed replays exactly: the same interleaving gives the same orders and outcomes; so
  // do the first seeds with a node crash and with a failing disk.
  std::vector<uint64_t> replayed = {seeds_to_run().front()};
  if (std::getenv("SAGA_SIM_SEED") == nullptr)
    for (int kind : {0, 1})
      for (uint64_t s = 1; s < 1000; ++s) {
        std::mt19937_64 node_rng(s ^ 0x5bd1e9955bd1e995ull);
        auto [crash, disk] = node_faults(s, node_rng);
        if ((kind == 0 && crash >= 0 && disk < 0) || (kind == 1 && disk >= 0)) {
          replayed.push_back(s);
          break;
        }
      }
  std::string first; // the first seed's trace (printed for SAGA_SIM_SEED)
  for (auto seed : replayed) {
    std::string once, again;
    sim_totals ignored;
    simulate(seed, ignored, &once);
    simulate(seed, ignored, &again);
    INFO("replay of seed " << seed);
    CHECK(once == again);
    CHECK(once.size() > 40);
    if (first.empty())
      first = once;
  }
  CHECK(replayed.size() == (std::getenv("SAGA_SIM_SEED") == nullptr ? 3u : 1u));
  if (std::getenv("SAGA_SIM_SEED") != nullptr)
    std::printf("seed %s: %s\n", std::getenv("SAGA_SIM_SEED"), first.c_str());
  if (t.seeds >= 100) { // both ends are reached
    CHECK(t.completed > 0);
    CHECK(t.failed > 0);
  }
}

TEST_CASE("regression (simulation seeds 422, 833): a payment partition that crashes between "
          "writing a verdict and telling the order; the order asks for it itself",
          "[simulation][regression]") {
  temp_dir d;
  node_fixture n(d.path.string()); // payment time-out 1000 ms
  n.stock("A", 5, 100);
  auto id = n.create({{"A", 1, 0}});
  REQUIRE(n.view(id).state.step == saga_step::awaiting_payment);
  auto job_of = [](const caf::actor& a) {
    return dynamic_cast<caf::resumable*>(caf::actor_cast<caf::abstract_actor*>(a));
  };
  auto ready = [&](const caf::actor& a) {
    return std::find(n.sched.jobs.begin(), n.sched.jobs.end(), job_of(a)) != n.sched.jobs.end();
  };
  // The intent expires: run until the worker's write of it waits at the writer.
  n.sched.clock().advance_time(1100ms);
  for (int i = 0; i < 100 && !ready(n.dir.writer) && n.sched.try_run_once(); ++i) {
  }
  REQUIRE(ready(n.dir.writer));
  // A crash reaches the worker (through its supervisor) before the writer's answer does.
  n.self->send(n.dir.payment_for(id), crash_atom::value);
  REQUIRE(n.sched.prioritize(n.dir.payment_for(id)));
  n.sched.run_once();
  REQUIRE(n.sched.prioritize(n.dir.writer));
  n.sched.run_once(); // the expiry is durable; its notice died with the worker
  n.run();
  CHECK(n.ctx->stats->component_restarts.load() == 1);
  n.advance(500ms);
  CHECK(n.view(id).state.step == saga_step::awaiting_payment); // nobody told the order
  // A request time-out after the expiry the order asks the payment partition itself.
  n.advance(std::chrono::milliseconds(n.ctx->cfg.saga_request_timeout_ms));
  auto v = n.view(id);
  CHECK(v.state.status == order_status::failed);
  CHECK(v.state.reason == failure_reason::payment_expired);
  CHECK(n.sku("A").reserved == 0);
}

TEST_CASE("regression (simulation seed 94): an order whose restart waits on a write that the "
          "failing disk refuses does not take its partition's supervisor down, and no actor "
          "outlives the node's stop",
          "[simulation][regression]") {
  temp_dir d;
  storage::store_options so;
  so.disk_fault_trigger = "fail-writes";
  node_fixture n(d.path.string(), test_node_config(), 1'000'000, true, 42, so);
  n.stock("A", 50, 100);
  // New orders take turns over the partitions: the first and the one a round later share
  // one.
  auto parts = n.dir.orders.size();
  std::vector<std::string> ids;
  for (size_t i = 0; i <= parts; ++i)
    ids.push_back(n.create({{"A", 1, 0}}));
  auto x = ids.front(), y = ids.back();
  REQUIRE(directory::order_partition(x, parts) == directory::order_partition(y, parts));
  // The writer holds its commits while an order actor of that partition crashes (its
  // restart waits for the writes ahead of it: an empty batch to the writer) and a verdict
  // is written; then the disk fails, and the held group fails as one.
  n.self->send(n.dir.writer, hold_atom::value, true);
  n.run();
  caf::anon_send(n.dir.owner_for(x), crash_atom::value, x);
  n.run();
  caf::anon_send(n.dir.payment_for(ids[1]), verify_atom::value, ids[1], "pay_" + ids[1],
                 std::string("succeeded"),
                 payment_signature("k", ids[1], "pay_" + ids[1], "succeeded"));
  n.run();
  std::ofstream(d.path / "fail-writes").put('x');
  n.self->send(n.dir.writer, hold_atom::value, false);
  n.run();
  REQUIRE(n.ctx->halted.load());
  // The supervisor still answers for the other order of its partition ...
  n.self->send(n.dir.owner_for(y), get_atom::value, y);
  n.run();
  bool answered = false;
  n.self->receive([&](order_view& v) { answered = v.state.order_id == y; }, [](caf::error&) {},
                  caf::after(0s) >> [] {});
  CHECK(answered);
  // ... and the fixture's stop checks that no order actor outlived it.
}
