#include "gateway/api.hpp"

// The router: every request is checked (method, path, query, body size, token) and handed
// to the file of its routes (api_orders.cpp, api_inventory.cpp, api_admin.cpp,
// inspect_api.cpp).

#include <memory>
#include <nlohmann/json.hpp>

#include "actors/cluster/cluster.hpp"
#include "actors/plumbing/partitions.hpp"
#include "actors/payment/payment_book.hpp"
#include "gateway/api_util.hpp"
#include "gateway/requests.hpp"
#include "gateway/slot_request.hpp"
#include "actors/cluster/cluster_layout.hpp"

using nlohmann::json;
using namespace saga::gateway_detail;

namespace saga {

http_response api::error(int status, const std::string& code, const std::string& message) {
  return ok_json(status, json{{"error", {{"code", code}, {"message", message}}}});
}

http_response partition_failure(caf::actor_system& sys, const node_config& cfg,
                                const cluster_layout& layout, const directory& dir,
                                const caf::error& e, partition_kind kind, size_t p) {
  std::string node, slot;
  bool remote = kind == partition_kind::orders ? dir.order_partition_remote(p)
                                               : dir.inventory_partition_remote(p);
  bool down = is_node_unavailable(e, node, slot);
  // In a cluster, CAF's bounce of a request whose actor ended as it arrived (no context:
  // an owner's own receiver_down says why) is most often a partition that moved (released
  // by its holder, or handed over) just before this node's forwarder learnt of it: the
  // same answer as a holder that is down, retried by the client.
  bool moved = layout.nodes.size() > 1 && ended_on_arrival(e);
  // Only "no route" (the peer is down), "moved" and "no answer in time" are the node's
  // absence; any other error came from the owner itself.
  if (!down && !moved && !(remote && e == caf::sec::request_timeout))
    return api::error(503, "unavailable", sys.render(e));
  if (node.empty())
    node = layout.nodes[layout.owner(kind, p)].id;
  if (slot.empty())
    slot = std::string(to_string(kind)) + "/" + std::to_string(p);
  auto why = down    ? std::string("is down or cut off from this node")
             : moved ? std::string("ended the request's actor as it arrived (the partition "
                                   "moved, its node is stopping, or the order's actor had "
                                   "just finished)")
                     : "did not answer in time (" + sys.render(e) + ")";
  auto r = ok_json(503, json{{"error",
                              {{"code", "node_unavailable"},
                               {"node", node},
                               {"partition", slot},
                               {"message", "partition " + slot + " is owned by node " + node
                                             + ", which " + why + "; retry later"}}}});
  // About when a down peer is tried again (its reconnect backoff), at least a second.
  r.headers["Retry-After"] =
    std::to_string(std::max<int64_t>(1, (cfg.cluster_reconnect_backoff_max_ms + 999) / 1000));
  return r;
}

void api::handle(const http_request& req, responder respond) {
  auto path = req.target.substr(0, req.target.find('?'));
  auto only = [&](const char* method) {
    if (req.method == method)
      return true;
    auto r = error(405, "method_not_allowed", req.method + " is not allowed on " + path);
    r.headers["Allow"] = method;
    respond(r);
    return false;
  };
  if (path == "/healthz") {
    if (only("GET"))
      respond(ok_json(200, {{"status", "ok"}, {"node", ctx_->cfg.node_id}}));
    return;
  }
  if (path == "/readyz") {
    if (only("GET")) {
      auto& m = *ctx_->stats;
      auto depth = m.outbox_depth.load();
      auto failed = m.failed_components();
      json detail = {{"failed_components", failed},
                     {"quarantined_records", m.quarantined_records.load()},
                     {"outbox_depth", depth},
                     {"outbox_age_ms", m.outbox_age_ms.load()},
                     {"outbox_max_entries", ctx_->cfg.kafka_outbox_max_entries},
                     {"recovery", {{"pending", m.recovery_pending.load()},
                                   {"active", m.recovery_active.load()},
                                   {"window", ctx_->cfg.saga_recovery_batch}}}};
      json body;
      int status = 200;
      if (auto gap = ctx_->unresponsive_ms(); gap > 0 && !ctx_->halted.load())
        status = 503, body = {{"status", "stopping"}, {"reason", ctx_->unresponsive_reason(gap)}};
      else if (ctx_->halted.load())
        status = 503, body = {{"status", "stopping"},
                              {"reason", "a storage read or write or a changelog transaction failed, or "
                                         "another owner fenced a partition; the node stops (see its log)"}};
      else if (!ready)
        status = 503, body = {{"status", "recovering"}};
      else if (!failed.empty())
        status = 503, body = {{"status", "component_failed"},
                              {"reason", "past its restart budget: " + failed.front()}};
      else if (depth > ctx_->cfg.kafka_outbox_max_entries)
        status = 503, body = {{"status", "event_sink_backlog"}};
      else
        body = {{"status", "ready"}};
      body["detail"] = detail;
      if (!dir_.relay) {
        if (ctx_->cfg.cluster_replication == "kafka") // events go in the partitions' transactions
          body["detail"]["kafka"] = {{"state", "replicated"}, {"brokers", ctx_->cfg.kafka_brokers}};
        else
          body["detail"]["kafka"] = {{"state", "disabled"}};
        return respond(ok_json(status, body));
      }
      // The sink's own account (topics, last error): Kafka trouble never makes the node
      // unready by itself (sagas go on, the outbox holds the events); the backlog bound does.
      auto relay = dir_.relay;
      auto timeout = std::chrono::milliseconds(std::min<int64_t>(1000, ctx_->cfg.saga_request_timeout_ms));
      spawn_bridge(sys_, ctx_->stats, [relay, timeout, status, body, respond](caf::event_based_actor* self) mutable {
        self->request(relay, timeout, stats_atom::value)
          .then(
            [=](const kafka_sink_status& k) mutable {
              body["detail"]["kafka"] = {{"state", k.state},
                                         {"brokers", k.brokers},
                                         {"topics_expected", k.topics_expected},
                                         {"missing_topics", k.missing_topics},
                                         {"last_error", k.last_error},
                                         {"last_error_ts_ms", k.last_error_ts_ms},
                                         {"inflight", k.inflight},
                                         {"paused_ms", k.paused_ms}};
              respond(ok_json(status, body));
            },
            [=](const caf::error&) mutable {
              body["detail"]["kafka"] = {{"state", "unresponsive"}};
              respond(ok_json(status, body));
            });
      });
    }
    return;
  }
  if (path == "/openapi.json" || path == "/asyncapi.json") {
    if (only("GET")) {
      http_response r;
      r.body = path == "/openapi.json" ? openapi_json() : asyncapi_json();
      respond(r);
    }
    return;
  }
  if (path == "/metrics") {
    if (only("GET")) {
      http_response r;
      r.body = ctx_->stats->render();
      r.body += "# HELP saga_rocksdb_memtable_bytes RocksDB memtables, all column families.\n"
                "# TYPE saga_rocksdb_memtable_bytes gauge\nsaga_rocksdb_memtable_bytes "
                + std::to_string(ctx_->db->memtable_bytes()) + "\n"
                "# HELP saga_rocksdb_block_cache_bytes RocksDB block cache in use "
                "(storage.block_cache_mb bounds it).\n"
                "# TYPE saga_rocksdb_block_cache_bytes gauge\nsaga_rocksdb_block_cache_bytes "
                + std::to_string(ctx_->db->block_cache_bytes()) + "\n";
      r.headers["Content-Type"] = "text/plain; version=0.0.4";
      respond(r);
    }
    return;
  }
  if (path == "/cluster") {
    if (!only("GET"))
      return;
    if (!inspect_allowed(req, {})) {
      auto r = error(401, "unauthorized",
                     "admin token required on a non-loopback address (Authorization: Bearer ...)");
      r.headers["WWW-Authenticate"] = "Bearer";
      return respond(r);
    }
    auto links = peer_links;
    auto timeout = std::chrono::milliseconds(std::min<int64_t>(1000, ctx_->cfg.saga_request_timeout_ms));
    auto layout = layout_;
    auto ctx = ctx_;
    auto since = started_at_ms;
    auto owners = ownership;
    spawn_bridge(sys_, ctx_->stats, [layout, ctx, since, links, owners, timeout, respond](caf::event_based_actor* self) {
      ask_all<peer_status>(
        self, links, timeout,
        [=](std::vector<peer_status> xs) {
          if (!owners)
            return respond(ok_json(200, cluster_view(*layout, ctx->cfg, since, xs)));
          self->request(owners, timeout, owners_atom::value)
            .then(
              [=](const ownership_view& v) {
                respond(ok_json(200, cluster_view(*layout, ctx->cfg, since, xs, &v)));
              },
              [respond](caf::error& e) {
                respond(error(503, "unavailable", "cluster ownership: " + to_string(e)));
              });
        },
        [respond](caf::error& e) { respond(error(503, "unavailable", "cluster links: " + to_string(e))); },
        peers_atom::value);
    });
    return;
  }
  if (path == "/console" || path.rfind("/inspect/", 0) == 0) {
    // Introspection answers while the node recovers too (that is when it is most useful).
    auto q = req.target.find('?');
    auto query = q == std::string::npos ? std::string{} : req.target.substr(q + 1);
    if (!only("GET"))
      return;
    if (!inspect_allowed(req, query)) {
      auto r = error(401, "unauthorized",
                     "admin token required on a non-loopback address (Authorization: Bearer "
                     "..., or ?token=... for the console and the event stream)");
      r.headers["WWW-Authenticate"] = "Bearer";
      return respond(r);
    }
    if (path == "/console") {
      http_response r;
      r.body = console_html();
      r.headers["Content-Type"] = "text/html; charset=utf-8";
      r.headers["Cache-Control"] = "no-cache";
      return respond(r);
    }
    if (path == "/inspect/summary")
      return inspect_summary(std::move(respond));
    if (path == "/inspect/actors")
      return inspect_actors(query, std::move(respond));
    if (path == "/inspect/stream")
      return inspect_stream(query, std::move(respond));
    if (path.rfind("/inspect/orders/", 0) == 0 && path.size() > 16
        && path.find('/', 16) == std::string::npos)
      return inspect_order(path.substr(16), std::move(respond));
    return respond(error(404, "not_found", "no route " + path
                                             + " (try /inspect/summary, /inspect/actors, "
                                               "/inspect/orders/{id}, /inspect/stream)"));
  }
  if (ctx_->halted.load()) {
    auto r = error(503, "node_stopping", "a storage read or write failed; this node stops");
    r.headers["Retry-After"] = "5";
    return respond(r);
  }
  // Failover's lease (runtime/context.hpp): a node that did not run for longer than its
  // peers wait before they take its partitions may have lost them; its store may be stale.
  if (auto gap = ctx_->unresponsive_ms(); gap > 0) {
    auto r = error(503, "node_stopping", ctx_->unresponsive_reason(gap));
    r.headers["Retry-After"] = "1";
    return respond(r);
  }
  if (!ready) {
    respond(error(503, "not_ready", "the node is recovering; retry shortly"));
    return;
  }
  if (path == "/orders") {
    if (only("POST"))
      post_order(req, std::move(respond));
    return;
  }
  if (path.rfind("/orders/", 0) == 0 && path.size() > 8 && path.find('/', 8) == std::string::npos) {
    auto q = req.target.find('?');
    if (only("GET"))
      get_order(path.substr(8), q == std::string::npos ? "" : req.target.substr(q + 1),
                std::move(respond));
    return;
  }
  if (path == "/admin/parked") {
    if (!only("GET"))
      return;
    if (!admin_allowed(req))
      return respond(error(401, "unauthorized", "admin token required (Authorization: Bearer ...)"));
    return admin_parked(std::move(respond));
  }
  if (path.rfind("/admin/orders/", 0) == 0) {
    // /admin/orders/{id}/retry | /admin/orders/{id}/compensate
    auto rest = path.substr(14);
    auto slash = rest.find('/');
    auto id = rest.substr(0, slash);
    auto action = slash == std::string::npos ? std::string{} : rest.substr(slash + 1);
    if (id.empty() || (action != "retry" && action != "compensate"))
      return respond(error(404, "not_found", "no route " + path
                                               + " (POST /admin/orders/{id}/retry or /compensate)"));
    if (!only("POST"))
      return;
    if (!admin_allowed(req))
      return respond(error(401, "unauthorized", "admin token required (Authorization: Bearer ...)"));
    return admin_action(id, action, req, std::move(respond));
  }
  if (path == "/payment/verify") {
    if (only("POST"))
      verify_payment(req, std::move(respond));
    return;
  }
  if (path == "/order/complete") {
    if (only("POST"))
      complete_order(req, std::move(respond));
    return;
  }
  if (path.rfind("/inventory/", 0) == 0 && path.size() > 11
      && path.find('/', 11) == std::string::npos) {
    auto sku = path.substr(11);
    if (req.method == "GET")
      get_inventory(sku, std::move(respond));
    else if (req.method == "PUT")
      put_inventory(sku, req, std::move(respond));
    else {
      auto r = error(405, "method_not_allowed", req.method + " is not allowed on " + path);
      r.headers["Allow"] = "GET, PUT";
      respond(r);
    }
    return;
  }
  respond(error(404, "not_found", "no route " + path));
}

} // namespace saga
