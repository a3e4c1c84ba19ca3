// sagad: one node of the order saga runtime.
//   sagad --config cluster.conf --node node-1 [--set section.key=value ...]
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <future>
#include <iostream>
#include <random>
#include <thread>

#include <signal.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <spdlog/sinks/stdout_color_sinks.h>

#include <caf/io/all.hpp>

#include <CLI/CLI.hpp>

#ifdef SAGA_JEMALLOC
#include <jemalloc/jemalloc.h>
#endif

#include "actors/cluster/cluster.hpp"
#include "actors/cluster/ownership.hpp"
#include "actors/replication/owners_reader.hpp"
#include "actors/replication/standby.hpp"
#include "runtime/lease_ticker.hpp"
#include "runtime/takeover.hpp"
#include "actors/plumbing/component_supervisor.hpp"
#include "actors/sink/kafka_relay.hpp"
#include "actors/replication/replication.hpp"
#include "actors/messages.hpp"
#include "gateway/http_server.hpp"
#include "runtime/allocations.hpp"
#include "runtime/fault_points.hpp"
#include "runtime/runtime.hpp"

using namespace saga;

namespace {

struct sagad_config : caf::actor_system_config {
  explicit sagad_config(const node_config& c) {
    register_message_types(*this);
    set("scheduler.max-threads", static_cast<size_t>(c.scheduler_threads));
    set("scheduler.policy", c.scheduler_policy == "sharing" ? caf::atom("sharing") : caf::atom("stealing"));
    if (c.scheduler_max_throughput > 0)
      set("scheduler.max-throughput", static_cast<size_t>(c.scheduler_max_throughput));
    set("work-stealing.aggressive-poll-attempts", static_cast<size_t>(c.scheduler_poll_attempts));
    set("logger.file-verbosity", caf::atom("quiet"));
    set("logger.console-verbosity", caf::atom("quiet"));
    if (c.cluster_members.size() > 1) {
      // Nodes talk over CAF's network layer. Its failure detection is off by default
      // (a frozen peer would never be noticed): both settings come from cluster.conf.
      load<caf::io::middleman>();
      set("middleman.heartbeat-interval",
          caf::timespan{std::chrono::milliseconds(c.cluster_heartbeat_ms)});
      set("middleman.connection-timeout",
          caf::timespan{std::chrono::milliseconds(c.cluster_connection_timeout_ms)});
    }
  }
};

#ifdef SAGA_JEMALLOC
/// jemalloc's small and large allocation requests over all arenas (its thread caches'
/// included), refreshed by an `epoch` write first.
uint64_t jemalloc_requests() {
  static_assert(MALLCTL_ARENAS_ALL == 4096, "the names below say all arenas");
  uint64_t epoch = 1;
  size_t len = sizeof(epoch);
  (void)mallctl("epoch", &epoch, &len, &epoch, len);
  uint64_t small = 0, large = 0;
  len = sizeof(uint64_t);
  (void)mallctl("stats.arenas.4096.small.nrequests", &small, &len,
                nullptr, 0);
  len = sizeof(uint64_t);
  (void)mallctl("stats.arenas.4096.large.nrequests", &large, &len,
                nullptr, 0);
  return small + large;
}
#endif

} // namespace

int main(int argc, char** argv) {
#ifdef SAGA_JEMALLOC
  set_allocation_counter(jemalloc_requests);
#endif
  CLI::App app{"sagad: one node of the order saga runtime"};
  std::string config_file, node_id;
  std::vector<std::string> overrides;
  app.add_option("--config", config_file, "the configuration file (cluster.conf)");
  app.add_option("--node", node_id, "this node's id (one of cluster.nodes)");
  app.add_option("--set", overrides, "section.key=value, after the file (repeatable)")
    ->allow_extra_args(false);
  app.footer("configuration keys:\n" + describe_keys());
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  node_config cfg;
  if (auto err = load_config(config_file, node_id, overrides, cfg); !err.empty()) {
    std::cerr << "sagad: configuration error: " << err << "\n";
    return 2;
  }
  // This process among any with the same node id: its claims say it, and a claim of this
  // node id by another process stops this one (ownership_claims.cpp, the duplicate-id guard).
  cfg.incarnation = fmt::format("{}-{:08x}", ::getpid(), std::random_device{}());
  auto log = spdlog::stdout_color_mt("saga");
  log->set_level(spdlog::level::from_str(cfg.log_level));
  log->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ node=" + cfg.node_id + " %v");
  // The librdkafka loaded must be the one built against (2.8.0 from .deps, never the
  // system's 2.0.2 found by a stray library path): its fixes are what the relay relies on.
  if (rd_kafka_version() != RD_KAFKA_VERSION) {
    log->critical("librdkafka {} is loaded but sagad was built against {}: check the library "
                  "path (scripts/build-librdkafka.sh installs it in .deps/librdkafka)",
                  rd_kafka_version_str(),
                  fmt::format("{}.{}.{}", RD_KAFKA_VERSION >> 24, (RD_KAFKA_VERSION >> 16) & 0xff,
                              (RD_KAFKA_VERSION >> 8) & 0xff));
    return 1;
  }

  // Termination signals are taken synchronously by the main thread (sigwait below).
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  if (fault::compiled_in())
    sigaddset(&signals, SIGUSR2); // the fault suite's clock jump, taken by sigwait too
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  std::error_code fs_err;
  std::filesystem::create_directories(cfg.data_dir(), fs_err);
  std::string err;
  storage::store_options store_opts;
  store_opts.write_buffer_bytes = static_cast<uint64_t>(cfg.storage_write_buffer_mb) << 20;
  store_opts.block_cache_bytes = static_cast<uint64_t>(cfg.storage_block_cache_mb) << 20;
  store_opts.max_wal_bytes = static_cast<uint64_t>(cfg.storage_max_wal_mb) << 20;
  struct embedded_kafka {
    rd_kafka_t* owner = nullptr;
    rd_kafka_mock_cluster_t* cluster = nullptr;
    std::string brokers, error;
  };
  std::future<embedded_kafka> embedded;
  if (cfg.kafka_enabled && cfg.kafka_brokers.empty())
    embedded = std::async(std::launch::async, [&cfg] {
      embedded_kafka k;
      char errstr[256] = "";
      auto* conf = rd_kafka_conf_new();
      rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof(errstr));
      k.owner = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
      k.cluster = k.owner ? rd_kafka_mock_cluster_new(k.owner, 1) : nullptr;
      if (k.cluster == nullptr) {
        k.error = errstr;
        return k;
      }
      k.brokers = rd_kafka_mock_cluster_bootstraps(k.cluster);
      // The relay provisions a real cluster's topics (CreateTopics); the mock's are made
      // here, so that a consumer subscribing to every topic at start finds them all.
      // One thread per topic: each call waits for the mock's thread, which (librdkafka
      // 2.8.0) may miss a wake-up and serve it only at its next one-second poll; one at a
      // time, a start waited 3-5 s here, together they wait at most that once.
      auto partitions =
        cfg.kafka_topic_partitions > 0 ? static_cast<int>(cfg.kafka_topic_partitions) : 3;
      std::vector<std::thread> creators;
      for (auto& t : saga_topics(cfg.kafka_topic_prefix))
        creators.emplace_back([cluster = k.cluster, t, partitions] {
          rd_kafka_mock_topic_create(cluster, t.c_str(), partitions, 1);
        });
      for (auto& c : creators)
        c.join();
      return k;
    });
  auto t_open = std::chrono::steady_clock::now();
  auto db = storage::store::open(cfg.data_dir(), err, store_opts);
  auto open_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::steady_clock::now() - t_open).count();
  if (!db) {
    log->critical("{}", err);
    return 3;
  }
  // A failed read is never "absent". At start it fails the start (below); once serving, it
  // stops the node as a failed write does (replaced by ctx->halt once the context exists).
  db->on_read_failure([log](const std::string& why) { log->critical("{}", why); });
  auto t_layout = std::chrono::steady_clock::now();
  if (auto e = check_layout(*db, cfg); !e.empty()) {
    log->critical("{}", e);
    std::fprintf(stderr, "sagad: %s\n", e.c_str());
    return 3;
  }
  int64_t layout_ms = 0;
  {
    auto t_up = std::chrono::steady_clock::now();
    size_t converted = 0;
    if (auto e = upgrade_order_records(*db, converted, cfg.storage_quarantine_corrupt);
        !e.empty()) {
      log->critical("upgrading the data directory failed: {}", e);
      std::fprintf(stderr, "sagad: %s\n", e.c_str());
      return 6;
    }
    if (converted > 0)
      log->info("converted {} order records to format 2 (snapshot and events in one binary "
                "record) in {} ms", converted,
                std::chrono::duration_cast<std::chrono::milliseconds>(
                  std::chrono::steady_clock::now() - t_up).count());
    layout_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                  std::chrono::steady_clock::now() - t_layout).count();
  }
  auto t_kafka = std::chrono::steady_clock::now();
  auto ctx = std::make_shared<runtime_context>();
  ctx->cfg = cfg;
  ctx->db = db.get();
  // Fault suite: a clock that is off from the start, or jumps on SIGUSR2 (test builds).
  std::shared_ptr<fault::skewed_clock> skewed;
  if (auto off = std::getenv("SAGA_FAULT_CLOCK_OFFSET_MS"); fault::compiled_in()
      && ((off != nullptr && *off) || std::getenv("SAGA_FAULT_CLOCK_JUMP_MS") != nullptr)) {
    skewed = std::make_shared<fault::skewed_clock>(off != nullptr ? std::atoll(off) : 0);
    log->warn("clock fault injection is on: offset {} ms, SIGUSR2 jumps it", skewed->offset_ms());
    ctx->clock = skewed;
  } else {
    ctx->clock = std::make_shared<wall_clock>();
  }
  try {
    if (auto armed = fault::arm_from_env(); !armed.empty())
      log->warn("fault injection is on: {} (SAGA_FAULT_KILL_POINT)", armed);
  } catch (const std::invalid_argument& e) {
    std::cerr << "sagad: " << e.what() << "\n";
    return 2;
  }
  ctx->log = log;
  // A failed write stops the node: the main thread's sigwait below wakes up as for SIGTERM,
  // shuts down, and the exit code says why (7).
  ctx->on_fatal = [](const std::string&) { ::kill(::getpid(), SIGTERM); };
  db->on_read_failure([ctx](const std::string& why) {
    ctx->halt(why + ". Nothing is decided on a read that failed: check the disk and restart; "
                    "the node recovers from what is durable");
  });
  if (auto sku = std::getenv("SAGA_FAULT_CRASH_SKU"); sku != nullptr && *sku) {
    ctx->fault_crash_sku = sku;
    log->warn("fault injection is on: orders with SKU {} crash (SAGA_FAULT_CRASH_SKU)", sku);
  }
  // Embedded Kafka for development: librdkafka's mock cluster in this process, reachable
  // over TCP (kcat -C -b ADDR -t ordercreated). Its owner handle outlives the relay. It was
  // started on its own thread while the store opened (it can take a second after a crash).
  rd_kafka_t* mock_owner = nullptr;
  rd_kafka_mock_cluster_t* mock_cluster = nullptr;
  std::string brokers = cfg.kafka_brokers;
  if (embedded.valid()) {
    auto k = embedded.get();
    mock_owner = k.owner;
    mock_cluster = k.cluster;
    if (mock_cluster == nullptr) {
      log->critical("cannot start the embedded Kafka: {}", k.error);
      return 5;
    }
    brokers = k.brokers;
    log->info("embedded Kafka (mock cluster) at {}: try kcat -C -b {} -t ordercreated", brokers,
              brokers);
    std::printf("KAFKA EMBEDDED bootstrap=%s\n", brokers.c_str());
  }
  std::vector<std::shared_ptr<txn_producer>> producers;
  std::map<int32_t, int64_t> start_claims; // this start's claims (owners topic offsets)
  int64_t claim_at_ms = 0;                  // and the time written in them
  int exit_code = 0;
  bool handed_off_done = false; // a graceful stop handed the partitions over (fencing us)
  {
    std::unique_ptr<http_server> server; // destroyed after the actor system (see below)
    // Failover: the process's liveness (lease_ticker.hpp). Stopped after the actor system
    // (every actor gone): a late ownership tick at the stop must still see it running.
    std::unique_ptr<lease_ticker> ticker;
    sagad_config sys_cfg{cfg};
    caf::actor_system sys{sys_cfg};
    auto embed_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now() - t_kafka).count();
    // A replicated node with failover tells its peers it starts before it opens its
    // partitions: a takeover of them under way there must finish first, or it would fence
    // this node right after its open (actors/cluster/cluster.hpp, announce_start).
    if (cfg.cluster_replication == "kafka" && cfg.cluster_failover_after_ms > 0
        && cfg.cluster_members.size() > 1) {
      auto t_ann = std::chrono::steady_clock::now();
      auto n = announce_start(sys, cfg, *log);
      log->info("cluster: {} peer(s) know this node starts; waited {} ms before opening its "
                "partitions", n, std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::steady_clock::now() - t_ann).count());
    }
    // Replicated partitions: topics checked, every local partition opened (older owners
    // fenced) and the changelog after the store's offsets applied, before the store is read.
    if (cfg.cluster_replication == "kafka") {
      claim_at_ms = ctx->now_ms();
      auto r = start_replication(cfg, brokers, *db, log, claim_at_ms);
      if (!r.error.empty()) {
        log->critical("replication: {}", r.error);
        std::fprintf(stderr, "sagad: replication: %s\n", r.error.c_str());
        return 8;
      }
      producers = std::move(r.producers);
      start_claims = std::move(r.claims);
      std::printf("REPLICATION kafka partitions=%zu applied=%llu open_ms=%lld restore_ms=%lld\n",
                  local_log_partitions(cfg).size(), static_cast<unsigned long long>(r.applied_records),
                  static_cast<long long>(r.open_ms), static_cast<long long>(r.restore_ms));
      std::fflush(stdout);
    }
    auto t0 = std::chrono::steady_clock::now();
    // Order partitions of other nodes: rows a takeover left here are not this node's.
    std::vector<uint8_t> foreign;
    if (auto layout = cluster_layout::from(cfg); layout.nodes.size() > 1)
      for (size_t p = 0; p < layout.order_partitions; ++p)
        foreign.push_back(layout.owner(partition_kind::orders, p) != layout.index_of(cfg.node_id));
    auto state = load_state(*db, static_cast<size_t>(cfg.inventory_workers),
                            payment_partitions(cfg),
                            static_cast<size_t>(cfg.saga_partitions),
                            cfg.storage_quarantine_corrupt, foreign);
    auto load_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                     std::chrono::steady_clock::now() - t0).count();
    if (!state.error.empty()) {
      log->critical("{}", state.error);
      std::fprintf(stderr, "sagad: %s\n", state.error.c_str());
      return 6;
    }
    if (!state.corrupt.empty()) {
      for (auto& x : state.corrupt)
        log->error("quarantined: record '{}' in column family '{}' does not decode ({} bytes); "
                   "moved to meta quarantine/{}/...",
                   printable_key(x.key), storage::family_name(x.cf), x.value.size(),
                   storage::family_name(x.cf));
      if (auto e = quarantine_records(*db, state.corrupt); !e.empty()) {
        log->critical("cannot move corrupt records aside: {}", e);
        return 6;
      }
    }
    ctx->stats->quarantined_records = static_cast<int64_t>(count_quarantined(*db));
    log->info("recovery: {} orders stored, {} to resume (mid-step), {} passive (waiting), {} "
              "parked", state.orders_total, state.resume.size(), state.passive.size(),
              state.parked);
    auto committers = spawn_committers(sys, ctx, producers);
    auto handles = spawn_runtime(sys, ctx, std::move(state), std::random_device{}(), committers);
    caf::actor relay;
    // Replicated: events go to Kafka in the partitions' transactions; no outbox to relay.
    if (cfg.kafka_enabled && cfg.cluster_replication != "kafka") {
      // Supervised: a crashed relay restarts and publishes from the oldest entry still in
      // the outbox (its state is the durable outbox itself).
      auto writer = handles.dir.writer;
      bool provision = mock_cluster == nullptr && cfg.kafka_provision_topics;
      component_factory make = [ctx, writer, brokers, provision](caf::actor_system& s, uint64_t) {
        return s.spawn(kafka_relay, context_ptr{ctx}, writer, brokers, provision);
      };
      relay = spawn_supervised(sys, ctx, "relay", "0", make);
      handles.dir.relay = relay;
    }
    if (relay)
      caf::anon_send(handles.dir.inspector, register_atom::value, std::string("relay"),
                     std::string("0"), relay);
    // Cluster: this node's entry on its CAF port (published from this thread: it blocks
    // only here), and one link per peer that routes the forwarders while the peer is up.
    caf::actor entry;
    caf::actor owners; // who holds each partition now, and failover (ownership.hpp)
    caf::actor standby; // replication = kafka: the changelog applier (standby.hpp)
    caf::actor claims;  // replication = kafka: the owners reader (owners_reader.hpp)
    std::vector<caf::actor> links;
    std::string cluster_error;
    if (!handles.peers.empty()) {
      auto layout = cluster_layout::from(cfg);
      auto& me = layout.nodes[layout.index_of(cfg.node_id)];
      take_fn take;
      if (cfg.cluster_replication == "kafka") {
        // The changelog applier: standby replicas of the partitions this node would take
        // over, and every takeover's catch-up, written through the writer.
        std::string sb_error;
        standby = spawn_standby(sys, ctx, handles.dir.writer, brokers,
                                standby_log_partitions(cfg), sb_error);
        if (!standby)
          cluster_error = "replication: the standby applier: " + sb_error;
        take = make_take(sys, ctx, handles.dir, brokers, std::random_device{}(), standby);
      }
      // With failover, a fenced own partition is released rather than the node stopped
      // (design step 3d): its committer reports `lost` to the ownership actor, which
      // takes the partition back later. Without failover nobody else opens it but a
      // second process with this node's id: the node stops, as before.
      if (cfg.cluster_replication == "kafka" && cfg.cluster_failover_after_ms > 0)
        handles.home.committers = committers;
      owners = sys.spawn(ownership, context_ptr{ctx}, handles.dir, std::move(take), handles.home);
      // The sequence of this node's own partitions (its start's claims), before any peer
      // asks for its welcome: a peer ignores a holder announced with an older claim.
      for (auto& [lp, offset] : start_claims) {
        partition_claim c; // as the owners reader will read it
        std::string ignored;
        decode_claim(encode_claim(cfg, lp, claim_at_ms), c, ignored);
        c.node_id = cfg.node_id; // (whatever the decode gave: the fence rule needs it)
        c.log_partition = lp;
        c.offset = offset;
        caf::anon_send(owners, claim_atom::value, std::move(c));
      }
      if (cfg.cluster_replication == "kafka" && cfg.cluster_failover_after_ms > 0)
        ticker = std::make_unique<lease_ticker>(ctx);
      if (standby)
        caf::anon_send(owners, standby_atom::value, standby);
      if (cfg.cluster_replication == "kafka" && cluster_error.empty()) {
        // Who holds each partition, as committed to the owners topic (GET /cluster "claims").
        std::string or_error;
        claims = spawn_owners_reader(sys, ctx, brokers, owners, or_error);
        if (!claims)
          cluster_error = "replication: the owners reader: " + or_error;
      }
      entry = sys.spawn(node_entry, context_ptr{ctx}, owners);
      auto port = sys.middleman().publish(entry, static_cast<uint16_t>(me.caf_port),
                                          me.host.c_str(), true);
      if (!cluster_error.empty()) {
        // (reported below)
      } else if (!port) {
        cluster_error = "cannot listen for peers on " + me.host + ":"
                        + std::to_string(me.caf_port) + ": " + sys.render(port.error());
      } else {
        log->info("cluster: listening for peers on {}:{}; {} peers, this node owns order "
                  "partitions [{}] and SKU partitions [{}]", me.host, *port,
                  handles.peers.size(),
                  fmt::join(layout.owned_by(partition_kind::orders, layout.index_of(cfg.node_id)), ","),
                  fmt::join(layout.owned_by(partition_kind::inventory, layout.index_of(cfg.node_id)), ","));
        for (auto& peer : handles.peers) {
          links.push_back(sys.spawn(peer_link, context_ptr{ctx}, peer.member, owners));
          caf::anon_send(entry, register_atom::value, peer.member.id, links.back());
          caf::anon_send(owners, register_atom::value, peer.member.id, links.back());
        }
      }
    }
    api routes{sys, ctx, handles.dir};
    routes.peer_links = links;
    routes.ownership = owners;
    server = std::make_unique<http_server>(routes, ctx->cfg, log);
    if (!cluster_error.empty()) {
      log->critical("{}", cluster_error);
      std::fprintf(stderr, "sagad: %s\n", cluster_error.c_str());
      exit_code = 4;
    } else if (auto e = server->start(); !e.empty()) {
      log->critical("{}", e);
      exit_code = 4;
    } else {
      caf::scoped_actor self{sys};
      auto n_parts = handles.dir.orders.size();
      auto resume = by_partition(std::move(handles.resume), n_parts);
      auto passive = by_partition(std::move(handles.passive), n_parts);
      uint64_t in_flight = 0;
      for (size_t p = 0; p < n_parts; ++p)
        if (!handles.dir.order_partition_remote(p)) // a forwarder to another node's
          self->request(handles.home.orders[p], caf::infinite, start_atom::value, handles.dir,
                      std::move(resume[p]), std::move(passive[p]))
          .receive([&](uint64_t n) { in_flight += n; },
                   [&](caf::error& e) { log->critical("start failed: {}", sys.render(e)); });
      log->info("{} orders in flight over {} partitions (mid-step ones re-activated in the "
                "background, waiting ones passive)", in_flight, n_parts);
      // Peers' partitions answer 503 until their link is up: wait for each link's first
      // attempt (a peer that is down ends it at once), so a restarted node does not answer
      // 503 for a peer that serves.
      if (!links.empty()) {
        auto t_peers = std::chrono::steady_clock::now();
        auto up = await_peers(sys, links, cfg.cluster_connect_timeout_ms);
        log->info("cluster: {} of {} peer(s) up before this node reports ready (waited {} ms)",
                  up, links.size(), std::chrono::duration_cast<std::chrono::milliseconds>(
                                      std::chrono::steady_clock::now() - t_peers).count());
      }
      // Every claim committed before this start is known (the holders' sequence, GET
      // /cluster "claims") before this node answers: bounded like the peers' wait.
      if (claims) {
        auto t_claims = std::chrono::steady_clock::now();
        bool read = false;
        self->request(owners, std::chrono::milliseconds(cfg.cluster_connect_timeout_ms),
                      get_atom::value, claim_atom::value)
          .receive([&](bool) { read = true; }, [&](caf::error&) {});
        auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::steady_clock::now() - t_claims).count();
        if (read)
          log->info("cluster: the owners topic was read to its end before ready (waited {} ms)",
                    waited);
        else
          log->warn("cluster: the owners topic was not read to its end within {} ms "
                    "(cluster.connect_timeout_ms); claims may show late", waited);
      }
      // A node halted meanwhile (fenced at its start, a failed write) never reports ready:
      // the signal its halt raised stops it below.
      if (!ctx->halted.load())
        routes.ready = true;
      auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                  std::chrono::steady_clock::now() - t0)
                  .count();
      auto total = std::chrono::duration_cast<std::chrono::milliseconds>(
                     std::chrono::steady_clock::now() - t_open)
                     .count();
      if (routes.ready) {
        log->info("ready: http://{}:{} data={} (recovery took {} ms: store open {} ms, layout "
                  "check {} ms, embedded Kafka and actor system {} ms, load {} ms, then {} ms "
                  "to start)", cfg.http_address, server->port(), cfg.data_dir(), total, open_ms,
                  layout_ms, embed_ms, load_ms, ms - load_ms);
        std::printf("SAGAD READY http_port=%u\n", static_cast<unsigned>(server->port()));
        std::fflush(stdout);
      }
      int sig = 0;
      sigwait(&signals, &sig);
      while (sig == SIGUSR2) {
        if (skewed) {
          auto* j = std::getenv("SAGA_FAULT_CLOCK_JUMP_MS");
          int64_t by = j != nullptr && *j ? std::atoll(j) : 60'000;
          // Forward, then back on the next signal: a step and its correction, as NTP does.
          static bool ahead = false;
          by = ahead ? -by : by;
          ahead = !ahead;
          skewed->jump(by);
          log->warn("clock jumped by {} ms (SIGUSR2): offset now {} ms", by, skewed->offset_ms());
        }
        sigwait(&signals, &sig);
      }
      log->info("signal {} received: shutting down", sig);
    }
    routes.ready = false;
    server->stop();
    // A graceful stop of a replicated node: its peers take its partitions over first (it
    // serves them until each takeover fences it), so they are not unavailable meanwhile.
    bool handed_off = false;
    if (owners && exit_code == 0 && !ctx->halted.load()) {
      auto t_hand = std::chrono::steady_clock::now();
      caf::scoped_actor self{sys};
      self->request(owners, std::chrono::milliseconds(cfg.saga_request_timeout_ms * 2),
                    leaving_atom::value)
        .receive([&](bool ok) { handed_off = ok; },
                 [&](caf::error& e) {
                   log->warn("cluster: the hand-off did not finish: {}; stopping anyway",
                             sys.render(e));
                 });
      handed_off_done = handed_off;
      if (handed_off)
        log->info("cluster: partitions handed over in {} ms",
                  std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::steady_clock::now() - t_hand).count());
    }
    for (auto& l : links)
      caf::anon_send_exit(l, caf::exit_reason::user_shutdown);
    if (entry)
      caf::anon_send_exit(entry, caf::exit_reason::user_shutdown);
    if (owners)
      caf::anon_send_exit(owners, caf::exit_reason::user_shutdown);
    if (standby)
      caf::anon_send_exit(standby, caf::exit_reason::user_shutdown);
    if (claims)
      caf::anon_send_exit(claims, caf::exit_reason::user_shutdown);
    if (relay)
      caf::anon_send_exit(relay, caf::exit_reason::user_shutdown);
    stop_runtime(handles);
    for (auto& c : committers)
      if (c)
        caf::anon_send_exit(c, caf::exit_reason::user_shutdown);
    // Leaving the scope waits for every actor, then closes the gateway's io context.
  }
  db.reset(); // RocksDB closed after every writer is gone
  if (mock_cluster != nullptr)
    rd_kafka_mock_cluster_destroy(mock_cluster);
  if (mock_owner != nullptr)
    rd_kafka_destroy(mock_owner);
  if (ctx->halted.load() && !handed_off_done) {
    log->critical("stopped after a failed storage read or write, a failed or fenced "
                  "changelog transaction, or a lapsed failover lease (see above); exit code 7");
    std::fprintf(stderr, "sagad: stopped after a failed storage read or write, a failed or "
                         "fenced changelog transaction, or a lapsed failover lease; see the log\n");
    return 7;
  }
  log->info("stopped cleanly");
  return exit_code;
}
