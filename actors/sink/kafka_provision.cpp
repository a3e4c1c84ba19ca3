#include "actors/sink/relay_internal.hpp"

// Topic provisioning: at start the relay asks the brokers to create every saga topic and
// the dead-letter topic, and publishes nothing until all of them exist.

#include <librdkafka/rdkafka.h>
#include <nlohmann/json.hpp>

#include "actors/plumbing/writer.hpp"
#include "actors/sink/relay_internal.hpp"
#include "storage/store.hpp"

namespace saga::relay {

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
  st.next_provision_ms = mono_ms(self) + st.provision_backoff_ms;
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

} // namespace saga::relay
