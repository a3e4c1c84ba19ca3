// The standby applier (actors/replication/standby.hpp) on librdkafka's mock cluster: real
// actors (its consumer, the writer), a real RocksDB, a real transactional producer writing
// the changelog over TCP; wall-clock time. Transactions and fencing themselves are tested
// against real brokers (tests/e2e/test_cluster_failover.py): the mock neither hides
// aborted transactions nor fences.
#include <catch2/catch.hpp>

#include <filesystem>
#include <random>
#include <thread>

#include <spdlog/sinks/null_sink.h>
#include <spdlog/sinks/stdout_sinks.h>

#include "actors/plumbing/writer.hpp"
#include "actors/replication/standby.hpp"
#include "actors/replication/txn_producer.hpp"
#include "storage/changelog.hpp"
#include "tests/mock_kafka.hpp"

using namespace saga;
using namespace std::chrono_literals;

namespace {

struct standby_fixture {
  saga_test::mock_kafka k;
  std::filesystem::path dir;
  std::unique_ptr<storage::store> db;
  std::shared_ptr<runtime_context> ctx;
  caf::actor_system_config sys_cfg;
  std::unique_ptr<caf::actor_system> sys;
  caf::actor writer, standby;

  standby_fixture() {
    rd_kafka_mock_topic_create(k.mc, "saga_changelog", 4, 1);
    dir = std::filesystem::temp_directory_path()
          / ("saga-standby-" + std::to_string(std::random_device{}()));
    std::string err;
    db = storage::store::open(dir.string(), err);
    REQUIRE(db);
    ctx = std::make_shared<runtime_context>();
    auto& c = ctx->cfg;
    c.storage_sync = false;
    c.cluster_replication = "kafka";
    c.cluster_name = "standby-test";
    c.cluster_standby_poll_ms = 10;
    c.kafka_brokers = k.bootstraps;
    c.kafka_provision_timeout_ms = 5000;
    ctx->db = db.get();
    ctx->clock = std::make_shared<wall_clock>();
    auto sink = std::getenv("SAGA_TEST_LOG") != nullptr
                  ? spdlog::sink_ptr(std::make_shared<spdlog::sinks::stderr_sink_mt>())
                  : spdlog::sink_ptr(std::make_shared<spdlog::sinks::null_sink_mt>());
    ctx->log = std::make_shared<spdlog::logger>("t", sink);
    register_message_types(sys_cfg);
    sys_cfg.set("scheduler.max-threads", size_t{2});
    sys_cfg.set("logger.file-verbosity", caf::atom("quiet"));
    sys = std::make_unique<caf::actor_system>(sys_cfg);
    writer = spawn_writer(*sys, ctx);
  }
  ~standby_fixture() {
    for (auto* a : {&standby, &writer})
      if (*a) {
        caf::anon_send_exit(*a, caf::exit_reason::user_shutdown);
        *a = caf::actor{};
      }
    sys.reset();
    db.reset();
    std::filesystem::remove_all(dir);
  }

  void start(std::vector<int32_t> parts) {
    std::string err;
    standby = spawn_standby(*sys, ctx, writer, k.bootstraps, std::move(parts), err);
    REQUIRE(err.empty());
    REQUIRE(standby);
  }

  std::unique_ptr<txn_producer> producer(int32_t p) {
    std::string err;
    auto out = txn_producer::open(ctx->cfg, k.bootstraps, p, ctx->log, err);
    INFO(err);
    REQUIRE(out);
    return out;
  }

  /// `n` records to partition `p`, one transaction each: record i puts orders key
  /// "<tag><i>" and moves the status counter "standby_test" by one.
  std::vector<int64_t> write(txn_producer& prod, const std::string& tag, int n) {
    std::vector<int64_t> offsets;
    for (int i = 0; i < n; ++i) {
      storage::batch b;
      b.ops.push_back({storage::family::orders, tag + std::to_string(i), "v", false});
      b.counters.push_back({"standby_test", 1});
      auto o = prod.commit({storage::encode_changelog({&b})}, {});
      INFO(o.error);
      REQUIRE(o.error.empty());
      offsets.push_back(o.offsets.at(0));
    }
    return offsets;
  }

  bool has(const std::string& key) {
    std::string v;
    return db->get(storage::family::orders, key, v) == storage::read_status::found;
  }

  int64_t applied(int32_t p) {
    std::string v;
    if (db->get(storage::family::meta, storage::changelog_offset_key(p), v)
        != storage::read_status::found)
      return -1;
    return std::stoll(v);
  }

  bool wait_applied(int32_t p, int64_t offset, std::chrono::seconds limit = 10s) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
      if (applied(p) >= offset)
        return true;
      std::this_thread::sleep_for(10ms);
    }
    return false;
  }

  std::vector<standby_status> status() {
    caf::scoped_actor self{*sys};
    std::vector<standby_status> out;
    self->request(standby, 5s, get_atom::value, standby_atom::value)
      .receive([&](std::vector<standby_status>& xs) { out = std::move(xs); },
               [&](caf::error& e) { FAIL(sys->render(e)); });
    return out;
  }

  /// A takeover's catch-up of `p` up to `end`: the records it applied.
  uint64_t catch_up(int32_t p, int64_t end) {
    caf::scoped_actor self{*sys};
    uint64_t n = 0;
    self->request(standby, 30s, catch_up_atom::value, p, end)
      .receive([&](uint64_t x) { n = x; }, [&](caf::error& e) { FAIL(sys->render(e)); });
    return n;
  }
};

} // namespace

TEST_CASE("a standby replica applies its partition's changelog as it is committed, with its "
          "offset in the same write, and reports no lag once caught up",
          "[kafka][standby]") {
  standby_fixture f;
  auto prod = f.producer(1);
  auto first = f.write(*prod, "a", 20);
  f.start({1});
  REQUIRE(f.wait_applied(1, first.back()));
  for (int i = 0; i < 20; ++i)
    CHECK(f.has("a" + std::to_string(i)));
  CHECK(f.db->counter("standby_test") == 20); // through the writer: each record once
  // Records committed while it runs are applied too.
  auto more = f.write(*prod, "b", 5);
  REQUIRE(f.wait_applied(1, more.back()));
  CHECK(f.has("b4"));
  CHECK(f.db->counter("standby_test") == 25);
  auto st = f.status();
  REQUIRE(st.size() == 1);
  CHECK(st[0].log_partition == 1);
  CHECK(st[0].applied == more.back());
  CHECK(st[0].lag == 0);
  CHECK_FALSE(st[0].paused);
  CHECK(f.ctx->stats->standby_applied.load() == 25); // saga_standby_applied_total
  // Nothing of a partition it does not keep.
  auto other = f.producer(2);
  f.write(*other, "x", 3);
  std::this_thread::sleep_for(300ms);
  CHECK_FALSE(f.has("x0"));
  CHECK(f.applied(2) == -1);
}

TEST_CASE("a takeover's catch-up applies only what the standby has not, then the partition "
          "is the writer's until it is handed back",
          "[kafka][standby]") {
  standby_fixture f;
  auto prod = f.producer(1);
  auto first = f.write(*prod, "a", 10);
  f.start({1});
  REQUIRE(f.wait_applied(1, first.back()));
  // Caught up: a catch-up to the end applies nothing more.
  std::string err;
  auto end = prod->end_offset(err);
  REQUIRE(err.empty());
  CHECK(f.catch_up(1, end) == 0);
  CHECK(f.db->counter("standby_test") == 10);
  auto st = f.status();
  REQUIRE(st.size() == 1);
  CHECK(st[0].paused); // held here now
  // Held here: the standby writes nothing more of it (the writer would).
  auto held = f.write(*prod, "h", 3);
  std::this_thread::sleep_for(300ms);
  CHECK_FALSE(f.has("h0"));
  CHECK(f.applied(1) == first.back());
  // Handed back (released here): applied again from the store's offset, each record once.
  caf::anon_send(f.standby, standby_atom::value, true, int32_t{1});
  REQUIRE(f.wait_applied(1, held.back()));
  CHECK(f.has("h2"));
  CHECK(f.db->counter("standby_test") == 13);
}

TEST_CASE("a takeover's catch-up of a partition with no standby here applies its whole "
          "changelog through the writer",
          "[kafka][standby]") {
  standby_fixture f;
  f.start({}); // no standby replicas: it only serves takeovers
  auto prod = f.producer(3);
  auto offs = f.write(*prod, "c", 50);
  std::string err;
  auto end = prod->end_offset(err);
  REQUIRE(err.empty());
  CHECK(end > offs.back());
  CHECK(f.catch_up(3, end) == 50);
  CHECK(f.applied(3) == offs.back()); // answered only once written
  CHECK(f.has("c49"));
  CHECK(f.db->counter("standby_test") == 50);
  CHECK(f.status().empty());
}

TEST_CASE("a takeover's catch-up while the standby's writes wait at the writer applies each "
          "record once",
          "[kafka][standby]") {
  standby_fixture f;
  auto prod = f.producer(1);
  f.start({1});
  caf::anon_send(f.writer, hold_atom::value, true); // sent to the writer, not written yet
  auto offs = f.write(*prod, "w", 10);
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (f.ctx->stats->standby_applied.load() < 10 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(10ms);
  REQUIRE(f.ctx->stats->standby_applied.load() == 10);
  CHECK(f.applied(1) == -1); // the store's mark is behind what is in flight
  std::string err;
  auto end = prod->end_offset(err);
  REQUIRE(err.empty());
  caf::scoped_actor self{*f.sys};
  auto answer = self->request(f.standby, 30s, catch_up_atom::value, int32_t{1}, end);
  std::this_thread::sleep_for(200ms); // the catch-up reassigns while the writes still wait
  caf::anon_send(f.writer, hold_atom::value, false);
  uint64_t applied = 99;
  std::move(answer).receive([&](uint64_t n) { applied = n; },
                            [&](caf::error& e) { FAIL(f.sys->render(e)); });
  CHECK(applied == 0); // all ten were the standby's, before the catch-up
  CHECK(f.applied(1) == offs.back());
  CHECK(f.db->counter("standby_test") == 10); // not 20: nothing applied twice
}
