// The relay on librdkafka's mock cluster, for error paths that are hard to provoke on a
// real broker: produce requests that fail with retriable errors, a broker that goes down
// and comes back. Real actors, real RocksDB, real (mock) Kafka over TCP; wall-clock time.
#include <catch2/catch.hpp>

#include <filesystem>
#include <map>
#include <set>
#include <random>
#include <thread>
#include <tuple>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <nlohmann/json.hpp>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/sinks/stdout_sinks.h>

#include "actors/sink/kafka_relay.hpp"
#include "actors/plumbing/writer.hpp"
#include "actors/sink/event_envelope.hpp"
#include "tests/mock_kafka.hpp"

using namespace saga;
using namespace std::chrono_literals;

namespace {

using saga_test::mock_kafka;

/// Every message of a topic: (partition, offset) -> envelope.
std::vector<nlohmann::json> consume_all(const std::string& bootstraps, const std::string& topic,
                                        size_t expected) {
  char err[256];
  auto* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", bootstraps.c_str(), err, sizeof(err));
  rd_kafka_conf_set(conf, "group.id", ("relay-test-" + topic).c_str(), err, sizeof(err));
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
  std::set<std::string> unique; // duplicates do not count toward `expected`
  auto deadline = std::chrono::steady_clock::now() + 30s;
  while (std::chrono::steady_clock::now() < deadline) {
    auto* m = rd_kafka_consumer_poll(rk, 200);
    if (m == nullptr) {
      if (unique.size() >= expected)
        break; // nothing more arrives
      continue;
    }
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      auto j = nlohmann::json::parse(static_cast<const char*>(m->payload),
                                     static_cast<const char*>(m->payload) + m->len);
      j["_partition"] = m->partition;
      j["_offset"] = m->offset;
      unique.insert(j.value("event_id", std::to_string(m->partition) + "/" + std::to_string(m->offset)));
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
    // SAGA_TEST_LOG=1 shows the relay's log (on stderr) when a test needs explaining.
    if (std::getenv("SAGA_TEST_LOG") != nullptr)
      ctx->log = std::make_shared<spdlog::logger>("t", std::make_shared<spdlog::sinks::stderr_sink_mt>()),
      ctx->log->set_level(spdlog::level::trace);
    else
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

  /// Writes `orders` x `per_order` ordercreated-typed events straight into the outbox
  /// (seqs first_seq .. first_seq + per_order - 1), one commit per seq.
  void fill(int orders, int per_order, int first_seq = 1) {
    for (int s = first_seq; s < first_seq + per_order; ++s) {
      storage::batch b;
      for (int o = 0; o < orders; ++o) {
        saga_event ev{"ord_" + std::to_string(o), static_cast<uint64_t>(s), event_type::ordercreated,
                      ctx->now_ms(), "order", "{}"};
        b.outbox.push_back(saga::encode(ev, "n1"));
      }
      REQUIRE(db->commit({&b}, false).empty());
    }
  }

  /// One event of order `order` with `seq`, in its own commit.
  void fill_one(const std::string& order, uint64_t seq) {
    storage::batch b;
    saga_event ev{order, seq, event_type::ordercreated, ctx->now_ms(), "order", "{}"};
    b.outbox.push_back(saga::encode(ev, "n1"));
    REQUIRE(db->commit({&b}, false).empty());
  }

  /// The relay's own figure for what is left (saga_outbox_depth) comes down to 0.
  bool wait_depth_zero(std::chrono::seconds limit) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
      if (ctx->stats->outbox_depth.load() == 0)
        return true;
      std::this_thread::sleep_for(20ms);
    }
    return false;
  }

  size_t outbox_size() {
    size_t n = 0;
    (void)db->scan(storage::family::outbox, "", [&](auto, auto) { return ++n, true; });
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

  // The mock cluster answers no CreateTopics (its topics appear on first use): the relay
  // provisions nothing here, except in the test of a cluster that cannot create topics.
  bool provision = false;

  void start_relay(const std::string& brokers) {
    relay = sys->spawn(kafka_relay, ctx, writer, brokers, provision);
  }
};

/// The consumer's view (spec: duplicates carry the same event_id): per order, in
/// partition-offset order and keeping the first copy of each event_id, the seqs are exactly
/// 1..n. Returns the number of duplicates.
size_t check_order_per_key(const std::vector<nlohmann::json>& msgs, int orders, int per_order) {
  std::map<std::string, std::vector<std::tuple<int64_t, uint64_t, std::string>>> by_key;
  std::map<std::string, int> ids;
  for (auto& m : msgs) {
    by_key[m["order_id"]].emplace_back(m["_offset"].get<int64_t>(), m["seq"].get<uint64_t>(),
                                       m["event_id"].get<std::string>());
    ++ids[m["event_id"]];
  }
  size_t dups = 0;
  for (auto& [id, n] : ids)
    dups += n - 1;
  CHECK(static_cast<int>(ids.size()) == orders * per_order);
  for (auto& [key, xs] : by_key) {
    std::sort(xs.begin(), xs.end());
    std::set<std::string> seen;
    uint64_t last = 0;
    for (auto& [off, seq, event_id] : xs) {
      if (!seen.insert(event_id).second)
        continue; // a duplicate: dropped by the consumer
      INFO("order " << key << " offset " << off);
      CHECK(seq == last + 1); // first copies come in seq order, without gaps
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

/// Consumes the dead-letter topic: one JSON object per poison entry.
std::vector<nlohmann::json> dead_letters(mock_kafka& k, size_t expected) {
  return consume_all(k.bootstraps, "saga_dead_letter", expected);
}

TEST_CASE("an event larger than the broker takes is dead-lettered and the next ones go on",
          "[fault][kafka]") {
  mock_kafka k;
  rd_kafka_mock_topic_create(k.mc, "saga_dead_letter", 1, 1);
  relay_fixture f;
  f.ctx->cfg.kafka_max_message_bytes = 2000;
  f.fill(4, 2); // ord_0..3, seq 1..2
  {
    storage::batch b; // ord_big: seq 1 is too large, seq 2 is fine
    saga_event big{"ord_big", 1, event_type::ordercreated, f.ctx->now_ms(), "order",
                   "{\"blob\":\"" + std::string(5000, 'x') + "\"}"};
    saga_event next{"ord_big", 2, event_type::ordercreated, f.ctx->now_ms(), "order", "{}"};
    b.outbox.push_back(saga::encode(big, "n1"));
    b.outbox.push_back(saga::encode(next, "n1"));
    REQUIRE(f.db->commit({&b}, false).empty());
  }
  f.fill(4, 1); // more after the poison entry
  f.start_relay(k.bootstraps);
  REQUIRE(f.wait_empty(30s)); // the outbox is not blocked by the poison entry
  auto msgs = consume_all(k.bootstraps, "ordercreated", 13);
  CHECK(msgs.size() == 13); // 8 + ord_big seq 2 + 4
  auto dl = dead_letters(k, 1);
  REQUIRE(dl.size() == 1);
  CHECK(dl[0]["order_id"] == "ord_big");
  CHECK(dl[0]["seq"] == 1);
  CHECK(dl[0]["topic"] == "ordercreated");
  CHECK(dl[0]["truncated"] == true);
  CHECK(dl[0]["reason"].get<std::string>().find("refused by the producer") != std::string::npos);
  CHECK(f.ctx->stats->kafka_dead_lettered.load() == 1);
  CHECK(f.ctx->stats->kafka_published.load() == 13);
  CHECK(f.ctx->stats->render().find("saga_kafka_dead_lettered_total 1") != std::string::npos);
}

TEST_CASE("an outbox entry that is not a JSON envelope is dead-lettered with the reason, never "
          "dropped in silence", "[fault][kafka]") {
  mock_kafka k;
  rd_kafka_mock_topic_create(k.mc, "saga_dead_letter", 1, 1);
  relay_fixture f;
  f.fill(2, 1); // ord_0, ord_1: seq 1
  {
    storage::batch b; // a damaged entry between two good ones
    b.outbox.push_back("{\"order_id\": \"ord_x\", \"seq\": 1, trunc");
    REQUIRE(f.db->commit({&b}, false).empty());
  }
  f.fill(2, 1, 2); // ord_0, ord_1: seq 2
  f.start_relay(k.bootstraps);
  REQUIRE(f.wait_empty(30s)); // the outbox is not blocked by it
  auto msgs = consume_all(k.bootstraps, "ordercreated", 4);
  CHECK(msgs.size() == 4);
  CHECK(check_order_per_key(msgs, 2, 2) == 0);
  auto dl = dead_letters(k, 1);
  REQUIRE(dl.size() == 1); // kept, with why: not acknowledged and deleted unseen
  CHECK(dl[0]["outbox_key"] == 3);
  CHECK(dl[0]["reason"].get<std::string>().find("not a JSON envelope") != std::string::npos);
  CHECK(dl[0]["envelope"].get<std::string>().find("trunc") != std::string::npos);
  CHECK(f.ctx->stats->kafka_dead_lettered.load() == 1);
  CHECK(f.ctx->stats->kafka_published.load() == 4);
}

TEST_CASE("a permanent delivery error resets the relay without reordering an order's events",
          "[fault][kafka]") {
  mock_kafka k;
  rd_kafka_mock_topic_create(k.mc, "saga_dead_letter", 1, 1);
  rd_kafka_mock_broker_set_rtt(k.mc, 1, 30); // several requests per partition in flight
  relay_fixture f;
  f.start_relay(k.bootstraps);
  // Events arrive while the relay publishes, so several produce requests per partition are
  // in flight when one of them is refused for good. Without the gapless guarantee the
  // batches behind it would land and the refused one be re-produced after them; without
  // the purge, what librdkafka still held would land after the rewind.
  constexpr int orders = 10, seqs = 40;
  for (int s = 1; s <= seqs; ++s) {
    f.fill(orders, 1, s);
    if (s == 15 || s == 25)
      rd_kafka_mock_push_request_errors(k.mc, 0 /* Produce */, 1, RD_KAFKA_RESP_ERR_INVALID_RECORD);
    std::this_thread::sleep_for(3ms);
  }
  REQUIRE(f.wait_empty(60s));
  auto msgs = consume_all(k.bootstraps, "ordercreated", orders * seqs);
  auto dups = check_order_per_key(msgs, orders, seqs);
  CHECK(f.ctx->stats->kafka_relay_resets.load() >= 1);
  CHECK(f.ctx->stats->kafka_dead_lettered.load() == 0); // one failure is not poison
  WARN("duplicates after two permanent delivery errors: " << dups);
}

TEST_CASE("an entry the broker refuses every time is dead-lettered after the attempts",
          "[fault][kafka]") {
  mock_kafka k;
  rd_kafka_mock_topic_create(k.mc, "saga_dead_letter", 1, 1);
  relay_fixture f;
  f.ctx->cfg.kafka_max_delivery_attempts = 3;
  if (auto d = std::getenv("SAGA_TEST_KAFKA_DEBUG"))
    f.ctx->cfg.kafka_debug = d;
  f.fill(5, 4);
  // Twelve produce requests in a row refused for good: the first batches (at most a few
  // requests are in flight before the producer stops), then suspects alone, the oldest
  // until its third failure makes it poison. How the errors spread varies from run to run,
  // so more than one entry may end up dead-lettered.
  for (int i = 0; i < 12; ++i)
    rd_kafka_mock_push_request_errors(k.mc, 0 /* Produce */, 1, RD_KAFKA_RESP_ERR_INVALID_RECORD);
  f.start_relay(k.bootstraps);
  REQUIRE(f.wait_empty(60s)); // the outbox is not blocked for good
  auto n_dl = f.ctx->stats->kafka_dead_lettered.load();
  REQUIRE(n_dl >= 1);
  auto dl = dead_letters(k, n_dl);
  REQUIRE(dl.size() >= n_dl);
  std::set<std::string> ids;
  for (auto& d : dl) {
    CHECK(d["reason"].get<std::string>().find("delivery failed") != std::string::npos);
    ids.insert(d["event_id"].get<std::string>());
  }
  auto msgs = consume_all(k.bootstraps, "ordercreated", 20 - n_dl);
  std::map<std::string, uint64_t> last;
  for (auto& m : msgs) { // per order: seq never goes back (a dead-lettered one is a gap)
    ids.insert(m["event_id"].get<std::string>());
    auto& l = last[m["order_id"]];
    CHECK(m["seq"].get<uint64_t>() >= l);
    l = m["seq"].get<uint64_t>();
  }
  CHECK(ids.size() == 20); // every event is on its topic or on the dead-letter topic
  WARN("dead-lettered after 12 refused produce requests: " << n_dl);
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

namespace {

int64_t kafka_errors(const metrics& m, metrics::kafka_where w, rd_kafka_resp_err_t code) {
  return static_cast<int64_t>(
    m.kafka_errors[static_cast<size_t>(w) * metrics::kafka_code_slots
                   + static_cast<size_t>(static_cast<int>(code) - metrics::kafka_code_min)]
      .load());
}

kafka_sink_status sink_status(caf::actor_system& sys, const caf::actor& relay) {
  caf::scoped_actor self{sys};
  kafka_sink_status out;
  self->request(relay, std::chrono::seconds(5), stats_atom::value)
    .receive([&](const kafka_sink_status& s) { out = s; }, [&](caf::error&) {});
  return out;
}

} // namespace

TEST_CASE("a cluster that cannot create the topics gets nothing published, and says so",
          "[fault][kafka]") {
  // librdkafka's mock cluster has no controller: CreateTopics never succeeds there, as on a
  // cluster whose controller is unreachable.
  mock_kafka k;
  relay_fixture f;
  f.provision = true;
  f.ctx->cfg.kafka_provision_timeout_ms = 300;
  f.ctx->cfg.kafka_retry_backoff_max_ms = 200;
  f.fill(5, 2);
  f.start_relay(k.bootstraps);
  auto& m = *f.ctx->stats;
  auto deadline = std::chrono::steady_clock::now() + 20s;
  while (kafka_errors(m, metrics::kw_provision, RD_KAFKA_RESP_ERR__TIMED_OUT) < 2
         && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(20ms);
  CHECK(kafka_errors(m, metrics::kw_provision, RD_KAFKA_RESP_ERR__TIMED_OUT) >= 2); // asked again
  CHECK(m.kafka_topics_expected.load() == 14);
  CHECK(m.kafka_topics_missing.load() == 14);
  auto st = sink_status(*f.sys, f.relay);
  CHECK(st.state == "topics_missing");
  REQUIRE(st.missing_topics.size() == 14);
  CHECK(st.missing_topics.front().find("_TIMED_OUT") != std::string::npos);
  CHECK(st.last_error.find("CreateTopics") != std::string::npos);
  // Nothing published, nothing lost: the outbox keeps every entry and its age shows.
  CHECK(m.kafka_published.load() == 0);
  CHECK(f.outbox_size() == 10);
  CHECK(m.outbox_depth.load() == 10);
  CHECK(m.outbox_age_ms.load() >= 300);
  CHECK(m.render().find("saga_kafka_errors_total{where=\"provision\",code=\"_TIMED_OUT\"}")
        != std::string::npos);
}

TEST_CASE("retriable errors past the producer's retries are counted, paused on, never dead-lettered",
          "[fault][kafka]") {
  mock_kafka k;
  relay_fixture f;
  f.ctx->cfg.kafka_produce_retries = 1;
  f.ctx->cfg.kafka_max_delivery_attempts = 1; // a message-specific error would be dead-lettered
  f.fill(5, 4);
  rd_kafka_mock_push_request_errors(k.mc, 0 /* Produce */, 8,
                                    RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
                                    RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
                                    RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
                                    RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
                                    RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
                                    RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
                                    RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
                                    RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS);
  f.start_relay(k.bootstraps);
  REQUIRE(f.wait_empty(60s));
  auto& m = *f.ctx->stats;
  CHECK(kafka_errors(m, metrics::kw_delivery, RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS) >= 1);
  CHECK(m.kafka_relay_resets.load() >= 1);
  CHECK(m.kafka_dead_lettered.load() == 0);
  auto msgs = consume_all(k.bootstraps, "ordercreated", 20);
  auto dups = check_order_per_key(msgs, 5, 4);
  WARN("duplicates after retriable errors past the retries: " << dups);
  CHECK(m.render().find("saga_kafka_errors_total{where=\"delivery\",code=\"NOT_ENOUGH_REPLICAS\"}")
        != std::string::npos);
}

TEST_CASE("one event per order in flight: a later event never lands ahead of an earlier one "
          "that failed", "[fault][kafka]") {
  mock_kafka k;
  relay_fixture f;
  f.ctx->cfg.kafka_produce_retries = 1; // a retriable error twice is reported
  f.ctx->cfg.kafka_linger_ms = 0;       // each event in its own produce request
  f.start_relay(k.bootstraps);
  f.fill(1, 1); // ord_0 seq 1: connected, metadata known
  REQUIRE(f.wait_empty(30s));
  // Slow answers: requests for seqs 2..5 are in flight together when the first answers
  // come back. Two are refused (retriable); the mock appends the others (it checks no
  // sequence numbers for an idempotent producer), as a broker does once librdkafka has
  // renumbered them after an epoch bump: what was refused lands after them.
  rd_kafka_mock_broker_set_rtt(k.mc, 1, 150);
  rd_kafka_mock_push_request_errors(k.mc, 0 /* Produce */, 2,
                                    RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
                                    RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS);
  for (int s = 2; s <= 5; ++s) {
    f.fill(1, 1, s);
    std::this_thread::sleep_for(10ms); // separate relay rounds, separate requests
  }
  REQUIRE(f.wait_empty(60s));
  CHECK(f.wait_depth_zero(5s));
  auto msgs = consume_all(k.bootstraps, "ordercreated", 5);
  auto dups = check_order_per_key(msgs, 1, 5); // in seq order: 1, 2, 3, 4, 5
  CHECK(f.ctx->stats->kafka_relay_resets.load() >= 1);
  WARN("duplicates: " << dups);
}

TEST_CASE("an order waiting for its turn holds no other order back, and the depth drains to 0",
          "[kafka]") {
  mock_kafka k;
  relay_fixture f;
  f.ctx->cfg.kafka_linger_ms = 0;
  f.start_relay(k.bootstraps);
  f.fill_one("ord_slow", 1);
  REQUIRE(f.wait_empty(30s));
  REQUIRE(f.wait_depth_zero(5s));
  // ord_slow's seqs 2..5 go one at a time (each waits for the one before, 100 ms away);
  // the other orders, written after them, go at once and are deleted meanwhile. The
  // relay must neither wait for them behind ord_slow nor count them once they are gone.
  rd_kafka_mock_broker_set_rtt(k.mc, 1, 100);
  for (uint64_t s = 2; s <= 5; ++s)
    f.fill_one("ord_slow", s);
  for (int o = 0; o < 20; ++o)
    f.fill_one("ord_" + std::to_string(o), 1);
  REQUIRE(f.wait_empty(60s));
  CHECK(f.wait_depth_zero(5s));
  CHECK(f.ctx->stats->outbox_depth.load() == 0);
  auto msgs = consume_all(k.bootstraps, "ordercreated", 25);
  std::vector<uint64_t> slow;
  size_t others = 0;
  for (auto& env : msgs) {
    if (env["order_id"] == "ord_slow")
      slow.push_back(env["seq"].get<uint64_t>());
    else
      ++others;
  }
  CHECK(slow == std::vector<uint64_t>{1, 2, 3, 4, 5});
  CHECK(others == 20);
}

TEST_CASE("entries waiting behind their order's event are read again only when it is their turn",
          "[kafka]") {
  mock_kafka k;
  relay_fixture f;
  f.ctx->cfg.kafka_linger_ms = 0;
  f.start_relay(k.bootstraps);
  f.fill_one("ord_warm", 1);
  REQUIRE(f.wait_empty(30s));
  // 30 entries of one order go one at a time, each 50 ms after the one before, while the
  // relay ticks every few ms: a walk that passed over the waiting entries at every tick
  // read them hundreds of times. Each is read when written and once more at its turn.
  rd_kafka_mock_broker_set_rtt(k.mc, 1, 50);
  auto before = f.ctx->stats->kafka_relay_walked.load();
  for (uint64_t s = 1; s <= 30; ++s)
    f.fill_one("ord_slow", s);
  REQUIRE(f.wait_empty(60s));
  CHECK(f.wait_depth_zero(5s));
  auto walked = f.ctx->stats->kafka_relay_walked.load() - before;
  CHECK(walked >= 30);
  CHECK(walked <= 2 * 30);
  auto msgs = consume_all(k.bootstraps, "ordercreated", 31);
  std::vector<uint64_t> slow;
  for (auto& env : msgs)
    if (env["order_id"] == "ord_slow")
      slow.push_back(env["seq"].get<uint64_t>());
  REQUIRE(slow.size() == 30);
  for (uint64_t s = 1; s <= 30; ++s)
    CHECK(slow[s - 1] == s);
}
