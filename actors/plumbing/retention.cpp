#include "actors/plumbing/retention.hpp"

#include "actors/order/idempotency.hpp"
#include "actors/plumbing/writer.hpp"

namespace saga {

storage::batch expired_idempotency_keys(const storage::store& db, int64_t now_ms,
                                        int64_t retention_ms, size_t max_per_round,
                                        size_t& found) {
  storage::batch b;
  found = 0;
  (void)db.scan(storage::family::meta, "idem_t/", [&](std::string_view k, std::string_view) {
    if (k.size() < 15 || found >= max_per_round)
      return false;
    int64_t created = static_cast<int64_t>(storage::from_be64(k.substr(7, 8)));
    if (created + retention_ms > now_ms)
      return false; // the index is in time order: nothing later has expired
    std::string scoped(k.substr(15));
    b.ops.push_back({storage::family::meta, std::string(k), {}, true});
    std::string raw;
    idempotency_record rec;
    // Erased only if it is still the binding read here when the writer gets to it: a retry
    // may re-bind the key meanwhile, and its new binding must stay.
    if (db.get(storage::family::meta, "idem/" + scoped, raw) == storage::read_status::found
        && decode_idempotency(raw, rec)
        && rec.created_at_ms == created)
      b.erase_if.push_back({storage::family::meta, "idem/" + scoped, raw});
    ++found;
    return true;
  });
  return b;
}

namespace {

void sweep_round(caf::stateful_actor<retention_sweeper_state>* self) {
  auto& st = self->state;
  if (st.busy)
    return;
  size_t found = 0;
  auto b = expired_idempotency_keys(*st.ctx->db, st.ctx->now_ms(),
                                    st.ctx->cfg.http_idempotency_retention_ms, 1000, found);
  if (found == 0)
    return;
  st.busy = true;
  persist_then(self, st.writer, std::move(b), [self, found] {
    auto& st = self->state;
    st.busy = false;
    st.ctx->stats->idempotency_keys_expired += found;
    st.ctx->stats->idempotency_keys -= static_cast<int64_t>(found);
    if (found == 1000)
      self->send(self, flush_atom::value); // more are due: go on at once
  });
}

} // namespace

caf::behavior retention_sweeper(caf::stateful_actor<retention_sweeper_state>* self,
                                context_ptr ctx, caf::actor writer) {
  self->state.ctx = std::move(ctx);
  self->state.writer = std::move(writer);
  self->state.probe = {"retention_sweeper", "0", self->state.ctx->now_ms(), 0};
  // A round every retention / 8, at least every minute and at most every 100 ms.
  auto retention = self->state.ctx->cfg.http_idempotency_retention_ms;
  auto period = std::chrono::milliseconds(std::clamp<int64_t>(retention / 8, 100, 60000));
  self->send(self, tick_atom::value);
  return {
    [self, period](tick_atom) {
      self->state.probe.count();
      self->delayed_send(self, period, tick_atom::value);
      sweep_round(self);
    },
    [self](flush_atom) {
      self->state.probe.count();
      sweep_round(self);
    },
    [self](inspect_atom) {
      auto& st = self->state;
      st.probe.count();
      return st.probe.read(self, *st.ctx, st.busy ? "sweeping" : "idle");
    },
    // Fault injection for the supervision tests (no HTTP route reaches it).
    [self](crash_atom) { self->quit(caf::make_error(caf::sec::runtime_error, "crash requested")); },
  };
}

} // namespace saga
