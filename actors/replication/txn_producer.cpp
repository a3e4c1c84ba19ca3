#include "actors/replication/txn_producer.hpp"

#include <chrono>
#include <thread>

#include "actors/sink/event_envelope.hpp"
#include "actors/sink/kafka_relay.hpp" // traceparent

namespace saga {

namespace {

/// The message opaque of changelog record i is i + 1 (events carry none).
void* record_opaque(size_t i) { return reinterpret_cast<void*>(static_cast<uintptr_t>(i + 1)); }

/// Takes an rd_kafka_error_t: its text, and whether it is fatal / needs an abort /
/// may simply be called again.
struct txn_error {
  std::string text;
  bool fatal = false, abort = false, retriable = false;
  explicit txn_error(rd_kafka_error_t* e) {
    if (e == nullptr)
      return;
    text = std::string(rd_kafka_error_name(e)) + ": " + rd_kafka_error_string(e);
    fatal = rd_kafka_error_is_fatal(e) != 0;
    abort = rd_kafka_error_txn_requires_abort(e) != 0;
    retriable = rd_kafka_error_is_retriable(e) != 0;
    rd_kafka_error_destroy(e);
  }
  bool ok() const { return text.empty(); }
};

void txn_on_log(const rd_kafka_t* rk, int level, const char* fac, const char* buf) {
  auto* p = static_cast<const txn_producer*>(rd_kafka_opaque(rk));
  auto lvl = level <= 3 ? spdlog::level::err : level <= 5 ? spdlog::level::warn : spdlog::level::debug;
  p->logger()->log(lvl, "kafka {} {}: {}", p->id(), fac, buf);
}

} // namespace

void txn_on_delivery(rd_kafka_t*, const rd_kafka_message_t* msg, void* opaque) {
  auto* self = static_cast<txn_producer*>(opaque);
  auto& r = self->reports_;
  if (msg->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    if (r.failed++ == 0)
      r.first_error = std::string(rd_kafka_err2name(msg->err)) + ": " + rd_kafka_err2str(msg->err);
    return;
  }
  if (msg->_private != nullptr) {
    auto i = reinterpret_cast<uintptr_t>(msg->_private) - 1;
    if (i < r.offsets.size())
      r.offsets[i] = msg->offset;
  }
}

std::string txn_producer::transactional_id(const node_config& cfg, int32_t log_partition) {
  return cfg.cluster_name + "-p" + std::to_string(log_partition);
}

std::string txn_producer::changelog_topic(const node_config& cfg) {
  return cfg.kafka_topic_prefix + "saga_changelog";
}

std::string txn_producer::owners_topic(const node_config& cfg) {
  return cfg.kafka_topic_prefix + "saga_owners";
}

std::unique_ptr<txn_producer> txn_producer::open(const node_config& cfg, const std::string& brokers,
                                                 int32_t log_partition,
                                                 std::shared_ptr<spdlog::logger> log,
                                                 std::string& error) {
  std::unique_ptr<txn_producer> p(new txn_producer);
  p->cfg_ = cfg;
  p->id_ = transactional_id(cfg, log_partition);
  p->topic_ = changelog_topic(cfg);
  p->partition_ = log_partition;
  p->log_ = std::move(log);
  char err[512];
  auto* conf = rd_kafka_conf_new();
  bool ok = true;
  auto set = [&](const char* k, const std::string& v) {
    if (rd_kafka_conf_set(conf, k, v.c_str(), err, sizeof(err)) != RD_KAFKA_CONF_OK) {
      error = std::string("kafka option ") + k + "=" + v + " refused: " + err;
      ok = false;
    }
  };
  set("bootstrap.servers", brokers);
  set("client.id", "sagad-" + cfg.node_id + "-" + p->id_);
  set("transactional.id", p->id_);
  set("transaction.timeout.ms", std::to_string(cfg.cluster_transaction_timeout_ms));
  set("acks", "all");
  set("linger.ms", "0"); // a transaction's messages are flushed at its commit anyway
  set("message.max.bytes", std::to_string(cfg.kafka_max_message_bytes));
  set("message.timeout.ms", std::to_string(cfg.cluster_transaction_timeout_ms));
  set("socket.timeout.ms", "10000");
  set("reconnect.backoff.ms", "100");
  set("reconnect.backoff.max.ms", "2000");
  set("log.connection.close", "false");
  if (!cfg.kafka_debug.empty())
    set("debug", cfg.kafka_debug);
  if (!ok) {
    rd_kafka_conf_destroy(conf);
    return nullptr;
  }
  rd_kafka_conf_set_dr_msg_cb(conf, txn_on_delivery);
  rd_kafka_conf_set_log_cb(conf, txn_on_log);
  rd_kafka_conf_set_opaque(conf, p.get());
  p->rk_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
  if (p->rk_ == nullptr) {
    rd_kafka_conf_destroy(conf);
    error = std::string("cannot create the producer of ") + p->id_ + ": " + err;
    return nullptr;
  }
  // Fences every older producer of this transactional.id and aborts what it left open.
  auto deadline = std::chrono::steady_clock::now()
                  + std::chrono::milliseconds(cfg.kafka_provision_timeout_ms * 3);
  for (;;) {
    txn_error e(rd_kafka_init_transactions(p->rk_, static_cast<int>(cfg.kafka_provision_timeout_ms)));
    if (e.ok())
      break;
    if (!e.retriable || std::chrono::steady_clock::now() > deadline) {
      error = "init_transactions of " + p->id_ + " failed: " + e.text;
      return nullptr;
    }
    p->log_->warn("init_transactions of {} failed ({}); trying again", p->id_, e.text);
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  p->warm_metadata();
  return p;
}

void txn_producer::warm_metadata() {
  // librdkafka learns a topic's partitions when a message first goes to it, and asks the
  // cluster only at its next one-second metadata scan: each topic's first event waited up
  // to a second inside its transaction (seen with kafka.debug=topic,metadata; a step
  // answered in 0.9-1.0 s). Known topics and one metadata request now, at open.
  std::vector<std::string> names = saga_topics(cfg_.kafka_topic_prefix);
  names.push_back(topic_);
  names.push_back(owners_topic(cfg_)); // the claim right after open
  for (auto& t : names)
    if (auto* rkt = rd_kafka_topic_new(rk_, t.c_str(), nullptr))
      topics_.push_back(rkt);
  const rd_kafka_metadata_t* md = nullptr;
  auto err = rd_kafka_metadata(rk_, 1, nullptr, &md,
                               static_cast<int>(cfg_.kafka_provision_timeout_ms));
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) // not needed for correctness: the first steps wait
    log_->warn("{}: metadata at open failed ({}); first events may wait for it", id_,
               rd_kafka_err2str(err));
  if (md != nullptr)
    rd_kafka_metadata_destroy(md);
}

txn_producer::~txn_producer() {
  for (auto* t : topics_)
    rd_kafka_topic_destroy(t);
  if (rk_ != nullptr)
    rd_kafka_destroy(rk_);
}

txn_producer::outcome txn_producer::try_commit(const std::vector<std::string>& records,
                                               const std::vector<std::string>& events,
                                               const std::string* claim) {
  outcome out;
  reports_ = {};
  reports_.offsets.assign(records.size() + (claim != nullptr ? 1 : 0), -1);
  auto timeout = static_cast<int>(cfg_.cluster_transaction_timeout_ms);
  auto fail = [&](std::string what, bool fatal) {
    char buf[256];
    if (rd_kafka_fatal_error(rk_, buf, sizeof(buf)) != RD_KAFKA_RESP_ERR_NO_ERROR) {
      fatal = true;
      what += std::string(" (fatal: ") + buf + ")";
    }
    out.error = std::move(what);
    out.fenced = fatal;
    if (!fatal) { // abort what was produced: it stays invisible to read_committed readers
      txn_error a(rd_kafka_abort_transaction(rk_, timeout));
      if (!a.ok()) {
        out.error += "; abort failed: " + a.text;
        out.fenced = a.fatal;
      }
    }
    return out;
  };
  if (txn_error e(rd_kafka_begin_transaction(rk_)); !e.ok()) {
    out.error = "begin_transaction: " + e.text;
    out.fenced = true; // begin fails only on a fatal or misused producer: never retried
    return out;
  }
  for (size_t i = 0; i < records.size(); ++i) {
    auto& r = records[i];
    auto err = rd_kafka_producev(rk_, RD_KAFKA_V_TOPIC(topic_.c_str()),
                                 RD_KAFKA_V_PARTITION(partition_),
                                 RD_KAFKA_V_VALUE(const_cast<char*>(r.data()), r.size()),
                                 RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                 RD_KAFKA_V_OPAQUE(record_opaque(i)), RD_KAFKA_V_END);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
      return fail(std::string("producing a changelog record: ") + rd_kafka_err2name(err), false);
  }
  if (claim != nullptr) {
    auto topic = owners_topic(cfg_);
    auto key = "p" + std::to_string(partition_);
    auto err = rd_kafka_producev(rk_, RD_KAFKA_V_TOPIC(topic.c_str()),
                                 RD_KAFKA_V_PARTITION(partition_),
                                 RD_KAFKA_V_KEY(key.data(), key.size()),
                                 RD_KAFKA_V_VALUE(const_cast<char*>(claim->data()), claim->size()),
                                 RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                 RD_KAFKA_V_OPAQUE(record_opaque(records.size())), RD_KAFKA_V_END);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
      return fail(std::string("producing the claim to ") + topic + ": " + rd_kafka_err2name(err),
                  false);
  }
  for (auto& v : events) {
    envelope_head head;
    if (!read_head(v, head))
      return fail("an event envelope is not JSON (" + std::to_string(v.size()) + " bytes)", true);
    auto& type = head.type;
    auto& order_id = head.order_id;
    auto seq = head.seq;
    auto topic = cfg_.kafka_topic_prefix + type;
    auto tp = traceparent(order_id, seq);
    auto err = rd_kafka_producev(
      rk_, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_KEY(order_id.data(), order_id.size()),
      RD_KAFKA_V_VALUE(const_cast<char*>(v.data()), v.size()),
      RD_KAFKA_V_HEADER("type", type.c_str(), static_cast<ssize_t>(type.size())),
      RD_KAFKA_V_HEADER("traceparent", tp.c_str(), static_cast<ssize_t>(tp.size())),
      RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
      return fail("producing event " + type + " of order_id=" + order_id + ": "
                    + rd_kafka_err2name(err), false);
  }
  // Serves every delivery report here, on this thread, before the commit decides.
  if (auto err = rd_kafka_flush(rk_, timeout); err != RD_KAFKA_RESP_ERR_NO_ERROR)
    return fail(std::string("flush: ") + rd_kafka_err2name(err), false);
  if (reports_.failed > 0)
    return fail(std::to_string(reports_.failed) + " message(s) not delivered, first: "
                  + reports_.first_error, false);
  for (auto o : reports_.offsets)
    if (o < 0)
      return fail("a changelog record or claim has no delivery report", false);
  for (int i = 0;; ++i) {
    txn_error e(rd_kafka_commit_transaction(rk_, timeout));
    if (e.ok())
      break;
    if (e.fatal)
      return fail("commit_transaction: " + e.text, true);
    if (e.retriable && i < 3)
      continue; // the commit's outcome is not known yet: asking again is safe
    return fail("commit_transaction: " + e.text, false);
  }
  out.offsets = reports_.offsets;
  return out;
}

txn_producer::outcome txn_producer::commit(const std::vector<std::string>& records,
                                           const std::vector<std::string>& events) {
  return with_retries(records, events, nullptr);
}

txn_producer::outcome txn_producer::claim(const std::string& value) {
  return with_retries({}, {}, &value);
}

txn_producer::outcome txn_producer::with_retries(const std::vector<std::string>& records,
                                                 const std::vector<std::string>& events,
                                                 const std::string* claim) {
  int64_t backoff_ms = 100;
  for (int attempt = 1;; ++attempt) {
    auto o = try_commit(records, events, claim);
    o.attempts = attempt;
    if (o.error.empty() || o.fenced || attempt > cfg_.cluster_commit_retries)
      return o;
    log_->warn("transaction of {} failed and was aborted ({}); producing it again in {} ms "
               "(attempt {} of {})", id_, o.error, backoff_ms, attempt + 1,
               cfg_.cluster_commit_retries + 1);
    std::this_thread::sleep_for(std::chrono::milliseconds(backoff_ms));
    backoff_ms = std::min<int64_t>(backoff_ms * 2, 2000);
  }
}

} // namespace saga

namespace saga {

int64_t txn_producer::end_offset(std::string& error) const {
  int64_t lo = -1, hi = -1;
  auto e = rd_kafka_query_watermark_offsets(rk_, topic_.c_str(), partition_, &lo, &hi,
                                            static_cast<int>(cfg_.kafka_provision_timeout_ms));
  if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
    error = "the end of changelog partition " + std::to_string(partition_) + " is not known: "
            + rd_kafka_err2str(e);
    return -1;
  }
  return hi;
}

} // namespace saga
