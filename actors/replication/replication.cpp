#include "actors/replication/replication.hpp"

#include <charconv>
#include <chrono>
#include <map>
#include <set>
#include <thread>

#include <librdkafka/rdkafka.h>

#include "actors/cluster/cluster_layout.hpp"
#include "actors/replication/changelog_reader.hpp"
#include "actors/replication/owners_reader.hpp"
#include "actors/sink/kafka_relay.hpp" // saga_topics
#include "storage/changelog.hpp"

namespace saga {

namespace {

using steady = std::chrono::steady_clock;

int64_t ms_since(steady::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(steady::now() - t).count();
}

/// CreateTopics for every event topic and the changelog; "" or why not. Existing topics
/// are left as they are (their partitions are checked next).
std::string provision(rd_kafka_t* rk, const node_config& cfg, spdlog::logger& log) {
  char err[512];
  std::vector<rd_kafka_NewTopic_t*> topics;
  auto add = [&](const std::string& name, int partitions,
                 const std::vector<std::pair<std::string, std::string>>& extra) {
    auto* nt = rd_kafka_NewTopic_new(name.c_str(), partitions,
                                     static_cast<int>(cfg.kafka_topic_replication_factor), err,
                                     sizeof(err));
    if (nt == nullptr)
      return false;
    for (auto& [k, v] : cfg.kafka_topic_configs)
      rd_kafka_NewTopic_set_config(nt, k.c_str(), v.c_str());
    for (auto& [k, v] : extra)
      rd_kafka_NewTopic_set_config(nt, k.c_str(), v.c_str());
    topics.push_back(nt);
    return true;
  };
  for (auto& t : saga_topics(cfg.kafka_topic_prefix))
    if (!add(t, static_cast<int>(cfg.kafka_topic_partitions), {}))
      return "cannot describe topic " + t + ": " + err;
  // The changelog is the partitions' only full copy: nothing of it expires.
  if (!add(txn_producer::changelog_topic(cfg), log_partition_count(cfg),
           {{"cleanup.policy", "delete"}, {"retention.ms", "-1"}, {"retention.bytes", "-1"}}))
    return "cannot describe the changelog topic: " + std::string(err);
  // Who holds each partition (owners_reader.hpp): only the last claim per key matters.
  if (!add(txn_producer::owners_topic(cfg), log_partition_count(cfg),
           {{"cleanup.policy", "compact"}}))
    return "cannot describe the owners topic: " + std::string(err);
  auto* opts = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
  auto timeout = static_cast<int>(cfg.kafka_provision_timeout_ms);
  rd_kafka_AdminOptions_set_request_timeout(opts, timeout, err, sizeof(err));
  rd_kafka_AdminOptions_set_operation_timeout(opts, timeout, err, sizeof(err));
  auto* q = rd_kafka_queue_new(rk);
  rd_kafka_CreateTopics(rk, topics.data(), topics.size(), opts, q);
  rd_kafka_AdminOptions_destroy(opts);
  rd_kafka_NewTopic_destroy_array(topics.data(), topics.size());
  auto* ev = rd_kafka_queue_poll(q, timeout + 2000);
  rd_kafka_queue_destroy(q);
  if (ev == nullptr)
    return "no answer to CreateTopics within " + std::to_string(timeout + 2000) + " ms";
  std::string out;
  if (auto e = rd_kafka_event_error(ev); e != RD_KAFKA_RESP_ERR_NO_ERROR) {
    out = std::string("CreateTopics failed: ") + rd_kafka_event_error_string(ev);
  } else if (auto* res = rd_kafka_event_CreateTopics_result(ev); res != nullptr) {
    size_t n = 0;
    auto** results = rd_kafka_CreateTopics_result_topics(res, &n);
    for (size_t i = 0; i < n; ++i) {
      auto e = rd_kafka_topic_result_error(results[i]);
      std::string name = rd_kafka_topic_result_name(results[i]);
      if (e == RD_KAFKA_RESP_ERR_NO_ERROR) {
        log.info("kafka: created topic {}", name);
      } else if (e != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS && out.empty()) {
        const char* es = rd_kafka_topic_result_error_string(results[i]);
        out = "topic " + name + " cannot be created: " + (es != nullptr ? es : rd_kafka_err2str(e));
      }
    }
  }
  rd_kafka_event_destroy(ev);
  return out;
}

/// "" when `name` (the changelog or the owners topic, `what`) has at least
/// log_partition_count partitions.
std::string check_partitioned(rd_kafka_t* rk, const node_config& cfg, const std::string& name,
                              const std::string& what) {
  auto* topic = rd_kafka_topic_new(rk, name.c_str(), nullptr);
  const rd_kafka_metadata_t* md = nullptr;
  std::string out;
  auto deadline = steady::now() + std::chrono::milliseconds(cfg.kafka_provision_timeout_ms);
  for (;;) {
    auto e = rd_kafka_metadata(rk, 0, topic, &md, static_cast<int>(cfg.kafka_provision_timeout_ms));
    if (e == RD_KAFKA_RESP_ERR_NO_ERROR && md->topic_cnt == 1
        && md->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      auto have = md->topics[0].partition_cnt;
      if (have < log_partition_count(cfg))
        out = "the " + what + " topic " + name + " has " + std::to_string(have)
              + " partitions; this cluster needs " + std::to_string(log_partition_count(cfg))
              + " (saga.partitions " + std::to_string(cfg.saga_partitions)
              + " + inventory.workers " + std::to_string(cfg.inventory_workers)
              + "): add partitions to it (kafka-topics --alter --partitions) or use a new "
                "kafka.topic_prefix";
      break;
    }
    std::string why = e != RD_KAFKA_RESP_ERR_NO_ERROR ? rd_kafka_err2str(e)
                      : md->topic_cnt != 1         ? "no such topic"
                                                   : rd_kafka_err2str(md->topics[0].err);
    if (md != nullptr)
      rd_kafka_metadata_destroy(md);
    md = nullptr;
    if (steady::now() > deadline) {
      out = "the " + what + " topic " + name + " is not available: " + why;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  if (md != nullptr)
    rd_kafka_metadata_destroy(md);
  rd_kafka_topic_destroy(topic);
  return out;
}

std::string check_changelog(rd_kafka_t* rk, const node_config& cfg) {
  auto out = check_partitioned(rk, cfg, txn_producer::changelog_topic(cfg), "changelog");
  if (out.empty())
    out = check_partitioned(rk, cfg, txn_producer::owners_topic(cfg), "owners");
  return out;
}

/// Applies every committed changelog record after the store's offsets (read_committed:
/// aborted transactions are skipped, and nothing past an open one is read; the producers
/// were opened first, so no older owner's transaction is still open).
std::string restore(const node_config& cfg, const std::string& brokers, storage::store& db,
                    const std::vector<int32_t>& parts, spdlog::logger& log,
                    uint64_t& applied) {
  std::string out;
  auto* rk = open_changelog_reader(cfg, brokers, "restore", out);
  if (rk == nullptr)
    return out;
  auto topic = txn_producer::changelog_topic(cfg);
  auto* list = rd_kafka_topic_partition_list_new(static_cast<int>(parts.size()));
  std::set<int32_t> open;
  for (auto p : parts) {
    auto at = applied_changelog_offset(db, p, out);
    rd_kafka_topic_partition_list_add(list, topic.c_str(), p)->offset =
      at < 0 ? RD_KAFKA_OFFSET_BEGINNING : at + 1;
    open.insert(p);
    log.info("replication: partition {} applied up to changelog offset {}; reading the rest", p, at);
  }
  if (out.empty())
    if (auto e = rd_kafka_assign(rk, list); e != RD_KAFKA_RESP_ERR_NO_ERROR)
      out = std::string("cannot read the changelog: ") + rd_kafka_err2str(e);
  rd_kafka_topic_partition_list_destroy(list);
  auto quiet_since = steady::now();
  auto patience = std::chrono::milliseconds(cfg.kafka_provision_timeout_ms * 3);
  std::vector<storage::batch> batches;
  while (out.empty() && !open.empty()) {
    auto* m = rd_kafka_consumer_poll(rk, 500);
    if (m == nullptr) {
      if (steady::now() - quiet_since > patience)
        out = "the changelog gave nothing for " + std::to_string(patience.count())
              + " ms; partitions still unread: " + std::to_string(open.size());
      continue;
    }
    quiet_since = steady::now();
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      open.erase(m->partition);
    } else if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      log.warn("replication: reading the changelog: {}", rd_kafka_message_errstr(m));
    } else if (batches.clear();
               !changelog_record_batches(
                 std::string_view(static_cast<const char*>(m->payload), m->len), m->partition,
                 m->offset, batches)) {
      out = "changelog record at partition " + std::to_string(m->partition) + " offset "
            + std::to_string(m->offset) + " does not decode (" + std::to_string(m->len)
            + " bytes)";
    } else {
      std::vector<const storage::batch*> group;
      for (auto& b : batches)
        group.push_back(&b);
      if (auto e = db.commit(group, false); !e.empty())
        out = "applying the changelog to RocksDB failed: " + e;
      ++applied;
    }
    rd_kafka_message_destroy(m);
  }
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
  return out;
}

} // namespace

rd_kafka_t* open_changelog_reader(const node_config& cfg, const std::string& brokers,
                                  const std::string& role, std::string& error,
                                  int fetch_wait_ms, const std::string& read_topic) {
  char err[512];
  auto* conf = rd_kafka_conf_new();
  std::string bad;
  auto set = [&](const char* k, const std::string& v) {
    if (rd_kafka_conf_set(conf, k, v.c_str(), err, sizeof(err)) != RD_KAFKA_CONF_OK && bad.empty())
      bad = std::string(k) + ": " + err;
  };
  set("bootstrap.servers", brokers);
  set("group.id", cfg.cluster_name + "-" + role + "-" + cfg.node_id); // assign only: never joins
  set("client.id", "sagad-" + cfg.node_id + "-" + role);
  set("isolation.level", "read_committed");
  set("enable.auto.commit", "false");
  set("enable.partition.eof", "true");
  set("auto.offset.reset", "earliest");
  set("fetch.max.bytes", std::to_string(std::max<int64_t>(52428800, cfg.kafka_max_message_bytes * 2)));
  set("log.connection.close", "false");
  // The end of a partition is known when a fetch comes back empty: the broker holds an
  // empty fetch for fetch.wait.max.ms (500 by default), which every start paid once.
  set("fetch.wait.max.ms", std::to_string(fetch_wait_ms));
  if (!bad.empty()) {
    rd_kafka_conf_destroy(conf);
    error = "changelog reader option " + bad;
    return nullptr;
  }
  auto* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
  if (rk == nullptr) {
    rd_kafka_conf_destroy(conf);
    error = std::string("cannot create the changelog reader: ") + err;
    return nullptr;
  }
  // The topic's leaders first: an assignment of a topic the client has no metadata for
  // waits for librdkafka's one-second metadata scan (restore_ms was 1.0 s for any length).
  auto topic = read_topic.empty() ? txn_producer::changelog_topic(cfg) : read_topic;
  if (auto* rkt = rd_kafka_topic_new(rk, topic.c_str(), nullptr); rkt != nullptr) {
    const rd_kafka_metadata_t* md = nullptr;
    if (rd_kafka_metadata(rk, 0, rkt, &md, static_cast<int>(cfg.kafka_provision_timeout_ms))
          == RD_KAFKA_RESP_ERR_NO_ERROR
        && md != nullptr)
      rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(rkt);
  }
  return rk;
}

int64_t applied_changelog_offset(storage::store& db, int32_t p, std::string& error) {
  std::string v;
  auto got = db.get(storage::family::meta, storage::changelog_offset_key(p), v);
  if (got == storage::read_status::failed)
    error = "cannot read the applied changelog offset of partition " + std::to_string(p);
  if (got != storage::read_status::found)
    return -1;
  int64_t at = -1;
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), at);
  if (ec != std::errc() || end != v.data() + v.size() || at < 0) {
    error = "the applied changelog offset of partition " + std::to_string(p) + " is not a "
            "number ('" + v.substr(0, 32) + "'): the data directory is damaged; wipe it to "
            "rebuild the node from the changelog";
    return -1;
  }
  return at;
}

bool changelog_record_batches(std::string_view payload, int32_t p, int64_t offset,
                              std::vector<storage::batch>& out) {
  std::vector<storage::batch> decoded;
  if (!storage::decode_changelog(payload, decoded))
    return false;
  storage::batch mark;
  mark.ops.push_back({storage::family::meta, storage::changelog_offset_key(p),
                      std::to_string(offset), false});
  for (auto& b : decoded)
    out.push_back(std::move(b));
  out.push_back(std::move(mark));
  return true;
}

int32_t log_partition_count(const node_config& cfg) {
  return static_cast<int32_t>(cfg.saga_partitions + cfg.inventory_workers);
}

std::vector<int32_t> local_log_partitions(const node_config& cfg) {
  auto layout = cluster_layout::from(cfg);
  auto self = layout.index_of(cfg.node_id);
  std::vector<int32_t> out;
  for (int64_t p = 0; p < cfg.saga_partitions; ++p)
    if (layout.owner(partition_kind::orders, static_cast<size_t>(p)) == self)
      out.push_back(static_cast<int32_t>(p));
  for (int64_t q = 0; q < cfg.inventory_workers; ++q)
    if (layout.owner(partition_kind::inventory, static_cast<size_t>(q)) == self)
      out.push_back(static_cast<int32_t>(cfg.saga_partitions + q));
  return out;
}

std::string claim_partition(txn_producer& producer, const node_config& cfg, int64_t at_ms,
                            int64_t* offset) {
  auto o = producer.claim(encode_claim(cfg, producer.log_partition(), at_ms));
  if (o.error.empty()) {
    if (offset != nullptr)
      *offset = o.offsets.empty() ? -1 : o.offsets.back();
    return {};
  }
  return "claiming partition " + std::to_string(producer.log_partition()) + " in "
         + txn_producer::owners_topic(cfg) + " failed"
         + (o.fenced ? " (another node opened it meanwhile, or its producer failed for good)"
                     : " after " + std::to_string(o.attempts) + " attempt(s)")
         + ": " + o.error;
}

replication_start start_replication(const node_config& cfg, const std::string& brokers,
                                    storage::store& db, std::shared_ptr<spdlog::logger> log,
                                    int64_t claim_at_ms) {
  replication_start r;
  auto t0 = steady::now();
  {
    char err[512];
    auto* conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", brokers.c_str(), err, sizeof(err));
    rd_kafka_conf_set(conf, "log.connection.close", "false", err, sizeof(err));
    auto* admin = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    if (admin == nullptr) {
      rd_kafka_conf_destroy(conf);
      r.error = std::string("cannot create the Kafka admin client: ") + err;
      return r;
    }
    if (cfg.kafka_provision_topics)
      r.error = provision(admin, cfg, *log);
    if (r.error.empty())
      r.error = check_changelog(admin, cfg);
    rd_kafka_destroy(admin);
    if (!r.error.empty())
      return r;
  }
  auto parts = local_log_partitions(cfg);
  r.producers.resize(static_cast<size_t>(log_partition_count(cfg)));
  for (auto p : parts) {
    auto prod = txn_producer::open(cfg, brokers, p, log, r.error);
    if (!prod)
      return r;
    int64_t offset = -1;
    if (r.error = claim_partition(*prod, cfg, claim_at_ms, &offset); !r.error.empty())
      return r;
    r.claims[p] = offset;
    r.producers[static_cast<size_t>(p)] = std::move(prod);
  }
  r.open_ms = ms_since(t0);
  auto t1 = steady::now();
  r.error = restore(cfg, brokers, db, parts, *log, r.applied_records);
  r.restore_ms = ms_since(t1);
  if (r.error.empty())
    log->info("replication: {} partitions opened as {}-p<N> (older owners fenced) and claimed in {} ms; {} "
              "changelog records applied in {} ms",
              parts.size(), cfg.cluster_name, r.open_ms, r.applied_records, r.restore_ms);
  return r;
}

} // namespace saga
