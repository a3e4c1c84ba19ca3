#pragma once
// Every message type of the runtime, in one place: atoms, requests and replies. Each is a
// registered CAF type with `inspect`, so any of them can cross nodes (cluster issue).

#include <caf/all.hpp>

#include "actors/inventory/inventory_book.hpp"
#include "actors/payment/payment_book.hpp"
#include "actors/order/saga.hpp"
#include "runtime/config.hpp"
#include "storage/batch.hpp"

namespace saga {

// ---- atoms (CAF 0.17: at most 10 characters) ----
using reserve_atom = caf::atom_constant<caf::atom("reserve")>;
using commit_atom = caf::atom_constant<caf::atom("commit")>;
using release_atom = caf::atom_constant<caf::atom("release")>;
using expire_atom = caf::atom_constant<caf::atom("expire")>;
using intent_atom = caf::atom_constant<caf::atom("intent")>;
using verify_atom = caf::atom_constant<caf::atom("verify")>;
using refund_atom = caf::atom_constant<caf::atom("refund")>;
using cancel_atom = caf::atom_constant<caf::atom("cancel")>;
using stock_atom = caf::atom_constant<caf::atom("stock")>;
using prices_atom = caf::atom_constant<caf::atom("prices")>;
using write_atom = caf::atom_constant<caf::atom("write")>;
using flush_atom = caf::atom_constant<caf::atom("flush")>;
using input_atom = caf::atom_constant<caf::atom("input")>;
using create_atom = caf::atom_constant<caf::atom("create")>;
using get_atom = caf::atom_constant<caf::atom("get")>;
using crash_atom = caf::atom_constant<caf::atom("crash")>;
using timer_atom = caf::atom_constant<caf::atom("timer")>;
using payment_update_atom = caf::atom_constant<caf::atom("payupdate")>;
// A late capture the payment worker refunded: its order records it before the verification
// is answered (payment worker -> order owner, answered with an input_reply)
using late_refund_atom = caf::atom_constant<caf::atom("laterefund")>;
using start_atom = caf::atom_constant<caf::atom("start")>;
using retry_atom = caf::atom_constant<caf::atom("retry")>;
using stats_atom = caf::atom_constant<caf::atom("stats")>;
using wait_atom = caf::atom_constant<caf::atom("wait")>;
using changed_atom = caf::atom_constant<caf::atom("changed")>;
using wait_timeout_atom = caf::atom_constant<caf::atom("waittmo")>;
// introspection (actors/inspect/introspection.hpp)
using inspect_atom = caf::atom_constant<caf::atom("inspect")>;
using register_atom = caf::atom_constant<caf::atom("register")>;
using summary_atom = caf::atom_constant<caf::atom("summary")>;
using list_atom = caf::atom_constant<caf::atom("list")>;
using subscribe_atom = caf::atom_constant<caf::atom("subscribe")>;
using tick_atom = caf::atom_constant<caf::atom("tick")>;
using admin_atom = caf::atom_constant<caf::atom("admin")>;
using parked_atom = caf::atom_constant<caf::atom("parked")>;
using hold_atom = caf::atom_constant<caf::atom("hold")>; // tests: the writer holds commits
// passivation: order -> owner "idle", owner -> order "passivate", order -> owner "busy"
using idle_atom = caf::atom_constant<caf::atom("idle")>;
using passivate_atom = caf::atom_constant<caf::atom("passivate")>;
using busy_atom = caf::atom_constant<caf::atom("busy")>;
// An order's command found a partition nobody serves: it waits passive (order_supervisor.hpp)
using unserved_atom = caf::atom_constant<caf::atom("unserved")>;
// That partition is served again: its waiting orders are re-activated (ownership.hpp)
using served_atom = caf::atom_constant<caf::atom("served")>;
using recover_atom = caf::atom_constant<caf::atom("recover")>;
// cluster (actors/cluster/cluster.hpp): handshake, forwarder re-routing, link status
using hello_atom = caf::atom_constant<caf::atom("hello")>;
using protocol_atom = caf::atom_constant<caf::atom("protocol")>; // before the hello (cluster.hpp)
using route_atom = caf::atom_constant<caf::atom("route")>;
// A request that reached an ended actor, sent again through its partition's forwarder
using again_atom = caf::atom_constant<caf::atom("again")>;
using peers_atom = caf::atom_constant<caf::atom("peers")>;
using probe_atom = caf::atom_constant<caf::atom("probe")>;
using changelog_atom = caf::atom_constant<caf::atom("changelog")>; // replication: commit a partition's records
// partition ownership (actors/cluster/ownership.hpp)
using member_up_atom = caf::atom_constant<caf::atom("memberup")>;
using member_down_atom = caf::atom_constant<caf::atom("memberdown")>;
using owns_atom = caf::atom_constant<caf::atom("owns")>;
using lost_atom = caf::atom_constant<caf::atom("lost")>;
using committer_atom = caf::atom_constant<caf::atom("committer")>;
using owners_atom = caf::atom_constant<caf::atom("owners")>;
using welcome_atom = caf::atom_constant<caf::atom("welcome")>;
using leaving_atom = caf::atom_constant<caf::atom("leaving")>;
using starting_atom = caf::atom_constant<caf::atom("starting")>;
using standby_atom = caf::atom_constant<caf::atom("standby")>; // standby replicas (replication)
using catch_up_atom = caf::atom_constant<caf::atom("catchup")>; // a takeover reads to the end
using claim_atom = caf::atom_constant<caf::atom("claim")>; // a committed claim (owners_reader.hpp)

// ---- errors as values ----
enum class errc : uint8_t {
  ok,
  invalid,         // 422: the request is well-formed but not acceptable
  not_found,       // 404
  conflict,        // 409: contradicts what already happened
  bad_signature,   // 401
  unavailable,     // 503: parked, shutting down, storage failed
};
const char* to_string(errc x);

/// Reply of inventory operations.
struct op_reply {
  bool ok = false;
  std::string reason;
};

struct sku_reply {
  errc code = errc::ok;
  std::string message;
  sku_record record;
};

struct prices_reply {
  errc code = errc::ok;
  std::string message;
  std::vector<int64_t> prices_cents; // in the order of the asked SKUs
};

struct payment_reply {
  errc code = errc::ok;
  std::string message;
  payment_intent intent;
};

/// What an order looks like from outside: the snapshot plus its events.
struct order_view {
  errc code = errc::ok;
  std::string message;
  order_state state;
  std::vector<saga_event> events;
  std::string parked_reason; // non-empty when the supervisor gave up on the order
};

/// Reply to creating an order: the order, and whether it existed already (same
/// Idempotency-Key seen before).
struct create_reply {
  order_state state;
  bool existing = false;
  /// The Idempotency-Key already names an order placed with a different request.
  bool key_reused = false;
  /// The owner node has saga.max_live_orders sagas in flight: nothing was created (429).
  bool overloaded = false;
};

/// Reply to an input sent to an order (complete, verify, ...).
struct input_reply {
  errc code = errc::ok;
  outcome result = outcome::applied;
  std::string message;
  order_state state;
};

/// Runtime statistics of the writer (group commit).
struct writer_stats {
  uint64_t commits = 0;  // RocksDB writes
  uint64_t batches = 0;  // saga steps and other batches written
  uint64_t synced = 0;   // writes made durable with an fsync (storage.sync)
  uint64_t barriers = 0; // groups of empty batches, answered in order without a write
};

/// What the Kafka relay knows of the sink (GET /readyz detail.kafka).
struct kafka_sink_status {
  std::string state;                       // provisioning | topics_missing | idle |
                                           // publishing | retrying
  std::string brokers;
  int64_t topics_expected = 0;
  std::vector<std::string> missing_topics; // "topic: why", while not confirmed
  std::string last_error;                  // the latest Kafka error, with its code
  int64_t last_error_ts_ms = 0;
  int64_t inflight = 0;                    // produced, not yet acknowledged
  int64_t paused_ms = 0;                   // the relay waits this long before producing again
};

struct supervisor_stats {
  uint64_t live = 0;      // order actors alive
  uint64_t restarted = 0; // restarts since start
  uint64_t parked = 0;    // orders parked since start
};

// ---- introspection (GET /inspect/..., the console and sagactl) ----

/// One actor as the inspection API shows it. Long-lived actors read it off themselves
/// (their own mailbox, from their own thread); order rows come from the supervisor.
struct actor_info {
  std::string kind;           // order, order_supervisor, inventory_worker, ...
  std::string key;            // order id or partition
  std::string node;
  std::string state;          // saga step for orders, else running / unresponsive
  uint64_t actor_id = 0;
  int64_t mailbox = 0;        // messages waiting when read (-1: did not answer)
  uint64_t processed = 0;     // messages handled since spawn
  uint64_t restarts = 0;
  int64_t state_since_ms = 0; // when it entered `state`
  int64_t spawned_at_ms = 0;
  int64_t budget_ms = 0;      // orders: time budget of the current step
  bool stuck = false;         // orders: over the budget
  bool passive = false;       // orders: no actor now (waits at its owner; activated on demand)
  int64_t wake_at_ms = 0;     // orders: its auto-complete deadline at the owner (0: none)
};

/// The order actor tells the supervisor after each durable step (status, step and the
/// events just written): long-poll waiters, the stuck-saga detector and the live stream.
struct order_progress {
  std::string order_id;
  order_status status = order_status::pending;
  saga_step step = saga_step::reserving_inventory;
  bool terminal = false;
  bool status_changed = false;
  uint64_t processed = 0;
  int64_t mailbox = 0;
  int64_t at_ms = 0;
  std::vector<saga_event> events; // empty when inspection is off
};

/// The supervisor's view of its orders.
/// A parked order as operators see it (GET /admin/parked, sagactl parked, /metrics).
struct parked_order {
  std::string order_id;
  std::string reason;
  saga_step step = saga_step::reserving_inventory;
  order_status status = order_status::pending;
  payment_status payment = payment_status::none;
  bool holds_money = false; // the payment succeeded and was not refunded
  bool holds_stock = false; // a reservation may be held (or committed) for it
  int64_t updated_at_ms = 0;
};

struct order_summary {
  uint64_t live = 0;
  std::vector<uint64_t> by_step; // indexed by saga_step
  uint64_t stuck = 0;
  std::vector<actor_info> stuck_oldest; // most overdue first, bounded
  uint64_t restarted = 0;
  uint64_t parked = 0;                      // parked since start
  std::vector<parked_order> parked_orders;  // parked now (the first 20 by id)
};

struct inspect_summary {
  std::vector<actor_info> actors; // every long-lived actor
  order_summary orders;
};

/// One page of live orders, ordered by id; `next_cursor` is empty on the last page.
struct order_page {
  std::vector<actor_info> rows;
  std::string next_cursor;
  uint64_t scanned = 0;
};

/// GET /inspect/orders/{id}: the stored order plus, when alive, its actor.
struct order_inspection {
  order_view view;
  bool live = false;
  actor_info actor; // the order actor (live) or the supervisor's last row
};

/// Where every actor is. Local now; the cluster issue makes it span nodes.
struct directory {
  caf::actor writer;
  /// One owner per order partition (saga.partitions): it activates, supervises and
  /// passivates that partition's orders. Nothing else holds an order actor's handle.
  std::vector<caf::actor> orders;
  caf::actor inspector; // registry of long-lived actors (actors/inspect/introspection.hpp)
  caf::actor relay;     // the Kafka relay (null when kafka.enabled = false)
  std::vector<caf::actor> inventory;
  /// This node's payment workers: on one node `payment.workers` of them; in a cluster one
  /// per own order partition (runtime/config.hpp `payment_partitions`).
  std::vector<caf::actor> payment;
  /// Cluster: the payment worker of each order partition: a forwarder to the holder's
  /// (with replication = kafka, also for this node's own), or the worker itself. Empty on
  /// one node: `payment` decides.
  std::vector<caf::actor> payment_by_order;
  /// Cluster: 1 where the partition is another node's (the handle is a local forwarder to
  /// it). Empty: every partition is local.
  std::vector<uint8_t> orders_remote;
  std::vector<uint8_t> inventory_remote;

  static uint64_t hash(const std::string& key); // FNV-1a: stable across runs and nodes
  /// The partition an order id carries: its first four hex digits ("ord_0003..." is in
  /// partition 3 of any count above 3), modulo `partitions`. Ids that do not have that
  /// shape (none are generated) fall back to their hash. No lookup: any node can route.
  static size_t order_partition(const std::string& order_id, size_t partitions);
  /// The payment worker of an order: the one serving the order's partition.
  static size_t payment_partition(const std::string& order_id, size_t order_partitions,
                                  size_t payment_workers) {
    return order_partition(order_id, order_partitions) % payment_workers;
  }
  /// The changelog partition of a write (storage/batch.hpp `log_partition`): an order's
  /// (and its payment's) is its order partition; SKU partition q follows all of them.
  static int32_t order_log_partition(const std::string& order_id, int64_t order_partitions) {
    return static_cast<int32_t>(order_partition(order_id, static_cast<size_t>(order_partitions)));
  }
  static int32_t inventory_log_partition(size_t p, int64_t order_partitions) {
    return static_cast<int32_t>(order_partitions + static_cast<int64_t>(p));
  }
  size_t inventory_partition(const std::string& sku) const {
    return hash(sku) % inventory.size();
  }
  const caf::actor& inventory_for(const std::string& sku) const {
    return inventory[inventory_partition(sku)];
  }
  const caf::actor& owner_for(const std::string& order_id) const {
    return orders[order_partition(order_id, orders.size())];
  }
  const caf::actor& payment_for(const std::string& order_id) const {
    if (!payment_by_order.empty())
      return payment_by_order[order_partition(order_id, orders.size())];
    return payment[payment_partition(order_id, orders.size(), payment.size())];
  }
  /// The key the payment worker of an order is registered under (GET /inspect): its order
  /// partition in a cluster (a worker per partition), else its worker's index on this node.
  size_t payment_key(const std::string& order_id) const {
    if (!payment_by_order.empty())
      return order_partition(order_id, orders.size());
    return payment_partition(order_id, orders.size(), payment.size());
  }
  bool order_partition_remote(size_t p) const {
    return !orders_remote.empty() && orders_remote[p] != 0;
  }
  bool inventory_partition_remote(size_t p) const {
    return !inventory_remote.empty() && inventory_remote[p] != 0;
  }
  /// This node's order partition owners (inspection and admin lists stay per node).
  std::vector<caf::actor> local_owners() const {
    std::vector<caf::actor> out;
    for (size_t p = 0; p < orders.size(); ++p)
      if (!order_partition_remote(p))
        out.push_back(orders[p]);
    return out;
  }
};

// ---- cluster (actors/cluster/cluster.hpp) ----

/// What a node says when it connects to a peer's entry actor: who it is and the layout it
/// was configured with (compared field by field), and how its partitions are kept
/// (`cluster.replication`, `cluster.name`): nodes of one cluster agree on both.
struct cluster_hello {
  std::string node_id;
  std::vector<cluster_member> members; // its cluster.nodes
  uint64_t order_partitions = 0;
  uint64_t sku_partitions = 0;
  uint64_t payment_workers = 0;
  std::string replication; // none | kafka
  std::string name;        // cluster.name: the partitions' transactional.ids
};

/// The answer: a refusal naming the difference, or the peer's partition actors (the
/// handles of the partitions it owns; other slots are null).
struct cluster_welcome {
  bool ok = false;
  std::string refusal;
  std::string node_id;
  std::vector<caf::actor> orders;           // order partition owners
  std::vector<caf::actor> inventory;        // SKU partition workers
  std::vector<caf::actor> payment_by_order; // payment worker per order partition
  /// The offset of the welcomer's claim (owners topic) of each partition it holds, -1
  /// where it holds none or knows none (replication = none): a holder announced with a
  /// lower offset than one already known is stale (ownership.hpp, "Sequence").
  std::vector<int64_t> order_seqs, inventory_seqs;
};

// ---- partition ownership (actors/cluster/ownership.hpp) ----
/// What a takeover made: the partition's local actors and its committer (null on failure,
/// with `error`).
struct taken_partition {
  std::string error;
  caf::actor committer;
  caf::actor main;    // order supervisor, or the SKU partition's supervised worker
  caf::actor payment; // orders: the payment worker of that partition
  uint64_t applied = 0;
  int64_t took_ms = 0;
  int64_t claim_offset = -1; // its claim in the owners topic (owners_reader.hpp)
  int64_t claim_ms = 0;      // how long committing that claim took
};

/// GET /cluster's "partitions": the holder of each order and SKU partition as this node
/// sees it ("" none).
/// One changelog partition this node keeps a standby replica of (cluster.standby_replicas,
/// actors/replication/standby.hpp): the offset applied to its store, and how far behind the
/// changelog's end that is (records and transaction markers; -1 while unknown).
struct standby_status {
  int32_t log_partition = 0;
  int64_t applied = -1; // the last changelog offset applied here, -1 none
  int64_t lag = -1;
  bool paused = false;  // taken over here meanwhile: the writer applies it, not the standby
};

/// A committed claim of one changelog partition (actors/replication/owners_reader.hpp): the
/// node that last opened it (fencing every node before it), read from the owners topic.
/// `offset` orders the claims of a partition (a later one is a later fence).
struct partition_claim {
  int32_t log_partition = 0;
  std::string node_id;
  std::string http; // "http://host:port" ("" for a node without a cluster address)
  std::string caf;  // "host:port"
  int64_t offset = -1;
  int64_t at_ms = 0; // the claimer's wall clock when it claimed
  /// The claiming process (node_config::incarnation); "" in claims written before it existed.
  /// Two processes with one node id differ here: the duplicate-id guard (ownership_claims.cpp).
  std::string incarnation;
};

struct ownership_view {
  std::vector<std::string> orders, inventory;
  uint64_t takeovers = 0, releases = 0;
  std::vector<standby_status> standbys; // this node's (empty without standby replicas)
  std::vector<partition_claim> claims;  // the last committed claim per partition read here
};

/// One peer as this node sees it (GET /cluster, sagactl cluster).
struct peer_status {
  std::string node_id;
  std::string state; // up | down | refused
  int64_t since_ms = 0;
  std::string reason; // why it is down or refused (empty when up)
  // (connects, disconnects and refusals are counted in metrics::peer_stats, /metrics)
};

// ---- inspect ----
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, order_item& x) {
  return f(caf::meta::type_name("order_item"), x.sku, x.quantity, x.unit_price_cents);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, saga_event& x) {
  return f(caf::meta::type_name("saga_event"), x.order_id, x.seq, x.type, x.ts_ms, x.source,
           x.data);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, order_state& x) {
  return f(caf::meta::type_name("order_state"), x.order_id, x.customer_id, x.items,
           x.selling_price_cents, x.status, x.step, x.reason, x.seq, x.payment_id, x.payment,
           x.payment_expires_at_ms, x.complete_deadline_ms, x.created_at_ms, x.updated_at_ms);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, saga_input& x) {
  return f(caf::meta::type_name("saga_input"), x.kind, x.now_ms, x.detail);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, reservation_item& x) {
  return f(caf::meta::type_name("reservation_item"), x.sku, x.quantity);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, sku_record& x) {
  return f(caf::meta::type_name("sku_record"), x.sku, x.available, x.reserved, x.committed,
           x.price_cents, x.restocked_total);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, payment_intent& x) {
  return f(caf::meta::type_name("payment_intent"), x.payment_id, x.order_id, x.amount_cents,
           x.status, x.expires_at_ms, x.updated_at_ms);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, op_reply& x) {
  return f(caf::meta::type_name("op_reply"), x.ok, x.reason);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, sku_reply& x) {
  return f(caf::meta::type_name("sku_reply"), x.code, x.message, x.record);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, prices_reply& x) {
  return f(caf::meta::type_name("prices_reply"), x.code, x.message, x.prices_cents);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, payment_reply& x) {
  return f(caf::meta::type_name("payment_reply"), x.code, x.message, x.intent);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, order_view& x) {
  return f(caf::meta::type_name("order_view"), x.code, x.message, x.state, x.events,
           x.parked_reason);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, create_reply& x) {
  return f(caf::meta::type_name("create_reply"), x.state, x.existing, x.key_reused, x.overloaded);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, input_reply& x) {
  return f(caf::meta::type_name("input_reply"), x.code, x.result, x.message, x.state);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, kafka_sink_status& x) {
  return f(caf::meta::type_name("kafka_sink_status"), x.state, x.brokers, x.topics_expected,
           x.missing_topics, x.last_error, x.last_error_ts_ms, x.inflight, x.paused_ms);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, writer_stats& x) {
  return f(caf::meta::type_name("writer_stats"), x.commits, x.batches, x.synced,
           x.barriers);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, supervisor_stats& x) {
  return f(caf::meta::type_name("supervisor_stats"), x.live, x.restarted, x.parked);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, directory& x) {
  return f(caf::meta::type_name("directory"), x.writer, x.orders, x.inspector, x.relay,
           x.inventory, x.payment, x.payment_by_order, x.orders_remote, x.inventory_remote);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, cluster_hello& x) {
  return f(caf::meta::type_name("cluster_hello"), x.node_id, x.members, x.order_partitions,
           x.sku_partitions, x.payment_workers, x.replication, x.name);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, cluster_member& x) {
  return f(caf::meta::type_name("cluster_member"), x.id, x.host, x.caf_port, x.http_port);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, cluster_welcome& x) {
  return f(caf::meta::type_name("cluster_welcome"), x.ok, x.refusal, x.node_id,
           x.orders, x.inventory, x.payment_by_order, x.order_seqs, x.inventory_seqs);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, peer_status& x) {
  return f(caf::meta::type_name("peer_status"), x.node_id, x.state, x.since_ms, x.reason);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, actor_info& x) {
  return f(caf::meta::type_name("actor_info"), x.kind, x.key, x.node, x.state, x.actor_id,
           x.mailbox, x.processed, x.restarts, x.state_since_ms, x.spawned_at_ms, x.budget_ms,
           x.stuck, x.passive, x.wake_at_ms);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, order_progress& x) {
  return f(caf::meta::type_name("order_progress"), x.order_id, x.status, x.step, x.terminal,
           x.status_changed, x.processed, x.mailbox, x.at_ms, x.events);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, parked_order& x) {
  return f(caf::meta::type_name("parked_order"), x.order_id, x.reason, x.step, x.status,
           x.payment, x.holds_money, x.holds_stock, x.updated_at_ms);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, order_summary& x) {
  return f(caf::meta::type_name("order_summary"), x.live, x.by_step, x.stuck, x.stuck_oldest,
           x.restarted, x.parked, x.parked_orders);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, inspect_summary& x) {
  return f(caf::meta::type_name("inspect_summary"), x.actors, x.orders);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, order_page& x) {
  return f(caf::meta::type_name("order_page"), x.rows, x.next_cursor, x.scanned);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, order_inspection& x) {
  return f(caf::meta::type_name("order_inspection"), x.view, x.live, x.actor);
}

/// Adds every message type above to the configuration. Call before creating the system.
void register_message_types(caf::actor_system_config& cfg);

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, taken_partition& x) {
  return f(caf::meta::type_name("taken_partition"), x.error, x.committer, x.main, x.payment,
           x.applied, x.took_ms, x.claim_offset, x.claim_ms);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, ownership_view& x) {
  return f(caf::meta::type_name("ownership_view"), x.orders, x.inventory, x.takeovers,
           x.releases, x.standbys, x.claims);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, partition_claim& x) {
  return f(caf::meta::type_name("partition_claim"), x.log_partition, x.node_id, x.http, x.caf,
           x.offset, x.at_ms, x.incarnation);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, standby_status& x) {
  return f(caf::meta::type_name("standby_status"), x.log_partition, x.applied, x.lag,
           x.paused);
}

} // namespace saga

namespace storage {
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, db_op& x) {
  return f(caf::meta::type_name("db_op"), x.cf, x.key, x.value, x.erase);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, conditional_erase& x) {
  return f(caf::meta::type_name("conditional_erase"), x.cf, x.key, x.expect);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, batch& x) {
  return f(caf::meta::type_name("batch"), x.ops, x.outbox, x.counters, x.erase_if, x.sync,
           x.log_partition);
}
} // namespace storage
