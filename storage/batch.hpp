#pragma once
// The project's own write: what a step changes, as plain keys and bytes per column family.
// It travels in messages (to the writer, between nodes) and is applied atomically by
// `store::commit`; nothing here knows RocksDB.

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace storage {

enum class family : uint8_t { orders, events, outbox, inventory, reservations, payments, meta };
constexpr int family_count = 7;

/// The column family's name in RocksDB (and in messages).
const char* family_name(family f);

struct db_op {
  family cf = family::meta;
  std::string key;
  std::string value;
  bool erase = false;
};

/// An erase that holds only while the key still has the value `expect` when the writer
/// commits it (after every write ahead of it): a record read earlier and replaced since
/// stays. For a reader that decides on what it read and writes later (the idempotency
/// sweeper), which would otherwise delete a newer record.
struct conditional_erase {
  family cf = family::meta;
  std::string key;
  std::string expect;
};

/// One saga step (or inventory/payment change): applied atomically.
struct batch {
  std::vector<db_op> ops;
  std::vector<std::string> outbox; // event envelopes; keys are assigned at commit
  /// Counters to move, in meta "count/<name>": written in the same atomic write, summed
  /// by the store (only the writer commits, so no read-modify-write race).
  std::vector<std::pair<std::string, int64_t>> counters;
  /// Applied after `ops`.
  std::vector<conditional_erase> erase_if;
  /// false: a write whose loss in a power failure only repeats work already done (the
  /// relay's deletions of acknowledged outbox entries: the entry is published again, with
  /// its event_id). A group with no synced batch is written without an fsync. A process
  /// crash loses neither kind (RocksDB's log is in the OS's cache once written).
  bool sync = true;
  /// The changelog partition this write belongs to (cluster.replication = kafka: order
  /// partition p is p, SKU partition q is saga.partitions + q; storage/changelog.hpp).
  /// `local`: a write of this node alone (the relay's outbox deletions, the retention
  /// sweeper, start-time bookkeeping), never replicated.
  static constexpr int32_t local = -1;
  int32_t log_partition = local;

  bool empty() const { return ops.empty() && outbox.empty() && counters.empty() && erase_if.empty(); }
};

} // namespace storage
