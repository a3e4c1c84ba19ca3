#pragma once
// librdkafka's mock cluster for tests on real actors over TCP (the relay's error paths, the
// standby replica's applier). What the mock cannot show (aborted transactions hidden from
// read_committed readers, fencing) is tested against real brokers (tests/e2e/).
#include <catch2/catch.hpp>

#include <string>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <spdlog/sinks/null_sink.h>

#include "runtime/context.hpp"

namespace saga_test {

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
  mock_kafka(const mock_kafka&) = delete;
  mock_kafka& operator=(const mock_kafka&) = delete;
};

/// A context for the replication actors against `k` (cluster.replication = kafka, the wall
/// clock, a silent log), under cluster.name `name`.
inline std::shared_ptr<saga::runtime_context> replication_context(const mock_kafka& k, const std::string& name) {
  auto ctx = std::make_shared<saga::runtime_context>();
  auto& c = ctx->cfg;
  c.cluster_replication = "kafka";
  c.cluster_name = name;
  c.kafka_brokers = k.bootstraps;
  c.kafka_provision_timeout_ms = 5000;
  ctx->clock = std::make_shared<saga::wall_clock>();
  ctx->log = std::make_shared<spdlog::logger>("t", std::make_shared<spdlog::sinks::null_sink_mt>());
  return ctx;
}

} // namespace saga_test
