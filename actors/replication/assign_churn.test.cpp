// librdkafka #5573 (scripts/librdkafka-patches/0001-one-fetch-stop-per-removal.patch): a
// partition removed from a consumer's assignment, re-added and removed again before its
// first stop was answered, got a second stop whose reply aborted the process
// (`rd_kafka_assignment_partition_stopped: Assertion rktp->rktp_started failed`). The
// standby applier reassigns whenever a partition is taken or released. Without the patch
// this test aborts within the first few hundred assignments; with it, the consumer still
// reads every record after the churn.
#include <catch2/catch.hpp>

#include <set>

#include "actors/replication/changelog_reader.hpp"
#include "tests/mock_kafka.hpp"

using namespace saga;

namespace {

void assign(rd_kafka_t* rk, const char* topic, int32_t from, int32_t to) {
  auto* list = rd_kafka_topic_partition_list_new(8);
  for (int32_t p = from; p < to; ++p)
    rd_kafka_topic_partition_list_add(list, topic, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
  CHECK(rd_kafka_assign(rk, list) == RD_KAFKA_RESP_ERR_NO_ERROR);
  rd_kafka_topic_partition_list_destroy(list);
}

} // namespace

TEST_CASE("a changelog consumer survives assignments that remove partitions whose stop is "
          "still unanswered (librdkafka #5573), and reads every record after them",
          "[replication][librdkafka]") {
  saga_test::mock_kafka k;
  const char* topic = "churn";
  constexpr int32_t parts = 8;
  constexpr int per_part = 5;
  rd_kafka_mock_topic_create(k.mc, topic, parts, 1);
  {
    char err[256];
    auto* conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", k.bootstraps.c_str(), err, sizeof(err));
    auto* prod = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    REQUIRE(prod);
    for (int32_t p = 0; p < parts; ++p)
      for (int i = 0; i < per_part; ++i)
        REQUIRE(rd_kafka_producev(prod, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(p),
                                  RD_KAFKA_V_VALUE(const_cast<char*>("x"), 1),
                                  RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR_NO_ERROR);
    REQUIRE(rd_kafka_flush(prod, 10000) == RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_destroy(prod);
  }
  auto ctx = saga_test::replication_context(k, "churn-test");
  ctx->cfg.node_id = "node-1";
  std::string error;
  auto* rk = open_changelog_reader(ctx->cfg, k.bootstraps, "churn", error, 100, topic);
  INFO(error);
  REQUIRE(rk);
  // All, none, all, half: back to back, as the standby did when three releases came at once.
  for (int i = 0; i < 3000; ++i) {
    auto to = i % 2 == 0 ? parts : (i % 4 == 1 ? 0 : parts / 2);
    assign(rk, topic, 0, to);
    if (auto* m = rd_kafka_consumer_poll(rk, 0))
      rd_kafka_message_destroy(m);
  }
  // Then every record of every partition, from the beginning.
  assign(rk, topic, 0, parts);
  int records = 0;
  std::set<int32_t> ends;
  for (int polls = 0; polls < 200 && ends.size() < static_cast<size_t>(parts); ++polls) {
    auto* m = rd_kafka_consumer_poll(rk, 100);
    if (m == nullptr)
      continue;
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
      ends.insert(m->partition);
    else if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR)
      ++records;
    rd_kafka_message_destroy(m);
  }
  CHECK(ends.size() == static_cast<size_t>(parts));
  CHECK(records == parts * per_part);
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
}
