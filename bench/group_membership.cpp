// Step 0 of ownership from a Kafka consumer group (issue 25, docs/membership-design.md): one
// member of a group with static membership and cooperative-sticky assignment, on the
// project's librdkafka, against a real broker. It consumes nothing: its assignment is what
// it would own. Driven by bench/group_membership.py (scripts/bench-group.sh), which kills,
// restarts, adds and stops members and reads their lines.
//   build/bin/bench_group create BROKERS TOPIC PARTITIONS
//   build/bin/bench_group member BROKERS GROUP TOPIC ID [session_ms=6000] [heartbeat_ms=1000]
// A member prints, with the wall clock in ms (the driver compares members' lines):
//   ASSIGN <ms> <id> <p,p,...>  |  REVOKE <ms> <id> <p,p,...> lost=<0|1>  |  LEFT <ms> <id>
//   FATAL <ms> <id> <why> (then exit 3: another process joined with this instance id)
// SIGTERM: leave the group (rd_kafka_unsubscribe, which sends LeaveGroup, then close).
// SIGINT: close only (a static member sends no LeaveGroup: its partitions stay assigned to
// it until session_ms).
#include <librdkafka/rdkafka.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

std::atomic<int> stop_signal{0};
std::string member_id;

long long wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
           std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string partitions_of(const rd_kafka_topic_partition_list_t* parts) {
  std::string out;
  for (int i = 0; i < parts->cnt; ++i)
    out += (out.empty() ? "" : ",") + std::to_string(parts->elems[i].partition);
  return out.empty() ? "-" : out;
}

void fail(const char* what, const char* why) {
  std::fprintf(stderr, "bench_group %s: %s: %s\n", member_id.c_str(), what, why);
  std::exit(1);
}

void on_rebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* parts,
                  void*) {
  if (std::strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") != 0)
    fail("rebalance", "not the cooperative protocol");
  rd_kafka_error_t* e = nullptr;
  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    e = rd_kafka_incremental_assign(rk, parts);
    std::printf("ASSIGN %lld %s %s\n", wall_ms(), member_id.c_str(), partitions_of(parts).c_str());
  } else if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS) {
    int lost = rd_kafka_assignment_lost(rk);
    e = rd_kafka_incremental_unassign(rk, parts);
    std::printf("REVOKE %lld %s %s lost=%d\n", wall_ms(), member_id.c_str(),
                partitions_of(parts).c_str(), lost);
  } else {
    std::printf("ERROR %lld %s rebalance: %s\n", wall_ms(), member_id.c_str(), rd_kafka_err2str(err));
  }
  std::fflush(stdout);
  if (e) {
    std::fprintf(stderr, "bench_group %s: %s\n", member_id.c_str(), rd_kafka_error_string(e));
    rd_kafka_error_destroy(e);
  }
}

void set(rd_kafka_conf_t* conf, const char* k, const std::string& v) {
  char errstr[512];
  if (rd_kafka_conf_set(conf, k, v.c_str(), errstr, sizeof errstr) != RD_KAFKA_CONF_OK)
    fail(k, errstr);
}

int create(const std::string& brokers, const std::string& topic, int partitions) {
  member_id = "create";
  char errstr[512];
  auto* conf = rd_kafka_conf_new();
  set(conf, "bootstrap.servers", brokers);
  auto* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
  if (!rk)
    fail("producer", errstr);
  auto* nt = rd_kafka_NewTopic_new(topic.c_str(), partitions, -1, errstr, sizeof errstr);
  if (!nt)
    fail("topic", errstr);
  auto* q = rd_kafka_queue_new(rk);
  rd_kafka_CreateTopics(rk, &nt, 1, nullptr, q);
  auto* ev = rd_kafka_queue_poll(q, 30000);
  int rc = 1;
  if (ev == nullptr) {
    std::fprintf(stderr, "bench_group create: no answer within 30 s\n");
  } else if (auto* res = rd_kafka_event_CreateTopics_result(ev)) {
    size_t n = 0;
    auto** topics = rd_kafka_CreateTopics_result_topics(res, &n);
    auto code = n == 1 ? rd_kafka_topic_result_error(topics[0]) : RD_KAFKA_RESP_ERR__FAIL;
    if (code == RD_KAFKA_RESP_ERR_NO_ERROR || code == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
      rc = 0;
    else
      std::fprintf(stderr, "bench_group create: %s\n", rd_kafka_err2str(code));
  } else {
    std::fprintf(stderr, "bench_group create: %s\n", rd_kafka_event_error_string(ev));
  }
  if (ev)
    rd_kafka_event_destroy(ev);
  rd_kafka_NewTopic_destroy(nt);
  rd_kafka_queue_destroy(q);
  rd_kafka_destroy(rk);
  return rc;
}

int member(const std::string& brokers, const std::string& group, const std::string& topic,
           const std::string& id, int session_ms, int heartbeat_ms) {
  member_id = id;
  char errstr[512];
  auto* conf = rd_kafka_conf_new();
  set(conf, "bootstrap.servers", brokers);
  set(conf, "group.id", group);
  set(conf, "group.instance.id", id);
  set(conf, "partition.assignment.strategy", "cooperative-sticky");
  set(conf, "session.timeout.ms", std::to_string(session_ms));
  set(conf, "heartbeat.interval.ms", std::to_string(heartbeat_ms));
  set(conf, "enable.auto.commit", "false");
  set(conf, "enable.auto.offset.store", "false");
  rd_kafka_conf_set_rebalance_cb(conf, on_rebalance);
  auto* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
  if (!rk)
    fail("consumer", errstr);
  rd_kafka_poll_set_consumer(rk);
  auto* sub = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(sub, topic.c_str(), RD_KAFKA_PARTITION_UA);
  if (auto err = rd_kafka_subscribe(rk, sub))
    fail("subscribe", rd_kafka_err2str(err));
  rd_kafka_topic_partition_list_destroy(sub);
  auto poll_once = [rk] {
    if (auto* m = rd_kafka_consumer_poll(rk, 50)) {
      if (m->err == RD_KAFKA_RESP_ERR__FATAL) { // e.g. another process with this instance id
        char why[512];
        rd_kafka_fatal_error(rk, why, sizeof why);
        std::printf("FATAL %lld %s %s\n", wall_ms(), member_id.c_str(), why);
        std::fflush(stdout);
        std::_Exit(3);
      }
      if (m->err && m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
        std::printf("ERROR %lld %s %s\n", wall_ms(), member_id.c_str(), rd_kafka_message_errstr(m));
      rd_kafka_message_destroy(m);
    }
  };
  while (stop_signal.load() == 0)
    poll_once();
  if (stop_signal.load() == SIGTERM) {
    // Leave: LeaveGroup now, so the others are assigned these partitions at once.
    rd_kafka_unsubscribe(rk);
    auto until = wall_ms() + 10000;
    for (;;) {
      poll_once();
      rd_kafka_topic_partition_list_t* now = nullptr;
      rd_kafka_assignment(rk, &now);
      bool empty = now == nullptr || now->cnt == 0;
      if (now)
        rd_kafka_topic_partition_list_destroy(now);
      if (empty || wall_ms() > until)
        break;
    }
  }
  rd_kafka_consumer_close(rk);
  std::printf("LEFT %lld %s\n", wall_ms(), member_id.c_str());
  std::fflush(stdout);
  rd_kafka_destroy(rk);
  return 0;
}

} // namespace

int main(int argc, char** argv) {
  std::signal(SIGTERM, [](int s) { stop_signal.store(s); });
  std::signal(SIGINT, [](int s) { stop_signal.store(s); });
  std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "create" && argc == 5)
    return create(argv[2], argv[3], std::atoi(argv[4]));
  if (mode == "member" && argc >= 6)
    return member(argv[2], argv[3], argv[4], argv[5], argc > 6 ? std::atoi(argv[6]) : 6000,
                  argc > 7 ? std::atoi(argv[7]) : 1000);
  std::fprintf(stderr,
               "usage: bench_group create BROKERS TOPIC PARTITIONS\n"
               "       bench_group member BROKERS GROUP TOPIC ID [session_ms] [heartbeat_ms]\n");
  return 2;
}
