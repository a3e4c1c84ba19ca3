// Claims (actors/replication/owners_reader.hpp): their encoding, and the owners reader on
// librdkafka's mock cluster (a real transactional producer and consumer over TCP). That a
// fenced node's claim never commits needs real brokers (tests/e2e/test_cluster_failover.py
// checks the claims after each takeover there).
#include <catch2/catch.hpp>

#include <spdlog/sinks/null_sink.h>

#include "actors/replication/owners_reader.hpp"
#include "actors/replication/replication.hpp"
#include "actors/replication/txn_producer.hpp"
#include "tests/mock_kafka.hpp"

using namespace saga;
using namespace std::chrono_literals;

TEST_CASE("a claim names its node and its addresses; anything else is not a claim", "[claims]") {
  node_config cfg;
  cfg.node_id = "node-2";
  cfg.cluster_members = {{"node-1", "127.0.0.1", 7001, 8001}, {"node-2", "::1", 7002, 8002}};
  partition_claim c;
  std::string error;
  REQUIRE(decode_claim(encode_claim(cfg, 3, 1234), c, error));
  CHECK(c.node_id == "node-2");
  CHECK(c.http == "http://[::1]:8002");
  CHECK(c.caf == "[::1]:7002");
  CHECK(c.at_ms == 1234);
  node_config single; // no cluster address: the gateway it serves on
  single.http_address = "127.0.0.1";
  single.http_port = 9090;
  REQUIRE(decode_claim(encode_claim(single, 0, 1), c, error));
  CHECK(c.http == "http://127.0.0.1:9090");
  CHECK(c.caf.empty());
  for (std::string bad : {"", "not json", "[]", R"({"node":"n","http":"h","caf":"c"})",
                          R"({"node":"","http":"h","caf":"c","at_ms":1})",
                          R"({"node":7,"http":"h","caf":"c","at_ms":1})",
                          R"({"node":"n","http":"h","caf":"c","at_ms":"1"})"}) {
    INFO(bad);
    error.clear();
    CHECK_FALSE(decode_claim(bad, c, error));
    CHECK_FALSE(error.empty());
  }
}

TEST_CASE("the owners reader hands every committed claim to its sink, in each partition's "
          "order", "[claims]") {
  saga_test::mock_kafka k;
  rd_kafka_mock_topic_create(k.mc, "saga_changelog", 2, 1);
  rd_kafka_mock_topic_create(k.mc, "saga_owners", 2, 1);
  auto ctx = saga_test::replication_context(k, "claims-test");
  auto& c = ctx->cfg;
  c.saga_partitions = 1;
  c.inventory_workers = 1; // two changelog partitions, two owners partitions
  c.cluster_standby_poll_ms = 20;
  caf::actor_system_config sys_cfg;
  register_message_types(sys_cfg);
  sys_cfg.set("logger.file-verbosity", caf::atom("quiet"));
  caf::actor_system sys{sys_cfg};
  // Partition 1 opened by node-1, then by node-2 (a takeover): two claims, in that order.
  for (auto node : {"node-1", "node-2"}) {
    auto nc = c;
    nc.node_id = node;
    std::string err;
    auto producer = txn_producer::open(nc, k.bootstraps, 1, ctx->log, err);
    INFO(err);
    REQUIRE(producer);
    CHECK(claim_partition(*producer, nc, 1000) == "");
  }
  caf::scoped_actor self{sys};
  std::string err;
  auto reader = spawn_owners_reader(sys, ctx, k.bootstraps, self, err);
  INFO(err);
  REQUIRE(reader);
  std::vector<partition_claim> got;
  for (int i = 0; i < 2; ++i)
    self->receive([&](claim_atom, partition_claim& x) { got.push_back(x); },
                  caf::after(10s) >> [] { FAIL("no claim read within 10 s"); });
  REQUIRE(got.size() == 2);
  CHECK(got[0].log_partition == 1);
  CHECK(got[1].log_partition == 1);
  CHECK(got[0].node_id == "node-1");
  CHECK(got[1].node_id == "node-2");
  CHECK(got[0].offset < got[1].offset);
  // Both partitions read to their end (the empty one too): said once, after the claims.
  int caught_up = 0;
  self->receive([&](catch_up_atom, claim_atom) { ++caught_up; },
                caf::after(10s) >> [] { FAIL("the reader never said it reached the end"); });
  CHECK(caught_up == 1);
  // A record that is not a claim is skipped (logged), never handed on.
  {
    auto nc = c;
    nc.node_id = "node-3";
    auto producer = txn_producer::open(nc, k.bootstraps, 0, ctx->log, err);
    REQUIRE(producer);
    CHECK(producer->claim("{\"bogus\":true}").error.empty());
    CHECK(claim_partition(*producer, nc, 2000) == "");
  }
  partition_claim last;
  self->receive([&](claim_atom, partition_claim& x) { last = x; },
                caf::after(10s) >> [] { FAIL("no claim read within 10 s"); });
  CHECK(last.log_partition == 0);
  CHECK(last.node_id == "node-3");
  CHECK(last.at_ms == 2000);
  self->receive([&](catch_up_atom, claim_atom) { ++caught_up; },
                caf::after(300ms) >> [] {});
  CHECK(caught_up == 1); // not again at the next end
  self->send_exit(reader, caf::exit_reason::user_shutdown);
}
