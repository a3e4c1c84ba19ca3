#include "runtime/runtime.hpp"

// The wiring of one node: every actor spawned and handed its directory, and the writer's
// watchdog. Loading the store is runtime/load.cpp; converting older data, migrate.cpp.

#include <algorithm>
#include <future>
#include <unordered_set>

#include "actors/cluster/cluster.hpp"
#include "actors/plumbing/component_supervisor.hpp"
#include "actors/inspect/introspection.hpp"
#include "actors/plumbing/retention.hpp"
#include "actors/inventory/inventory_worker.hpp"
#include "actors/order/order_store.hpp"
#include "actors/order/order_supervisor.hpp"
#include "actors/payment/payment_worker.hpp"
#include "actors/plumbing/writer.hpp"
#include "actors/inventory/inventory_codec.hpp"
#include "actors/order/order_codec.hpp"
#include "actors/payment/payment_codec.hpp"
#include "actors/sink/event_envelope.hpp"
#include "runtime/invariant.hpp"
#include "storage/keys.hpp"

namespace saga {

namespace {

/// Watches the writer: if it ever dies abnormally nothing can become durable any more,
/// so the node stops (a restart recovers from the store) instead of failing every step.
struct writer_watchdog_state {
  static inline const char* name = "writer_watchdog";
};

caf::behavior writer_watchdog(caf::stateful_actor<writer_watchdog_state>* self, context_ptr ctx,
                              caf::actor writer) {
  self->monitor(writer);
  self->set_down_handler([self, ctx](caf::down_msg& dm) {
    if (dm.reason != caf::exit_reason::normal && dm.reason != caf::exit_reason::user_shutdown)
      ctx->halt("the writer died (" + self->system().render(dm.reason) + ")");
    self->quit();
  });
  return {[](tick_atom) {}};
}

} // namespace

caf::actor spawn_payment_partition(caf::actor_system& sys, const context_ptr& ctx,
                                   caf::actor writer, std::vector<caf::actor> owners, size_t p,
                                   due_list due, std::string key) {
  auto n_orders = static_cast<size_t>(ctx->cfg.saga_partitions);
  auto n_pay = payment_partitions(ctx->cfg);
  auto first = std::make_shared<due_list>(std::move(due));
  component_factory make = [ctx, writer, owners, p, n_pay, n_orders,
                            first](caf::actor_system& s, uint64_t restarts) {
    due_list due;
    if (restarts == 0)
      due = std::move(*first);
    else
      (void)load_payment_partition(*ctx->db, n_orders, n_pay, p, due);
    return s.spawn(payment_worker, ctx, writer, owners, p, payment_book{}, std::move(due));
  };
  return spawn_supervised(sys, ctx, "payment_worker", std::move(key), make, writer);
}

runtime_handles spawn_runtime(caf::actor_system& sys, context_ptr ctx, loaded_state state,
                              uint64_t seed, std::vector<caf::actor> committers) {
  runtime_handles h;
  for (size_t i = 0; i < state.by_status.size(); ++i) {
    ctx->stats->orders_by_status[i] = state.by_status[i];
    ctx->stats->order_status_names[i] = to_string(static_cast<order_status>(i));
  }
  static_assert(storage::family_count == metrics::storage_families);
  for (int i = 0; i < storage::family_count; ++i)
    ctx->stats->storage_family_names[i] = storage::family_name(static_cast<storage::family>(i));
  ctx->db->count_reads(ctx->stats->storage_reads.data()); // reads from here on: the actors'
  // The outbox backlog is known before the relay's first round: readiness and the
  // metrics never report an empty outbox that is not.
  uint64_t first = ctx->db->outbox_next_seq();
  (void)ctx->db->scan_from(storage::family::outbox, {}, [&](std::string_view k, std::string_view) {
    first = storage::from_be64(k);
    return false;
  });
  ctx->stats->outbox_depth = static_cast<int64_t>(ctx->db->outbox_next_seq() - first);
  h.dir.writer = spawn_writer(sys, ctx, std::move(committers));
  sys.spawn(writer_watchdog, ctx, h.dir.writer); // ends with the writer
  {
    int64_t keys = 0;
    (void)ctx->db->scan(storage::family::meta, "idem_t/", [&](std::string_view, std::string_view) {
      ++keys;
      return true;
    });
    ctx->stats->idempotency_keys = keys;
  }
  {
    auto writer = h.dir.writer;
    component_factory make = [ctx, writer](caf::actor_system& s, uint64_t) {
      return s.spawn(retention_sweeper, context_ptr{ctx}, writer);
    };
    h.sweeper = spawn_supervised(sys, ctx, "retention_sweeper", "0", make, writer);
  }
  auto n_orders = static_cast<size_t>(ctx->cfg.saga_partitions);
  // Cluster: which node owns each partition (the same map on every node). A partition of
  // another node gets a local forwarder in its slot instead of actors.
  auto layout = cluster_layout::from(ctx->cfg);
  auto self_index = layout.index_of(ctx->cfg.node_id);
  bool clustered = layout.nodes.size() > 1;
  for (size_t i = 0; i < layout.nodes.size(); ++i)
    if (clustered && i != self_index) {
      h.peers.push_back(peer_handles{layout.nodes[i]});
      if (ctx->stats->peer(layout.nodes[i].id) == nullptr) { // before any actor reads it
        ctx->stats->peers.push_back(std::make_unique<metrics::peer_stats>());
        ctx->stats->peers.back()->id = layout.nodes[i].id;
      }
    }
  auto peer_of = [&](partition_kind kind, size_t p) -> peer_handles* {
    if (!clustered)
      return nullptr;
    auto owner = layout.owner(kind, p);
    if (owner == self_index)
      return nullptr;
    for (auto& x : h.peers)
      if (x.member.id == layout.nodes[owner].id)
        return &x;
    return nullptr;
  };
  auto forward_to = [&](peer_handles& peer, const std::string& slot) {
    return sys.spawn(forwarder, peer.member.id, slot, ctx->stats->peer(peer.member.id));
  };
  // A slot of another node's partition: a local forwarder (the ownership actor routes it).
  auto forward_slot = [&](peer_handles& peer, const std::string& kind, size_t p,
                          std::vector<caf::actor>& slots, std::vector<uint8_t>* remote) {
    auto f = forward_to(peer, kind + "/" + std::to_string(p));
    slots.push_back(f);
    if (remote != nullptr)
      (*remote)[p] = 1;
  };
  // This node's own partition: its actor, kept in `h.home`; the directory holds it directly,
  // or, with replication = kafka (where partitions move), a forwarder routed to it, which the
  // ownership actor can route elsewhere. The route is the forwarder's first message: sent
  // before its handle is given to anyone.
  bool movable = clustered && ctx->cfg.cluster_replication == "kafka";
  auto home_slot = [&](const std::string& kind, size_t p, const caf::actor& a,
                       std::vector<caf::actor>& home, std::vector<caf::actor>& slots) {
    home.resize(std::max(home.size(), p + 1));
    home[p] = a;
    if (!movable) {
      slots.push_back(a);
      return;
    }
    auto f = sys.spawn(forwarder, ctx->cfg.node_id, kind + "/" + std::to_string(p),
                       static_cast<metrics::peer_stats*>(nullptr));
    caf::anon_send(f, route_atom::value, a);
    slots.push_back(f);
  };
  if (clustered) {
    h.dir.orders_remote.assign(n_orders, 0);
    h.dir.inventory_remote.assign(state.inventory.size(), 0);
  }
  for (size_t p = 0; p < n_orders; ++p) {
    if (auto* peer = peer_of(partition_kind::orders, p)) {
      forward_slot(*peer, "orders", p, h.dir.orders, &h.dir.orders_remote);
      continue;
    }
    home_slot("orders", p, sys.spawn(order_supervisor, ctx, seed, p), h.home.orders,
              h.dir.orders);
  }
  // Partitions are supervised (actors/plumbing/component_supervisor.hpp): the directory holds the
  // supervisor, which restarts a crashed worker from the partition's durable state.
  auto n_inv = state.inventory.size();
  for (size_t p = 0; p < n_inv; ++p) {
    if (auto* peer = peer_of(partition_kind::inventory, p)) {
      forward_slot(*peer, "inventory", p, h.dir.inventory,
                   &h.dir.inventory_remote);
      continue;
    }
    auto first = std::make_shared<std::pair<inventory_book, due_list>>(
      std::move(state.inventory[p]), std::move(state.inventory_due[p]));
    auto writer = h.dir.writer;
    component_factory make = [ctx, writer, p, n_inv, first](caf::actor_system& s,
                                                             uint64_t restarts) {
      if (restarts == 0)
        return s.spawn(inventory_worker, ctx, writer, p, std::move(first->first),
                       std::move(first->second));
      due_list due;
      auto book = load_inventory_partition(*ctx->db, n_inv, p, *ctx->log, due);
      return s.spawn(inventory_worker, ctx, writer, p, std::move(book), std::move(due));
    };
    home_slot("inventory", p,
              spawn_supervised(sys, ctx, "inventory_worker", std::to_string(p), make, h.dir.writer),
              h.home.inventory, h.dir.inventory);
  }
  // Payments: on one node `payment.workers` workers, each serving the order partitions
  // `p mod payment.workers`; in a cluster one worker per order partition this node holds,
  // so an order's payment lives with the order, on its owner node, and moves with it.
  auto n_pay = state.payment.size();
  std::vector<size_t> payment_keys; // the partition each of dir.payment serves
  SAGA_INVARIANT(n_pay == payment_partitions(ctx->cfg),
                 "the load split the payments as the runtime serves them");
  for (size_t p = 0; p < n_pay; ++p) {
    if (auto* peer = peer_of(partition_kind::orders, p)) { // a cluster: n_pay == n_orders
      forward_slot(*peer, "payment", p, h.dir.payment_by_order, nullptr);
      continue;
    }
    auto w = spawn_payment_partition(sys, ctx, h.dir.writer, h.dir.orders, p,
                                     std::move(state.payment_due[p]), std::to_string(p));
    h.dir.payment.push_back(w);
    payment_keys.push_back(p);
    if (clustered)
      home_slot("payment", p, w, h.home.payment, h.dir.payment_by_order);
  }
  // The workers that run here (in a cluster, this node's own partitions' only).
  ctx->stats->payment_workers = static_cast<int64_t>(h.dir.payment.size());
  ctx->stats->inventory_workers = static_cast<int64_t>(
    std::count_if(h.home.inventory.begin(), h.home.inventory.end(),
                  [](const caf::actor& a) { return static_cast<bool>(a); }));
  // The registry of long-lived actors (introspection); orders are the supervisor's.
  // Supervised like the partitions: a restarted inspector is given the registrations again.
  h.dir.inspector = spawn_supervised(
    sys, ctx, "inspector", "0",
    [ctx](caf::actor_system& s, uint64_t) { return s.spawn(inspector, context_ptr{ctx}); });
  auto reg = [&](const char* kind, size_t key, const caf::actor& a) {
    caf::anon_send(h.dir.inspector, register_atom::value, std::string(kind), std::to_string(key), a);
  };
  for (size_t p = 0; p < h.home.orders.size(); ++p)
    if (h.home.orders[p])
      reg("order_supervisor", p, h.home.orders[p]);
  reg("writer", 0, h.dir.writer);
  reg("retention_sweeper", 0, h.sweeper);
  for (size_t p = 0; p < h.home.inventory.size(); ++p)
    if (h.home.inventory[p])
      reg("inventory_worker", p, h.home.inventory[p]);
  for (size_t i = 0; i < h.dir.payment.size(); ++i)
    reg("payment_worker", payment_keys[i], h.dir.payment[i]);
  h.resume = std::move(state.resume);
  h.passive = std::move(state.passive);
  return h;
}

void stop_runtime(const directory& dir) {
  for (auto& a : dir.orders)
    caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
  for (auto& a : dir.inventory)
    caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
  for (auto& a : dir.payment)
    caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
  for (auto& a : dir.payment_by_order) // forwarders, or workers also in `payment`
    caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(dir.writer, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(dir.inspector, caf::exit_reason::user_shutdown);
}


void stop_runtime(const runtime_handles& h) {
  caf::anon_send_exit(h.sweeper, caf::exit_reason::user_shutdown);
  // Behind forwarders (replication = kafka), this node's own partitions' actors are not in
  // the directory: stopped first, as the directory's are, before the writer (stop_runtime
  // of the directory); the others get a second exit, which is harmless.
  for (auto* xs : {&h.home.orders, &h.home.inventory, &h.home.payment})
    for (auto& a : *xs)
      if (a)
        caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
  stop_runtime(h.dir);
}

} // namespace saga
