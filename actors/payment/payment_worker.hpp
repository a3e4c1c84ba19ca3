#pragma once
// A payment worker: the single owner of one partition of payments (by order id). Creates
// intents, verifies the provider's signed verdicts, expires unverified intents (durable
// timer: the deadline is stored with the intent) and refunds. Every change is durable
// before it is answered or reported to the order (through its partition's owner).

#include "actors/plumbing/deadline_index.hpp"
#include "actors/inspect/introspection.hpp"
#include "actors/messages.hpp"
#include <map>
#include <unordered_map>

#include "actors/payment/payment_book.hpp"
#include "runtime/context.hpp"

namespace saga {

struct payment_worker_state {
  context_ptr ctx;
  caf::actor writer;
  std::vector<caf::actor> owners; // order partition owners: a verdict goes to its order's
  size_t partition = 0;
  payment_book book;
  int64_t inflight_writes = 0;
  /// Writes of each intent queued at the writer and not yet durable: an intent leaves
  /// memory only when none is, or a read from the store would find an older version.
  std::unordered_map<std::string, int> writing;
  /// Verifications of a late capture waiting to ask its order again (`late_refund`): by
  /// token, with the answer they give once the order has recorded the refund.
  struct late_ask {
    payment_reply reply;
    caf::response_promise rp;
    int attempt = 0;
  };
  std::map<uint64_t, late_ask> late_asks;
  uint64_t next_late_ask = 0;
  deadline_index deadlines; // intent expiries behind one timer (actors/plumbing/deadline_index.hpp)
  int64_t counted = 0; // intents in memory as last published to the metrics
  actor_probe probe;
  static inline const char* name = "payment_worker";
  ~payment_worker_state() {
    if (ctx)
      ctx->stats->intents_in_memory -= counted;
  }
};

caf::behavior payment_worker(caf::stateful_actor<payment_worker_state>* self, context_ptr ctx,
                             caf::actor writer, std::vector<caf::actor> owners, size_t partition,
                             payment_book book, due_list due = {});

} // namespace saga
