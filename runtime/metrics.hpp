#pragma once
// Counters exported at GET /metrics (Prometheus text format). Plain atomics: each is
// written by one kind of actor or by the io threads, read only by the exporter; no lock
// on any message path.

#include <array>
#include <memory>
#include <atomic>
#include <cstdint>
#include <mutex>
#include <set>
#include <string>
#include <vector>

namespace saga {

enum class route : uint8_t {
  post_orders,
  get_order,
  payment_verify,
  order_complete,
  put_inventory,
  get_inventory,
  healthz,
  readyz,
  metrics,
  other,
};
constexpr int route_count = 10;
const char* to_string(route r);
/// Which route a path belongs to (ids collapsed so labels stay bounded).
route classify(const std::string& method, const std::string& path);

struct metrics {
  static constexpr std::array<int64_t, 12> latency_bounds_us{
    100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 500000, 1000000};

  struct route_stats {
    std::array<std::atomic<uint64_t>, 6> by_class{}; // 1xx..5xx, index 0 unused
    std::array<std::atomic<uint64_t>, latency_bounds_us.size() + 1> buckets{};
    std::atomic<uint64_t> latency_sum_us{0};
  };

  std::array<route_stats, route_count> routes{};
  std::array<std::atomic<int64_t>, 4> orders_by_status{}; // indexed by order_status
  /// The statuses' names for the labels of `orders_by_status`, set by the wiring
  /// (runtime/runtime.cpp): the domain's names, which this file does not include.
  std::array<std::string, 4> order_status_names{"0", "1", "2", "3"};
  std::atomic<int64_t> live_order_actors{0};
  std::atomic<int64_t> passive_orders{0};       // in flight, no actor (waiting outside)
  std::atomic<int64_t> recovery_pending{0};     // mid-step at start, not re-activated yet
  std::atomic<int64_t> recovery_active{0};      // re-activated, not settled yet
  std::atomic<uint64_t> order_activations{0};   // passive -> actor
  std::atomic<uint64_t> order_passivations{0};  // actor -> passive
  std::atomic<uint64_t> order_restarts{0};
  std::atomic<uint64_t> command_retries{0};     // a saga's command failed or timed out
  std::atomic<uint64_t> orders_parked{0};       // parked since start (counter)
  std::atomic<int64_t> parked_now{0};            // parked right now (gauge) ...
  std::atomic<int64_t> parked_holding_money{0};  // ... of which hold the customer's money
  std::atomic<int64_t> parked_holding_stock{0};  // ... of which hold stock
  std::atomic<int64_t> http_inflight{0};
  std::atomic<int64_t> stuck_orders{0};        // over their step's budget (supervisor tick)
  std::atomic<int64_t> live_bridges{0};        // gateway bridge actors alive
  std::atomic<uint64_t> bridges_spawned{0};
  std::atomic<int64_t> stream_clients{0};      // /inspect/stream connections
  std::atomic<uint64_t> rejected_overload{0};
  std::atomic<int64_t> outbox_depth{0};
  std::atomic<int64_t> outbox_oldest_ts_ms{0}; // event time of the oldest unacknowledged entry
  std::atomic<uint64_t> kafka_published{0};
  std::atomic<uint64_t> kafka_delivery_errors{0};
  std::atomic<uint64_t> kafka_dead_lettered{0};
  std::atomic<int64_t> quarantined_records{0};
  std::atomic<int64_t> idempotency_keys{0};            // stored Idempotency-Key records
  std::atomic<uint64_t> idempotency_keys_expired{0};   // removed by the retention sweeper
  std::atomic<int64_t> reservations_in_memory{0};      // inventory books, all partitions
  std::atomic<int64_t> intents_in_memory{0};           // payment books, all partitions
  std::atomic<int64_t> restart_entries{0};             // supervisor's restart bookkeeping
  std::atomic<uint64_t> component_restarts{0}; // supervised long-lived actors restarted
  /// RocksDB reads by column family (the store counts them; names set by the wiring, as
  /// the storage layer is not included here) and the writer's commits.
  static constexpr int storage_families = 7;
  std::array<std::atomic<uint64_t>, storage_families> storage_reads{};
  std::array<std::string, storage_families> storage_family_names{"0", "1", "2", "3", "4", "5", "6"};
  std::atomic<uint64_t> storage_commits{0};        // RocksDB writes (groups)
  std::atomic<uint64_t> storage_synced_commits{0}; // ... of which with fdatasync
  std::atomic<uint64_t> storage_barriers{0};       // groups of empty batches, no write
  std::atomic<uint64_t> replication_transactions{0};         // committed (one per partition and group)
  std::atomic<uint64_t> replication_retried_transactions{0}; // committed after an abort
  std::atomic<uint64_t> standby_applied{0};   // changelog records applied by the standby applier
  std::atomic<int64_t> standby_lag_max{-1};   // its standbys' largest lag (-1: none or unknown)
  std::atomic<int64_t> components_failed{0};   // past their restart budget

  /// Components past their restart budget (set by their supervisor, read by /readyz and
  /// POST /orders). The lock is taken only when a component fails and by those readers,
  /// never on a saga step.
  void set_component_failed(const std::string& name, bool failed) {
    std::lock_guard<std::mutex> g(failed_mu_);
    if (failed)
      failed_.insert(name);
    else
      failed_.erase(name);
    components_failed = static_cast<int64_t>(failed_.size());
  }
  std::vector<std::string> failed_components() const {
    if (components_failed.load() == 0)
      return {};
    std::lock_guard<std::mutex> g(failed_mu_);
    return {failed_.begin(), failed_.end()};
  } // meta quarantine/... (storage.quarantine_corrupt) // entries moved to <prefix>saga_dead_letter
  std::atomic<uint64_t> kafka_relay_resets{0};
  std::atomic<uint64_t> kafka_relay_walked{0}; // outbox entries the relay read to produce them
  /// Kafka errors by where they were seen and by librdkafka error code (written by the
  /// relay only). Codes from -256 to 255 cover librdkafka's internal and broker codes.
  enum kafka_where : uint8_t { kw_delivery, kw_produce, kw_client, kw_provision, kw_count };
  static constexpr int kafka_code_min = -256;
  static constexpr int kafka_code_slots = 512;
  std::array<std::atomic<uint64_t>, kw_count * kafka_code_slots> kafka_errors{};
  void count_kafka_error(kafka_where w, int code) {
    int slot = code - kafka_code_min;
    if (slot < 0 || slot >= kafka_code_slots)
      slot = kafka_code_slots - 1; // out of range: counted in the last slot
    ++kafka_errors[static_cast<size_t>(w) * kafka_code_slots + static_cast<size_t>(slot)];
  }
  /// Name of a librdkafka error code (set by the relay: this library does not link it).
  std::atomic<const char* (*)(int)> kafka_error_name{nullptr};
  std::atomic<int64_t> kafka_topics_expected{0}; // saga topics + dead letter
  std::atomic<int64_t> kafka_topics_missing{0};  // not confirmed by the brokers (provisioning)
  std::atomic<int64_t> outbox_age_ms{0};          // now - event time of the oldest unacked entry
  /// Step commit to broker acknowledgement, milliseconds (histogram).
  static constexpr std::array<int64_t, 10> lag_bounds_ms{1, 2, 5, 10, 25, 50, 100, 250, 1000, 10000};
  std::array<std::atomic<uint64_t>, lag_bounds_ms.size() + 1> kafka_lag{};
  void observe_kafka_lag(int64_t ms);
  // Workers running on this node: set at the start, then moved by takeovers and releases
  // (the ownership actor).
  std::atomic<int64_t> inventory_workers{0};
  std::atomic<int64_t> payment_workers{0};

  /// One peer node (cluster): written by its link actor and its forwarders, fixed in
  /// number before any actor starts.
  struct peer_stats {
    std::string id;
    std::atomic<int> up{0};                 // 1 connected and welcomed
    std::atomic<uint64_t> connects{0};      // handshakes that succeeded
    std::atomic<uint64_t> disconnects{0};   // up -> down
    std::atomic<uint64_t> refused{0};       // handshakes refused (layout, replication or name differ)
    std::atomic<uint64_t> forwarded{0};     // messages handed to the peer's actors
    std::atomic<uint64_t> unavailable{0};   // answered "node unavailable" (peer down)
  };
  std::vector<std::unique_ptr<peer_stats>> peers;
  peer_stats* peer(const std::string& id) const {
    for (auto& p : peers)
      if (p->id == id)
        return p.get();
    return nullptr;
  }
  /// Order actors' commands to another node's partitions: round trips and re-sends.
  std::array<std::atomic<uint64_t>, latency_bounds_us.size() + 1> cross_node_buckets{};
  std::atomic<uint64_t> cross_node_sum_us{0};
  std::atomic<uint64_t> cross_node_requests{0};
  std::atomic<uint64_t> cross_node_failures{0};
  std::atomic<uint64_t> cross_node_resends{0};
  /// HTTP requests sent again through their partition's forwarder after the partition's
  /// actor ended as they arrived (gateway/slot_request.hpp).
  std::atomic<uint64_t> gateway_resends{0};
  void observe_cross_node(int64_t latency_us);

  void observe(route r, int status, int64_t latency_us);
  std::string render() const;

private:
  mutable std::mutex failed_mu_;
  std::set<std::string> failed_;
};

} // namespace saga
