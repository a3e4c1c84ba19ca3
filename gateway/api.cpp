#include "gateway/api.hpp"

#include <memory>
#include <nlohmann/json.hpp>

#include "actors/cluster.hpp"
#include "actors/order_supervisor.hpp"
#include "actors/partitions.hpp"
#include "actors/payment_book.hpp"
#include "gateway/api_util.hpp"
#include "gateway/requests.hpp"
#include "runtime/cluster_layout.hpp"

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
  // Only "no route" (the peer is down) and "no answer in time" are the node's absence;
  // any other error came from the owner itself.
  if (!down && !(remote && e == caf::sec::request_timeout))
    return api::error(503, "unavailable", sys.render(e));
  if (node.empty())
    node = layout.nodes[layout.owner(kind, p)].id;
  if (slot.empty())
    slot = std::string(to_string(kind)) + "/" + std::to_string(p);
  auto why = down ? "is down or cut off from this node"
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
                     {"outbox_max_entries", ctx_->cfg.kafka_outbox_max_entries}};
      json body;
      int status = 200;
      if (ctx_->halted.load())
        status = 503, body = {{"status", "stopping"},
                              {"reason", "a storage write failed; the node stops (see its log)"}};
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
    spawn_bridge(sys_, ctx_->stats, [layout, ctx, since, links, timeout, respond](caf::event_based_actor* self) {
      ask_all<peer_status>(
        self, links, timeout,
        [=](std::vector<peer_status> xs) {
          respond(ok_json(200, cluster_view(*layout, ctx->cfg, since, xs)));
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
    auto r = error(503, "node_stopping", "a storage write failed; this node stops");
    r.headers["Retry-After"] = "5";
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

void api::post_order(const http_request& req, responder respond) {
  create_order_request parsed;
  if (auto e = parse_create_order(req.body, parsed))
    return respond(error(e.status, e.code, e.message));
  if (req.has_idempotency_key && !valid_id(req.idempotency_key))
    return respond(error(422, "invalid_header", "Idempotency-Key must be 1 to 128 printable characters"));
  if (ctx_->stats->outbox_depth.load() > ctx_->cfg.kafka_outbox_max_entries) {
    // Past the bound new orders wait; sagas in flight go on and the outbox drains first.
    auto r = error(503, "event_sink_backlog", "the Kafka outbox is over its bound; retry later");
    r.headers["Retry-After"] = "5";
    return respond(r);
  }
  if (auto failed = ctx_->stats->failed_components(); !failed.empty()) {
    // A partition past its restart budget: an order placed now could not finish.
    auto r = error(503, "component_failed",
                   failed.front() + " failed past its restart budget; see /readyz");
    r.headers["Retry-After"] = "30";
    return respond(r);
  }
  std::map<size_t, std::vector<std::string>> skus_by_partition;
  for (auto& item : parsed.items)
    skus_by_partition[dir_.inventory_partition(item.sku)].push_back(item.sku);
  // Prices come from the inventory's catalog: ask every partition involved, then create.
  auto dir = dir_;
  auto timeout = ctx_->request_timeout();
  auto key = req.idempotency_key.empty()
               ? std::string{}
               : scoped_idempotency_key(parsed.customer_id, req.idempotency_key);
  auto digest = request_digest(parsed);
  // The new order's partition: a repeated Idempotency-Key must reach the owner that bound
  // it, so keyed requests go by the key's hash (on any node); the others take turns over
  // this node's own partitions (no hop to another node), or over all when it owns none.
  size_t owner_p = 0;
  if (!key.empty()) {
    owner_p = directory::hash(key) % dir_.orders.size();
  } else {
    auto local = dir_.orders.size() - std::count(dir_.orders_remote.begin(), dir_.orders_remote.end(), 1);
    auto turn = next_owner_++;
    if (local == 0) {
      owner_p = turn % dir_.orders.size();
    } else {
      auto k = turn % local;
      for (size_t p = 0; p < dir_.orders.size(); ++p)
        if (!dir_.order_partition_remote(p) && k-- == 0) {
          owner_p = p;
          break;
        }
    }
  }
  // Admission is decided where the work happens: here for this node's partitions (before
  // asking for prices), by the owner node for the others (its create answers `overloaded`).
  if (!dir_.order_partition_remote(owner_p)
      && ctx_->stats->live_order_actors.load() >= ctx_->cfg.saga_max_live_orders) {
    ++ctx_->stats->rejected_overload;
    auto r = error(429, "overloaded", "too many sagas in flight; retry later");
    r.headers["Retry-After"] = "1";
    return respond(r);
  }
  auto owner = dir_.orders[owner_p];
  auto layout = layout_;
  auto cfg = std::make_shared<const node_config>(ctx_->cfg);
  spawn_bridge(sys_, ctx_->stats, [dir, owner, owner_p, timeout, parsed, key, digest, skus_by_partition,
                      layout, cfg, respond](caf::event_based_actor* self) mutable {
    struct gather {
      size_t remaining = 0;
      bool done = false;
      std::map<std::string, int64_t> prices;
    };
    auto g = std::make_shared<gather>();
    g->remaining = skus_by_partition.size();
    for (auto& entry : skus_by_partition) {
      auto p = entry.first;
      auto skus = entry.second;
      self->request(dir.inventory[p], timeout, prices_atom::value, skus)
        .then(
          [=](const prices_reply& r) mutable {
            if (g->done)
              return;
            if (r.code != errc::ok) {
              g->done = true;
              return respond(error(422, "unknown_sku", r.message));
            }
            for (size_t i = 0; i < skus.size(); ++i)
              g->prices[skus[i]] = r.prices_cents[i];
            if (--g->remaining > 0)
              return;
            g->done = true;
            // The total must fit (and stay exact in JSON doubles): 100 lines at the largest
            // quantity and price would wrap an int64 into a negative payment amount.
            int64_t total = 0;
            for (auto& item : parsed.items) {
              item.unit_price_cents = g->prices[item.sku];
              if (item.unit_price_cents != 0
                  && item.quantity > (max_order_total_cents - total) / item.unit_price_cents)
                return respond(error(422, "out_of_range",
                                     "the order's total is over " + std::to_string(max_order_total_cents)
                                       + " cents"));
              total += item.quantity * item.unit_price_cents;
            }
            self->request(owner, timeout, create_atom::value, parsed.customer_id,
                          parsed.items, key, digest)
              .then(
                [=](const create_reply& cr) {
                  if (cr.overloaded) {
                    auto r = error(429, "overloaded", "too many sagas in flight on the order's "
                                                      "node; retry later");
                    r.headers["Retry-After"] = "1";
                    return respond(r);
                  }
                  if (cr.key_reused)
                    return respond(error(422, "idempotency_key_reused",
                                         "this Idempotency-Key was used for a different "
                                         "request; use a new key for a new order"));
                  auto& s = cr.state;
                  auto r = ok_json(cr.existing ? 200 : 201,
                                   {{"order_id", s.order_id},
                                    {"status", to_string(s.status)},
                                    {"selling_price_cents", s.selling_price_cents}});
                  r.order_id = s.order_id;
                  respond(r);
                },
                [=](caf::error& e) {
                  respond(partition_failure(self->system(), *cfg, *layout, dir, e,
                                            partition_kind::orders, owner_p));
                });
          },
          [=](caf::error& e) {
            if (g->done)
              return;
            g->done = true;
            respond(partition_failure(self->system(), *cfg, *layout, dir, e,
                                      partition_kind::inventory, p));
          });
    }
  });
}

void api::get_order(const std::string& id, const std::string& query, responder respond) {
  if (!valid_id(id))
    return respond(error(404, "not_found", "unknown order"));
  auto dir = dir_;
  auto timeout = ctx_->request_timeout();
  // Every parameter is checked, none ignored: a typo must not turn a long-poll into a read.
  if (auto bad = unknown_query_param(query, {"wait", "timeout_ms"}); !bad.empty())
    return respond(error(422, "invalid_query",
                         "unknown query parameter '" + bad + "' (known: wait, timeout_ms)"));
  bool has_wait = has_query_param(query, "wait");
  bool has_timeout = has_query_param(query, "timeout_ms");
  auto wanted = query_param(query, "wait");
  int64_t timeout_ms = 10000;
  if (has_timeout && !parse_decimal(query_param(query, "timeout_ms"), 0, 60000, timeout_ms))
    return respond(error(422, "invalid_query", "timeout_ms must be an integer from 0 to 60000"));
  auto part = directory::order_partition(id, dir.orders.size());
  auto ctx = ctx_;
  auto layout = layout_;
  // The order's record is on its owner node: read here, or asked of the owner (any node
  // answers for any order).
  // Another node's order is read there, through our link to it (its entry actor reads).
  caf::actor link;
  if (dir.order_partition_remote(part))
    if (auto i = link_of.find(layout->nodes[layout->owner(partition_kind::orders, part)].id);
        i != link_of.end())
      link = i->second;
  auto fetch = [ctx, id, link, timeout](caf::event_based_actor* self, auto then, auto fail) {
    if (!link)
      return then(load_order_view(*ctx->db, id));
    self->request(link, timeout, get_atom::value, id)
      .then([then](order_view& v) mutable { then(v); }, fail);
  };
  auto fail = [ctx, layout, dir, part, respond](caf::event_based_actor* self, caf::error& e) {
    respond(partition_failure(self->system(), ctx->cfg, *layout, dir, e, partition_kind::orders,
                              part));
  };
  if (has_wait) {
    order_status st;
    if (!from_string(wanted, st))
      return respond(error(422, "invalid_query",
                           "wait must be PENDING, PAYMENT_INITIATED, COMPLETED or FAILED"));
    // The supervisor answers when the order's status changes (pushed by the order actor
    // after the durable write) or at the time-out: no thread waits and nothing polls.
    // The bridge reads the order from the store itself (reads are thread-safe and run in
    // parallel on the scheduler's threads, not in the supervisor).
    auto wait_for = std::chrono::milliseconds(timeout_ms) + timeout;
    spawn_bridge(sys_, ctx_->stats, [fetch, fail, dir, wait_for, id, st, timeout_ms, respond](caf::event_based_actor* self) {
      auto failed = [self, fail](caf::error& e) { fail(self, e); };
      fetch(
        self,
        [=](const order_view& v) {
          if (v.code != errc::ok || v.state.status == st || is_terminal(v.state.step)
              || timeout_ms == 0)
            return respond_with_view(v, respond);
          self->request(dir.owner_for(id), wait_for, wait_atom::value, id, st, timeout_ms)
            .then(
              [=](bool) {
                fetch(self, [=](const order_view& v2) { respond_with_view(v2, respond); },
                      failed);
              },
              failed);
        },
        failed);
    });
    return;
  }
  spawn_bridge(sys_, ctx_->stats, [fetch, fail, respond](caf::event_based_actor* self) {
    fetch(self, [respond](const order_view& v) { respond_with_view(v, respond); },
          [self, fail](caf::error& e) { fail(self, e); });
  });
}

json api::cluster_view(const cluster_layout& layout, const node_config& cfg,
                       int64_t started_at_ms, const std::vector<peer_status>& peers) {
  // The layout as every node computes it from cluster.conf (runtime/cluster_layout.hpp),
  // with each peer's state as this node's link to it sees it.
  json nodes = json::array();
  for (size_t i = 0; i < layout.nodes.size(); ++i) {
    auto& m = layout.nodes[i];
    bool self = m.id == cfg.node_id;
    auto host = m.host.find(':') == std::string::npos ? m.host : "[" + m.host + "]"; // IPv6
    std::string state = self ? "self" : "down";
    int64_t since = self ? started_at_ms : 0;
    std::string reason;
    for (auto& p : peers)
      if (p.node_id == m.id) {
        state = p.state == "up" ? "up" : "down";
        since = p.since_ms;
        reason = p.reason;
      }
    json n = {{"id", m.id},
              {"state", state},
              {"since", since},
              {"http", m.host.empty() ? json(nullptr)
                                      : json("http://" + host + ":" + std::to_string(m.http_port))},
              {"caf", m.host.empty() ? json(nullptr)
                                     : json(host + ":" + std::to_string(m.caf_port))},
              {"partitions",
               {{"orders", layout.owned_by(partition_kind::orders, i)},
                {"inventory", layout.owned_by(partition_kind::inventory, i)}}}};
    if (!reason.empty())
      n["reason"] = reason;
    nodes.push_back(std::move(n));
  }
  return {{"self", cfg.node_id},
          {"layout_digest", layout.digest()},
          {"epoch", cfg.cluster_epoch},
          {"partitions",
           {{"orders", layout.order_partitions}, {"inventory", layout.sku_partitions}}},
          {"nodes", nodes}};
}

void api::verify_payment(const http_request& req, responder respond) {
  verify_request v;
  if (auto e = parse_verify(req.body, v))
    return respond(error(e.status, e.code, e.message));
  auto order_id = v.order_id, payment_id = v.payment_id, status = v.status,
       signature = v.signature;
  auto dir = dir_;
  auto timeout = ctx_->request_timeout();
  auto layout = layout_;
  auto cfg = std::make_shared<const node_config>(ctx_->cfg);
  auto part = directory::order_partition(order_id, dir.orders.size());
  spawn_bridge(sys_, ctx_->stats, [=](caf::event_based_actor* self) {
    self->request(dir.payment_for(order_id), timeout, verify_atom::value, order_id, payment_id,
                  status, signature)
      .then(
        [=](const payment_reply& r) {
          if (r.code != errc::ok)
            return respond(error(status_of(r.code), to_string(r.code), r.message));
          json body = {{"order_id", order_id},
                       {"payment_id", payment_id},
                       {"payment_status", to_string(r.intent.status)}};
          if (r.intent.status != payment_status::succeeded) {
            auto resp = ok_json(200, body);
            resp.order_id = order_id;
            return respond(resp);
          }
          // As in the seed's diagram, a succeeded payment completes the order.
          self->request(dir.owner_for(order_id), timeout, input_atom::value, order_id,
                        saga_input{input_kind::complete_requested, 0, {}})
            .then(
              [=](const input_reply& ir) mutable {
                body["order_status"] = to_string(ir.state.status);
                body["complete"] = ir.code == errc::ok ? "accepted" : ir.message;
                auto resp = ok_json(200, body);
                resp.order_id = order_id;
                respond(resp);
              },
              [=](caf::error&) mutable {
                // The payment is durable; the saga's complete timer finishes the order.
                body["complete"] = "deferred";
                respond(ok_json(200, body));
              });
        },
        [=](caf::error& e) {
          respond(partition_failure(self->system(), *cfg, *layout, dir, e,
                                    partition_kind::orders, part));
        });
  });
}

void api::complete_order(const http_request& req, responder respond) {
  std::string order_id;
  if (auto e = parse_complete(req.body, order_id))
    return respond(error(e.status, e.code, e.message));
  auto dir = dir_;
  auto timeout = ctx_->request_timeout();
  auto layout = layout_;
  auto cfg = std::make_shared<const node_config>(ctx_->cfg);
  auto part = directory::order_partition(order_id, dir.orders.size());
  spawn_bridge(sys_, ctx_->stats, [=](caf::event_based_actor* self) {
    auto on_reply = [=](const input_reply& r) {
      if (r.code != errc::ok)
        return respond(error(status_of(r.code), to_string(r.code), r.message));
      auto resp = ok_json(200, {{"order_id", order_id},
                                {"status", to_string(r.state.status)},
                                {"saga_step", to_string(r.state.step)},
                                {"result", r.result == outcome::applied ? "completing"
                                                                        : "already_completing"}});
      resp.order_id = order_id;
      respond(resp);
    };
    auto send = [=](auto on_error) {
      self->request(dir.owner_for(order_id), timeout, input_atom::value, order_id,
                    saga_input{input_kind::complete_requested, 0, {}})
        .then(on_reply, on_error);
    };
    auto fail = [=](caf::error& e) {
      respond(partition_failure(self->system(), *cfg, *layout, dir, e, partition_kind::orders,
                                part));
    };
    send([=](caf::error& e) {
      // The order's actor ended just as the request reached it (its saga had finished):
      // asked once more, its owner answers from the record.
      if (e == caf::sec::request_receiver_down)
        return send(fail);
      fail(e);
    });
  });
}

bool api::admin_allowed(const http_request& req) const {
  return signature_equal(req.authorization, "Bearer " + ctx_->cfg.security_admin_token);
}

namespace {

json parked_json(const parked_order& p) {
  return {{"order_id", p.order_id},
          {"reason", p.reason},
          {"saga_step", to_string(p.step)},
          {"status", to_string(p.status)},
          {"payment_status", to_string(p.payment)},
          {"holds_money", p.holds_money},
          {"holds_stock", p.holds_stock},
          {"updated_at", p.updated_at_ms}};
}

} // namespace

void api::admin_parked(responder respond) {
  auto dir = dir_;
  auto timeout = ctx_->request_timeout();
  spawn_bridge(sys_, ctx_->stats, [=](caf::event_based_actor* self) {
    ask_all<std::vector<parked_order>>(
      self, dir.local_owners(), timeout,
        [=](std::vector<std::vector<parked_order>> parts) {
          auto xs = merge_parked(std::move(parts));
          json orders = json::array();
          int64_t money = 0, stock = 0;
          for (auto& p : xs) {
            orders.push_back(parked_json(p));
            money += p.holds_money ? 1 : 0;
            stock += p.holds_stock ? 1 : 0;
          }
          respond(ok_json(200, {{"parked", orders},
                                {"count", xs.size()},
                                {"holding_money", money},
                                {"holding_stock", stock}}));
        },
        [=](caf::error& e) { respond(error(503, "unavailable", render(self->system(), e))); },
        parked_atom::value);
  });
}

void api::admin_action(const std::string& id, const std::string& action, const http_request& req,
                       responder respond) {
  if (!valid_id(id))
    return respond(error(404, "not_found", "unknown order"));
  // Optional body: {"note": "why"} (recorded with the action).
  std::string note;
  if (!req.body.empty()) {
    auto j = json::parse(req.body, nullptr, false);
    if (j.is_discarded() || !j.is_object())
      return respond(error(400, "malformed_json", "the body must be a JSON object (or empty)"));
    if (auto n = j.find("note"); n != j.end()) {
      if (!n->is_string())
        return respond(error(422, "wrong_type", "field 'note' must be a string"));
      note = n->get<std::string>();
      if (note.size() > 500)
        return respond(error(422, "invalid_field", "field 'note' must have at most 500 characters"));
    }
  }
  auto kind = action == "retry" ? input_kind::admin_retry : input_kind::admin_compensate;
  auto dir = dir_;
  auto timeout = ctx_->request_timeout() * 2;
  auto layout = layout_;
  auto cfg = std::make_shared<const node_config>(ctx_->cfg);
  auto part = directory::order_partition(id, dir.orders.size());
  spawn_bridge(sys_, ctx_->stats, [=](caf::event_based_actor* self) {
    self->request(dir.owner_for(id), timeout, admin_atom::value, id, kind, note)
      .then(
        [=](const input_reply& r) {
          if (r.code != errc::ok)
            return respond(error(status_of(r.code), to_string(r.code), r.message));
          auto resp = ok_json(200, {{"order_id", id},
                                    {"action", action},
                                    {"status", to_string(r.state.status)},
                                    {"saga_step", to_string(r.state.step)}});
          resp.order_id = id;
          respond(resp);
        },
        [=](caf::error& e) {
          respond(partition_failure(self->system(), *cfg, *layout, dir, e,
                                    partition_kind::orders, part));
        });
  });
}

void api::put_inventory(const std::string& sku, const http_request& req, responder respond) {
  auto expected = "Bearer " + ctx_->cfg.security_admin_token;
  if (!signature_equal(req.authorization, expected))
    return respond(error(401, "unauthorized", "admin token required (Authorization: Bearer ...)"));
  if (!valid_id(sku, max_sku_chars))
    return respond(error(422, "invalid_field", "sku must be 1 to 64 printable characters"));
  stock_request sr;
  if (auto e = parse_stock(req.body, sr))
    return respond(error(e.status, e.code, e.message));
  auto on_hand = sr.on_hand, price = sr.price_cents;
  auto worker = dir_.inventory_for(sku);
  auto timeout = ctx_->request_timeout();
  auto layout = layout_;
  auto cfg = std::make_shared<const node_config>(ctx_->cfg);
  auto dir = dir_;
  auto part = dir_.inventory_partition(sku);
  spawn_bridge(sys_, ctx_->stats, [=](caf::event_based_actor* self) {
    self->request(worker, timeout, stock_atom::value, sku, on_hand, price)
      .then(
        [=](const sku_reply& r) {
          if (r.code != errc::ok)
            return respond(error(status_of(r.code), to_string(r.code), r.message));
          respond(ok_json(200, to_json(r.record)));
        },
        [=](caf::error& e) {
          respond(partition_failure(self->system(), *cfg, *layout, dir, e,
                                    partition_kind::inventory, part));
        });
  });
}

void api::get_inventory(const std::string& sku, responder respond) {
  auto worker = dir_.inventory_for(sku);
  auto timeout = ctx_->request_timeout();
  auto layout = layout_;
  auto cfg = std::make_shared<const node_config>(ctx_->cfg);
  auto dir = dir_;
  auto part = dir_.inventory_partition(sku);
  spawn_bridge(sys_, ctx_->stats, [=](caf::event_based_actor* self) {
    self->request(worker, timeout, get_atom::value, sku)
      .then(
        [=](const sku_reply& r) {
          if (r.code != errc::ok)
            return respond(error(status_of(r.code), to_string(r.code), r.message));
          respond(ok_json(200, to_json(r.record)));
        },
        [=](caf::error& e) {
          respond(partition_failure(self->system(), *cfg, *layout, dir, e,
                                    partition_kind::inventory, part));
        });
  });
}

} // namespace saga
