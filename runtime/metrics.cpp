#include "runtime/metrics.hpp"

#include "actors/saga.hpp"

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

std::string metrics::render() const {
  std::string out;
  auto line = [&](const std::string& s) { out += s + "\n"; };
  line("# HELP saga_http_requests_total HTTP requests by route and status class.");
  line("# TYPE saga_http_requests_total counter");
  for (int r = 0; r < route_count; ++r)
    for (int c = 1; c <= 5; ++c) {
      auto n = routes[r].by_class[c].load();
      if (n > 0)
        line("saga_http_requests_total{route=\"" + std::string(to_string(route(r)))
             + "\",code=\"" + std::to_string(c) + "xx\"} " + std::to_string(n));
    }
  line("# HELP saga_http_request_duration_seconds Latency from request read to response.");
  line("# TYPE saga_http_request_duration_seconds histogram");
  for (int r = 0; r < route_count; ++r) {
    auto& s = routes[r];
    uint64_t cum = 0;
    for (auto& b : s.buckets)
      cum += b.load();
    if (cum == 0)
      continue;
    std::string lbl = "route=\"" + std::string(to_string(route(r))) + "\"";
    cum = 0;
    for (size_t b = 0; b < latency_bounds_us.size(); ++b) {
      cum += s.buckets[b].load();
      line("saga_http_request_duration_seconds_bucket{" + lbl + ",le=\""
           + std::to_string(latency_bounds_us[b] / 1e6) + "\"} " + std::to_string(cum));
    }
    cum += s.buckets[latency_bounds_us.size()].load();
    line("saga_http_request_duration_seconds_bucket{" + lbl + ",le=\"+Inf\"} " + std::to_string(cum));
    line("saga_http_request_duration_seconds_sum{" + lbl + "} "
         + std::to_string(s.latency_sum_us.load() / 1e6));
    line("saga_http_request_duration_seconds_count{" + lbl + "} " + std::to_string(cum));
  }
  line("# HELP saga_orders Orders by status (stored on this node).");
  line("# TYPE saga_orders gauge");
  for (int i = 0; i < 4; ++i)
    line("saga_orders{status=\"" + std::string(to_string(static_cast<order_status>(i))) + "\"} "
         + std::to_string(orders_by_status[i].load()));
  line("# HELP saga_live_actors Live actors by kind.");
  line("# TYPE saga_live_actors gauge");
  line("saga_live_actors{kind=\"order\"} " + std::to_string(live_order_actors.load()));
  line("saga_live_actors{kind=\"order_supervisor\"} 1");
  line("# HELP saga_passive_orders Orders in flight without an actor: they wait for their "
       "payment or completion and are activated by the next message for them.");
  line("# TYPE saga_passive_orders gauge");
  line("saga_passive_orders " + std::to_string(passive_orders.load()));
  line("# HELP saga_order_activations_total Passive orders given an actor again.");
  line("# TYPE saga_order_activations_total counter");
  line("saga_order_activations_total " + std::to_string(order_activations.load()));
  line("# HELP saga_order_passivations_total Idle waiting orders whose actor was let go.");
  line("# TYPE saga_order_passivations_total counter");
  line("saga_order_passivations_total " + std::to_string(order_passivations.load()));
  line("saga_live_actors{kind=\"inventory_worker\"} " + std::to_string(inventory_workers));
  line("saga_live_actors{kind=\"payment_worker\"} " + std::to_string(payment_workers));
  line("saga_live_actors{kind=\"writer\"} 1");
  line("saga_live_actors{kind=\"gateway_bridge\"} " + std::to_string(live_bridges.load()));
  line("# HELP saga_stuck_orders Orders longer in their saga step than its budget (inspect.budget_ms.*).");
  line("# TYPE saga_stuck_orders gauge");
  line("saga_stuck_orders " + std::to_string(stuck_orders.load()));
  line("# TYPE saga_gateway_bridges_spawned_total counter");
  line("saga_gateway_bridges_spawned_total " + std::to_string(bridges_spawned.load()));
  line("# TYPE saga_inspect_stream_clients gauge");
  line("saga_inspect_stream_clients " + std::to_string(stream_clients.load()));
  line("# TYPE saga_order_restarts_total counter");
  line("saga_order_restarts_total " + std::to_string(order_restarts.load()));
  line("# HELP saga_orders_parked Orders parked right now (an operator can retry or compensate "
       "them: POST /admin/orders/{id}/retry|compensate).");
  line("# TYPE saga_orders_parked gauge");
  line("saga_orders_parked " + std::to_string(parked_now.load()));
  line("# HELP saga_orders_parked_holding Parked orders that hold the customer's money or stock.");
  line("# TYPE saga_orders_parked_holding gauge");
  line("saga_orders_parked_holding{what=\"money\"} " + std::to_string(parked_holding_money.load()));
  line("saga_orders_parked_holding{what=\"stock\"} " + std::to_string(parked_holding_stock.load()));
  line("# TYPE saga_orders_parked_total counter");
  line("saga_orders_parked_total " + std::to_string(orders_parked.load()));
  line("# HELP saga_outbox_depth Events in the outbox not yet acknowledged by Kafka.");
  line("# TYPE saga_outbox_depth gauge");
  line("saga_outbox_depth " + std::to_string(outbox_depth.load()));
  line("# TYPE saga_outbox_oldest_event_ts_ms gauge");
  line("saga_outbox_oldest_event_ts_ms " + std::to_string(outbox_oldest_ts_ms.load()));
  line("# TYPE saga_kafka_published_total counter");
  line("saga_kafka_published_total " + std::to_string(kafka_published.load()));
  line("# TYPE saga_kafka_delivery_errors_total counter");
  line("saga_kafka_delivery_errors_total " + std::to_string(kafka_delivery_errors.load()));
  line("# HELP saga_idempotency_keys Idempotency-Key records stored (bounded by "
       "http.idempotency_retention_ms).");
  line("# TYPE saga_idempotency_keys gauge");
  line("saga_idempotency_keys " + std::to_string(idempotency_keys.load()));
  line("# TYPE saga_idempotency_keys_expired_total counter");
  line("saga_idempotency_keys_expired_total " + std::to_string(idempotency_keys_expired.load()));
  line("# HELP saga_book_entries In-memory entries of the inventory and payment books (live "
       "reservations and intents only) and of the supervisor's restart bookkeeping.");
  line("# TYPE saga_book_entries gauge");
  line("saga_book_entries{book=\"reservations\"} " + std::to_string(reservations_in_memory.load()));
  line("saga_book_entries{book=\"intents\"} " + std::to_string(intents_in_memory.load()));
  line("saga_book_entries{book=\"restarts\"} " + std::to_string(restart_entries.load()));
  line("# HELP saga_component_restarts_total Supervised long-lived actors (inventory and "
       "payment partitions, the Kafka relay) restarted after a crash.");
  line("# TYPE saga_component_restarts_total counter");
  line("saga_component_restarts_total " + std::to_string(component_restarts.load()));
  line("# HELP saga_components_failed Components past their restart budget (/readyz names them).");
  line("# TYPE saga_components_failed gauge");
  line("saga_components_failed " + std::to_string(components_failed.load()));
  line("# HELP saga_quarantined_records Stored records that did not decode at start, moved aside "
       "(storage.quarantine_corrupt).");
  line("# TYPE saga_quarantined_records gauge");
  line("saga_quarantined_records " + std::to_string(quarantined_records.load()));
  line("# HELP saga_kafka_dead_lettered_total Outbox entries the broker refused for good, "
       "published to the dead-letter topic instead.");
  line("# TYPE saga_kafka_dead_lettered_total counter");
  line("saga_kafka_dead_lettered_total " + std::to_string(kafka_dead_lettered.load()));
  line("# TYPE saga_kafka_relay_resets_total counter");
  line("saga_kafka_relay_resets_total " + std::to_string(kafka_relay_resets.load()));
  line("# HELP saga_kafka_errors_total Kafka errors by where they were seen (delivery report, "
       "produce call, client, topic provisioning) and librdkafka error code.");
  line("# TYPE saga_kafka_errors_total counter");
  {
    auto name_of = kafka_error_name.load();
    static const char* where_names[] = {"delivery", "produce", "client", "provision"};
    for (size_t w = 0; w < kw_count; ++w)
      for (int slot = 0; slot < kafka_code_slots; ++slot) {
        auto n = kafka_errors[w * kafka_code_slots + static_cast<size_t>(slot)].load();
        if (n == 0)
          continue;
        int code = slot + kafka_code_min;
        std::string name = name_of != nullptr ? name_of(code) : std::to_string(code);
        line("saga_kafka_errors_total{where=\"" + std::string(where_names[w]) + "\",code=\"" + name
             + "\"} " + std::to_string(n));
      }
  }
  line("# HELP saga_kafka_topics_missing Saga topics the brokers have not confirmed (the relay "
       "publishes nothing until they exist; see /readyz detail.kafka).");
  line("# TYPE saga_kafka_topics_missing gauge");
  line("saga_kafka_topics_missing " + std::to_string(kafka_topics_missing.load()));
  line("# TYPE saga_kafka_topics_expected gauge");
  line("saga_kafka_topics_expected " + std::to_string(kafka_topics_expected.load()));
  line("# HELP saga_outbox_age_ms Age of the oldest event not yet acknowledged by Kafka (0 when "
       "the outbox is empty): an outbox that stops draining shows here within a relay tick.");
  line("# TYPE saga_outbox_age_ms gauge");
  line("saga_outbox_age_ms " + std::to_string(outbox_age_ms.load()));
  line("# HELP saga_kafka_lag_ms Step commit to broker acknowledgement.");
  line("# TYPE saga_kafka_lag_ms histogram");
  {
    uint64_t cum = 0;
    for (size_t b = 0; b < lag_bounds_ms.size(); ++b) {
      cum += kafka_lag[b].load();
      line("saga_kafka_lag_ms_bucket{le=\"" + std::to_string(lag_bounds_ms[b]) + "\"} " + std::to_string(cum));
    }
    cum += kafka_lag[lag_bounds_ms.size()].load();
    line("saga_kafka_lag_ms_bucket{le=\"+Inf\"} " + std::to_string(cum));
    line("saga_kafka_lag_ms_count " + std::to_string(cum));
  }
  if (!peers.empty()) {
    line("# HELP saga_cluster_peer_up 1 while the peer is connected and welcomed.");
    line("# TYPE saga_cluster_peer_up gauge");
    for (auto& p : peers)
      line("saga_cluster_peer_up{peer=\"" + p->id + "\"} " + std::to_string(p->up.load()));
    auto counter = [&](const char* name, const char* help,
                       std::atomic<uint64_t> peer_stats::*field) {
      line(std::string("# HELP ") + name + " " + help);
      line(std::string("# TYPE ") + name + " counter");
      for (auto& p : peers)
        line(std::string(name) + "{peer=\"" + p->id + "\"} " + std::to_string(((*p).*field).load()));
    };
    counter("saga_cluster_peer_connects_total", "Handshakes with the peer that succeeded.",
            &peer_stats::connects);
    counter("saga_cluster_peer_disconnects_total", "Times the peer went down.",
            &peer_stats::disconnects);
    counter("saga_cluster_peer_refused_total", "Handshakes refused (layout or epoch differ).",
            &peer_stats::refused);
    counter("saga_cluster_forwarded_total", "Messages handed to the peer's partitions.",
            &peer_stats::forwarded);
    counter("saga_cluster_unavailable_total",
            "Requests for the peer's partitions answered unavailable (peer down).",
            &peer_stats::unavailable);
    line("# HELP saga_cluster_request_duration_seconds Order commands to another node's "
         "partition, send to reply.");
    line("# TYPE saga_cluster_request_duration_seconds histogram");
    uint64_t cum = 0;
    for (size_t b = 0; b < latency_bounds_us.size(); ++b) {
      cum += cross_node_buckets[b].load();
      line("saga_cluster_request_duration_seconds_bucket{le=\""
           + std::to_string(static_cast<double>(latency_bounds_us[b]) / 1e6) + "\"} "
           + std::to_string(cum));
    }
    cum += cross_node_buckets[latency_bounds_us.size()].load();
    line("saga_cluster_request_duration_seconds_bucket{le=\"+Inf\"} " + std::to_string(cum));
    line("saga_cluster_request_duration_seconds_sum "
         + std::to_string(static_cast<double>(cross_node_sum_us.load()) / 1e6));
    line("saga_cluster_request_duration_seconds_count " + std::to_string(cum));
    line("# TYPE saga_cluster_request_failures_total counter");
    line("saga_cluster_request_failures_total " + std::to_string(cross_node_failures.load()));
    line("# HELP saga_cluster_resends_total Order commands re-sent to another node's partition.");
    line("# TYPE saga_cluster_resends_total counter");
    line("saga_cluster_resends_total " + std::to_string(cross_node_resends.load()));
  }
  line("# TYPE saga_http_inflight gauge");
  line("saga_http_inflight " + std::to_string(http_inflight.load()));
  line("# TYPE saga_http_rejected_overload_total counter");
  line("saga_http_rejected_overload_total " + std::to_string(rejected_overload.load()));
  return out;
}

} // namespace saga
