#pragma once
// A fault-injecting RocksDB file system, for tests of what the node does when the disk
// fails (disk full, I/O error). It wraps the real one and, while the file named by
// `trigger_path` exists, fails every write and sync of every file RocksDB writes (WAL,
// tables, manifest) with an I/O error. Enabled only through SAGA_FAULT_DISK_TRIGGER
// (store::open logs a warning when it is on); without it the real file system is used.

#include <memory>
#include <string>

namespace rocksdb {
class Env;
}

namespace storage {

/// An Env whose file system fails writes while `trigger_path` exists.
std::unique_ptr<rocksdb::Env> make_fault_env(const std::string& trigger_path);

} // namespace storage
