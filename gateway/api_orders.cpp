#include "gateway/api.hpp"

// The order routes: POST /orders, GET /orders/{id} (with its long-poll),
// POST /payment/verify and POST /order/complete.

#include <memory>
#include <nlohmann/json.hpp>

#include "actors/cluster/cluster.hpp"
#include "actors/order/order_store.hpp"
#include "actors/plumbing/partitions.hpp"
#include "actors/payment/payment_book.hpp"
#include "gateway/api_util.hpp"
#include "gateway/requests.hpp"
#include "gateway/slot_request.hpp"
#include "actors/cluster/cluster_layout.hpp"

using nlohmann::json;
using namespace saga::gateway_detail;

namespace saga {

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
  auto* resends = &ctx_->stats->gateway_resends;
  spawn_bridge(sys_, ctx_->stats, [dir, owner, owner_p, timeout, parsed, key, digest, skus_by_partition,
                      layout, cfg, resends, respond](caf::event_based_actor* self) mutable {
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
      request_slot(self, dir.inventory[p],
                   slot_forwards(*cfg, dir, dir.inventory_partition_remote(p)), timeout, resends,
                   prices_atom::value, skus)
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
            request_slot(self, owner,
                         slot_forwards(*cfg, dir, dir.order_partition_remote(owner_p)), timeout,
                         resends, create_atom::value, parsed.customer_id, parsed.items, key,
                         digest)
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
  // The order's record is on its owner node: read by a reader here, or asked of the owner
  // (any node answers for any order).
  // Another node's order is read there, through our link to it (its entry actor reads).
  // Whoever holds the partition now answers: the ownership actor hands the read on.
  caf::actor link;
  if (dir.order_partition_remote(part))
    link = ownership;
  auto fetch = [ctx, id, link, timeout](caf::event_based_actor* self, auto then, auto fail) {
    // A local order is read by a reader actor of its own (actors/order/order_store.hpp).
    auto from = link ? link : self->spawn(order_reader, ctx);
    self->request(from, timeout, get_atom::value, id)
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
    auto* resends = &ctx_->stats->gateway_resends;
    bool forwards = slot_forwards(ctx_->cfg, dir, dir.order_partition_remote(part));
    spawn_bridge(sys_, ctx_->stats, [fetch, fail, dir, wait_for, id, st, timeout_ms, resends,
                                     forwards, respond](caf::event_based_actor* self) {
      auto failed = [self, fail](caf::error& e) { fail(self, e); };
      fetch(
        self,
        [=](const order_view& v) {
          if (v.code != errc::ok || v.state.status == st || is_terminal(v.state.step)
              || timeout_ms == 0)
            return respond_with_view(v, respond);
          request_slot(self, dir.owner_for(id), forwards, wait_for, resends, wait_atom::value, id,
                       st, timeout_ms)
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
                       int64_t started_at_ms, const std::vector<peer_status>& peers,
                       const ownership_view* owners) {
  // The layout as every node computes it from cluster.conf (actors/cluster/cluster_layout.hpp),
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
    if (cfg.cluster_replication == "kafka" && cfg.cluster_standby_replicas > 0) {
      // The partitions it keeps a standby replica of (the layout's choice): it takes them
      // over first when their owner is down (actors/replication/standby.hpp).
      auto standby_of = [&](partition_kind k) {
        std::vector<size_t> out;
        for (size_t p = 0; p < layout.partitions(k); ++p)
          for (auto x : layout.standbys(k, p, static_cast<size_t>(cfg.cluster_standby_replicas)))
            if (x == i)
              out.push_back(p);
        return out;
      };
      n["standby_of"] = {{"orders", standby_of(partition_kind::orders)},
                         {"inventory", standby_of(partition_kind::inventory)}};
    }
    if (owners != nullptr) { // what it holds now, as this node last heard (failover moves them)
      auto held = [&](const std::vector<std::string>& xs) {
        std::vector<size_t> out;
        for (size_t p = 0; p < xs.size(); ++p)
          if (xs[p] == m.id)
            out.push_back(p);
        return out;
      };
      n["holds"] = {{"orders", held(owners->orders)}, {"inventory", held(owners->inventory)}};
    }
    nodes.push_back(std::move(n));
  }
  json out = {{"self", cfg.node_id},
          {"layout_digest", layout.digest()},
          {"replication", cfg.cluster_replication},
          {"name", cfg.cluster_name},
          {"partitions",
           {{"orders", layout.order_partitions}, {"inventory", layout.sku_partitions}}},
          {"nodes", nodes}};
  if (owners != nullptr) {
    auto names = [](const std::vector<std::string>& xs) {
      json a = json::array();
      for (auto& x : xs)
        a.push_back(x.empty() ? json(nullptr) : json(x));
      return a;
    };
    out["holders"] = {{"orders", names(owners->orders)}, {"inventory", names(owners->inventory)}};
    out["failover"] = {{"after_ms", cfg.cluster_failover_after_ms},
                       {"takeovers", owners->takeovers},
                       {"releases", owners->releases}};
    // This node's standby replicas: how far each is behind its changelog's end.
    json standbys = json::array();
    auto n_orders = static_cast<int32_t>(layout.order_partitions);
    for (auto& x : owners->standbys) {
      bool orders = x.log_partition < n_orders;
      standbys.push_back({{"kind", orders ? "orders" : "inventory"},
                          {"partition", orders ? x.log_partition : x.log_partition - n_orders},
                          {"applied_offset", x.applied},
                          {"lag", x.lag < 0 ? json(nullptr) : json(x.lag)},
                          {"held_here", x.paused}});
    }
    out["standbys"] = standbys;
    if (cfg.cluster_replication == "kafka") {
      // Who claimed each partition last in the owners topic (owners_reader.hpp).
      json claims = json::array();
      for (auto& c : owners->claims) {
        bool orders = c.log_partition < n_orders;
        claims.push_back({{"kind", orders ? "orders" : "inventory"},
                          {"partition", orders ? c.log_partition : c.log_partition - n_orders},
                          {"node", c.node_id},
                          {"http", c.http},
                          {"caf", c.caf},
                          {"offset", c.offset},
                          {"at_ms", c.at_ms},
                          {"incarnation", c.incarnation}});
      }
      out["claims"] = claims;
    }
  }
  return out;
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
  auto* resends = &ctx_->stats->gateway_resends;
  bool forwards = slot_forwards(*cfg, dir, dir.order_partition_remote(part));
  spawn_bridge(sys_, ctx_->stats, [=](caf::event_based_actor* self) {
    request_slot(self, dir.payment_for(order_id), forwards, timeout, resends, verify_atom::value,
                 order_id, payment_id, status, signature)
      .then(
        [=](const payment_reply& r) {
          if (r.code != errc::ok)
            return respond(error(status_of(r.code), to_string(r.code), r.message));
          json body = {{"order_id", order_id},
                       {"payment_id", payment_id},
                       {"payment_status", to_string(r.intent.status)}};
          if (r.intent.status == payment_status::refunded)
            body["message"] = r.message; // a late capture: refunded, and why
          if (r.intent.status != payment_status::succeeded) {
            auto resp = ok_json(200, body);
            resp.order_id = order_id;
            return respond(resp);
          }
          // As in the seed's diagram, a succeeded payment completes the order.
          request_slot(self, dir.owner_for(order_id), forwards, timeout, resends,
                       input_atom::value, order_id,
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
  auto* resends = &ctx_->stats->gateway_resends;
  bool forwards = slot_forwards(*cfg, dir, dir.order_partition_remote(part));
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
      request_slot(self, dir.owner_for(order_id), forwards, timeout, resends, input_atom::value,
                   order_id, saga_input{input_kind::complete_requested, 0, {}})
        .then(on_reply, on_error);
    };
    auto fail = [=](caf::error& e) {
      respond(partition_failure(self->system(), *cfg, *layout, dir, e, partition_kind::orders,
                                part));
    };
    send([=](caf::error& e) {
      // The order's actor ended just as the request reached it (its saga had finished):
      // asked once more, its owner answers from the record. (Through a forwarder the
      // request was asked again already, gateway/slot_request.hpp.)
      if (e == caf::sec::request_receiver_down && !forwards)
        return send(fail);
      fail(e);
    });
  });
}

} // namespace saga
