#include "storage/fault_fs.hpp"

#include <sys/stat.h>

#include <rocksdb/env.h>
#include <rocksdb/file_system.h>

namespace storage {

namespace {

bool triggered(const std::string& path) {
  struct stat sb;
  return !path.empty() && ::stat(path.c_str(), &sb) == 0;
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

class fault_read_file : public rocksdb::FSRandomAccessFileOwnerWrapper {
public:
  fault_read_file(std::unique_ptr<rocksdb::FSRandomAccessFile>&& f, std::string trigger,
                  std::shared_ptr<fault_switch> armed)
    : FSRandomAccessFileOwnerWrapper(std::move(f)), trigger_(std::move(trigger)),
      armed_(std::move(armed)) {}

  rocksdb::IOStatus Read(uint64_t offset, size_t n, const rocksdb::IOOptions& o,
                         rocksdb::Slice* result, char* scratch,
                         rocksdb::IODebugContext* dbg) const override {
    if (failing())
      return injected(trigger_);
    return FSRandomAccessFileOwnerWrapper::Read(offset, n, o, result, scratch, dbg);
  }
  rocksdb::IOStatus MultiRead(rocksdb::FSReadRequest* reqs, size_t num_reqs,
                              const rocksdb::IOOptions& o, rocksdb::IODebugContext* dbg) override {
    if (failing()) {
      for (size_t i = 0; i < num_reqs; ++i)
        reqs[i].status = injected(trigger_);
      return injected(trigger_);
    }
    return FSRandomAccessFileOwnerWrapper::MultiRead(reqs, num_reqs, o, dbg);
  }
  rocksdb::IOStatus ReadAsync(rocksdb::FSReadRequest& req, const rocksdb::IOOptions& o,
                              std::function<void(const rocksdb::FSReadRequest&, void*)> cb,
                              void* cb_arg, void** io_handle, rocksdb::IOHandleDeleter* del_fn,
                              rocksdb::IODebugContext* dbg) override {
    if (failing())
      return injected(trigger_);
    return FSRandomAccessFileOwnerWrapper::ReadAsync(req, o, cb, cb_arg, io_handle, del_fn, dbg);
  }

private:
  bool failing() const { return armed_->armed() && triggered(trigger_); }
  std::string trigger_;
  std::shared_ptr<fault_switch> armed_;
};

class fault_fs : public rocksdb::FileSystemWrapper {
public:
  fault_fs(const std::shared_ptr<rocksdb::FileSystem>& base, std::string trigger,
           std::string read_trigger)
    : FileSystemWrapper(base), trigger_(std::move(trigger)),
      read_trigger_(std::move(read_trigger)) {}
  const char* Name() const override { return "SagaFaultInjectionFS"; }

  rocksdb::IOStatus NewRandomAccessFile(const std::string& f, const rocksdb::FileOptions& opts,
                                        std::unique_ptr<rocksdb::FSRandomAccessFile>* r,
                                        rocksdb::IODebugContext* dbg) override {
    std::unique_ptr<rocksdb::FSRandomAccessFile> inner;
    auto st = target()->NewRandomAccessFile(f, opts, &inner, dbg);
    if (st.ok()) {
      if (read_trigger_.empty())
        *r = std::move(inner);
      else
        r->reset(new fault_read_file(std::move(inner), read_trigger_, reads_));
    }
    return st;
  }

  fault_switch* reads() const { return reads_.get(); }

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
  std::string read_trigger_;
  std::shared_ptr<fault_switch> reads_ = std::make_shared<fault_switch>();
};

} // namespace

std::unique_ptr<rocksdb::Env> make_fault_env(const std::string& write_trigger,
                                             const std::string& read_trigger,
                                             fault_switch*& reads) {
  auto fs = std::make_shared<fault_fs>(rocksdb::FileSystem::Default(), write_trigger,
                                       read_trigger);
  reads = fs->reads();
  return rocksdb::NewCompositeEnv(fs);
}

} // namespace storage
