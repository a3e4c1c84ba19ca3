#include "runtime/metrics.hpp"

#include "runtime/allocations.hpp"

namespace saga {

const char* to_string(route r) {
  switch (r) {
    case route::post_orders: return "POST /orders";
    case route::get_order: return "GET /orders/{id}";
    case route::payment_verify: return "POST /payment/verify";
    case route::order_complete: return "POST /order/complete";
    case route::put_inventory: return "PUT /inventory/{sku}";
    case route::get_inventory: return "GET /inventory/{sku}";
    case route::healthz: return "GET /healthz";
    case route::readyz: return "GET /readyz";
    case route::metrics: return "GET /metrics";
    case route::other: return "other";
  }
  return "other";
}

route classify(const std::string& method, const std::string& target) {
  auto path = target.substr(0, target.find('?'));
  if (path == "/orders" && method == "POST") return route::post_orders;
  if (path.rfind("/orders/", 0) == 0 && method == "GET") return route::get_order;
  if (path == "/payment/verify" && method == "POST") return route::payment_verify;
  if (path == "/order/complete" && method == "POST") return route::order_complete;
  if (path.rfind("/inventory/", 0) == 0 && method == "PUT") return route::put_inventory;
  if (path.rfind("/inventory/", 0) == 0 && method == "GET") return route::get_inventory;
  if (path == "/healthz") return route::healthz;
  if (path == "/readyz") return route::readyz;
  if (path == "/metrics") return route::metrics;
  return route::other;
}

void metrics::observe(route r, int status, int64_t latency_us) {
  auto& s = routes[static_cast<size_t>(r)];
  auto cls = status / 100;
  if (cls >= 1 && cls <= 5)
    ++s.by_class[cls];
  size_t b = 0;
  while (b < latency_bounds_us.size() && latency_us > latency_bounds_us[b])
    ++b;
  ++s.buckets[b];
  s.latency_sum_us += static_cast<uint64_t>(latency_us);
}

void metrics::observe_cross_node(int64_t latency_us) {
  size_t b = 0;
  while (b < latency_bounds_us.size() && latency_us > latency_bounds_us[b])
    ++b;
  ++cross_node_buckets[b];
  cross_node_sum_us += static_cast<uint64_t>(latency_us);
  ++cross_node_requests;
}

void metrics::observe_kafka_lag(int64_t ms) {
  size_t b = 0;
  while (b < lag_bounds_ms.size() && ms > lag_bounds_ms[b])
    ++b;
  ++kafka_lag[b];
}

namespace {

/// One sample of a family: its labels (without braces, may be empty) and how to read it.
struct sample {
  const char* labels;
  int64_t (*value)(const metrics&);
};

/// A family of the exposition: written as HELP, TYPE, then its samples, in this order.
struct family {
  const char* name;
  const char* type;
  const char* help;
  std::vector<sample> samples;
};

template <class T>
int64_t num(const std::atomic<T>& x) {
  return static_cast<int64_t>(x.load());
}

// Every plain gauge and counter of the node. Histograms, per-route, per-status, per-peer
// and per-error families have label sets known only at run time and are written below.
const std::vector<family>& plain_families() {
  using m = metrics;
  static const std::vector<family> table = {
    {"saga_live_actors", "gauge", "Live actors by kind.",
     {{"kind=\"order\"", [](const m& x) { return num(x.live_order_actors); }},
      {"kind=\"order_supervisor\"", [](const m&) -> int64_t { return 1; }},
      {"kind=\"inventory_worker\"", [](const m& x) { return num(x.inventory_workers); }},
      {"kind=\"payment_worker\"", [](const m& x) { return num(x.payment_workers); }},
      {"kind=\"writer\"", [](const m&) -> int64_t { return 1; }},
      {"kind=\"gateway_bridge\"", [](const m& x) { return num(x.live_bridges); }}}},
    {"saga_passive_orders", "gauge",
     "Orders in flight without an actor: they wait for their payment or completion and are "
     "activated by the next message for them.",
     {{"", [](const m& x) { return num(x.passive_orders); }}}},
    {"saga_order_activations_total", "counter", "Passive orders given an actor again.",
     {{"", [](const m& x) { return num(x.order_activations); }}}},
    {"saga_order_passivations_total", "counter", "Idle waiting orders whose actor was let go.",
     {{"", [](const m& x) { return num(x.order_passivations); }}}},
    {"saga_stuck_orders", "gauge",
     "Orders longer in their saga step than its budget (inspect.budget_ms.*).",
     {{"", [](const m& x) { return num(x.stuck_orders); }}}},
    {"saga_gateway_bridges_spawned_total", "counter", "Gateway bridge actors spawned.",
     {{"", [](const m& x) { return num(x.bridges_spawned); }}}},
    {"saga_inspect_stream_clients", "gauge", "Open /inspect/stream connections.",
     {{"", [](const m& x) { return num(x.stream_clients); }}}},
    {"saga_recovery_pending", "gauge",
     "Orders that wait for their turn to be re-activated: mid-step at start, or waiting for "
     "a SKU partition that is served again.",
     {{"", [](const m& x) { return num(x.recovery_pending); }}}},
    {"saga_recovery_active", "gauge",
     "Re-activated orders not settled yet (at most saga.recovery_batch).",
     {{"", [](const m& x) { return num(x.recovery_active); }}}},
    {"saga_command_retries_total", "counter",
     "Saga commands re-sent within a node after an error or a time-out (past saga.max_retries "
     "the order actor is restarted).",
     {{"", [](const m& x) { return num(x.command_retries); }}}},
    {"saga_order_restarts_total", "counter", "Order actors restarted from their snapshot.",
     {{"", [](const m& x) { return num(x.order_restarts); }}}},
    {"saga_orders_parked", "gauge",
     "Orders parked right now (an operator can retry or compensate them: POST "
     "/admin/orders/{id}/retry|compensate).",
     {{"", [](const m& x) { return num(x.parked_now); }}}},
    {"saga_orders_parked_holding", "gauge",
     "Parked orders that hold the customer's money or stock.",
     {{"what=\"money\"", [](const m& x) { return num(x.parked_holding_money); }},
      {"what=\"stock\"", [](const m& x) { return num(x.parked_holding_stock); }}}},
    {"saga_orders_parked_total", "counter", "Orders parked since start.",
     {{"", [](const m& x) { return num(x.orders_parked); }}}},
    {"saga_outbox_depth", "gauge", "Events in the outbox not yet acknowledged by Kafka.",
     {{"", [](const m& x) { return num(x.outbox_depth); }}}},
    {"saga_outbox_oldest_event_ts_ms", "gauge",
     "Event time of the oldest event not yet acknowledged by Kafka.",
     {{"", [](const m& x) { return num(x.outbox_oldest_ts_ms); }}}},
    {"saga_kafka_published_total", "counter", "Events acknowledged by Kafka.",
     {{"", [](const m& x) { return num(x.kafka_published); }}}},
    {"saga_kafka_delivery_errors_total", "counter", "Failed delivery reports.",
     {{"", [](const m& x) { return num(x.kafka_delivery_errors); }}}},
    {"saga_idempotency_keys", "gauge",
     "Idempotency-Key records stored (bounded by http.idempotency_retention_ms).",
     {{"", [](const m& x) { return num(x.idempotency_keys); }}}},
    {"saga_idempotency_keys_expired_total", "counter",
     "Idempotency-Key records removed by the retention sweeper.",
     {{"", [](const m& x) { return num(x.idempotency_keys_expired); }}}},
    {"saga_book_entries", "gauge",
     "In-memory entries of the inventory and payment books (live reservations and intents "
     "only) and of the supervisor's restart bookkeeping.",
     {{"book=\"reservations\"", [](const m& x) { return num(x.reservations_in_memory); }},
      {"book=\"intents\"", [](const m& x) { return num(x.intents_in_memory); }},
      {"book=\"restarts\"", [](const m& x) { return num(x.restart_entries); }}}},
    {"saga_component_restarts_total", "counter",
     "Supervised long-lived actors (inventory and payment partitions, the Kafka relay) "
     "restarted after a crash.",
     {{"", [](const m& x) { return num(x.component_restarts); }}}},
    {"saga_components_failed", "gauge",
     "Components past their restart budget (/readyz names them).",
     {{"", [](const m& x) { return num(x.components_failed); }}}},
    {"saga_quarantined_records", "gauge",
     "Stored records that did not decode at start, moved aside (storage.quarantine_corrupt).",
     {{"", [](const m& x) { return num(x.quarantined_records); }}}},
    {"saga_kafka_dead_lettered_total", "counter",
     "Outbox entries the broker refused for good, published to the dead-letter topic "
     "instead.",
     {{"", [](const m& x) { return num(x.kafka_dead_lettered); }}}},
    {"saga_kafka_relay_resets_total", "counter",
     "Times the relay replaced its producer and produced again from the oldest "
     "unacknowledged event.",
     {{"", [](const m& x) { return num(x.kafka_relay_resets); }}}},
    {"saga_kafka_relay_walked_total", "counter",
     "Outbox entries the relay read to produce them (about one per event; more after a "
     "reset, or when an entry waits behind its order's event in flight).",
     {{"", [](const m& x) { return num(x.kafka_relay_walked); }}}},
    {"saga_kafka_topics_missing", "gauge",
     "Saga topics the brokers have not confirmed (the relay publishes nothing until they "
     "exist; see /readyz detail.kafka).",
     {{"", [](const m& x) { return num(x.kafka_topics_missing); }}}},
    {"saga_kafka_topics_expected", "gauge", "Saga topics and the dead-letter topic.",
     {{"", [](const m& x) { return num(x.kafka_topics_expected); }}}},
    {"saga_outbox_age_ms", "gauge",
     "Age of the oldest event not yet acknowledged by Kafka (0 when the outbox is empty): an "
     "outbox that stops draining shows here within a relay tick.",
     {{"", [](const m& x) { return num(x.outbox_age_ms); }}}},
    {"saga_http_inflight", "gauge", "HTTP requests being served.",
     {{"", [](const m& x) { return num(x.http_inflight); }}}},
    {"saga_http_rejected_overload_total", "counter",
     "Requests refused with 429 (http.max_inflight or saga.max_live_orders).",
     {{"", [](const m& x) { return num(x.rejected_overload); }}}},
  };
  return table;
}

/// Writes the exposition text, one family at a time.
struct writer {
  std::string& out;
  void head(const std::string& name, const char* type, const char* help) {
    out += "# HELP " + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
  }
  void value(const std::string& name, const std::string& labels, const std::string& v) {
    out += name;
    if (!labels.empty())
      out += "{" + labels + "}";
    out += " " + v + "\n";
  }
  /// Cumulative buckets, then _sum (when `sum` is not negative) and _count.
  template <class Bounds, class Buckets, class Le>
  void histogram(const std::string& name, const std::string& labels, const Bounds& bounds,
                 const Buckets& buckets, Le le, double sum) {
    auto with = [&](const std::string& l) { return labels.empty() ? l : labels + "," + l; };
    uint64_t cum = 0;
    for (size_t b = 0; b < bounds.size(); ++b) {
      cum += buckets[b].load();
      value(name + "_bucket", with("le=\"" + le(bounds[b]) + "\""), std::to_string(cum));
    }
    cum += buckets[bounds.size()].load();
    value(name + "_bucket", with("le=\"+Inf\""), std::to_string(cum));
    if (sum >= 0)
      value(name + "_sum", labels, std::to_string(sum));
    value(name + "_count", labels, std::to_string(cum));
  }
};

std::string seconds(int64_t us) {
  return std::to_string(static_cast<double>(us) / 1e6);
}

} // namespace

std::string metrics::render() const {
  std::string out;
  writer w{out};
  w.head("saga_http_requests_total", "counter", "HTTP requests by route and status class.");
  for (int r = 0; r < route_count; ++r)
    for (int c = 1; c <= 5; ++c)
      if (auto n = routes[r].by_class[c].load(); n != 0)
        w.value("saga_http_requests_total",
                "route=\"" + std::string(to_string(route(r))) + "\",code=\""
                  + std::to_string(c) + "xx\"",
                std::to_string(n));
  w.head("saga_http_request_duration_seconds", "histogram",
         "Latency from request read to response.");
  for (int r = 0; r < route_count; ++r) {
    auto& s = routes[r];
    uint64_t seen = 0;
    for (auto& b : s.buckets)
      seen += b.load();
    if (seen == 0) // a route never asked for adds no lines
      continue;
    w.histogram("saga_http_request_duration_seconds",
                "route=\"" + std::string(to_string(route(r))) + "\"", latency_bounds_us,
                s.buckets, seconds, static_cast<double>(s.latency_sum_us.load()) / 1e6);
  }
  w.head("saga_orders", "gauge", "Orders by status (stored on this node).");
  for (size_t i = 0; i < orders_by_status.size(); ++i)
    w.value("saga_orders", "status=\"" + order_status_names[i] + "\"",
            std::to_string(orders_by_status[i].load()));
  w.head("saga_storage_reads_total", "counter",
         "RocksDB point reads and iterations by column family (per saga: divide by the "
         "completed orders).");
  for (int i = 0; i < storage_families; ++i)
    w.value("saga_storage_reads_total", "family=\"" + storage_family_names[i] + "\"",
            std::to_string(storage_reads[i].load()));
  w.head("saga_storage_commits_total", "counter",
         "The writer's RocksDB writes (one per group of batches), with and without fdatasync.");
  w.value("saga_storage_commits_total", "sync=\"true\"",
          std::to_string(storage_synced_commits.load()));
  w.value("saga_storage_commits_total", "sync=\"false\"",
          std::to_string(storage_commits.load() - storage_synced_commits.load()));
  if (uint64_t n = 0; allocation_requests(n)) {
    w.head("saga_allocations_total", "counter",
           "Allocation requests the allocator has served, every thread of the process (jemalloc's "
           "small and large nrequests; per saga: divide by the completed orders).");
    w.value("saga_allocations_total", "", std::to_string(n));
  }
  w.head("saga_storage_barriers_total", "counter",
         "Groups made only of barriers (empty batches), answered in order without a write.");
  w.value("saga_storage_barriers_total", "", std::to_string(storage_barriers.load()));
  w.head("saga_replication_transactions_total", "counter",
         "Kafka transactions committed to the changelog (cluster.replication = kafka): one per "
         "partition and writer group; retried = committed after an aborted attempt.");
  w.value("saga_replication_transactions_total", "outcome=\"committed\"",
          std::to_string(replication_transactions.load()));
  w.value("saga_replication_transactions_total", "outcome=\"retried\"",
          std::to_string(replication_retried_transactions.load()));
  w.head("saga_standby_applied_total", "counter",
         "Changelog records applied by this node's standby applier (standby replicas and "
         "takeovers' catch-ups; cluster.replication = kafka).");
  w.value("saga_standby_applied_total", "", std::to_string(standby_applied.load()));
  w.head("saga_standby_lag_max", "gauge",
         "The largest lag of this node's standby replicas behind their changelog's end, in "
         "records and transaction markers (-1: no standby replica, or not known yet).");
  w.value("saga_standby_lag_max", "", std::to_string(standby_lag_max.load()));
  for (auto& f : plain_families()) {
    w.head(f.name, f.type, f.help);
    for (auto& s : f.samples)
      w.value(f.name, s.labels, std::to_string(s.value(*this)));
  }
  w.head("saga_kafka_errors_total", "counter",
         "Kafka errors by where they were seen (delivery report, produce call, client, topic "
         "provisioning) and librdkafka error code.");
  auto name_of = kafka_error_name.load();
  static const char* where_names[] = {"delivery", "produce", "client", "provision"};
  for (size_t wh = 0; wh < kw_count; ++wh)
    for (int slot = 0; slot < kafka_code_slots; ++slot) {
      auto n = kafka_errors[wh * kafka_code_slots + static_cast<size_t>(slot)].load();
      if (n == 0)
        continue;
      int code = slot + kafka_code_min;
      std::string name = name_of != nullptr ? name_of(code) : std::to_string(code);
      w.value("saga_kafka_errors_total",
              "where=\"" + std::string(where_names[wh]) + "\",code=\"" + name + "\"",
              std::to_string(n));
    }
  w.head("saga_kafka_lag_ms", "histogram", "Step commit to broker acknowledgement.");
  w.histogram("saga_kafka_lag_ms", "", lag_bounds_ms, kafka_lag,
              [](int64_t ms) { return std::to_string(ms); }, -1);
  if (peers.empty())
    return out;
  w.head("saga_cluster_peer_up", "gauge", "1 while the peer is connected and welcomed.");
  for (auto& p : peers)
    w.value("saga_cluster_peer_up", "peer=\"" + p->id + "\"", std::to_string(p->up.load()));
  struct peer_counter {
    const char* name;
    const char* help;
    std::atomic<uint64_t> peer_stats::*field;
  };
  static const peer_counter peer_counters[] = {
    {"saga_cluster_peer_connects_total", "Handshakes with the peer that succeeded.",
     &peer_stats::connects},
    {"saga_cluster_peer_disconnects_total", "Times the peer went down.",
     &peer_stats::disconnects},
    {"saga_cluster_peer_refused_total", "Handshakes refused (layout, replication or name differ).",
     &peer_stats::refused},
    {"saga_cluster_forwarded_total", "Messages handed to the peer's partitions.",
     &peer_stats::forwarded},
    {"saga_cluster_unavailable_total",
     "Requests for the peer's partitions answered unavailable (peer down).",
     &peer_stats::unavailable},
  };
  for (auto& c : peer_counters) {
    w.head(c.name, "counter", c.help);
    for (auto& p : peers)
      w.value(c.name, "peer=\"" + p->id + "\"", std::to_string(((*p).*c.field).load()));
  }
  w.head("saga_cluster_request_duration_seconds", "histogram",
         "Order commands to another node's partition, send to reply.");
  w.histogram("saga_cluster_request_duration_seconds", "", latency_bounds_us,
              cross_node_buckets, seconds,
              static_cast<double>(cross_node_sum_us.load()) / 1e6);
  w.head("saga_cluster_request_failures_total", "counter",
         "Order commands to another node's partition that failed.");
  w.value("saga_cluster_request_failures_total", "", std::to_string(cross_node_failures.load()));
  w.head("saga_cluster_resends_total", "counter",
         "Order commands re-sent to another node's partition.");
  w.value("saga_cluster_resends_total", "", std::to_string(cross_node_resends.load()));
  w.head("saga_gateway_resends_total", "counter",
         "HTTP requests sent again through their partition's forwarder after the "
         "partition's actor ended as they arrived (the partition moved).");
  w.value("saga_gateway_resends_total", "", std::to_string(gateway_resends.load()));
  return out;
}

} // namespace saga
