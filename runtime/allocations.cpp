#include "runtime/allocations.hpp"

#include <atomic>

namespace saga {

namespace {
std::atomic<allocation_counter> counter{nullptr};
} // namespace

void set_allocation_counter(allocation_counter fn) {
  counter.store(fn);
}

bool allocation_requests(uint64_t& out) {
  auto fn = counter.load();
  if (fn == nullptr)
    return false;
  out = fn();
  return true;
}

} // namespace saga
