#pragma once
// Supervision of a long-lived component (an inventory or payment partition, the Kafka
// relay, the inspector): the component_supervisor stands in the directory in the
// component's place, so every handle in the node stays valid across restarts. It forwards
// every message to the current child (delegate: the child answers the original sender),
// and when the child dies abnormally it restarts it from the durable state:
//
//   running --child down--> restarting --writer barrier, factory--> running
//      |                                       (messages meanwhile are held, in order)
//      +-- more than supervision.max_restarts in supervision.restart_window_ms --> failed
//
// On a node that is stopping (a storage read or write failed) a dead child is not restarted:
// requests are answered `node_stopping` at once, never "receiver down".
//
// "Failed" is loud: the component is named in /readyz (503) and new orders get 503;
// requests to it are answered with an error at once, so the sagas that need it retry,
// give up and end parked with the reason instead of waiting forever.
//
// The writer barrier (an empty write) makes sure every write the dead child queued is
// durable before its partition state is read back from the store.

#include <deque>
#include <functional>

#include "actors/messages.hpp"
#include "runtime/context.hpp"

namespace saga {

/// Spawns a fresh child (the argument: how many restarts came before).
using component_factory = std::function<caf::actor(caf::actor_system&, uint64_t restarts)>;

struct component_supervisor_state {
  context_ptr ctx;
  std::string kind;
  std::string key;
  component_factory make;
  caf::actor writer; // barrier before a restart (may be null)
  caf::actor child;
  bool failed = false;
  bool restarting = false;
  /// The child died on a node that is stopping (a failed storage read or write): it is not
  /// restarted, and every request is answered `node_stopping`.
  bool stopping = false;
  /// Registrations the child was given (the inspector's registry of long-lived actors),
  /// given again, in order, to every restarted child. Each registered actor is monitored:
  /// one that ends (a partition this node released) is dropped, so a node that takes and
  /// releases partitions many times keeps only the live ones.
  struct registration {
    caf::actor_addr who;
    caf::message msg;
  };
  std::vector<registration> registrations;
  uint64_t restarts = 0;
  std::deque<int64_t> restart_times;
  /// Messages that arrived while restarting, with their promises, in arrival order.
  std::deque<std::pair<caf::response_promise, caf::message>> held;
  std::string last_reason;
  static inline const char* name = "component_supervisor";
};

caf::behavior component_supervisor(caf::stateful_actor<component_supervisor_state>* self,
                                   context_ptr ctx, std::string kind, std::string key,
                                   component_factory make, caf::actor writer);

/// Spawns the supervisor with its first child.
caf::actor spawn_supervised(caf::actor_system& sys, context_ptr ctx, std::string kind,
                            std::string key, component_factory make, caf::actor writer = {});

} // namespace saga
