#pragma once
// The allocator's own count of allocation requests, for /metrics
// (`saga_allocations_total`: per saga, divide by the completed orders). sagad registers
// jemalloc's counter when it links jemalloc (CMake SAGA_ALLOCATOR); other builds (the
// sanitizers', glibc's malloc, the tests) have none and the metric is left out.

#include <cstdint>

namespace saga {

using allocation_counter = uint64_t (*)();

/// Registers the counter, once, before the HTTP server starts.
void set_allocation_counter(allocation_counter fn);

/// Allocation requests since the process started; false when no counter is registered.
bool allocation_requests(uint64_t& out);

} // namespace saga
