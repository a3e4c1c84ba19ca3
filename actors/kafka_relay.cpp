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
void on_delivery(rd_kafka_t*, const rd_kafka_message_t* msg, void* opaque) {
  auto* st = static_cast<kafka_relay_state*>(opaque);
  auto key = reinterpret_cast<uintptr_t>(msg->_private);
  auto i = st->inflight.find(key);
  if (i == st->inflight.end())
    return; // from before a reset; the entry is produced again
  if (msg->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
    auto lag_ms = st->ctx->now_ms() - i->second;
    st->ctx->stats->observe_kafka_lag(lag_ms);
    ++st->ctx->stats->kafka_published;
    st->inflight.erase(i);
    st->acked.push_back(key);
  } else {
    ++st->ctx->stats->kafka_delivery_errors;
    st->ctx->log->warn("kafka delivery of outbox entry {} failed: {}", key,
                       rd_kafka_err2str(msg->err));
    st->reset_needed = true;
  }
}

/// librdkafka's own log lines (from its threads) go to the node's log instead of stderr.
void on_log(const rd_kafka_t* rk, int level, const char* fac, const char* buf) {
  auto* st = static_cast<kafka_relay_state*>(rd_kafka_opaque(rk));
  auto lvl = level <= 3 ? spdlog::level::err : level <= 4 ? spdlog::level::warn
             : level <= 6 ? spdlog::level::info : spdlog::level::debug;
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
  set("max.in.flight.requests.per.connection", "5");
  set("message.timeout.ms", "0"); // never give up: an outage delays, never drops
  set("retries", "2147483647");
  set("retry.backoff.ms", "100");
  set("linger.ms", std::to_string(c.kafka_linger_ms));
  set("batch.num.messages", "10000");
  set("queue.buffering.max.messages", std::to_string(c.kafka_max_inflight * 2 + 1000));
  set("queue.buffering.max.kbytes", "1048576");
  set("compression.type", "none");
  set("socket.timeout.ms", "10000");
  set("reconnect.backoff.ms", "100");
  set("reconnect.backoff.max.ms", "2000");
  set("log.connection.close", "false");
  if (!c.kafka_debug.empty())
    set("debug", c.kafka_debug);
  rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
  rd_kafka_conf_set_log_cb(conf, on_log);
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
void reset(self_ptr self) {
  auto& st = self->state;
  char reason[256];
  if (st.producer != nullptr
      && rd_kafka_fatal_error(st.producer, reason, sizeof(reason)) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    st.ctx->log->error("kafka producer fatal error: {}; recreating it", reason);
    rd_kafka_purge(st.producer, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_destroy(st.producer);
    st.producer = make_producer(st);
  }
  if (!st.inflight.empty())
    st.next_key = std::min(st.next_key, st.inflight.begin()->first);
  st.inflight.clear();
  st.reset_needed = false;
}

void delete_acked(self_ptr self) {
  auto& st = self->state;
  if (st.deleting || st.acked.empty())
    return;
  storage::batch b;
  for (auto key : st.acked)
    b.ops.push_back({storage::family::outbox, storage::be64(key), {}, true});
  st.acked.clear();
  st.deleting = true;
  persist_then(self, st.writer, std::move(b), [self] { self->state.deleting = false; });
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
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      st.ctx->log->error("kafka produce of outbox entry {} failed: {}", key, rd_kafka_err2str(err));
      st.reset_needed = true;
      return false;
    }
    st.inflight.emplace(key, env.value("ts", int64_t{0}));
    st.next_key = key + 1;
    return true;
  });
}

void tick(self_ptr self) {
  auto& st = self->state;
  if (st.producer == nullptr)
    return;
  rd_kafka_poll(st.producer, 0); // serves delivery reports (on_delivery)
  if (st.reset_needed)
    reset(self);
  delete_acked(self);
  produce_more(self);
  // metrics: depth = unread entries + produced and not yet acknowledged
  auto unread = st.ctx->db->outbox_next_seq() - st.next_key;
  st.ctx->stats->outbox_depth = static_cast<int64_t>(unread + st.inflight.size());
  st.ctx->stats->outbox_oldest_ts_ms = st.inflight.empty() ? 0 : st.inflight.begin()->second;
  self->delayed_send(self, std::chrono::milliseconds(st.ctx->cfg.kafka_poll_interval_ms),
                     poll_atom::value, int64_t{0});
}

} // namespace

kafka_relay_state::~kafka_relay_state() {
  if (producer != nullptr) {
    // Shutdown: give in-flight messages a moment; what is not acknowledged stays in the
    // outbox and is published after the restart.
    rd_kafka_flush(producer, 500);
    rd_kafka_destroy(producer);
  }
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

caf::behavior kafka_relay(self_ptr self, context_ptr ctx, caf::actor writer, std::string brokers) {
  auto& st = self->state;
  st.ctx = std::move(ctx);
  st.writer = std::move(writer);
  st.brokers = std::move(brokers);
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
      auto state = st.reset_needed ? "retrying" : st.inflight.empty() ? "idle" : "publishing";
      return st.probe.read(self, *st.ctx, state);
    },
  };
}

} // namespace saga
