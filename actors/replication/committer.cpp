#include "actors/replication/replication.hpp"

// The committer of one partition: the writer's group for this partition becomes one Kafka
// transaction here (blocking, on this actor's own thread).

namespace saga {

namespace {

struct committer_state {
  static inline const char* name = "changelog_committer";
};

caf::behavior committer(caf::stateful_actor<committer_state>* self, context_ptr ctx,
                        std::shared_ptr<txn_producer> producer) {
  (void)self;
  return {
    [ctx, producer](changelog_atom, const std::vector<std::string>& records,
                    const std::vector<std::string>& events) -> caf::result<int64_t> {
      if (ctx->halted.load())
        return caf::make_error(caf::sec::runtime_error, "the node is stopping");
      auto o = producer->commit(records, events);
      if (o.error.empty()) {
        ctx->stats->replication_transactions += 1;
        if (o.attempts > 1)
          ctx->stats->replication_retried_transactions += 1;
        return o.last_offset;
      }
      std::string why =
        o.fenced ? "partition " + std::to_string(producer->log_partition()) + " (transactional.id "
                     + producer->id() + ") is fenced: another owner opened it, or its "
                       "producer failed for good (" + o.error + "). This node stops serving; "
                       "nothing of the failed transaction was acknowledged"
                 : "the transaction of partition " + std::to_string(producer->log_partition())
                     + " failed " + std::to_string(o.attempts) + " time(s) (" + o.error
                     + "); nothing of it was acknowledged. A restart applies the changelog "
                       "and serves again";
      ctx->halt(why);
      return caf::make_error(caf::sec::runtime_error, why);
    },
  };
}

} // namespace

std::vector<caf::actor> spawn_committers(caf::actor_system& sys, context_ptr ctx,
                                         const std::vector<std::shared_ptr<txn_producer>>& ps) {
  std::vector<caf::actor> out(ps.size());
  for (size_t p = 0; p < ps.size(); ++p)
    if (ps[p])
      out[p] = sys.spawn<caf::detached>(committer, ctx, ps[p]);
  return out;
}

} // namespace saga
