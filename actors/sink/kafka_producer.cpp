#include "actors/sink/relay_internal.hpp"

// The relay's librdkafka producer: every option explicit, its delivery, error and log
// callbacks (they run inside rd_kafka_poll, which only the relay calls), and error reports.

#include <librdkafka/rdkafka.h>
#include <nlohmann/json.hpp>

// Built against librdkafka 2.8.0 (scripts/build-librdkafka.sh), not Debian 12's 2.0.2: the
// idempotent producer's recovery after "possibly persisted" errors (2.3.0) is relied upon.
static_assert(RD_KAFKA_VERSION >= 0x020800ff, "librdkafka 2.8.0 or later is required");

#include "actors/plumbing/writer.hpp"
#include "actors/sink/relay_internal.hpp"
#include "storage/store.hpp"

namespace saga::relay {

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
                  const std::string& what, spdlog::level::level_enum lvl) {
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
      st->ctx->stats->observe_kafka_lag(st->ctx->now_ms() - i->second.ts);
      ++st->ctx->stats->kafka_published;
      st->backoff_ms = 0; // the cluster takes messages again
    }
    if (!dead_letter) { // the order's next entry may go now
      auto b = st->busy_orders.find(i->second.order_id);
      if (b != st->busy_orders.end() && b->second == key)
        st->busy_orders.erase(b);
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

} // namespace saga::relay
