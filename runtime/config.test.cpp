// Configuration: every mistake is an error naming the key and the line.
#include <catch2/catch.hpp>

#include "runtime/config.hpp"

using namespace saga;

TEST_CASE("a valid file sets typed values", "[unit][config]") {
  node_config c;
  auto err = parse_config_text("; comment\n[http]\nport = 9090 ; trailing\naddress = \"0.0.0.0\"\n"
                               "[storage]\nsync = false\n[cluster]\nnodes = \"a@h:1:2, b@h:3:4\"\n",
                               "t.conf", c);
  REQUIRE(err.empty());
  CHECK(c.http_port == 9090);
  CHECK(c.http_address == "0.0.0.0");
  CHECK_FALSE(c.storage_sync);
  CHECK(c.cluster_nodes == std::vector<std::string>{"a", "b"});
}

TEST_CASE("config mistakes name the key and the line", "[unit][config]") {
  node_config c;
  CHECK(parse_config_text("[http]\nprot = 1\n", "t.conf", c) == "t.conf:2: unknown key 'http.prot'");
  CHECK(parse_config_text("[http]\n\nport = abc\n", "t.conf", c)
        == "t.conf:3: key 'http.port' expects an integer, got abc");
  CHECK(parse_config_text("[http]\nport = 70000\n", "t.conf", c)
        == "t.conf:2: key 'http.port' must be between 0 and 65535, got 70000");
  CHECK(parse_config_text("[storage]\nsync = yes\n", "t.conf", c)
        == "t.conf:2: key 'storage.sync' expects true or false, got yes");
  CHECK(parse_config_text("[payment]\nprovider_secret = abc\n", "t.conf", c)
        == "t.conf:2: key 'payment.provider_secret' expects a quoted string, got abc");
  CHECK(parse_config_text("port = 1\n", "t.conf", c) == "t.conf:1: key outside of a [section]");
  CHECK(parse_config_text("[http\n", "t.conf", c) == "t.conf:1: malformed section header [http");
  CHECK(parse_config_text("[http]\njunk\n", "t.conf", c) == "t.conf:2: expected key = value, got junk");
  // A removed key says what replaced it, not just "unknown".
  CHECK(parse_config_text("[cluster]\n\nepoch = 1\n", "t.conf", c)
        == "t.conf:3: key 'cluster.epoch' was removed: a stale partition owner is fenced by "
           "Kafka transactions now (cluster.replication = kafka); delete the line");
}

TEST_CASE("command-line overrides are validated like the file", "[unit][config]") {
  node_config c;
  CHECK(apply_override("http.port=8181", c).empty());
  CHECK(c.http_port == 8181);
  CHECK(apply_override("payment.provider_secret=s3cret", c).empty());
  CHECK(c.payment_provider_secret == "s3cret");
  CHECK(apply_override("http.port=x", c) == "--set http.port=x: key 'http.port' expects an integer, got x");
  CHECK(apply_override("nope.key=1", c) == "--set nope.key=1: unknown key 'nope.key'");
  CHECK(apply_override("novalue", c) == "--set novalue: expected section.key=value");
}

TEST_CASE("the node must be part of the cluster", "[unit][config]") {
  node_config c;
  c.node_id = "node-9";
  CHECK(validate(c) == "node 'node-9' is not listed in cluster.nodes");
  c.node_id = "node-1";
  CHECK(validate(c).empty());
}

TEST_CASE("the development secrets are refused off loopback, with what to set", "[unit][config]") {
  node_config c;
  CHECK(validate(c).empty()); // the embedded default: loopback, dev secrets
  c.http_address = "0.0.0.0";
  auto err = validate(c);
  CHECK(err.find("http.address 0.0.0.0 is not a loopback address") != std::string::npos);
  CHECK(err.find("security.admin_token and payment.provider_secret") != std::string::npos);
  CHECK(err.find("--set security.admin_token=") != std::string::npos);
  c.security_admin_token = "a-real-token";
  err = validate(c);
  CHECK(err.find("payment.provider_secret still hold") != std::string::npos);
  CHECK(err.find("security.admin_token") == std::string::npos);
  c.payment_provider_secret = "a-real-secret";
  CHECK(validate(c).empty());
  c.security_admin_token = dev_admin_token;
  c.http_address = "::1";
  CHECK(validate(c).empty());
  CHECK(is_loopback_address("127.0.0.2"));
  CHECK_FALSE(is_loopback_address("10.0.0.1"));
}

TEST_CASE("retry pauses grow exponentially with jitter, up to the cap", "[unit][config]") {
  node_config c; // 200 ms doubling to 3200 ms
  for (uint64_t salt : {1ULL, 42ULL, 0xdeadbeefULL}) {
    int64_t nominal = 200;
    for (int64_t attempt = 0; attempt < 10; ++attempt) {
      auto d = retry_delay_ms(c, attempt, salt);
      INFO("attempt " << attempt << " salt " << salt);
      CHECK(d >= nominal / 2);
      CHECK(d <= nominal);
      nominal = std::min<int64_t>(nominal * 2, 3200);
    }
  }
  CHECK(retry_delay_ms(c, 3, 1) != retry_delay_ms(c, 3, 2)); // orders spread out
  CHECK(worst_retry_budget_ms(c) == 7 * 5000 + 200 + 400 + 800 + 1600 + 3200 + 3200);
}

TEST_CASE("the restart window must hold every restart's retry run", "[unit][config]") {
  node_config c;
  CHECK(validate(c).empty());
  c.saga_restart_window_ms = 60000; // the old default: 4 x 44.4 s do not fit
  auto err = validate(c);
  CHECK(err.find("saga.restart_window_ms (60000) is shorter than") != std::string::npos);
  CHECK(err.find("at least 177600") != std::string::npos);
  c.saga_max_retries = 1; // 2 x 5 s + 200 ms per run, 4 runs = 40.8 s
  CHECK(validate(c).empty());
  c.saga_retry_backoff_max_ms = 100;
  CHECK(validate(c).find("saga.retry_backoff_max_ms (100) must not be below") != std::string::npos);
}

TEST_CASE("topic configs are name=value items, a bad one named with its line", "[unit][config]") {
  node_config c;
  REQUIRE(parse_config_text("[kafka]\ntopic_partitions = 3\ntopic_replication_factor = 3\n"
                            "topic_config = \"min.insync.replicas=2, retention.ms=86400000\"\n",
                            "t.conf", c)
            .empty());
  CHECK(c.kafka_topic_partitions == 3);
  CHECK(c.kafka_topic_replication_factor == 3);
  REQUIRE(c.kafka_topic_configs.size() == 2);
  CHECK(c.kafka_topic_configs[0] == std::make_pair(std::string("min.insync.replicas"), std::string("2")));
  CHECK(c.kafka_topic_configs[1].second == "86400000");
  auto err = parse_config_text("[kafka]\n\ntopic_config = \"min.insync.replicas\"\n", "t.conf", c);
  CHECK(err.rfind("t.conf:3: key 'kafka.topic_config': expected name=value", 0) == 0);
  CHECK(c.kafka_topic_configs.size() == 2); // unchanged by the refused line
  CHECK(!parse_config_text("[kafka]\ntopic_partitions = 0.5\n", "t.conf", c).empty());
  CHECK(!parse_config_text("[kafka]\ntopic_replication_factor = -2\n", "t.conf", c).empty());
  CHECK(apply_override("kafka.topic_config=Min.ISR=2", c).find("expected name=value") != std::string::npos);
}

TEST_CASE("payment workers serve whole order partitions", "[unit][config]") {
  node_config c;
  c.saga_partitions = 4;
  c.payment_workers = 2;
  CHECK(validate(c).empty());
  c.payment_workers = 3;
  CHECK(validate(c) == "payment.workers (3) must divide saga.partitions (4): each payment worker "
                       "serves whole order partitions, evenly");
}

TEST_CASE("payments: payment.workers workers on one node, one per order partition in a cluster",
          "[unit][config]") {
  node_config c;
  c.saga_partitions = 8;
  c.payment_workers = 2;
  CHECK(payment_partitions(c) == 2);
  REQUIRE(parse_config_text("[cluster]\nnodes = \"node-1@127.0.0.1:4101:8081, "
                            "node-2@127.0.0.1:4102:8082\"\n[saga]\npartitions = 8\n",
                            "t.conf", c)
            .empty());
  CHECK(payment_partitions(c) == 8); // a partition's payments move with it
}

TEST_CASE("several nodes need failure detection on and the listed http port",
          "[unit][config][cluster]") {
  node_config c;
  REQUIRE(parse_config_text("[cluster]\nnodes = \"node-1@127.0.0.1:4101:8081, "
                            "node-2@127.0.0.1:4102:8082\"\n[http]\nport = 8081\n",
                            "t.conf", c)
            .empty());
  CHECK(validate(c).empty());
  auto off = c;
  off.cluster_heartbeat_ms = 0;
  CHECK(validate(off).find("a frozen peer is never marked down") != std::string::npos);
  auto tight = c;
  tight.cluster_connection_timeout_ms = 1500; // heartbeat 1000
  CHECK(validate(tight).find("at least twice cluster.heartbeat_ms") != std::string::npos);
  auto port = c;
  port.http_port = 9000;
  CHECK(validate(port).find("differs from this node's entry") != std::string::npos);
  std::string err = parse_config_text("[cluster]\nheartbeat_ms = -1\n", "t.conf", c);
  CHECK(err.rfind("t.conf:2:", 0) == 0);
}

TEST_CASE("the command line's pieces: no --node keeps the default id, --set applies after the "
          "file, in order", "[unit][config]") {
  node_config cfg;
  REQUIRE(load_config("", "", {"http.port=9001", "http.port=9002"}, cfg).empty());
  CHECK(cfg.node_id == "node-1");
  CHECK(cfg.http_port == 9002);
  node_config other;
  auto err = load_config("", "", {"http.prot=1"}, other);
  CHECK(err.find("http.prot") != std::string::npos);
  node_config unreadable;
  CHECK(load_config("/nonexistent/cluster.conf", "node-1", {}, unreadable)
          .find("cannot read config file") != std::string::npos);
}

TEST_CASE("the scheduler's policy is stealing or sharing, its other settings integers",
          "[unit][config]") {
  node_config c;
  CHECK(c.scheduler_policy == "sharing"); // measured on 2 cores; the others CAF's own
  CHECK(c.scheduler_max_throughput == 0);
  CHECK(validate(c).empty());
  CHECK(apply_override("scheduler.policy=stealing", c).empty());
  CHECK(validate(c).empty());
  CHECK(apply_override("scheduler.policy=fifo", c).empty());
  CHECK(validate(c) == "scheduler.policy must be stealing or sharing");
  CHECK(apply_override("scheduler.max_throughput=-1", c).find("scheduler.max_throughput") != std::string::npos);
  CHECK(apply_override("scheduler.poll_attempts=20", c).empty());
  CHECK(c.scheduler_poll_attempts == 20);
}

TEST_CASE("config: cluster.replication is none or kafka, and kafka needs a real cluster", "[config]") {
  node_config c;
  CHECK(c.cluster_replication == "none");
  CHECK(validate(c).empty());
  CHECK(apply_override("cluster.replication=raft", c).empty());
  CHECK(validate(c) == "cluster.replication must be none or kafka");
  CHECK(apply_override("cluster.replication=kafka", c).empty());
  // The embedded mock cluster would pass every test and fence nothing.
  CHECK(validate(c).find("needs kafka.enabled = true and a real Kafka cluster") != std::string::npos);
  CHECK(apply_override("kafka.brokers=127.0.0.1:9092", c).empty());
  CHECK(validate(c).empty());
  CHECK(apply_override("kafka.enabled=false", c).empty());
  CHECK_FALSE(validate(c).empty());
  CHECK(apply_override("kafka.enabled=true", c).empty());
  CHECK(apply_override("cluster.name=prod/eu", c).empty());
  CHECK(validate(c).find("cluster.name must be") != std::string::npos);
  CHECK(apply_override("cluster.name=prod-eu", c).empty());
  CHECK(validate(c).empty());
  CHECK(apply_override("cluster.transaction_timeout_ms=10", c).find("cluster.transaction_timeout_ms") != std::string::npos);
  CHECK(apply_override("cluster.commit_retries=-1", c).find("cluster.commit_retries") != std::string::npos);
}

TEST_CASE("config: the replication's commit interval and transaction size are bounded", "[config]") {
  node_config c;
  CHECK(c.cluster_commit_interval_ms == 0);
  CHECK(c.cluster_max_transaction_bytes == 16 << 20);
  CHECK(apply_override("cluster.commit_interval_ms=5", c).empty());
  CHECK(c.cluster_commit_interval_ms == 5);
  CHECK(apply_override("cluster.commit_interval_ms=5000", c).find("cluster.commit_interval_ms") != std::string::npos);
  CHECK(apply_override("cluster.max_transaction_bytes=100", c).find("cluster.max_transaction_bytes") != std::string::npos);
  CHECK(apply_override("cluster.max_transaction_bytes=1048576", c).empty());
  CHECK(c.cluster_max_transaction_bytes == 1048576);
}
