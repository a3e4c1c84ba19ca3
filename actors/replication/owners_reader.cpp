#include "actors/replication/owners_reader.hpp"

#include <memory>

#include <librdkafka/rdkafka.h>
#include <nlohmann/json.hpp>

#include "actors/replication/changelog_reader.hpp"
#include "actors/replication/replication.hpp"
#include "actors/replication/txn_producer.hpp"

namespace saga {

std::string encode_claim(const node_config& cfg, int32_t lp, int64_t at_ms) {
  std::string http, caf;
  for (auto& m : cfg.cluster_members)
    if (m.id == cfg.node_id && !m.host.empty()) {
      auto host = m.host.find(':') == std::string::npos ? m.host : "[" + m.host + "]";
      http = "http://" + host + ":" + std::to_string(m.http_port);
      caf = host + ":" + std::to_string(m.caf_port);
    }
  if (http.empty()) // a single node: the address it serves HTTP on
    http = "http://" + cfg.http_address + ":" + std::to_string(cfg.http_port);
  nlohmann::json j{{"partition", lp}, {"node", cfg.node_id}, {"http", http},
                   {"caf", caf},      {"at_ms", at_ms}};
  if (!cfg.incarnation.empty())
    j["incarnation"] = cfg.incarnation;
  return j.dump();
}

bool decode_claim(std::string_view value, partition_claim& out, std::string& error) {
  auto j = nlohmann::json::parse(value.begin(), value.end(), nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    error = "not a JSON object";
    return false;
  }
  auto str = [&](const char* k, std::string& v) {
    auto i = j.find(k);
    if (i == j.end() || !i->is_string())
      return false;
    v = i->get<std::string>();
    return true;
  };
  auto i = j.find("at_ms");
  if (!str("node", out.node_id) || out.node_id.empty() || !str("http", out.http)
      || !str("caf", out.caf) || i == j.end() || !i->is_number_integer()) {
    error = "a claim needs node (text), http (text), caf (text) and at_ms (integer)";
    return false;
  }
  out.at_ms = i->get<int64_t>();
  if (auto n = j.find("incarnation"); n != j.end()) { // optional: older claims lack it
    if (!n->is_string()) {
      error = "a claim's incarnation must be text";
      return false;
    }
    out.incarnation = n->get<std::string>();
  }
  return true;
}

namespace {

struct consumer_closer {
  void operator()(rd_kafka_t* rk) const {
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
  }
};

struct owners_reader_state {
  static inline const char* name = "owners_reader";
  context_ptr ctx;
  std::shared_ptr<rd_kafka_t> rk;
  caf::actor sink;
  std::vector<bool> at_end; // by partition: its end was reached once
  size_t ends = 0;          // how many have (all: `(catch_up_atom, claim_atom)` was sent)
};

using reader_ptr = caf::stateful_actor<owners_reader_state>*;

constexpr int max_per_round = 256;

caf::behavior owners_reader(reader_ptr self, context_ptr ctx, std::shared_ptr<rd_kafka_t> rk,
                            caf::actor sink) {
  auto& st = self->state;
  st.at_end.assign(static_cast<size_t>(log_partition_count(ctx->cfg)), false);
  st.ctx = ctx;
  st.rk = std::move(rk);
  st.sink = std::move(sink);
  self->send(self, tick_atom::value);
  return {
    [self](tick_atom) {
      auto& st = self->state;
      int got = 0;
      while (got < max_per_round) {
        auto* m = rd_kafka_consumer_poll(st.rk.get(), 0);
        if (m == nullptr)
          break;
        ++got;
        if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
          partition_claim c;
          std::string error;
          if (m->payload != nullptr
              && decode_claim(std::string_view(static_cast<const char*>(m->payload), m->len), c,
                              error)) {
            c.log_partition = m->partition;
            c.offset = m->offset;
            st.ctx->log->debug("owners: partition {} claimed by {} (offset {})",
                               c.log_partition, c.node_id, c.offset);
            self->send(st.sink, claim_atom::value, std::move(c));
          } else {
            // Not ours to trust: shown in the log, never handed on.
            st.ctx->log->warn("owners: record at partition {} offset {} is not a claim ({}); "
                              "ignored", m->partition, m->offset, error);
          }
        } else if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
          auto p = static_cast<size_t>(m->partition);
          if (p < st.at_end.size() && !st.at_end[p]) {
            st.at_end[p] = true;
            if (++st.ends == st.at_end.size()) {
              st.ctx->log->info("owners: read every partition of the owners topic to its end");
              self->send(st.sink, catch_up_atom::value, claim_atom::value);
            }
          }
        } else {
          st.ctx->log->warn("owners: reading the owners topic: {}", rd_kafka_message_errstr(m));
        }
        rd_kafka_message_destroy(m);
      }
      if (got > 0)
        self->send(self, tick_atom::value);
      else
        self->delayed_send(self, std::chrono::milliseconds(st.ctx->cfg.cluster_standby_poll_ms),
                           tick_atom::value);
    },
  };
}

} // namespace

caf::actor spawn_owners_reader(caf::actor_system& sys, context_ptr ctx, std::string brokers,
                               caf::actor sink, std::string& error) {
  auto topic = txn_producer::owners_topic(ctx->cfg);
  auto* raw = open_changelog_reader(ctx->cfg, brokers, "owners", error, 100, topic);
  if (raw == nullptr)
    return {};
  std::shared_ptr<rd_kafka_t> rk(raw, consumer_closer{});
  auto n = log_partition_count(ctx->cfg);
  auto* list = rd_kafka_topic_partition_list_new(n);
  for (int32_t p = 0; p < n; ++p)
    rd_kafka_topic_partition_list_add(list, topic.c_str(), p)->offset = RD_KAFKA_OFFSET_BEGINNING;
  auto e = rd_kafka_assign(rk.get(), list);
  rd_kafka_topic_partition_list_destroy(list);
  if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
    error = "cannot assign the owners topic " + topic + ": " + rd_kafka_err2str(e);
    return {};
  }
  return sys.spawn<caf::detached>(owners_reader, std::move(ctx), std::move(rk), std::move(sink));
}

} // namespace saga
