#pragma once
// Introspection: what the console, `sagactl` and GET /inspect/... show.
//
// Cheap enough to stay on in production, and without a global lock:
// - every long-lived actor (writer, supervisor, inventory and payment partitions, relay)
//   owns an `actor_probe` (a message counter it alone writes) and answers `inspect_atom`
//   with an `actor_info` read off itself, mailbox depth included, on its own thread;
// - the `inspector` actor is the registry of those actors: they are registered with it
//   when spawned, it monitors them, and it fans `inspect_atom` out on request;
// - orders (possibly a million) are never asked one by one: each order actor tells the
//   supervisor its step after every durable step (`order_progress`), and the supervisor
//   keeps one row per live order, ordered by id (pagination) and indexed by the deadline
//   of its step budget (the stuck-saga detector is O(stuck), not O(orders)).

#include <string>
#include <vector>

#include "actors/messages.hpp"
#include "actors/inspect/timeline.hpp"
#include "runtime/context.hpp"

namespace saga {

/// Messages waiting in `self`'s mailbox, read by `self` inside one of its handlers: the
/// messages CAF has already moved from the inbox stack into the queue (it does so at
/// every scheduling round), so arrivals during the current round are not yet counted.
/// (`mailbox().size()` would count those too, but its inbox fetch runs a downcast of the
/// queue's sentinel node in CAF 0.17's headers that UBSan reports.)
template <class Self>
int64_t mailbox_depth(Self* self) {
  return static_cast<int64_t>(self->mailbox().queue().total_task_size());
}

/// A long-lived actor's own counters. Only the owning actor writes them.
struct actor_probe {
  std::string kind;
  std::string key;
  int64_t spawned_at_ms = 0;
  uint64_t processed = 0;

  void count() { ++processed; }

  /// The actor's `actor_info`, read from inside one of its handlers.
  template <class Self>
  actor_info read(Self* self, const runtime_context& ctx, std::string state = "running") const {
    actor_info x;
    x.kind = kind;
    x.key = key;
    x.node = ctx.cfg.node_id;
    x.state = std::move(state);
    x.actor_id = self->id();
    x.mailbox = mailbox_depth(self);
    x.processed = processed;
    x.state_since_ms = spawned_at_ms;
    x.spawned_at_ms = spawned_at_ms;
    return x;
  }
};

/// `(register_atom, kind, key, actor)` adds a long-lived actor; `(summary_atom)` answers
/// `inspect_summary`, `(list_atom)` the long-lived actors' `actor_info`s. An actor that does
/// not answer within the request time-out is listed with state "unresponsive".
struct inspector_state {
  context_ptr ctx;
  std::vector<caf::actor> owners; // every order partition's owner (summary)
  struct entry {
    std::string kind;
    std::string key;
    caf::actor handle;
  };
  std::vector<entry> actors;
  actor_probe probe;
  static inline const char* name = "inspector";
};

caf::behavior inspector(caf::stateful_actor<inspector_state>* self, context_ptr ctx);

} // namespace saga
