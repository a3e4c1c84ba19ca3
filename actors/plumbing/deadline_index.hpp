#pragma once
// Deadlines of one partition (reservation TTLs, payment expiries, orders' auto-complete)
// behind a single CAF timer: an ordered index and the time of the one pending wake-up. No
// timer per entry, and an entry that became moot (committed, released, decided) simply
// leaves the index. The TTLs and expiries are durable in the store's deadline index
// (storage/keys.hpp); this is its in-memory side.

#include <cstdint>
#include <cstddef>
#include <set>
#include <string>
#include <utility>
#include <vector>
#include <atomic>

#include "actors/messages.hpp"
#include "runtime/context.hpp"

namespace saga {

/// (deadline, key) pairs read back from the store's deadline index at start.
using due_list = std::vector<std::pair<int64_t, std::string>>;

/// Entries a worker handles per timer message: a backlog is worked off in slices, with
/// requests served in between.
constexpr size_t max_due_per_round = 256;

struct deadline_index {
  std::set<std::pair<int64_t, std::string>> entries; // (deadline, key), earliest first
  int64_t wake_ms = 0;                                // the pending wake-up (0: none)

  /// Schedules `(timer_atom, deadline)` at the earliest deadline unless a wake-up no later
  /// than that is pending already.
  template <class Self>
  void schedule(Self* self, const runtime_context& ctx) {
    if (entries.empty())
      return;
    auto earliest = entries.begin()->first;
    if (wake_ms != 0 && wake_ms <= earliest)
      return;
    wake_ms = earliest;
    self->delayed_send(self, until(ctx, earliest), timer_atom::value, earliest);
  }

  template <class Self>
  void add(Self* self, const runtime_context& ctx, int64_t deadline_ms, const std::string& key) {
    entries.insert({deadline_ms, key});
    schedule(self, ctx);
  }

  void remove(int64_t deadline_ms, const std::string& key) { entries.erase({deadline_ms, key}); }

  /// Adds entries read back from the store (call `schedule` after).
  void load(const due_list& xs) { entries.insert(xs.begin(), xs.end()); }

  /// On `(timer_atom, at)`: false for a superseded wake-up; else takes the keys due at
  /// `now_ms` (earliest first, at most `max`) and clears the pending wake-up. Call
  /// `schedule` after: overdue entries left (a backlog after a long stop) get a wake-up at
  /// once, behind the messages already queued.
  bool take_due(int64_t at, int64_t now_ms, due_list& due, size_t max = SIZE_MAX) {
    if (at != wake_ms)
      return false;
    wake_ms = 0;
    while (!entries.empty() && entries.begin()->first <= now_ms && due.size() < max) {
      due.push_back(*entries.begin());
      entries.erase(entries.begin());
    }
    return true;
  }
};

/// Publishes an actor's share of a gauge: adds the change since it last published.
inline void publish_share(std::atomic<int64_t>& gauge, int64_t& published, int64_t now) {
  gauge += now - published;
  published = now;
}

} // namespace saga
