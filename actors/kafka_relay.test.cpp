// The relay on librdkafka's mock cluster, for error paths that are hard to provoke on a
// real broker: produce requests that fail with retriable errors, a broker that goes down
// and comes back. Real actors, real RocksDB, real (mock) Kafka over TCP; wall-clock time.
#include <catch2/catch.hpp>

#include <filesystem>
#include <map>
#include <random>
#include <thread>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <nlohmann/json.hpp>
#include <spdlog/sinks/null_sink.h>

#include "actors/kafka_relay.hpp"
#include "actors/writer.hpp"
#include "storage/codec.hpp"

using namespace saga;
using namespace std::chrono_literals;

namespace {

struct mock_kafka {
  rd_kafka_t* owner = nullptr;
  rd_kafka_mock_cluster_t* mc = nullptr;
  std::string bootstraps;
  mock_kafka() {
    char err[256];
    auto* conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "log_level", "0", err, sizeof(err));
    owner = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    REQUIRE(owner);
    mc = rd_kafka_mock_cluster_new(owner, 1);
    REQUIRE(mc);
    bootstraps = rd_kafka_mock_cluster_bootstraps(mc);
    rd_kafka_mock_topic_create(mc, "ordercreated", 3, 1);
  }
  ~mock_kafka() {
    rd_kafka_mock_cluster_destroy(mc);
    rd_kafka_destroy(owner);
  }
};

/// Every message of a topic: (partition, offset) -> envelope.
std::vector<nlohmann::json> consume_all(const std::string& bootstraps, const std::string& topic,
                                        size_t expected) {
  char err[256];
  auto* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", bootstraps.c_str(), err, sizeof(err));
  rd_kafka_conf_set(conf, "group.id", "relay-test", err, sizeof(err));
  rd_kafka_conf_set(conf, "auto.offset.reset", "earliest", err, sizeof(err));
  rd_kafka_conf_set(conf, "log_level", "0", err, sizeof(err));
  auto* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
  REQUIRE(rk);
  rd_kafka_poll_set_consumer(rk);
  auto* topics = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(topics, topic.c_str(), RD_KAFKA_PARTITION_UA);
  rd_kafka_subscribe(rk, topics);
  rd_kafka_topic_partition_list_destroy(topics);
  std::vector<nlohmann::json> out;
  auto deadline = std::chrono::steady_clock::now() + 30s;
  while (out.size() < expected + 20 && std::chrono::steady_clock::now() < deadline) {
    auto* m = rd_kafka_consumer_poll(rk, 200);
    if (m == nullptr) {
      if (out.size() >= expected)
        break; // nothing more arrives
      continue;
    }
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      auto j = nlohmann::json::parse(static_cast<const char*>(m->payload),
                                     static_cast<const char*>(m->payload) + m->len);
      j["_partition"] = m->partition;
      j["_offset"] = m->offset;
      out.push_back(std::move(j));
    }
    rd_kafka_message_destroy(m);
  }
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
  return out;
}

struct relay_fixture {
  std::filesystem::path dir;
  std::unique_ptr<storage::store> db;
  std::shared_ptr<runtime_context> ctx;
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  caf::actor writer, relay;

  relay_fixture() {
    dir = std::filesystem::temp_directory_path() / ("saga-relay-" + std::to_string(std::random_device{}()));
    std::string err;
    db = storage::store::open(dir.string(), err);
    REQUIRE(db);
    ctx = std::make_shared<runtime_context>();
    ctx->cfg.storage_sync = false;
    ctx->cfg.kafka_poll_interval_ms = 2;
    ctx->db = db.get();
    ctx->clock = std::make_shared<wall_clock>();
    ctx->log = std::make_shared<spdlog::logger>("t", std::make_shared<spdlog::sinks::null_sink_mt>());
    register_message_types(cfg);
    cfg.set("scheduler.max-threads", size_t{2});
    cfg.set("logger.file-verbosity", caf::atom("quiet"));
    sys = std::make_unique<caf::actor_system>(cfg);
    writer = spawn_writer(*sys, ctx);
  }
  ~relay_fixture() {
    caf::anon_send_exit(relay, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(writer, caf::exit_reason::user_shutdown);
    relay = caf::actor{}; // the detached writer's thread ends once no handle is left
    writer = caf::actor{};
    sys.reset();
    db.reset();
    std::filesystem::remove_all(dir);
  }

  /// Writes `orders` x `per_order` ordercreated-typed events straight into the outbox.
  void fill(int orders, int per_order) {
    for (int s = 1; s <= per_order; ++s) {
      storage::batch b;
      for (int o = 0; o < orders; ++o) {
        saga_event ev{"ord_" + std::to_string(o), static_cast<uint64_t>(s), event_type::ordercreated,
                      ctx->now_ms(), "order", "{}"};
        b.outbox.push_back(storage::encode(ev, "n1"));
      }
      REQUIRE(db->commit({&b}, false).empty());
    }
  }

  size_t outbox_size() {
    size_t n = 0;
    db->scan(storage::family::outbox, "", [&](auto, auto) { return ++n, true; });
    return n;
  }

  bool wait_empty(std::chrono::seconds limit) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
      if (outbox_size() == 0)
        return true;
      std::this_thread::sleep_for(20ms);
    }
    return false;
  }

  void start_relay(const std::string& brokers) {
    relay = sys->spawn(kafka_relay, ctx, writer, brokers);
  }
};

/// Per order: the seqs in partition-offset order must be 1..n (order per key), and every
/// event is present. Returns the number of duplicates (same event_id).
size_t check_order_per_key(const std::vector<nlohmann::json>& msgs, int orders, int per_order) {
  std::map<std::string, std::vector<std::pair<int64_t, uint64_t>>> by_key;
  std::map<std::string, int> ids;
  for (auto& m : msgs) {
    by_key[m["order_id"]].emplace_back(m["_offset"].get<int64_t>(), m["seq"].get<uint64_t>());
    ++ids[m["event_id"]];
  }
  size_t dups = 0;
  for (auto& [id, n] : ids)
    dups += n - 1;
  CHECK(static_cast<int>(ids.size()) == orders * per_order);
  for (auto& [key, xs] : by_key) {
    std::sort(xs.begin(), xs.end());
    uint64_t last = 0;
    for (auto& [off, seq] : xs) {
      INFO("order " << key << " offset " << off);
      CHECK(seq >= last); // equal only for a duplicate
      CHECK(seq <= last + 1);
      last = seq;
    }
    CHECK(last == static_cast<uint64_t>(per_order));
  }
  return dups;
}

} // namespace

TEST_CASE("relay publishes every outbox entry in order and empties the outbox", "[fault][kafka]") {
  mock_kafka k;
  relay_fixture f;
  f.fill(20, 10);
  f.start_relay(k.bootstraps);
  REQUIRE(f.wait_empty(30s));
  auto msgs = consume_all(k.bootstraps, "ordercreated", 200);
  auto dups = check_order_per_key(msgs, 20, 10);
  CHECK(dups == 0);
  CHECK(f.ctx->stats->kafka_published.load() == 200);
}

TEST_CASE("retriable produce errors delay but neither lose nor reorder events", "[fault][kafka]") {
  mock_kafka k;
  relay_fixture f;
  f.fill(10, 10);
  rd_kafka_mock_push_request_errors(k.mc, 0 /* ApiKey Produce */, 6,
                                    RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
                                    RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
                                    RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
                                    RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND,
                                    RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE,
                                    RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT);
  f.start_relay(k.bootstraps);
  REQUIRE(f.wait_empty(60s));
  auto msgs = consume_all(k.bootstraps, "ordercreated", 100);
  auto dups = check_order_per_key(msgs, 10, 10);
  WARN("duplicates after injected produce errors: " << dups);
}

TEST_CASE("a broker that is down keeps the outbox until it returns", "[fault][kafka]") {
  mock_kafka k;
  relay_fixture f;
  rd_kafka_mock_broker_set_down(k.mc, 1);
  f.fill(5, 4);
  f.start_relay(k.bootstraps);
  std::this_thread::sleep_for(1500ms);
  CHECK(f.outbox_size() == 20); // nothing acknowledged, nothing deleted
  CHECK(f.ctx->stats->outbox_depth.load() == 20);
  rd_kafka_mock_broker_set_up(k.mc, 1);
  REQUIRE(f.wait_empty(60s));
  auto msgs = consume_all(k.bootstraps, "ordercreated", 20);
  auto dups = check_order_per_key(msgs, 5, 4);
  WARN("duplicates after a broker outage: " << dups);
}

TEST_CASE("a restarted relay republishes what was not acknowledged", "[fault][kafka]") {
  mock_kafka k;
  relay_fixture f;
  rd_kafka_mock_broker_set_down(k.mc, 1);
  f.fill(3, 3);
  f.start_relay(k.bootstraps);
  std::this_thread::sleep_for(500ms);
  caf::anon_send_exit(f.relay, caf::exit_reason::kill); // gone with messages in flight
  std::this_thread::sleep_for(800ms);                   // (its 500 ms flush gives up)
  CHECK(f.outbox_size() == 9);
  rd_kafka_mock_broker_set_up(k.mc, 1);
  f.start_relay(k.bootstraps);
  REQUIRE(f.wait_empty(60s));
  auto msgs = consume_all(k.bootstraps, "ordercreated", 9);
  auto dups = check_order_per_key(msgs, 3, 3);
  WARN("duplicates after a relay restart: " << dups);
}

TEST_CASE("traceparent is a valid W3C header, one trace per order", "[unit][kafka]") {
  auto a = traceparent("ord_1", 1);
  auto b = traceparent("ord_1", 2);
  REQUIRE(a.size() == 55);
  CHECK(a.substr(0, 3) == "00-");
  CHECK(a.substr(3, 32) == b.substr(3, 32));
  CHECK(a.substr(36, 16) != b.substr(36, 16));
  CHECK(a.substr(53) == "01");
}
