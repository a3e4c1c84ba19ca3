#include "actors/kafka_relay.hpp"

#include <librdkafka/rdkafka.h>
#include <nlohmann/json.hpp>

#include "actors/writer.hpp"
#include "storage/store.hpp"

namespace saga {

namespace {

using self_ptr = caf::stateful_actor<kafka_relay_state>*;
using poll_atom = timer_atom;

/// Delivery reports arrive inside rd_kafka_poll, which only the relay calls: the state is
/// touched by the relay's own thread of execution only.
/// The opaque of a dead-letter message: the entry's key with the top bit set.
constexpr uint64_t dead_letter_bit = uint64_t{1} << 63;

const char* kafka_error_name(int code) {
  return rd_kafka_err2name(static_cast<rd_kafka_resp_err_t>(code));
}

/// Errors that belong to the message itself: producing it again cannot help, so they count
/// towards dead-lettering. Every other error (leader moves, too few in-sync replicas,
/// time-outs, authorization, a fatal producer) is the cluster's, and is waited out.
bool message_specific(rd_kafka_resp_err_t e) {
  switch (e) {
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_INVALID_MSG_SIZE:
    case RD_KAFKA_RESP_ERR_INVALID_RECORD:
    case RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_INVALID_TIMESTAMP:
    case RD_KAFKA_RESP_ERR__BAD_MSG:
    case RD_KAFKA_RESP_ERR__INVALID_ARG:
      return true;
    default:
      return false;
  }
}

/// Counts a Kafka error by where it was seen and its code, remembers it for /readyz, and
/// logs it at most once per (where, code) per kafka.error_log_interval_ms, saying how many
/// were not logged since the previous line.
void report_error(kafka_relay_state& st, metrics::kafka_where where, int code,
                  const std::string& what, spdlog::level::level_enum lvl = spdlog::level::warn) {
  static const char* where_names[] = {"delivery", "produce", "client", "provision"};
  st.ctx->stats->count_kafka_error(where, code);
  auto now = st.ctx->now_ms();
  st.last_error = std::string(kafka_error_name(code)) + ": " + what;
  st.last_error_ts_ms = now;
  auto key = std::make_pair(static_cast<int>(where), code);
  auto i = st.error_log.find(key);
  if (i != st.error_log.end() && now - i->second.first < st.ctx->cfg.kafka_error_log_interval_ms) {
    ++i->second.second;
    return;
  }
  int64_t unlogged = i == st.error_log.end() ? 0 : i->second.second;
  st.error_log[key] = {now, 0};
  st.ctx->log->log(lvl, "kafka {} error {}: {}{}", where_names[where], kafka_error_name(code), what,
                   unlogged == 0 ? std::string()
                                 : " (" + std::to_string(unlogged) + " more of these since the last line)");
}

void on_delivery(rd_kafka_t*, const rd_kafka_message_t* msg, void* opaque) {
  auto* st = static_cast<kafka_relay_state*>(opaque);
  auto tagged = static_cast<uint64_t>(reinterpret_cast<uintptr_t>(msg->_private));
  auto key = tagged & ~dead_letter_bit;
  bool dead_letter = (tagged & dead_letter_bit) != 0;
  auto i = st->inflight.find(key);
  if (i == st->inflight.end())
    return; // from before a reset; the entry is produced again
  if (msg->err == RD_KAFKA_RESP_ERR__PURGE_QUEUE || msg->err == RD_KAFKA_RESP_ERR__PURGE_INFLIGHT)
    return; // purged by our own reset: still unacknowledged, produced again after it
  if (msg->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
    if (dead_letter) {
      ++st->ctx->stats->kafka_dead_lettered;
      st->poison.erase(key);
    } else {
      st->ctx->stats->observe_kafka_lag(st->ctx->now_ms() - i->second);
      ++st->ctx->stats->kafka_published;
      st->backoff_ms = 0; // the cluster takes messages again
    }
    st->inflight.erase(i);
    st->failures.erase(key);
    st->acked.push_back(key);
    st->settled.insert(key);
    return;
  }
  ++st->ctx->stats->kafka_delivery_errors;
  auto topic = msg->rkt != nullptr ? std::string(rd_kafka_topic_name(msg->rkt)) : std::string("?");
  if (!message_specific(msg->err)) {
    // The cluster's trouble, not the message's: produced again after a pause, never
    // dead-lettered.
    report_error(*st, metrics::kw_delivery, msg->err,
                 "outbox entry " + std::to_string(key) + " to " + topic + " not acknowledged ("
                   + rd_kafka_err2str(msg->err) + "); produced again after a pause");
    st->transient_failure = true;
    st->reset_needed = true;
    return;
  }
  auto attempts = ++st->failures[key];
  report_error(*st, metrics::kw_delivery, msg->err,
               "outbox entry " + std::to_string(key) + (dead_letter ? " to the dead-letter topic" : " to " + topic)
                 + " refused (attempt " + std::to_string(attempts) + "/"
                 + std::to_string(st->ctx->cfg.kafka_max_delivery_attempts) + "): "
                 + rd_kafka_err2str(msg->err));
  if (!dead_letter && attempts >= st->ctx->cfg.kafka_max_delivery_attempts)
    st->poison[key] = std::string("delivery failed ") + std::to_string(attempts)
                      + " times: " + rd_kafka_err2str(msg->err);
  st->reset_needed = true;
}

/// Client-level errors (all brokers down, transport, authentication, a fatal producer),
/// served by rd_kafka_poll on the relay's thread.
void on_error(rd_kafka_t* rk, int err, const char* reason, void* opaque) {
  auto* st = static_cast<kafka_relay_state*>(opaque);
  if (err == RD_KAFKA_RESP_ERR__FATAL) {
    char buf[512];
    auto orig = rd_kafka_fatal_error(rk, buf, sizeof(buf));
    report_error(*st, metrics::kw_client, orig,
                 std::string("fatal producer error: ") + buf + "; the relay replaces the producer",
                 spdlog::level::err);
    st->reset_needed = true;
    return;
  }
  report_error(*st, metrics::kw_client, err, reason);
}

/// librdkafka's own log lines (from its threads) go to the node's log instead of stderr.
void on_log(const rd_kafka_t* rk, int level, const char* fac, const char* buf) {
  auto* st = static_cast<kafka_relay_state*>(rd_kafka_opaque(rk));
  auto lvl = level <= 3 ? spdlog::level::err : level <= 4 ? spdlog::level::warn
             : level <= 6 ? spdlog::level::info : spdlog::level::debug;
  // We chose enable.gapless.guarantee knowingly; its "experimental" note is not news.
  if (std::string_view(fac) == "CONFWARN" && std::string_view(buf).find("gapless") != std::string_view::npos)
    lvl = spdlog::level::debug;
  st->ctx->log->log(lvl, "kafka {}: {}", fac, buf);
}

rd_kafka_t* make_producer(kafka_relay_state& st) {
  char err[512];
  auto* conf = rd_kafka_conf_new();
  auto set = [&](const char* k, const std::string& v) {
    if (rd_kafka_conf_set(conf, k, v.c_str(), err, sizeof(err)) != RD_KAFKA_CONF_OK)
      st.ctx->log->error("kafka option {}={} refused: {}", k, v, err);
  };
  auto& c = st.ctx->cfg;
  set("bootstrap.servers", st.brokers);
  set("client.id", "sagad-" + c.node_id);
  set("enable.idempotence", "true");
  set("acks", "all");
  // A batch that fails for good must not leave a gap that later batches of the partition
  // step over: the producer stops with a fatal error instead, the relay replaces it and
  // re-produces from the oldest unacknowledged entry, in order.
  set("enable.gapless.guarantee", "true");
  set("max.in.flight.requests.per.connection", "5");
  set("message.timeout.ms", "0"); // never give up: an outage delays, never drops
  // A retriable broker error is retried this often by the producer, then reported to the
  // relay (counted by code, produced again after a pause): never retried in silence.
  set("retries", std::to_string(c.kafka_produce_retries));
  set("retry.backoff.ms", "100");
  set("linger.ms", std::to_string(c.kafka_linger_ms));
  set("batch.num.messages", "10000");
  set("queue.buffering.max.messages", std::to_string(c.kafka_max_inflight * 2 + 1000));
  set("queue.buffering.max.kbytes", "1048576");
  set("compression.type", "none");
  set("message.max.bytes", std::to_string(c.kafka_max_message_bytes));
  set("socket.timeout.ms", "10000");
  set("reconnect.backoff.ms", "100");
  set("reconnect.backoff.max.ms", "2000");
  set("log.connection.close", "false");
  if (!c.kafka_debug.empty())
    set("debug", c.kafka_debug);
  rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
  rd_kafka_conf_set_log_cb(conf, on_log);
  rd_kafka_conf_set_error_cb(conf, on_error);
  rd_kafka_conf_set_opaque(conf, &st);
  auto* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
  if (rk == nullptr) {
    st.ctx->log->critical("cannot create the Kafka producer: {}", err);
    rd_kafka_conf_destroy(conf);
  }
  return rk;
}

/// Starts again from the oldest entry still in the outbox (after a failed delivery or a
/// fatal producer error). May publish some entries twice, with identical event_id.
/// Before the rewind the producer's queue is purged and the producer replaced: nothing it
/// held can reach the broker after a re-produced entry, so per-order seq order holds.
/// (Purging alone and producing again on the same idempotent producer left librdkafka
/// 2.0.2 holding the next message after its epoch bump; a new producer starts clean.)
void reset(self_ptr self) {
  auto& st = self->state;
  ++st.ctx->stats->kafka_relay_resets;
  char reason[256];
  if (st.admin_queue != nullptr) { // a CreateTopics request of the old producer: asked again
    rd_kafka_queue_destroy(st.admin_queue);
    st.admin_queue = nullptr;
    st.next_provision_ms = 0;
  }
  if (st.transient_failure) {
    st.backoff_ms = st.backoff_ms == 0 ? 100 : std::min(st.backoff_ms * 2, st.ctx->cfg.kafka_retry_backoff_max_ms);
    st.paused_until_ms = st.ctx->now_ms() + st.backoff_ms;
    st.transient_failure = false;
  }
  if (st.producer != nullptr) {
    if (rd_kafka_fatal_error(st.producer, reason, sizeof(reason)) != RD_KAFKA_RESP_ERR_NO_ERROR)
      st.ctx->log->info("kafka producer fatal error: {}; recreating it", reason);
    rd_kafka_purge(st.producer, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_destroy(st.producer);
    st.producer = make_producer(st);
  }
  if (!st.inflight.empty())
    st.next_key = std::min(st.next_key, st.inflight.begin()->first);
  st.inflight.clear();
  st.reset_needed = false;
}

/// Publishes a poison entry to `<prefix>saga_dead_letter`: the reason, where it was going
/// and the envelope (cut at kafka.max_message_bytes / 2, since its size may be the reason).
bool dead_letter(self_ptr self, uint64_t key, const std::string& reason) {
  auto& st = self->state;
  std::string raw;
  if (!st.ctx->db->get(storage::family::outbox, storage::be64(key), raw)) {
    st.poison.erase(key); // gone already
    return true;
  }
  auto env = nlohmann::json::parse(raw, nullptr, false);
  auto order_id = env.is_object() ? env.value("order_id", std::string()) : std::string();
  auto type = env.is_object() ? env.value("type", std::string("unknown")) : std::string("unknown");
  auto limit = static_cast<size_t>(st.ctx->cfg.kafka_max_message_bytes / 2);
  nlohmann::json dl = {{"reason", reason},
                       {"topic", st.ctx->cfg.kafka_topic_prefix + type},
                       {"outbox_key", key},
                       {"node", st.ctx->cfg.node_id},
                       {"ts", st.ctx->now_ms()},
                       {"size_bytes", raw.size()},
                       {"truncated", raw.size() > limit},
                       {"envelope", raw.substr(0, limit)}};
  if (env.is_object())
    for (auto k : {"event_id", "order_id", "seq", "type"})
      if (env.contains(k))
        dl[k] = env[k];
  auto value = dl.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  auto topic = st.ctx->cfg.kafka_topic_prefix + "saga_dead_letter";
  auto err = rd_kafka_producev(
    st.producer, RD_KAFKA_V_TOPIC(topic.c_str()),
    RD_KAFKA_V_KEY(order_id.data(), order_id.size()),
    RD_KAFKA_V_VALUE(value.data(), value.size()),
    RD_KAFKA_V_HEADER("type", "saga_dead_letter", 16), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
    RD_KAFKA_V_OPAQUE(reinterpret_cast<void*>(static_cast<uintptr_t>(key | dead_letter_bit))),
    RD_KAFKA_V_END);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    report_error(st, metrics::kw_produce, err,
                 "cannot queue outbox entry " + std::to_string(key) + " for the dead-letter topic: "
                   + rd_kafka_err2str(err), spdlog::level::err);
    return false; // tried again at the next tick
  }
  st.ctx->log->error("kafka: outbox entry {} (order_id={} type={}) dead-lettered to {}: {}", key,
                     order_id, type, topic, reason);
  st.inflight.emplace(key, env.is_object() ? env.value("ts", int64_t{0}) : int64_t{0});
  if (st.next_key <= key)
    st.next_key = key + 1;
  return true;
}

void delete_acked(self_ptr self) {
  auto& st = self->state;
  if (st.deleting || st.acked.empty())
    return;
  storage::batch b;
  for (auto key : st.acked)
    b.ops.push_back({storage::family::outbox, storage::be64(key), {}, true});
  auto keys = std::move(st.acked);
  st.acked.clear();
  st.deleting = true;
  persist_then(self, st.writer, std::move(b), [self, keys = std::move(keys)] {
    self->state.deleting = false;
    for (auto k : keys)
      self->state.settled.erase(k);
  });
}

void produce_more(self_ptr self) {
  auto& st = self->state;
  auto room = st.ctx->cfg.kafka_max_inflight - static_cast<int64_t>(st.inflight.size());
  if (room <= 0 || st.next_key >= st.ctx->db->outbox_next_seq())
    return;
  auto& prefix = st.ctx->cfg.kafka_topic_prefix;
  // Walk the outbox from next_key in key order.
  st.ctx->db->scan_from(storage::family::outbox, storage::be64(st.next_key),
                        [&](std::string_view k, std::string_view v) {
    if (room-- <= 0)
      return false;
    auto key = storage::from_be64(k);
    if (st.settled.count(key) != 0) {
      st.next_key = key + 1; // already on the broker (a rewind passed it)
      return true;
    }
    if (st.poison.count(key) != 0)
      return false; // dead-lettered first (tick), in outbox order
    // An entry that failed before goes alone, so that its report tells whether it is the
    // poison one (a batch fails as a whole) and no other entry shares its fate.
    bool suspect = st.failures.count(key) != 0;
    if (suspect && !st.inflight.empty())
      return false;
    auto env = nlohmann::json::parse(v, nullptr, false);
    if (env.is_discarded()) {
      st.ctx->log->error("outbox entry {} is not JSON; skipped", key);
      st.acked.push_back(key);
      st.next_key = key + 1;
      return true;
    }
    auto type = env.value("type", std::string("unknown"));
    auto order_id = env.value("order_id", std::string());
    auto seq = env.value("seq", uint64_t{0});
    auto topic = prefix + type;
    auto tp = traceparent(order_id, seq);
    auto err = rd_kafka_producev(
      st.producer, RD_KAFKA_V_TOPIC(topic.c_str()),
      RD_KAFKA_V_KEY(order_id.data(), order_id.size()),
      RD_KAFKA_V_VALUE(const_cast<char*>(v.data()), v.size()),
      RD_KAFKA_V_HEADER("type", type.c_str(), static_cast<ssize_t>(type.size())),
      RD_KAFKA_V_HEADER("traceparent", tp.c_str(), static_cast<ssize_t>(tp.size())),
      RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
      RD_KAFKA_V_OPAQUE(reinterpret_cast<void*>(static_cast<uintptr_t>(key))), RD_KAFKA_V_END);
    if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL)
      return false; // try again at the next tick
    if (err == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE || err == RD_KAFKA_RESP_ERR__INVALID_ARG) {
      st.ctx->stats->count_kafka_error(metrics::kw_produce, err);
      // Refused by the producer itself, before any broker saw it: it can never succeed.
      st.poison[key] = std::string("refused by the producer: ") + rd_kafka_err2str(err) + " ("
                       + std::to_string(v.size()) + " bytes, kafka.max_message_bytes = "
                       + std::to_string(st.ctx->cfg.kafka_max_message_bytes) + ")";
      return false;
    }
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      report_error(st, metrics::kw_produce, err,
                   "produce of outbox entry " + std::to_string(key) + " to " + topic + " failed: "
                     + rd_kafka_err2str(err), spdlog::level::err);
      st.reset_needed = true;
      return false;
    }
    st.inflight.emplace(key, env.value("ts", int64_t{0}));
    st.next_key = key + 1;
    if (suspect)
      st.ctx->log->debug("kafka relay: outbox entry {} produced alone after {} failure(s)", key,
                         st.failures[key]);
    return !suspect;
  });
}

/// Asks the brokers to create every topic (CreateTopics; existing ones answer
/// TOPIC_ALREADY_EXISTS). The answer arrives on admin_queue, read by poll_provisioning.
void start_provisioning(self_ptr self) {
  auto& st = self->state;
  auto& c = st.ctx->cfg;
  char err[512];
  std::vector<rd_kafka_NewTopic_t*> topics;
  for (auto& t : st.topics) {
    auto* nt = rd_kafka_NewTopic_new(t.c_str(), static_cast<int>(c.kafka_topic_partitions),
                                     static_cast<int>(c.kafka_topic_replication_factor), err,
                                     sizeof(err));
    if (nt == nullptr) {
      st.missing[t] = std::string("cannot describe the topic: ") + err;
      continue;
    }
    for (auto& [name, value] : c.kafka_topic_configs)
      rd_kafka_NewTopic_set_config(nt, name.c_str(), value.c_str());
    topics.push_back(nt);
  }
  if (topics.empty())
    return;
  auto* opts = rd_kafka_AdminOptions_new(st.producer, RD_KAFKA_ADMIN_OP_CREATETOPICS);
  auto timeout = static_cast<int>(c.kafka_provision_timeout_ms);
  rd_kafka_AdminOptions_set_request_timeout(opts, timeout, err, sizeof(err));
  rd_kafka_AdminOptions_set_operation_timeout(opts, timeout, err, sizeof(err));
  st.admin_queue = rd_kafka_queue_new(st.producer);
  rd_kafka_CreateTopics(st.producer, topics.data(), topics.size(), opts, st.admin_queue);
  rd_kafka_AdminOptions_destroy(opts);
  rd_kafka_NewTopic_destroy_array(topics.data(), topics.size());
}

void poll_provisioning(self_ptr self) {
  auto& st = self->state;
  auto* ev = rd_kafka_queue_poll(st.admin_queue, 0);
  if (ev == nullptr)
    return;
  rd_kafka_queue_destroy(st.admin_queue);
  st.admin_queue = nullptr;
  std::map<std::string, std::string> missing;
  for (auto& t : st.topics)
    missing[t] = "no answer from the brokers";
  int created = 0;
  int existed = 0;
  if (auto e = rd_kafka_event_error(ev); e != RD_KAFKA_RESP_ERR_NO_ERROR) {
    std::string why = std::string(kafka_error_name(e)) + ": " + rd_kafka_event_error_string(ev);
    for (auto& [t, reason] : missing)
      reason = why;
    report_error(st, metrics::kw_provision, e,
                 std::string("CreateTopics failed: ") + rd_kafka_event_error_string(ev),
                 spdlog::level::err);
  } else if (auto* res = rd_kafka_event_CreateTopics_result(ev); res != nullptr) {
    size_t n = 0;
    auto** results = rd_kafka_CreateTopics_result_topics(res, &n);
    for (size_t i = 0; i < n; ++i) {
      std::string name = rd_kafka_topic_result_name(results[i]);
      auto e = rd_kafka_topic_result_error(results[i]);
      const char* es = rd_kafka_topic_result_error_string(results[i]);
      std::string detail = es != nullptr ? es : rd_kafka_err2str(e);
      if (e == RD_KAFKA_RESP_ERR_NO_ERROR) {
        ++created;
        missing.erase(name);
        st.ctx->log->info("kafka: created topic {}", name);
      } else if (e == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
        ++existed;
        missing.erase(name);
      } else {
        missing[name] = std::string(kafka_error_name(e)) + ": " + detail;
        report_error(st, metrics::kw_provision, e,
                     "topic " + name + " is missing and cannot be created: " + detail,
                     spdlog::level::err);
      }
    }
  }
  rd_kafka_event_destroy(ev);
  st.missing = std::move(missing);
  st.ctx->stats->kafka_topics_missing = static_cast<int64_t>(st.missing.size());
  auto& c = st.ctx->cfg;
  if (st.missing.empty()) {
    st.topics_ready = true;
    st.provision_backoff_ms = 0;
    std::string configs;
    for (auto& [k, v] : c.kafka_topic_configs)
      configs += (configs.empty() ? "" : ",") + k + "=" + v;
    st.ctx->log->info("kafka topics ready: {} created, {} already there (new topics: partitions "
                      "{}, replication factor {}, configs [{}])",
                      created, existed, c.kafka_topic_partitions, c.kafka_topic_replication_factor,
                      configs);
    return;
  }
  st.provision_backoff_ms = st.provision_backoff_ms == 0
                              ? 1000
                              : std::min(st.provision_backoff_ms * 2,
                                         std::max<int64_t>(1000, c.kafka_retry_backoff_max_ms));
  st.next_provision_ms = st.ctx->now_ms() + st.provision_backoff_ms;
  // The summary once per kafka.error_log_interval_ms (the per-topic errors are counted).
  auto now = st.ctx->now_ms();
  bool say = st.last_missing_log_ms == 0
             || now - st.last_missing_log_ms >= st.ctx->cfg.kafka_error_log_interval_ms;
  if (say)
    st.last_missing_log_ms = now;
  st.ctx->log->log(say ? spdlog::level::err : spdlog::level::debug,
                   "kafka: {} of {} topics missing (first: {} - {}); nothing is published until "
                   "they exist; asking again in {} ms",
                   st.missing.size(), st.topics.size(), st.missing.begin()->first,
                   st.missing.begin()->second, st.provision_backoff_ms);
}

/// Event time of the oldest entry not yet acknowledged (0: none), for saga_outbox_age_ms.
int64_t oldest_unacked_ts(kafka_relay_state& st) {
  if (!st.inflight.empty())
    return st.inflight.begin()->second;
  if (st.next_key >= st.ctx->db->outbox_next_seq())
    return 0;
  if (st.first_unread_key != st.next_key) {
    st.first_unread_key = st.next_key;
    st.first_unread_ts = 0;
    st.ctx->db->scan_from(storage::family::outbox, storage::be64(st.next_key),
                          [&](std::string_view, std::string_view v) {
      auto env = nlohmann::json::parse(v, nullptr, false);
      if (env.is_object())
        st.first_unread_ts = env.value("ts", int64_t{0});
      return false;
    });
  }
  return st.first_unread_ts;
}

void tick(self_ptr self) {
  auto& st = self->state;
  if (st.producer == nullptr)
    return;
  rd_kafka_poll(st.producer, 0); // serves delivery reports (on_delivery) and errors (on_error)
  if (st.reset_needed)
    reset(self);
  delete_acked(self);
  auto now = st.ctx->now_ms();
  if (!st.topics_ready) {
    if (st.admin_queue != nullptr)
      poll_provisioning(self);
    else if (now >= st.next_provision_ms)
      start_provisioning(self);
  } else if (!st.reset_needed && now >= st.paused_until_ms) {
    // Poison entries go to the dead-letter topic in outbox order, before what follows them.
    // (An entry stays poison until the dead-letter topic has it: a failed dead-letter
    // delivery is retried there, never on the entry's own topic.)
    for (auto i = st.poison.begin(); i != st.poison.end() && i->first <= st.next_key;) {
      auto key = i->first;
      auto reason = i->second;
      ++i;
      if (st.inflight.count(key) == 0 && !dead_letter(self, key, reason))
        break; // could not queue it: next tick
    }
    produce_more(self);
  }
  // metrics: depth = unread entries + produced and not yet acknowledged
  auto unread = st.ctx->db->outbox_next_seq() - st.next_key;
  st.ctx->stats->outbox_depth = static_cast<int64_t>(unread + st.inflight.size());
  auto oldest = oldest_unacked_ts(st);
  st.ctx->stats->outbox_oldest_ts_ms = oldest;
  st.ctx->stats->outbox_age_ms = oldest == 0 ? 0 : std::max<int64_t>(0, now - oldest);
  self->delayed_send(self, std::chrono::milliseconds(st.ctx->cfg.kafka_poll_interval_ms),
                     poll_atom::value, int64_t{0});
}

const char* sink_state(const kafka_relay_state& st) {
  if (!st.topics_ready)
    return st.provision_backoff_ms == 0 ? "provisioning" : "topics_missing";
  if (st.reset_needed || st.paused_until_ms > st.ctx->now_ms())
    return "retrying";
  return st.inflight.empty() ? "idle" : "publishing";
}

} // namespace

kafka_relay_state::~kafka_relay_state() {
  if (admin_queue != nullptr)
    rd_kafka_queue_destroy(admin_queue);
  if (producer != nullptr) {
    // Shutdown: give in-flight messages a moment; what is not acknowledged stays in the
    // outbox and is published after the restart.
    rd_kafka_flush(producer, 500);
    rd_kafka_destroy(producer);
  }
}

std::vector<std::string> saga_topics(const std::string& prefix) {
  std::vector<std::string> out;
  for (int t = 0; t <= static_cast<int>(event_type::order_admin_action); ++t)
    out.push_back(prefix + to_string(static_cast<event_type>(t)));
  out.push_back(prefix + "saga_dead_letter");
  return out;
}

std::string traceparent(const std::string& order_id, uint64_t seq) {
  auto h1 = directory::hash(order_id);
  auto h2 = directory::hash(order_id + "#trace");
  auto span = directory::hash(order_id + "#" + std::to_string(seq));
  char buf[64];
  std::snprintf(buf, sizeof(buf), "00-%016llx%016llx-%016llx-01", static_cast<unsigned long long>(h1),
                static_cast<unsigned long long>(h2), static_cast<unsigned long long>(span | 1));
  return buf;
}

caf::behavior kafka_relay(self_ptr self, context_ptr ctx, caf::actor writer, std::string brokers,
                          bool provision) {
  auto& st = self->state;
  st.ctx = std::move(ctx);
  st.writer = std::move(writer);
  st.brokers = std::move(brokers);
  st.ctx->stats->kafka_error_name = kafka_error_name;
  st.topics = saga_topics(st.ctx->cfg.kafka_topic_prefix);
  st.topics_ready = !provision;
  if (provision)
    for (auto& t : st.topics)
      st.missing[t] = "not confirmed yet";
  st.ctx->stats->kafka_topics_expected = static_cast<int64_t>(st.topics.size());
  st.ctx->stats->kafka_topics_missing = static_cast<int64_t>(st.missing.size());
  st.producer = make_producer(st);
  // Start from the oldest entry still in the outbox.
  st.next_key = st.ctx->db->outbox_next_seq();
  st.ctx->db->scan_from(storage::family::outbox, {}, [&](std::string_view k, std::string_view) {
    st.next_key = storage::from_be64(k);
    return false;
  });
  st.ctx->log->info("kafka relay started: brokers={} outbox from entry {} to {}", st.brokers,
                    st.next_key, st.ctx->db->outbox_next_seq());
  st.probe = {"relay", "0", st.ctx->now_ms(), 0};
  self->send(self, poll_atom::value, int64_t{0});
  return {
    [self](poll_atom, int64_t) {
      self->state.probe.count();
      tick(self);
    },
    [self](inspect_atom) {
      auto& st = self->state;
      st.probe.count();
      return st.probe.read(self, *st.ctx, sink_state(st));
    },
    [self](stats_atom) {
      auto& st = self->state;
      st.probe.count();
      kafka_sink_status r;
      r.state = sink_state(st);
      r.brokers = st.brokers;
      r.topics_expected = static_cast<int64_t>(st.topics.size());
      for (auto& [t, why] : st.missing)
        r.missing_topics.push_back(t + ": " + why);
      r.last_error = st.last_error;
      r.last_error_ts_ms = st.last_error_ts_ms;
      r.inflight = static_cast<int64_t>(st.inflight.size());
      r.paused_ms = std::max<int64_t>(0, st.paused_until_ms - st.ctx->now_ms());
      return r;
    },
  };
}

} // namespace saga
