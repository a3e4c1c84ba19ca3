#include "actors/sink/kafka_relay.hpp"

#include <librdkafka/rdkafka.h>
#include <nlohmann/json.hpp>

#include "actors/plumbing/writer.hpp"
#include "actors/sink/event_envelope.hpp"
#include "storage/store.hpp"
#include "actors/sink/relay_internal.hpp"

namespace saga::relay {

namespace {

/// The first key the relay has not produced: the first entry left waiting, or else the
/// first entry the walk has not reached.
void settle_next_key(kafka_relay_state& st) {
  st.next_key = st.waiting.empty() ? st.scanned_to
                                   : std::min(st.waiting.begin()->first, st.scanned_to);
  st.left_behind = static_cast<int64_t>(st.waiting.size());
}

} // namespace

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
    st.paused_until_ms = mono_ms(self) + st.backoff_ms;
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
  st.busy_orders.clear();
  st.waiting.clear();
  st.scanned_to = st.next_key;
  st.left_behind = 0;
  st.reset_needed = false;
}

/// Publishes a poison entry to `<prefix>saga_dead_letter`: the reason, where it was going
/// and the envelope (cut at kafka.max_message_bytes / 2, since its size may be the reason).
bool dead_letter(self_ptr self, uint64_t key, const std::string& reason) {
  auto& st = self->state;
  std::string raw;
  auto got = st.ctx->db->get(storage::family::outbox, storage::be64(key), raw);
  if (got == storage::read_status::failed)
    return false; // the node stops (the store's read-failure handler)
  if (got == storage::read_status::absent) {
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
  st.inflight.emplace(key, kafka_relay_state::inflight_entry{
                             env.is_object() ? env.value("ts", int64_t{0}) : int64_t{0}, order_id});
  st.waiting.erase(key);
  st.scanned_to = std::max(st.scanned_to, key + 1);
  settle_next_key(st);
  return true;
}

void delete_acked(self_ptr self) {
  auto& st = self->state;
  if (st.deleting || st.acked.empty())
    return;
  storage::batch b;
  for (auto key : st.acked)
    b.ops.push_back({storage::family::outbox, storage::be64(key), {}, true});
  b.sync = false; // lost in a power failure, an entry is only published again (same event_id)
  auto keys = std::move(st.acked);
  st.acked.clear();
  st.deleting = true;
  persist_then(self, st.writer, std::move(b), [self, keys = std::move(keys)] {
    self->state.deleting = false;
    for (auto k : keys)
      self->state.settled.erase(k);
  });
}

namespace {

enum class offered { produced, waits, stop };

/// Offers one outbox entry to the producer: produced, left waiting for its order's turn
/// (in `waiting`), or the walk stops here (window full, poison, a suspect entry, an error).
offered offer(self_ptr self, uint64_t key, std::string_view v) {
  auto& st = self->state;
  if (st.poison.count(key) != 0)
    return offered::stop; // dead-lettered first (tick), in outbox order
  // An entry that failed before goes alone, so that its report tells whether it is the
  // poison one (a batch fails as a whole) and no other entry shares its fate.
  bool suspect = st.failures.count(key) != 0;
  if (suspect && !st.inflight.empty())
    return offered::stop;
  envelope_head head;
  if (!read_head(v, head)) {
    // Never dropped (that would leave a gap in its order's seq): dead-lettered with the
    // reason, in outbox order, at the next tick.
    st.poison[key] = "the outbox entry is not a JSON envelope (" + std::to_string(v.size())
                     + " bytes)";
    return offered::stop;
  }
  auto& type = head.type;
  auto& order_id = head.order_id;
  if (st.busy_orders.count(order_id) != 0) {
    st.waiting.emplace(key, order_id);
    return offered::waits;
  }
  auto topic = st.ctx->cfg.kafka_topic_prefix + type;
  auto tp = traceparent(order_id, head.seq);
  auto err = rd_kafka_producev(
    st.producer, RD_KAFKA_V_TOPIC(topic.c_str()),
    RD_KAFKA_V_KEY(order_id.data(), order_id.size()),
    RD_KAFKA_V_VALUE(const_cast<char*>(v.data()), v.size()),
    RD_KAFKA_V_HEADER("type", type.c_str(), static_cast<ssize_t>(type.size())),
    RD_KAFKA_V_HEADER("traceparent", tp.c_str(), static_cast<ssize_t>(tp.size())),
    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
    RD_KAFKA_V_OPAQUE(reinterpret_cast<void*>(static_cast<uintptr_t>(key))), RD_KAFKA_V_END);
  if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL)
    return offered::stop; // try again at the next tick
  if (err == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE || err == RD_KAFKA_RESP_ERR__INVALID_ARG) {
    st.ctx->stats->count_kafka_error(metrics::kw_produce, err);
    // Refused by the producer itself, before any broker saw it: it can never succeed.
    st.poison[key] = std::string("refused by the producer: ") + rd_kafka_err2str(err) + " ("
                     + std::to_string(v.size()) + " bytes, kafka.max_message_bytes = "
                     + std::to_string(st.ctx->cfg.kafka_max_message_bytes) + ")";
    return offered::stop;
  }
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    report_error(st, metrics::kw_produce, err,
                 "produce of outbox entry " + std::to_string(key) + " to " + topic + " failed: "
                   + rd_kafka_err2str(err), spdlog::level::err);
    st.reset_needed = true;
    return offered::stop;
  }
  st.inflight.emplace(key, kafka_relay_state::inflight_entry{head.ts, order_id});
  st.busy_orders[order_id] = key;
  if (suspect) {
    st.ctx->log->debug("kafka relay: outbox entry {} produced alone after {} failure(s)", key,
                       st.failures[key]);
    return offered::stop;
  }
  return offered::produced;
}

} // namespace

void produce_more(self_ptr self) {
  auto& st = self->state;
  auto room = st.ctx->cfg.kafka_max_inflight - static_cast<int64_t>(st.inflight.size());
  // Every key below `end` is committed (the store moves the counter after the write).
  const uint64_t end = st.ctx->db->outbox_next_seq();
  bool stopped = room <= 0;
  // 1. Entries left waiting behind their order's entry in flight, in key order: those whose
  //    order is free again are read once more (a point read each) and produced. The walk
  //    never passes over the waiting ones again, so an order in flight costs nothing per
  //    round however many of its entries wait.
  std::string raw;
  for (auto w = st.waiting.begin(); w != st.waiting.end() && !stopped;) {
    if (st.busy_orders.count(w->second) != 0) {
      ++w;
      continue;
    }
    auto key = w->first;
    auto order_id = std::move(w->second);
    w = st.waiting.erase(w);
    ++st.ctx->stats->kafka_relay_walked;
    auto got = st.ctx->db->get(storage::family::outbox, storage::be64(key), raw);
    if (got == storage::read_status::failed)
      return; // the node stops (the store's read-failure handler)
    if (got == storage::read_status::absent)
      continue; // gone already
    auto r = offer(self, key, raw);
    if (r == offered::produced) {
      stopped = --room <= 0;
    } else if (r == offered::stop) {
      st.waiting.emplace(key, std::move(order_id)); // still first in its order's line
      stopped = true;
    }
  }
  // 2. Entries the walk has not reached, in key order, a bounded number per round. Every
  //    entry below scanned_to was produced, acknowledged or is in `waiting`.
  if (!stopped && st.scanned_to < end) {
    int64_t budget = 4 * st.ctx->cfg.kafka_max_inflight + 64;
    // A failed scan stops the node (the store's read-failure handler); what it read is in
    // order.
    bool read = st.ctx->db->scan_from(storage::family::outbox, storage::be64(st.scanned_to),
                                      [&](std::string_view k, std::string_view v) {
      if (room <= 0 || budget-- <= 0)
        return stopped = true, false;
      ++st.ctx->stats->kafka_relay_walked;
      auto key = storage::from_be64(k);
      if (st.settled.count(key) == 0 && st.inflight.count(key) == 0) { // else on its way already
        auto r = offer(self, key, v);
        if (r == offered::stop)
          return stopped = true, false;
        if (r == offered::produced)
          --room;
      }
      st.scanned_to = key + 1;
      return true;
    });
    if (read && !stopped) // the walk reached the end: every key below `end` it did not see
      st.scanned_to = std::max(st.scanned_to, end); // was acknowledged and deleted already
  }
  settle_next_key(st);
}

/// Event time of the oldest entry not yet acknowledged (0: none), for saga_outbox_age_ms.
int64_t oldest_unacked_ts(kafka_relay_state& st) {
  if (!st.inflight.empty() && st.inflight.begin()->first < st.next_key)
    return st.inflight.begin()->second.ts;
  if (st.next_key >= st.ctx->db->outbox_next_seq())
    return 0;
  if (st.first_unread_key != st.next_key) {
    st.first_unread_key = st.next_key;
    st.first_unread_ts = 0;
    (void)st.ctx->db->scan_from(storage::family::outbox, storage::be64(st.next_key),
                          [&](std::string_view, std::string_view v) {
      envelope_head head;
      if (read_head(v, head))
        st.first_unread_ts = head.ts;
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
    else if (mono_ms(self) >= st.next_provision_ms)
      start_provisioning(self);
  } else if (!st.reset_needed && mono_ms(self) >= st.paused_until_ms) {
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
  // metrics: depth = entries the walk has not reached + entries it left for their order's
  // turn + produced and not yet acknowledged
  auto end = st.ctx->db->outbox_next_seq();
  auto unread = end > st.scanned_to ? end - st.scanned_to : 0;
  st.ctx->stats->outbox_depth =
    static_cast<int64_t>(unread) + st.left_behind + static_cast<int64_t>(st.inflight.size());
  auto oldest = oldest_unacked_ts(st);
  st.ctx->stats->outbox_oldest_ts_ms = oldest;
  st.ctx->stats->outbox_age_ms = oldest == 0 ? 0 : std::max<int64_t>(0, now - oldest);
  self->delayed_send(self, std::chrono::milliseconds(st.ctx->cfg.kafka_poll_interval_ms),
                     poll_atom::value, int64_t{0});
}

const char* sink_state(self_ptr self) {
  auto& st = self->state;
  if (!st.topics_ready)
    return st.provision_backoff_ms == 0 ? "provisioning" : "topics_missing";
  if (st.reset_needed || st.paused_until_ms > mono_ms(self))
    return "retrying";
  return st.inflight.empty() ? "idle" : "publishing";
}

} // namespace saga::relay

namespace saga {

using namespace relay;

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
  if (!st.ctx->db->scan_from(storage::family::outbox, {},
                             [&](std::string_view k, std::string_view) {
                               st.next_key = storage::from_be64(k);
                               return false;
                             }))
    st.next_key = st.ctx->db->outbox_next_seq(); // the node stops: publish nothing
  st.scanned_to = st.next_key;

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
      return st.probe.read(self, *st.ctx, sink_state(self));
    },
    [self](stats_atom) {
      auto& st = self->state;
      st.probe.count();
      kafka_sink_status r;
      r.state = sink_state(self);
      r.brokers = st.brokers;
      r.topics_expected = static_cast<int64_t>(st.topics.size());
      for (auto& [t, why] : st.missing)
        r.missing_topics.push_back(t + ": " + why);
      r.last_error = st.last_error;
      r.last_error_ts_ms = st.last_error_ts_ms;
      r.inflight = static_cast<int64_t>(st.inflight.size());
      r.paused_ms = std::max<int64_t>(0, st.paused_until_ms - mono_ms(self));
      return r;
    },
  };
}

} // namespace saga
