#pragma once
// The node's configuration: `cluster.conf` (INI-like: `[section]`, `key = value`, `;` or
// `#` comments) plus `--set section.key=value` overrides. Every key is declared in one
// table with its type and default; anything else is an error naming the key and line.
// (CAF's own parser silently ignores unknown keys and mistyped values, so we do not use it.)

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace saga {

/// The built-in development secrets: accepted only while the gateway listens on loopback.
constexpr const char* dev_admin_token = "dev-admin-token";
constexpr const char* dev_provider_secret = "dev-provider-secret";

/// 127.0.0.0/8, ::1 or localhost.
bool is_loopback_address(const std::string& address);

/// One node of `cluster.nodes`: "id" alone (a single node), or "id@host:caf_port:http_port".
struct cluster_member {
  std::string id;
  std::string host; // empty: not given
  int64_t caf_port = 0;
  int64_t http_port = 0;
};

/// Parses one `cluster.nodes` item; returns "" or what is wrong with it.
std::string parse_cluster_member(const std::string& item, cluster_member& out);

struct node_config {
  std::string node_id = "node-1";
  /// Not a key: this process's identity among processes with one node id (sagad sets it
  /// at its start; "" in tests). Its claims carry it (the duplicate-id guard).
  std::string incarnation;
  std::vector<std::string> cluster_nodes{"node-1"};    // the ids of cluster_members
  std::vector<cluster_member> cluster_members{{"node-1", "", 0, 0}};
  int64_t cluster_heartbeat_ms = 1000;         // CAF middleman heartbeat interval
  int64_t cluster_connection_timeout_ms = 5000; // silent this long: the peer is down
  int64_t cluster_reconnect_backoff_ms = 200;   // first pause before connecting again ...
  int64_t cluster_reconnect_backoff_max_ms = 5000; // ... doubling up to this
  int64_t cluster_connect_timeout_ms = 5000;    // one connection attempt with its handshake
  std::string cluster_replication = "none";     // none | kafka (actors/replication/)
  std::string cluster_name = "saga";            // names the partitions' transactional.ids
  int64_t cluster_transaction_timeout_ms = 10000; // a dead owner's open transaction aborts then
  int64_t cluster_commit_retries = 5;           // a transaction aborted and produced again
  // replication = kafka: a partition no live node holds this long is taken over by a live
  // node (its preferred owner when that one is back; 0 = never, the partition waits)
  int64_t cluster_failover_after_ms = 3000;
  // ... and a partition of a node not seen since this node started, this long after the start
  int64_t cluster_failover_start_grace_ms = 30000;
  // replication = kafka with failover: an own partition another node opened while this node
  // was cut off is released here (not a stop), and taken back this long after, once this
  // node sees a majority again (0 = never: it stays with the node that holds it)
  int64_t cluster_take_back_after_ms = 5000;
  // replication = kafka: each partition's changelog is also applied by this many other
  // nodes (the next rendezvous choices), so a takeover applies only their lag
  int64_t cluster_standby_replicas = 1;
  int64_t cluster_standby_poll_ms = 100;        // an idle standby reads the changelog again then
  int64_t cluster_commit_interval_ms = 0;       // a partition's first step waits this long for more
  int64_t cluster_max_transaction_bytes = 16 << 20; // records + events in one transaction at most
  std::string http_address = "127.0.0.1";
  int64_t http_port = 8080;
  int64_t http_max_body_bytes = 65536;
  int64_t http_io_threads = 1;
  int64_t http_read_timeout_ms = 10000;
  int64_t http_max_inflight = 10000;
  int64_t http_idempotency_retention_ms = 86400000; // 24 h
  std::string storage_dir = "data";
  bool storage_sync = true;
  bool storage_group_commit = true;
  bool storage_quarantine_corrupt = false;
  int64_t storage_write_buffer_mb = 32; // memtable size of each column family (x2 max)
  int64_t storage_max_wal_mb = 64;     // write-ahead log replayed at most after a crash
  int64_t storage_block_cache_mb = 32;  // one LRU cache: data, index and filter blocks // move undecodable records aside instead of refusing
  int64_t payment_timeout_ms = 30000;
  std::string payment_provider_secret = std::string(dev_provider_secret);
  int64_t payment_workers = 2;
  int64_t inventory_reservation_ttl_ms = 120000;
  int64_t inventory_workers = 2;
  std::string security_admin_token = std::string(dev_admin_token);
  int64_t saga_max_restarts = 3;
  int64_t saga_restart_window_ms = 300000;
  int64_t saga_passivate_after_ms = 2000;
  int64_t saga_recovery_batch = 256;
  int64_t saga_partitions = 4;
  int64_t saga_request_timeout_ms = 5000;
  int64_t saga_retry_backoff_ms = 200;      // first pause; doubles per retry ...
  int64_t saga_retry_backoff_max_ms = 3200; // ... up to this cap, each with jitter
  int64_t saga_max_retries = 6;
  int64_t saga_auto_complete_ms = 10000;
  int64_t saga_max_live_orders = 500000;
  bool kafka_enabled = true;
  std::string kafka_brokers;          // empty: embedded mock cluster
  std::string kafka_topic_prefix;
  std::string kafka_debug;            // librdkafka debug contexts, e.g. "eos,msg"
  int64_t kafka_max_inflight = 10000;
  int64_t kafka_poll_interval_ms = 5;
  int64_t kafka_linger_ms = 5;
  int64_t kafka_outbox_max_entries = 1000000;
  int64_t kafka_max_message_bytes = 1000000; // the broker's message.max.bytes (or less)
  int64_t kafka_max_delivery_attempts = 3;   // then the entry goes to the dead-letter topic
  bool kafka_provision_topics = true;        // CreateTopics for missing topics at start
  int64_t kafka_topic_partitions = -1;       // -1: the broker's default
  int64_t kafka_topic_replication_factor = -1;
  std::vector<std::pair<std::string, std::string>> kafka_topic_configs; // e.g. min.insync.replicas
  int64_t kafka_provision_timeout_ms = 10000;
  int64_t kafka_produce_retries = 20;
  int64_t kafka_retry_backoff_max_ms = 5000;
  int64_t kafka_error_log_interval_ms = 10000;
  bool inspect_enabled = true;              // introspection counters, progress feed
  int64_t inspect_tick_ms = 1000;
  bool inspect_open_on_loopback = true;     // no admin token needed on 127.0.0.1 / ::1           // stuck-saga check and stream summary period
  /// Time budget per non-terminal saga step (saga_step order); 0 = derived: 5 s for the
  /// active steps, the payment time-out / auto-complete time plus 5 s for the waiting ones.
  std::array<int64_t, 7> inspect_budget_ms{};
  int64_t inspect_stream_max_events_per_s = 200;
  int64_t inspect_max_stream_clients = 32;
  int64_t supervision_max_restarts = 5;        // per long-lived component ...
  int64_t supervision_restart_window_ms = 60000; // ... within this window, then it fails
  int64_t scheduler_threads = 2;
  std::string scheduler_policy = "sharing"; // CAF's scheduler: stealing | sharing (measured, BENCHMARKS)
  int64_t scheduler_max_throughput = 0;      // messages per actor per run; 0 = CAF's unbounded
  int64_t scheduler_poll_attempts = 100;     // an idle worker's busy polls before it backs off
  std::string log_level = "info";

  /// The node's own RocksDB directory: `storage.dir/<node id>`.
  std::string data_dir() const { return storage_dir + "/" + node_id; }
};

/// How many payment workers a node's payments are split over: on one node `payment.workers`
/// (each serves the order partitions `p` with `p mod payment.workers` = its index); in a
/// cluster one per order partition, so a partition's payments move with it and a partition's
/// actors can be stopped alone (a takeover, a hand-off). Workers serve only the partitions
/// the node holds.
size_t payment_partitions(const node_config& cfg);

/// Pause before re-sending a command the `attempt`-th time (0-based): exponential from
/// saga.retry_backoff_ms, capped at saga.retry_backoff_max_ms, with jitter in [50 %, 100 %]
/// drawn from `salt` (e.g. a hash of the order id), so retries of many orders spread out.
int64_t retry_delay_ms(const node_config& cfg, int64_t attempt, uint64_t salt);
/// The longest an order actor can take to give up on a dead dependency: every retry's
/// pause plus every attempt's request time-out. saga.restart_window_ms must hold
/// saga.max_restarts + 1 of them, or a dead dependency restarts orders forever.
int64_t worst_retry_budget_ms(const node_config& cfg);

/// Parses `text` (named `source` in messages) into `cfg`. Returns "" or an error such as
/// `cluster.conf:12: unknown key 'http.prot'`.
[[nodiscard]] std::string parse_config_text(const std::string& text, const std::string& source,
                                            node_config& cfg);
/// Applies one `section.key=value` override.
[[nodiscard]] std::string apply_override(const std::string& assignment, node_config& cfg);
/// Checks relations between keys (e.g. the node is listed in cluster.nodes).
[[nodiscard]] std::string validate(const node_config& cfg);
/// The node's configuration: `file` (none when empty), then `overrides` (`section.key=value`
/// each, in order), then the checks between keys; `node_id` empty keeps the default id.
/// Returns "" or the error.
[[nodiscard]] std::string load_config(const std::string& file, const std::string& node_id,
                                      const std::vector<std::string>& overrides,
                                      node_config& cfg);
/// The documented keys, for `--help`.
std::string describe_keys();

} // namespace saga
