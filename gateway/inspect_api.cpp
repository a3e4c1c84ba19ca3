// GET /inspect/... : the introspection API behind the console and `sagactl`
// (see actors/inspect/introspection.hpp for where the figures come from).

#include <set>

#include "actors/plumbing/partitions.hpp"
#include "actors/inspect/timeline.hpp"
#include "gateway/api.hpp"
#include "gateway/api_util.hpp"
#include "gateway/requests.hpp"
#include "actors/payment/payment_book.hpp"

using nlohmann::json;
using namespace saga::gateway_detail;

namespace saga {

namespace {

constexpr uint64_t max_page = 1000;
constexpr uint64_t default_page = 100;

const std::set<std::string>& actor_kinds() {
  static const std::set<std::string> xs = {"order",          "order_supervisor", "inventory_worker",
                                           "payment_worker", "writer",           "relay",
                                           "inspector",      "retention_sweeper"};
  return xs;
}

json to_json(const actor_info& x, int64_t now_ms) {
  json j = {{"kind", x.kind},
            {"key", x.key},
            {"node", x.node},
            {"state", x.state},
            {"actor_id", x.actor_id},
            {"mailbox", x.mailbox},
            {"processed", x.processed},
            {"restarts", x.restarts},
            {"state_since", x.state_since_ms},
            {"time_in_state_ms", x.state_since_ms > 0 ? now_ms - x.state_since_ms : 0},
            {"spawned_at", x.spawned_at_ms}};
  if (x.kind == "order") {
    j["budget_ms"] = x.budget_ms;
    j["stuck"] = x.stuck;
    j["passive"] = x.passive;
    j["wake_at"] = x.wake_at_ms;
  }
  return j;
}

json summary_json(const runtime_context& ctx, const inspect_summary& s) {
  auto now = ctx.now_ms();
  auto& m = *ctx.stats;
  json by_kind = json::object();
  json by_state = json::object();
  json actors = json::array();
  json pools = {{"inventory", json::array()}, {"payment", json::array()}, {"orders", json::array()}};
  for (auto& a : s.actors) {
    by_kind[a.kind] = by_kind.value(a.kind, 0) + 1;
    auto& states = by_state[a.kind];
    if (!states.is_object())
      states = json::object();
    states[a.state] = states.value(a.state, 0) + 1;
    actors.push_back(to_json(a, now));
    auto pool = a.kind == "inventory_worker" ? "inventory"
                : a.kind == "payment_worker"   ? "payment"
                : a.kind == "order_supervisor" ? "orders" // one owner per order partition
                                               : nullptr;
    if (pool != nullptr)
      pools[pool].push_back(
        {{"partition", a.key}, {"mailbox", a.mailbox}, {"processed", a.processed}, {"state", a.state}});
  }
  auto& o = s.orders;
  by_kind["order"] = o.live;
  by_kind["gateway_bridge"] = m.live_bridges.load();
  json steps = json::object();
  for (size_t i = 0; i < o.by_step.size(); ++i)
    if (o.by_step[i] > 0)
      steps[to_string(static_cast<saga_step>(i))] = o.by_step[i];
  by_state["order"] = steps;
  json statuses = json::object();
  for (size_t i = 0; i < m.orders_by_status.size(); ++i)
    statuses[to_string(static_cast<order_status>(i))] = m.orders_by_status[i].load();
  json stuck = json::array();
  for (auto& a : o.stuck_oldest)
    stuck.push_back(to_json(a, now));
  json parked = json::array();
  for (auto& p : o.parked_orders)
    parked.push_back({{"order_id", p.order_id},
                      {"reason", p.reason},
                      {"saga_step", to_string(p.step)},
                      {"holds_money", p.holds_money},
                      {"holds_stock", p.holds_stock}});
  auto oldest = m.outbox_oldest_ts_ms.load();
  return {{"node", ctx.cfg.node_id},
          {"now", now},
          {"inspection_enabled", ctx.cfg.inspect_enabled},
          {"actors_by_kind", by_kind},
          {"actors_by_state", by_state},
          {"actors", actors},
          {"pools", pools},
          {"orders",
           {{"live", o.live},
            {"by_status", statuses},
            {"by_step", steps},
            {"stuck", o.stuck},
            {"stuck_oldest", stuck},
            {"restarted", o.restarted},
            {"parked", o.parked},
            {"parked_now", m.parked_now.load()},
            {"parked_orders", parked}}},
          {"outbox",
           {{"depth", m.outbox_depth.load()},
            {"age_ms", oldest == 0 ? 0 : now - oldest},
            {"published", m.kafka_published.load()}}},
          {"restarts", m.order_restarts.load()},
          {"stuck", o.stuck},
          {"gateway", {{"bridges_live", m.live_bridges.load()},
                       {"bridges_spawned", m.bridges_spawned.load()},
                       {"http_inflight", m.http_inflight.load()},
                       {"stream_clients", m.stream_clients.load()}}}};
}

/// Pending timers of an order, derived from its snapshot and events (who holds each).
json timers_json(const runtime_context& ctx, const directory& dir, const order_view& v) {
  auto now = ctx.now_ms();
  auto& s = v.state;
  json out = json::array();
  auto add = [&](const char* name, int64_t deadline, const std::string& owner) {
    out.push_back({{"timer", name}, {"deadline", deadline}, {"in_ms", deadline - now}, {"owner", owner}});
  };
  auto payment_owner = "payment_worker/" + std::to_string(dir.payment_key(s.order_id));
  if ((s.step == saga_step::initiating_payment || s.step == saga_step::awaiting_payment)
      && s.payment_expires_at_ms > 0)
    add("payment_expiry", s.payment_expires_at_ms, payment_owner);
  if (s.step == saga_step::awaiting_completion && s.complete_deadline_ms > 0)
    add("auto_complete", s.complete_deadline_ms, "order");
  // The reservation's TTL runs from INVENTORY_RESERVED until it is committed or released.
  bool held = false;
  int64_t reserved_at = 0;
  for (auto& e : v.events) {
    if (e.type == event_type::inventory_reserved) {
      held = true;
      reserved_at = e.ts_ms;
    } else if (e.type == event_type::inventory_committed || e.type == event_type::inventory_released) {
      held = false;
    }
  }
  if (held && !is_terminal(s.step)) {
    std::set<size_t> parts;
    for (auto& i : s.items)
      parts.insert(dir.inventory_partition(i.sku));
    std::string owners;
    for (auto p : parts)
      owners += (owners.empty() ? "" : ",") + ("inventory_worker/" + std::to_string(p));
    add("reservation_ttl", reserved_at + ctx.cfg.inventory_reservation_ttl_ms, owners);
  }
  return out;
}

json timeline_json(const order_view& v, int64_t now_ms) {
  json out = json::array();
  for (auto& span : step_timeline(v.events)) {
    auto end = span.left_ms != 0 ? span.left_ms : (is_terminal(span.step) ? span.entered_ms : now_ms);
    out.push_back({{"step", to_string(span.step)},
                   {"entered_at", span.entered_ms},
                   {"left_at", span.left_ms == 0 ? json(nullptr) : json(span.left_ms)},
                   {"duration_ms", end - span.entered_ms}});
  }
  return out;
}

/// Parses `limit`: 1..max_page, default_page when absent. Returns false on a bad value.
bool parse_limit(const std::string& text, uint64_t& out) {
  if (text.empty()) {
    out = default_page;
    return true;
  }
  if (text.size() > 6 || text.find_first_not_of("0123456789") != std::string::npos)
    return false;
  out = std::stoull(text);
  return out >= 1 && out <= max_page;
}

/// Feeds one /inspect/stream client: the summary every inspect.tick_ms, and saga events
/// as the supervisor forwards them (bounded per second; the excess is counted and told).
struct stream_feeder_state {
  std::shared_ptr<event_sink> sink;
  std::string order_filter;
  int64_t window_start_ms = 0;
  int64_t sent_in_window = 0;
  uint64_t dropped = 0;
  static inline const char* name = "stream_feeder";
};

caf::behavior stream_feeder(caf::stateful_actor<stream_feeder_state>* self, context_ptr ctx,
                            directory dir, std::shared_ptr<event_sink> sink, std::string filter) {
  self->state.sink = std::move(sink);
  self->state.order_filter = std::move(filter);
  self->attach_functor([m = ctx->stats] { --m->stream_clients; });
  for (auto& owner : dir.local_owners()) // inspection stays per node
    self->send(owner, subscribe_atom::value, caf::actor_cast<caf::actor>(self));
  self->send(self, tick_atom::value);
  auto emit = [self](const char* event, const json& data) {
    if (!self->state.sink->send(std::string("event: ") + event + "\ndata: " + data.dump() + "\n\n"))
      self->quit();
  };
  return {
    [self, ctx, dir, emit](tick_atom) {
      auto& st = self->state;
      if (st.sink->closed())
        return self->quit();
      if (st.dropped > 0) {
        emit("dropped", {{"saga_events", st.dropped}});
        st.dropped = 0;
      }
      self->request(dir.inspector, ctx->request_timeout(), summary_atom::value)
        .then([ctx, emit](const inspect_summary& s) { emit("summary", summary_json(*ctx, s)); },
              [self](caf::error&) { /* the next tick tries again */ (void) self; });
      self->delayed_send(self, std::chrono::milliseconds(ctx->cfg.inspect_tick_ms),
                         tick_atom::value);
    },
    [self, ctx, emit](changed_atom, const order_progress& p) {
      auto& st = self->state;
      if (st.sink->closed())
        return self->quit();
      if (!st.order_filter.empty() && p.order_id != st.order_filter)
        return;
      auto now = ctx->now_ms();
      if (now - st.window_start_ms >= 1000) {
        st.window_start_ms = now;
        st.sent_in_window = 0;
      }
      if (st.sent_in_window >= ctx->cfg.inspect_stream_max_events_per_s) {
        ++st.dropped;
        return;
      }
      ++st.sent_in_window;
      json events = json::array();
      for (auto& e : p.events)
        events.push_back({{"seq", e.seq}, {"type", to_string(e.type)}, {"ts", e.ts_ms},
                          {"source", e.source}});
      emit("saga", {{"order_id", p.order_id},
                    {"status", to_string(p.status)},
                    {"saga_step", to_string(p.step)},
                    {"terminal", p.terminal},
                    {"at", p.at_ms},
                    {"events", events}});
    },
  };
}

} // namespace

bool api::inspect_allowed(const http_request& req, const std::string& query) const {
  if (ctx_->cfg.inspect_open_on_loopback && is_loopback_address(ctx_->cfg.http_address))
    return true;
  auto expected = ctx_->cfg.security_admin_token;
  return signature_equal(req.authorization, "Bearer " + expected)
         || signature_equal(query_param(query, "token"), expected);
}

void api::inspect_summary(responder respond) {
  auto ctx = ctx_;
  auto dir = dir_;
  spawn_bridge(sys_, ctx_->stats, [ctx, dir, respond](caf::event_based_actor* self) {
    self->request(dir.inspector, ctx->request_timeout(), summary_atom::value)
      .then([=](const saga::inspect_summary& s) { respond(ok_json(200, summary_json(*ctx, s))); },
            [=](caf::error& e) {
              respond(component_unavailable(self->system(), *ctx, "inspector", e));
            });
  });
}

void api::inspect_actors(const std::string& query, responder respond) {
  // Every parameter is checked: an empty or misspelt filter must not list everything.
  if (auto bad = unknown_query_param(query, {"kind", "state", "limit", "cursor", "token"});
      !bad.empty())
    return respond(error(422, "invalid_query", "unknown query parameter '" + bad
                                                 + "' (known: kind, state, limit, cursor)"));
  for (auto key : {"kind", "state", "limit", "cursor"})
    if (has_query_param(query, key) && query_param(query, key).empty())
      return respond(error(422, "invalid_query", std::string(key) + " needs a value"));
  auto kind = query_param(query, "kind");
  auto state = query_param(query, "state");
  auto cursor = query_param(query, "cursor");
  uint64_t limit = 0;
  if (!parse_limit(query_param(query, "limit"), limit))
    return respond(error(422, "invalid_query",
                         "limit must be an integer from 1 to " + std::to_string(max_page)));
  if (!kind.empty() && actor_kinds().count(kind) == 0) {
    std::string all;
    for (auto& k : actor_kinds())
      all += (all.empty() ? "" : ", ") + k;
    return respond(error(422, "invalid_query", "unknown kind '" + kind + "' (one of " + all + ")"));
  }
  if (kind == "order" && !state.empty() && state != "stuck") {
    saga_step step;
    if (!from_string(state, step) || is_terminal(step))
      return respond(error(422, "invalid_query",
                           "state of an order is a live saga step (reserving_inventory, "
                           "initiating_payment, awaiting_payment, awaiting_completion, "
                           "committing_inventory, releasing_inventory, refunding_payment) or stuck"));
  }
  // Cursor: "a:N" continues in the long-lived actors, "o:ID" in the orders (by id).
  uint64_t skip = 0;
  std::string order_cursor;
  bool in_orders = false;
  if (!cursor.empty()) {
    if (cursor.rfind("a:", 0) == 0 && cursor.size() > 2 && cursor.size() < 9
        && cursor.find_first_not_of("0123456789", 2) == std::string::npos) {
      skip = std::stoull(cursor.substr(2));
    } else if (cursor.rfind("o:", 0) == 0 && (cursor.size() == 2 || valid_id(cursor.substr(2)))) {
      order_cursor = cursor.substr(2);
      in_orders = true;
    } else {
      return respond(error(422, "invalid_query", "cursor is not one this API returned"));
    }
  }
  auto ctx = ctx_;
  auto dir = dir_;
  bool want_others = kind != "order" && !in_orders;
  bool want_orders = kind.empty() || kind == "order";
  spawn_bridge(sys_, ctx_->stats, [=](caf::event_based_actor* self) {
    auto out = std::make_shared<json>(json{{"actors", json::array()}, {"next_cursor", nullptr}});
    auto now = ctx->now_ms();
    auto fail = [=](caf::error& e) {
      respond(component_unavailable(self->system(), *ctx, "", e));
    };
    auto orders = [=](uint64_t remaining) {
      if (!want_orders || remaining == 0) {
        if (want_orders && remaining == 0)
          (*out)["next_cursor"] = "o:" + order_cursor;
        return respond(ok_json(200, *out));
      }
      ask_all<order_page>(
        self, dir.local_owners(), ctx->request_timeout(),
        [=](std::vector<order_page> parts) {
            auto page = merge_pages(std::move(parts), remaining);
            for (auto& r : page.rows)
              (*out)["actors"].push_back(to_json(r, now));
            (*out)["scanned"] = page.scanned;
            if (!page.next_cursor.empty())
              (*out)["next_cursor"] = "o:" + page.next_cursor;
            respond(ok_json(200, *out));
          },
          fail, list_atom::value, state, order_cursor, remaining);
    };
    if (!want_others)
      return orders(limit);
    self->request(dir.inspector, ctx->request_timeout(), list_atom::value)
      .then(
        [=](const std::vector<actor_info>& all) {
          std::vector<const actor_info*> match;
          for (auto& a : all)
            if ((kind.empty() || a.kind == kind) && (state.empty() || a.state == state))
              match.push_back(&a);
          uint64_t taken = 0;
          for (uint64_t i = skip; i < match.size() && taken < limit; ++i, ++taken)
            (*out)["actors"].push_back(to_json(*match[i], now));
          if (skip + taken < match.size()) {
            (*out)["next_cursor"] = "a:" + std::to_string(skip + taken);
            return respond(ok_json(200, *out));
          }
          orders(limit - taken);
        },
        fail);
  });
}

void api::inspect_order(const std::string& id, responder respond) {
  if (!valid_id(id))
    return respond(error(404, "not_found", "unknown order"));
  auto ctx = ctx_;
  auto dir = dir_;
  spawn_bridge(sys_, ctx_->stats, [=](caf::event_based_actor* self) {
    auto fail = [=](caf::error& e) {
      respond(component_unavailable(self->system(), *ctx, "", e));
    };
    self->request(dir.owner_for(id), ctx->request_timeout(), inspect_atom::value, id)
      .then(
        [=](const order_inspection& oi) {
          if (oi.view.code != errc::ok)
            return respond(api::error(status_of(oi.view.code), to_string(oi.view.code), oi.view.message));
          self->request(dir.inspector, ctx->request_timeout(), list_atom::value)
            .then(
              [=](const std::vector<actor_info>& all) {
                auto now = ctx->now_ms();
                auto& s = oi.view.state;
                std::set<std::string> parts;
                for (auto& i : s.items)
                  parts.insert(std::to_string(dir.inventory_partition(i.sku)));
                auto pay = std::to_string(dir.payment_key(s.order_id));
                auto owner = std::to_string(directory::order_partition(s.order_id,
                                                                       dir.orders.size()));
                json involved = json::array();
                if (oi.live)
                  involved.push_back(to_json(oi.actor, now));
                for (auto& a : all) {
                  bool in = (a.kind == "order_supervisor" && a.key == owner) || a.kind == "writer"
                            || a.kind == "relay"
                            || (a.kind == "inventory_worker" && parts.count(a.key) != 0)
                            || (a.kind == "payment_worker" && a.key == pay);
                  if (in)
                    involved.push_back(to_json(a, now));
                }
                auto budget = step_budget_ms(ctx->cfg, s.step);
                json j = {{"order", gateway_detail::to_json(oi.view)},
                          {"live", oi.live},
                          {"passive", oi.live && oi.actor.passive},
                          {"saga_step", to_string(s.step)},
                          {"budget_ms", budget},
                          {"stuck", oi.live && oi.actor.stuck},
                          {"timeline", timeline_json(oi.view, now)},
                          {"timers", timers_json(*ctx, dir, oi.view)},
                          {"actors", involved},
                          {"now", now}};
                auto r = ok_json(200, j);
                r.order_id = s.order_id;
                respond(r);
              },
              fail);
        },
        fail);
  });
}

void api::inspect_stream(const std::string& query, responder respond) {
  if (auto bad = unknown_query_param(query, {"order", "token"}); !bad.empty())
    return respond(error(422, "invalid_query",
                         "unknown query parameter '" + bad + "' (known: order)"));
  auto filter = query_param(query, "order");
  if (has_query_param(query, "order") && !valid_id(filter))
    return respond(error(422, "invalid_query", "order must be an order id"));
  // Take a slot now (the feeder actor gives it back when it ends), so that concurrent
  // requests never overshoot the bound.
  auto& clients = ctx_->stats->stream_clients;
  auto open = clients.load();
  do {
    if (open >= ctx_->cfg.inspect_max_stream_clients)
      break;
  } while (!clients.compare_exchange_weak(open, open + 1));
  if (open >= ctx_->cfg.inspect_max_stream_clients) {
    auto r = error(429, "too_many_streams",
                   "inspect.max_stream_clients event streams are open; retry later");
    r.headers["Retry-After"] = "5";
    return respond(r);
  }
  http_response r;
  r.headers["Content-Type"] = "text/event-stream";
  auto& sys = sys_;
  auto ctx = ctx_;
  auto dir = dir_;
  r.stream = [&sys, ctx, dir, filter](std::shared_ptr<event_sink> sink) {
    sys.spawn(stream_feeder, ctx, dir, std::move(sink), filter);
  };
  respond(r);
}

} // namespace saga
