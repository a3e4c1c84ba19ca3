#include "storage/fault_fs.hpp"

#include <sys/stat.h>

#include <rocksdb/env.h>
#include <rocksdb/file_system.h>

namespace storage {

namespace {

bool triggered(const std::string& path) {
  struct stat sb;
  return ::stat(path.c_str(), &sb) == 0;
}

rocksdb::IOStatus injected(const std::string& path) {
  return rocksdb::IOStatus::IOError("injected disk fault (" + path + " exists)");
}

class fault_file : public rocksdb::FSWritableFileOwnerWrapper {
public:
  fault_file(std::unique_ptr<rocksdb::FSWritableFile>&& f, std::string trigger)
    : FSWritableFileOwnerWrapper(std::move(f)), trigger_(std::move(trigger)) {}

  rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& o,
                           rocksdb::IODebugContext* dbg) override {
    if (triggered(trigger_))
      return injected(trigger_);
    return FSWritableFileOwnerWrapper::Append(data, o, dbg);
  }
  rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& o,
                           const rocksdb::DataVerificationInfo& v,
                           rocksdb::IODebugContext* dbg) override {
    if (triggered(trigger_))
      return injected(trigger_);
    return FSWritableFileOwnerWrapper::Append(data, o, v, dbg);
  }
  rocksdb::IOStatus Sync(const rocksdb::IOOptions& o, rocksdb::IODebugContext* dbg) override {
    if (triggered(trigger_))
      return injected(trigger_);
    return FSWritableFileOwnerWrapper::Sync(o, dbg);
  }
  rocksdb::IOStatus Fsync(const rocksdb::IOOptions& o, rocksdb::IODebugContext* dbg) override {
    if (triggered(trigger_))
      return injected(trigger_);
    return FSWritableFileOwnerWrapper::Fsync(o, dbg);
  }

private:
  std::string trigger_;
};

class fault_fs : public rocksdb::FileSystemWrapper {
public:
  fault_fs(const std::shared_ptr<rocksdb::FileSystem>& base, std::string trigger)
    : FileSystemWrapper(base), trigger_(std::move(trigger)) {}
  const char* Name() const override { return "SagaFaultInjectionFS"; }

  rocksdb::IOStatus NewWritableFile(const std::string& f, const rocksdb::FileOptions& opts,
                                    std::unique_ptr<rocksdb::FSWritableFile>* r,
                                    rocksdb::IODebugContext* dbg) override {
    if (triggered(trigger_))
      return injected(trigger_);
    std::unique_ptr<rocksdb::FSWritableFile> inner;
    auto st = target()->NewWritableFile(f, opts, &inner, dbg);
    if (st.ok())
      r->reset(new fault_file(std::move(inner), trigger_));
    return st;
  }

private:
  std::string trigger_;
};

} // namespace

std::unique_ptr<rocksdb::Env> make_fault_env(const std::string& trigger_path) {
  auto fs = std::make_shared<fault_fs>(rocksdb::FileSystem::Default(), trigger_path);
  return rocksdb::NewCompositeEnv(fs);
}

} // namespace storage
