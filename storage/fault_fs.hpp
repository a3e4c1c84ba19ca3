#pragma once
// A fault-injecting RocksDB file system, for tests of what the node does when the disk
// fails (disk full, I/O error). It wraps the real one and, while the file named by
// `write_trigger` exists, fails every write and sync of every file RocksDB writes (WAL,
// tables, manifest) with an I/O error; while `read_trigger` exists, once armed (after the
// database is open), every read of a table file (point reads, iterators, compactions).
// Enabled only through SAGA_FAULT_DISK_TRIGGER / SAGA_FAULT_READ_TRIGGER or the store's
// options (store::open logs a warning when it is on); without them the real file system
// is used.

#include <atomic>
#include <memory>
#include <string>

namespace rocksdb {
class Env;
}

namespace storage {

/// Read faults start only once armed: opening the database reads every table's index.
class fault_switch {
public:
  void arm() { armed_ = true; }
  bool armed() const { return armed_.load(); }

private:
  std::atomic<bool> armed_{false};
};

/// An Env whose file system fails writes while `write_trigger` exists and reads while
/// `read_trigger` exists (an empty path: never). `reads` is set to the switch that arms
/// the read faults; it lives as long as the Env.
std::unique_ptr<rocksdb::Env> make_fault_env(const std::string& write_trigger,
                                             const std::string& read_trigger,
                                             fault_switch*& reads);

} // namespace storage
