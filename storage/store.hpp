#pragma once
// RocksDB storage of the node: one column family per kind of record.
//
// Key layout (all in one RocksDB directory):
//   orders        order_id                     -> order record: snapshot and events (binary,
//                                                 actors/order/order_codec.hpp)
//   events        order_id \0 seq(8 bytes BE)  -> event envelope (JSON): format-1 history
//                                                 only (converted at start, then unused)
//   outbox        global_seq(8 bytes BE)       -> event envelope (JSON): what the Kafka relay
//                                                 still has to publish, in commit order
//   inventory     sku                          -> sku record
//   reservations  order_id \0 sku              -> reservation item
//   payments      payment_id                   -> payment intent
//   meta          "parked/" order_id           -> why the supervisor gave up on an order
//                 "inflight/" order_id         -> "" while the order is not terminal: the
//                                                 start reads these, not every order
//                 "due/r/" deadline "/" order_id "/" sku  -> "" a reserved item's TTL
//                 "due/p/" deadline "/" payment_id        -> order_id: a pending intent's
//                                                 expiry (the deadline index, keys.hpp)
//                 "count/" name                -> a counter (decimal), e.g. orders by status
//                 "layout/..."                 -> partitions, record format, index version
//
// An event goes to `outbox` in the same atomic batch as the order record that holds it. `outbox` keys are allocated here, by the single writer, so their order
// is the commit order, which keeps every order's events in seq order for the relay.

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "storage/batch.hpp"

namespace rocksdb {
class DB;
class Env;
class ColumnFamilyHandle;
} // namespace rocksdb

namespace storage {

std::string be64(uint64_t x);
uint64_t from_be64(std::string_view s);
std::string event_key(const std::string& order_id, uint64_t seq);
std::string reservation_key(const std::string& order_id, const std::string& sku);

/// Memory RocksDB may use, set explicitly (never RocksDB's per-family defaults): every
/// column family gets `write_buffer_bytes` memtables (at most 2 each), and one shared LRU
/// block cache of `block_cache_bytes` holds data, index and filter blocks, so the index
/// of a growing history does not grow the heap.
struct store_options {
  uint64_t write_buffer_bytes = 32 << 20;
  uint64_t block_cache_bytes = 32 << 20;
  /// Total write-ahead log kept before the families behind its oldest file are flushed: what
  /// a start after a crash replays at most (RocksDB's default is 4x all memtables, 2 GB here,
  /// because a family written rarely holds on to every log since its last flush).
  uint64_t max_wal_bytes = 64 << 20;
  /// Tests: every write and sync fails while this file exists (storage/fault_fs.hpp); a
  /// relative path is inside the data directory. Empty: SAGA_FAULT_DISK_TRIGGER, if set.
  std::string disk_fault_trigger;
  /// Tests: every read of a table file (point reads and iterators that reach the disk)
  /// fails while this file exists, once the database is open. Empty:
  /// SAGA_FAULT_READ_TRIGGER, if set.
  std::string read_fault_trigger;
};

/// What a read found. `failed` is never "absent": the disk could not answer (I/O error,
/// corruption), and whoever asked must not act as if the key were not there.
enum class read_status { found, absent, failed };

class store {
public:
  /// Opens (creating if needed) the database in `dir`. Returns nullptr and sets `error`.
  static std::unique_ptr<store> open(const std::string& dir, std::string& error,
                                     const store_options& options = {});
  ~store();
  store(const store&) = delete;
  store& operator=(const store&) = delete;

  /// Applies all batches in one atomic RocksDB write (group commit). Only one thread may
  /// call this (the writer actor). Returns an empty string on success, else the error.
  [[nodiscard]] std::string commit(const std::vector<const batch*>& batches, bool sync);

  /// Point read. A failed read (not NotFound) is reported to the read-failure handler.
  [[nodiscard]] read_status get(family cf, const std::string& key, std::string& value) const;
  /// Visits every key starting with `prefix` in order until `fn` returns false. False when
  /// the iteration failed (the keys visited so far are not all there are).
  [[nodiscard]] bool scan(family cf, std::string_view prefix,
            const std::function<bool(std::string_view key, std::string_view value)>& fn) const;

  /// For each prefix (ascending, for speed) visits the keys that start with it, with one
  /// iterator for all (`fn` gets the prefix's index; returning false stops everything).
  /// False when the iteration failed.
  /// Point reads of many keys (ascending, for speed) with one iterator: `fn(i, value)` for
  /// each key found, in order; returning false stops. False when the iteration failed.
  /// At start, a million `get`s made one index-block lookup each, and with more data than
  /// the block cache holds each reloaded and decompressed its file's index block; one
  /// iterator keeps its place and reads each block once.
  [[nodiscard]] bool get_each(family cf, const std::vector<std::string>& keys,
                              const std::function<bool(size_t, std::string_view)>& fn) const;

  [[nodiscard]] bool scan_each(family cf, const std::vector<std::string>& prefixes,
                 const std::function<bool(size_t, std::string_view key, std::string_view value)>&
                   fn) const;

  /// Visits keys from `start` (inclusive) in order until `fn` returns false. False when the
  /// iteration failed.
  [[nodiscard]] bool scan_from(family cf, std::string_view start,
                 const std::function<bool(std::string_view key, std::string_view value)>& fn) const;

  /// Called (from the reading thread) on the first read that fails; sagad halts the node,
  /// as after a failed write. Set before any actor reads. After a failed read, `commit`
  /// refuses every write: a decision taken on a read that failed never becomes durable.
  void on_read_failure(std::function<void(const std::string&)> fn) { on_read_failure_ = std::move(fn); }
  /// True once a read failed.
  bool read_failed() const { return read_failed_.load(); }
  /// Counts every point read and every iteration (one per `scan`, `scan_from`, and per
  /// prefix of `scan_each`) into `per_family[int(family)]` (family_count counters, which
  /// must outlive the store; /metrics `saga_storage_reads_total`). Set before any actor reads.
  void count_reads(std::atomic<uint64_t>* per_family) { reads_ = per_family; }
  /// Writes the memtables to table files (tests: reads then reach the file system).
  [[nodiscard]] std::string flush();

  /// Key the next outbox entry will get (readable from any thread).

  uint64_t outbox_next_seq() const { return outbox_next_.load(); }
  /// A counter's durable value (meta "count/<name>"; 0 when never written).
  int64_t counter(const std::string& name) const;
  /// Bytes RocksDB holds in memtables, over every column family (bounded by the write
  /// buffer options, not by history).
  uint64_t memtable_bytes() const;
  /// Bytes in the shared block cache (bounded by store_options::block_cache_bytes).
  uint64_t block_cache_bytes() const;
  const std::string& dir() const { return dir_; }
  /// Copies the database as it stands, every committed write and nothing else, into the
  /// new directory `to` (rocksdb::Checkpoint: hard links where it can). Opening the copy is
  /// what a restart after a crash at this moment finds: the simulation's whole-node crash.
  /// Returns an empty string, or the error.
  [[nodiscard]] std::string checkpoint(const std::string& to) const;

private:
  store() = default;
  std::string dir_;
  std::unique_ptr<rocksdb::Env> fault_env_; // SAGA_FAULT_DISK_TRIGGER (tests); outlives db_
  rocksdb::DB* db_ = nullptr;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  std::atomic<uint64_t> outbox_next_{1};
  std::atomic<uint64_t>* reads_ = nullptr;
  void counted(family cf, uint64_t n = 1) const {
    if (reads_ != nullptr)
      reads_[int(cf)].fetch_add(n, std::memory_order_relaxed);
  }
  mutable std::atomic<bool> read_failed_{false};
  std::function<void(const std::string&)> on_read_failure_;
  /// Records a failed read; false (so callers can `return failed(...)`).
  bool failed(std::string_view what, const std::string& status) const;
  std::unordered_map<std::string, int64_t> counters_; // as last committed (commit's thread)
};

} // namespace storage
