#include "storage/store.hpp"

#include "storage/fault_fs.hpp"

#include <cstdio>
#include <cstdlib>
#include <limits>

#include <rocksdb/db.h>
#include <rocksdb/cache.h>
#include <rocksdb/env.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/table.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>
#include <rocksdb/utilities/checkpoint.h>

namespace storage {

namespace {
const char* family_names[] = {"orders",       "events",   "outbox", "inventory",
                              "reservations", "payments", "meta"};
} // namespace

const char* family_name(family f) { return family_names[static_cast<int>(f)]; }

std::string be64(uint64_t x) {
  std::string s(8, '\0');
  for (int i = 7; i >= 0; --i, x >>= 8)
    s[i] = static_cast<char>(x & 0xff);
  return s;
}

uint64_t from_be64(std::string_view s) {
  uint64_t x = 0;
  for (size_t i = 0; i < 8 && i < s.size(); ++i)
    x = (x << 8) | static_cast<unsigned char>(s[i]);
  return x;
}

std::string event_key(const std::string& order_id, uint64_t seq) {
  std::string k = order_id;
  k += '\0';
  k += be64(seq);
  return k;
}

std::string reservation_key(const std::string& order_id, const std::string& sku) {
  std::string k = order_id;
  k += '\0';
  k += sku;
  return k;
}

std::unique_ptr<store> store::open(const std::string& dir, std::string& error,
                                   const store_options& options) {
  rocksdb::Options opts;
  opts.create_if_missing = true;
  opts.create_missing_column_families = true;
  // Small machine: two background jobs, bounded memtables.
  opts.max_background_jobs = 2;
  opts.max_total_wal_size = options.max_wal_bytes;
  // Every family gets the same explicit options (RocksDB's default is 64 MB memtables per
  // family and index blocks on the heap, growing with the data).
  rocksdb::ColumnFamilyOptions cf_opts;
  cf_opts.write_buffer_size = options.write_buffer_bytes;
  cf_opts.max_write_buffer_number = 2;
  rocksdb::BlockBasedTableOptions table;
  table.block_cache = rocksdb::NewLRUCache(options.block_cache_bytes);
  table.cache_index_and_filter_blocks = true;
  table.pin_l0_filter_and_index_blocks_in_cache = true;
  // Point reads that miss (meta parked/ and idem/ per order, the start's index reads) skip
  // the files that cannot hold the key: 10 bits per key, ~1 % false positives.
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  cf_opts.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  std::vector<rocksdb::ColumnFamilyDescriptor> cfds;
  cfds.emplace_back(rocksdb::kDefaultColumnFamilyName, cf_opts);
  for (auto name : family_names)
    cfds.emplace_back(name, cf_opts);
  std::unique_ptr<store> s(new store);
  s->dir_ = dir;
  // Disk-fault tests: writes fail while the trigger file exists (storage/fault_fs.hpp).
  // Read faults: the same, for reads of table files, from the moment the database is open.
  auto trigger_of = [&](const std::string& option, const char* var) {
    auto* from_env = std::getenv(var);
    std::string t = !option.empty() ? option : from_env != nullptr ? from_env : "";
    // A relative path is inside the data directory: each node of a cluster has its own.
    if (!t.empty() && t.front() != '/')
      t = dir + "/" + t;
    if (!t.empty() && option.empty()) // a user's process: say so loudly
      std::fprintf(stderr, "WARNING: disk fault injection is on (%s=%s)\n", var, t.c_str());
    return t;
  };
  auto write_trigger = trigger_of(options.disk_fault_trigger, "SAGA_FAULT_DISK_TRIGGER");
  auto read_trigger = trigger_of(options.read_fault_trigger, "SAGA_FAULT_READ_TRIGGER");
  fault_switch* reads_armed = nullptr;
  if (!write_trigger.empty() || !read_trigger.empty()) {
    s->fault_env_ = make_fault_env(write_trigger, read_trigger, reads_armed);
    opts.env = s->fault_env_.get();
  }
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  auto st = rocksdb::DB::Open(rocksdb::DBOptions(opts), dir, cfds, &handles, &s->db_);
  if (!st.ok()) {
    error = "cannot open RocksDB at " + dir + ": " + st.ToString();
    return nullptr;
  }
  s->handles_ = std::move(handles);
  // Continue the outbox sequence after the last entry still in it (entries are deleted
  // only once published; when it is empty the counter is read from meta).
  std::unique_ptr<rocksdb::Iterator> it(
    s->db_->NewIterator(rocksdb::ReadOptions(), s->handles_[1 + int(family::outbox)]));
  it->SeekToLast();
  uint64_t next = 1;
  if (it->Valid())
    next = from_be64(it->key().ToStringView()) + 1;
  std::string v;
  auto got = s->get(family::meta, "outbox_next", v);
  if (!it->status().ok() || got == read_status::failed) {
    error = "cannot read RocksDB at " + dir + ": "
            + (it->status().ok() ? std::string("outbox_next") : it->status().ToString());
    return nullptr;
  }
  if (got == read_status::found)
    next = std::max(next, from_be64(v));
  s->outbox_next_ = next;
  if (reads_armed != nullptr)
    reads_armed->arm();
  return s;
}

std::string store::checkpoint(const std::string& to) const {
  rocksdb::Checkpoint* cp = nullptr;
  auto st = rocksdb::Checkpoint::Create(db_, &cp);
  if (!st.ok())
    return "checkpoint of " + dir_ + ": " + st.ToString();
  std::unique_ptr<rocksdb::Checkpoint> owned(cp);
  // No flush first: the copy takes the write-ahead log as it is (cheaper, and the same data).
  st = owned->CreateCheckpoint(to, std::numeric_limits<uint64_t>::max());
  return st.ok() ? std::string() : "checkpoint of " + dir_ + " into " + to + ": " + st.ToString();
}

uint64_t store::memtable_bytes() const {
  uint64_t total = 0;
  for (auto* h : handles_) {
    uint64_t v = 0;
    if (db_->GetIntProperty(h, "rocksdb.cur-size-all-mem-tables", &v))
      total += v;
  }
  return total;
}

uint64_t store::block_cache_bytes() const {
  uint64_t v = 0;
  db_->GetIntProperty(handles_[0], "rocksdb.block-cache-usage", &v);
  return v;
}

store::~store() {
  if (db_ == nullptr)
    return;
  for (auto* h : handles_)
    db_->DestroyColumnFamilyHandle(h);
  db_->Close();
  delete db_;
}

int64_t store::counter(const std::string& name) const {
  std::string v;
  if (get(family::meta, "count/" + name, v) != read_status::found)
    return 0; // absent, or failed: then commit refuses every write
  return std::strtoll(v.c_str(), nullptr, 10);
}

std::string store::commit(const std::vector<const batch*>& batches, bool sync) {
  rocksdb::WriteBatch wb;
  const uint64_t first = outbox_next_.load();
  uint64_t next = first;
  std::unordered_map<std::string, int64_t> moved; // the counters' values after this commit
  for (auto* b : batches)
    for (auto& [name, delta] : b->counters) {
      auto i = moved.find(name);
      if (i == moved.end()) {
        auto c = counters_.find(name);
        i = moved.emplace(name, c != counters_.end() ? c->second : counter(name)).first;
      }
      i->second += delta;
    }
  for (auto& [name, value] : moved)
    wb.Put(handles_[1 + int(family::meta)], "count/" + name, std::to_string(value));
  // Conditional erases compare with the key's value as this group leaves it so far: the
  // writes before it in the group, else the store (only the writer commits, so nothing
  // changes between that read and this write).
  bool conditional = false;
  for (auto* b : batches)
    conditional = conditional || !b->erase_if.empty();
  std::unordered_map<std::string, std::pair<bool, std::string>> written; // slot -> (exists, value)
  auto slot = [](family cf, const std::string& key) {
    return std::string(1, static_cast<char>(cf)) + key;
  };
  for (auto* b : batches) {
    for (auto& op : b->ops) {
      auto* h = handles_[1 + int(op.cf)];
      if (op.erase)
        wb.Delete(h, op.key);
      else
        wb.Put(h, op.key, op.value);
      if (conditional)
        written[slot(op.cf, op.key)] = {!op.erase, op.erase ? std::string() : op.value};
    }
    for (auto& e : b->erase_if) {
      auto* h = handles_[1 + int(e.cf)];
      std::pair<bool, std::string> now{false, {}};
      if (auto i = written.find(slot(e.cf, e.key)); i != written.end()) {
        now = i->second;
      } else {
        auto st = db_->Get(rocksdb::ReadOptions(), h, e.key, &now.second);
        if (!st.ok() && !st.IsNotFound())
          return "reading " + e.key + " for a conditional erase: " + st.ToString();
        now.first = st.ok();
      }
      if (!now.first || now.second != e.expect)
        continue; // replaced (or gone) since it was read: not this erase's to remove
      wb.Delete(h, e.key);
      written[slot(e.cf, e.key)] = {false, {}};
    }
    for (auto& env : b->outbox)
      wb.Put(handles_[1 + int(family::outbox)], be64(next++), env);
  }
  // Only a commit that added entries moves the counter. (Comparing with the live counter
  // let a commit without entries, racing one with entries from another thread, write its
  // stale value back: keys were then reused below the relay's read position. sagad commits
  // from its one writer; the relay benchmark also fills the outbox from its main thread.)
  if (next != first)
    wb.Put(handles_[1 + int(family::meta)], "outbox_next", be64(next));
  if (read_failed_.load()) // whatever this batch was decided on may be a failed read
    return "a read failed earlier; nothing is written after it";
  rocksdb::WriteOptions wo;
  wo.sync = sync;
  auto st = db_->Write(wo, &wb);
  if (!st.ok())
    return st.ToString();
  if (next != first)
    outbox_next_ = next;
  for (auto& [name, value] : moved)
    counters_[name] = value; // only once durable
  return {};
}

bool store::failed(std::string_view what, const std::string& status) const {
  bool first = !read_failed_.exchange(true);
  if (first && on_read_failure_)
    on_read_failure_("RocksDB read failed (" + std::string(what) + ": " + status + ")");
  return false;
}

bool store::scan_from(family cf, std::string_view start,
                      const std::function<bool(std::string_view, std::string_view)>& fn) const {
  counted(cf);
  std::unique_ptr<rocksdb::Iterator> it(
    db_->NewIterator(rocksdb::ReadOptions(), handles_[1 + int(cf)]));
  for (it->Seek(rocksdb::Slice(start.data(), start.size())); it->Valid(); it->Next())
    if (!fn(it->key().ToStringView(), it->value().ToStringView()))
      return true;
  if (!it->status().ok())
    return failed(std::string("scan of ") + family_name(cf), it->status().ToString());
  return true;
}

read_status store::get(family cf, const std::string& key, std::string& value) const {
  counted(cf);
  auto st = db_->Get(rocksdb::ReadOptions(), handles_[1 + int(cf)], key, &value);
  if (st.ok())
    return read_status::found;
  if (st.IsNotFound())
    return read_status::absent;
  failed(std::string("get of ") + family_name(cf), st.ToString());
  return read_status::failed;
}

bool store::get_each(family cf, const std::vector<std::string>& keys,
                     const std::function<bool(size_t, std::string_view)>& fn) const {
  counted(cf, keys.size());
  std::unique_ptr<rocksdb::Iterator> it(
    db_->NewIterator(rocksdb::ReadOptions(), handles_[1 + int(cf)]));
  for (size_t i = 0; i < keys.size(); ++i) {
    it->Seek(keys[i]);
    if (!it->Valid()) {
      if (!it->status().ok())
        return failed(std::string("read of ") + family_name(cf), it->status().ToString());
      continue;
    }
    if (it->key().ToStringView() == keys[i] && !fn(i, it->value().ToStringView()))
      return true;
  }
  return true;
}

bool store::scan_each(family cf, const std::vector<std::string>& prefixes,
                      const std::function<bool(size_t, std::string_view, std::string_view)>& fn)
  const {
  counted(cf, prefixes.size());
  std::unique_ptr<rocksdb::Iterator> it(
    db_->NewIterator(rocksdb::ReadOptions(), handles_[1 + int(cf)]));
  for (size_t i = 0; i < prefixes.size(); ++i) {
    auto& prefix = prefixes[i];
    for (it->Seek(prefix); it->Valid(); it->Next()) {
      auto k = it->key().ToStringView();
      if (k.substr(0, prefix.size()) != prefix)
        break;
      if (!fn(i, k, it->value().ToStringView()))
        return true;
    }
    if (!it->status().ok())
      return failed(std::string("scan of ") + family_name(cf), it->status().ToString());
  }
  return true;
}

bool store::scan(family cf, std::string_view prefix,
                 const std::function<bool(std::string_view, std::string_view)>& fn) const {
  counted(cf);
  std::unique_ptr<rocksdb::Iterator> it(
    db_->NewIterator(rocksdb::ReadOptions(), handles_[1 + int(cf)]));
  for (it->Seek(rocksdb::Slice(prefix.data(), prefix.size())); it->Valid(); it->Next()) {
    auto k = it->key().ToStringView();
    if (k.substr(0, prefix.size()) != prefix)
      return true;
    if (!fn(k, it->value().ToStringView()))
      return true;
  }
  if (!it->status().ok())
    return failed(std::string("scan of ") + family_name(cf), it->status().ToString());
  return true;
}

std::string store::flush() {
  rocksdb::FlushOptions fo;
  auto st = db_->Flush(fo, handles_);
  return st.ok() ? std::string() : "flush of " + dir_ + ": " + st.ToString();
}

} // namespace storage
