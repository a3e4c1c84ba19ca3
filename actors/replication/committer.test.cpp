// A partition's committer (actors/replication/committer.cpp) on librdkafka's mock cluster:
// a real transactional producer over TCP. Transactions and fencing themselves are tested
// against real brokers (tests/e2e/test_cluster_failover.py).
#include <catch2/catch.hpp>

#include <spdlog/sinks/null_sink.h>

#include "actors/replication/replication.hpp"
#include "actors/replication/txn_producer.hpp"
#include "tests/mock_kafka.hpp"

using namespace saga;
using namespace std::chrono_literals;

TEST_CASE("a released committer answers the steps still waiting for its transaction (the "
          "writer waits for every answer)",
          "[committer]") {
  saga_test::mock_kafka k;
  rd_kafka_mock_topic_create(k.mc, "saga_changelog", 2, 1);
  auto ctx = saga_test::replication_context(k, "committer-test");
  auto& c = ctx->cfg;
  c.cluster_commit_interval_ms = 60000; // the step waits for the next flush
  caf::actor_system_config sys_cfg;
  register_message_types(sys_cfg);
  sys_cfg.set("logger.file-verbosity", caf::atom("quiet"));
  caf::actor_system sys{sys_cfg};
  std::string err;
  std::shared_ptr<txn_producer> producer = txn_producer::open(c, k.bootstraps, 1, ctx->log, err);
  INFO(err);
  REQUIRE(producer);
  // (CAF 0.17 spawns a function actor without arguments through a null pointer: give it one.)
  auto router = sys.spawn(
    [](caf::event_based_actor*, int) -> caf::behavior { return {[](lost_atom, int32_t) {}}; }, 0);
  auto committer = spawn_movable_committer(sys, ctx, producer, router);
  caf::scoped_actor self{sys};
  auto answer = self->request(committer, 10s, changelog_atom::value,
                              std::vector<std::string>{"record"}, std::vector<std::string>{});
  // The ownership actor releases the partition: its committer stops (the exit comes after
  // the request: one sender, one queue).
  self->send_exit(committer, caf::exit_reason::user_shutdown);
  auto t0 = std::chrono::steady_clock::now();
  caf::error got;
  answer.receive([&](int64_t) { FAIL("a step that waited for the flush was committed"); },
                 [&](caf::error& e) { got = e; });
  auto waited = std::chrono::steady_clock::now() - t0;
  INFO(sys.render(got));
  // Before: no answer at all (a destroyed promise), so this request timed out after 10 s,
  // and the writer, which asks without a time-out, waited for ever.
  CHECK(got != caf::sec::request_timeout);
  CHECK(sys.render(got).find("moved to another node") != std::string::npos);
  CHECK(waited < 5s);
  self->send_exit(router, caf::exit_reason::user_shutdown);
}
