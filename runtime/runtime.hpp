#pragma once
// Wiring of one node's actors: load every kind of state from RocksDB, spawn the writer,
// the inventory and payment pools and the order supervisor, and build the directory.
// Used by `sagad` and by the actor-level tests alike.

#include <array>
#include <vector>

#include "actors/plumbing/deadline_index.hpp"
#include "actors/inventory/inventory_book.hpp"
#include "actors/messages.hpp"
#include "actors/payment/payment_book.hpp"
#include "actors/cluster/cluster_layout.hpp"
#include "actors/cluster/ownership.hpp"
#include "runtime/context.hpp"

namespace saga {

/// A stored record that does not decode.
struct corrupt_record {
  storage::family cf;
  std::string key;
  std::string value;
};

/// Printable form of a key (ids are printable; binary parts are shown as \xNN).
std::string printable_key(std::string_view key);

struct loaded_state {
  /// Set when a record does not decode and quarantine is off: the node must not start.
  std::string error;
  /// With quarantine on: every record that did not decode (the caller moves them aside).
  std::vector<corrupt_record> corrupt;
  /// Non-terminal, non-parked orders that were mid-step: re-activated at start (in
  /// batches) to re-send their step's command.
  std::vector<order_state> resume;
  /// Non-terminal orders waiting for something outside (a payment verdict not given yet,
  /// their completion): no actor at start, activated by the next message for them.
  std::vector<order_state> passive;
  std::vector<inventory_book> inventory; // SKUs (reservations are read on demand)
  std::vector<payment_book> payment;     // empty (intents are read on demand)
  /// Each partition's live deadlines from the store's deadline index (meta "due/..."):
  /// reservation TTLs by order id, intent expiries by payment id.
  std::vector<due_list> inventory_due;
  std::vector<due_list> payment_due;
  size_t orders_total = 0;
  std::array<int64_t, 4> by_status{}; // every stored order, by status
  size_t parked = 0;
};

/// Reads the store and splits inventory and payments into the configured partitions.
/// A record that fails to decode stops the load with `error` naming its column family and
/// key, unless `quarantine`: then it is listed in `corrupt` and skipped.
/// `foreign`: order partitions another node holds (1), whose rows this store may keep from
/// a takeover: their payments' deadlines are not this node's to run.
/// `skus = false` (a takeover of an order partition): the SKU family and the reservation
/// deadlines are not read (`inventory` and `inventory_due` stay empty); only the orders in
/// flight and the payment deadlines are.
loaded_state load_state(const storage::store& db, size_t inventory_workers,
                        size_t payment_workers, size_t order_partitions,
                        bool quarantine = false, std::vector<uint8_t> foreign = {},
                        bool skus = true);

/// The data directory's layout: the number of order partitions and the ids of cluster.nodes
/// are recorded (meta "layout/order_partitions", "layout/cluster_nodes") when the directory
/// is first used, and a later start with another saga.partitions or another node list is
/// refused, because every stored order, payment and SKU is placed by them. Returns "" or
/// the refusal (or the store's error), naming what changed.
[[nodiscard]] std::string check_layout(storage::store& db, const node_config& cfg);

/// Moves the corrupt records aside in one synced write: each to meta
/// "quarantine/<family>/<key>" (the raw bytes, for a human to inspect), and out of its
/// family. Returns "" or the store's error.
[[nodiscard]] std::string quarantine_records(storage::store& db,
                                             const std::vector<corrupt_record>& xs);
/// Records in quarantine (meta "quarantine/..."), counted at start for /metrics and /readyz.
size_t count_quarantined(const storage::store& db);

/// One other node of the cluster.
struct peer_handles {
  cluster_member member;
};

struct runtime_handles {
  directory dir;
  /// Cluster: the other nodes (empty on one node). sagad spawns a link per peer; the
  /// ownership actor (actors/cluster/ownership.hpp) routes the directory's forwarders.
  std::vector<peer_handles> peers;
  /// This node's own partitions' actors (for the ownership actor; with replication = kafka
  /// the directory holds forwarders routed to them).
  home_actors home;
  caf::actor sweeper; // retention (actors/plumbing/retention.hpp); stopped by stop_runtime(handles)
  std::vector<order_state> resume;
  std::vector<order_state> passive;
};

/// The durable state of one partition, read back for a restarted worker: its SKUs and its
/// live deadlines (`due`, from the deadline index); reservations and intents are read on
/// demand.
inventory_book load_inventory_partition(const storage::store& db, size_t partitions,
                                        size_t p, const spdlog::logger& log, due_list& due);
/// The payment deadlines of payment partition `p` of `partitions` (a restarted worker).
payment_book load_payment_partition(const storage::store& db, size_t order_partitions,
                                    size_t partitions, size_t p, due_list& due);

/// Once per data directory, before the first load: converts format-1 order records (a JSON
/// snapshot, its events in the events family) to format 2 (one binary record with the
/// events), and builds the index of orders in flight and the counters of stored orders by
/// status, which every order write keeps from then on. Then builds the deadline index
/// (meta "due/...") from the reservations and intents of the orders in flight. Records meta
/// "layout/order_format", "layout/order_index" and "layout/due_index" so later starts skip
/// the passes. Returns "" or the store's
/// error; `converted` counts the records rewritten.
/// A reservation or intent (or order) that does not decode stops the deadline pass with
/// the load's message, unless `quarantine` (then it is moved aside first).
[[nodiscard]] std::string upgrade_order_records(storage::store& db, size_t& converted,
                                                bool quarantine = false);

/// Orders in flight, one list per order partition (for each owner's start message).
std::vector<std::vector<order_state>> by_partition(std::vector<order_state> xs,
                                                   size_t partitions);

/// Spawns every actor. The caller sends `(start_atom, dir, resume, passive)` to every owner in
/// `dir.local_owners()`, each with its own partition's orders (`by_partition`), and the node is ready
/// when all have answered. With several nodes in cluster.nodes only the partitions that
/// this node owns (cluster_layout) get actors; every other slot of the directory is a
/// forwarder (actors/cluster/cluster.hpp), routed by the ownership actor.
/// `committers`: cluster.replication = kafka, each local partition's committer
/// (actors/replication/), handed to the writer; empty otherwise.
runtime_handles spawn_runtime(caf::actor_system& sys, context_ptr ctx, loaded_state state,
                              uint64_t seed, std::vector<caf::actor> committers = {});

/// The supervised payment worker of payment partition `p` (`payment_partitions(cfg)` of
/// them: in a cluster, order partition `p`), first with the deadlines `due` the load read, a
/// restart reading them again from the store. `key` names it in the log and the probes.
caf::actor spawn_payment_partition(caf::actor_system& sys, const context_ptr& ctx,
                                   caf::actor writer, std::vector<caf::actor> owners, size_t p,
                                   due_list due, std::string key);

/// Stops every actor of the runtime.
void stop_runtime(const directory& dir);
void stop_runtime(const runtime_handles& h);

} // namespace saga
