#include "actors/inspect/introspection.hpp"

#include "actors/plumbing/partitions.hpp"

#include <algorithm>
#include <memory>

namespace saga {

namespace {

using self_ptr = caf::stateful_actor<inspector_state>*;

/// Asks every registered actor for its `actor_info`; calls `done` with all of them (in
/// registration order) once each answered or timed out.
void gather_actors(self_ptr self, std::function<void(std::vector<actor_info>)> done) {
  struct gather {
    std::vector<actor_info> rows;
    size_t remaining = 0;
  };
  auto& st = self->state;
  auto g = std::make_shared<gather>();
  g->rows.resize(st.actors.size() + 1);
  g->rows[0] = st.probe.read(self, *st.ctx); // the inspector itself
  g->remaining = st.actors.size();
  if (g->remaining == 0)
    return done(std::move(g->rows));
  for (size_t i = 0; i < st.actors.size(); ++i) {
    auto& e = st.actors[i];
    auto finish = [g, done] {
      if (--g->remaining == 0)
        done(std::move(g->rows));
    };
    self->request(e.handle, st.ctx->request_timeout(), inspect_atom::value)
      .then(
        [g, i, finish](actor_info& x) {
          g->rows[i + 1] = std::move(x);
          finish();
        },
        [self, g, i, finish, e](caf::error&) {
          actor_info x;
          x.kind = e.kind;
          x.key = e.key;
          x.node = self->state.ctx->cfg.node_id;
          x.state = "unresponsive";
          x.actor_id = e.handle.id();
          x.mailbox = -1;
          g->rows[i + 1] = std::move(x);
          finish();
        });
  }
}

} // namespace

caf::behavior inspector(self_ptr self, context_ptr ctx) {
  auto& st = self->state;
  st.ctx = std::move(ctx);
  st.probe.kind = "inspector";
  st.probe.key = "0";
  st.probe.spawned_at_ms = st.ctx->now_ms();
  // A registered actor that ends (a partition released by this node) leaves the registry
  // and the owners asked for summaries.
  self->set_down_handler([self](caf::down_msg& dm) {
    auto& xs = self->state.actors;
    xs.erase(std::remove_if(xs.begin(), xs.end(),
                            [&](const inspector_state::entry& e) {
                              return e.handle.address() == dm.source;
                            }),
             xs.end());
    auto& os = self->state.owners;
    os.erase(std::remove_if(os.begin(), os.end(),
                            [&](const caf::actor& a) { return a.address() == dm.source; }),
             os.end());
  });
  return {
    [self](register_atom, const std::string& kind, const std::string& key, caf::actor a) {
      auto& st = self->state;
      st.probe.count();
      if (kind == "order_supervisor")
        st.owners.push_back(a);
      self->monitor(a);
      st.actors.push_back({kind, key, std::move(a)});
    },
    [self](inspect_atom) {
      self->state.probe.count();
      return self->state.probe.read(self, *self->state.ctx);
    },
    // Fault injection for the supervision tests (no HTTP route reaches it).
    [self](crash_atom) { self->quit(caf::make_error(caf::sec::runtime_error, "crash requested")); },
    [self](list_atom) -> caf::result<std::vector<actor_info>> {
      self->state.probe.count();
      auto rp = self->make_response_promise<std::vector<actor_info>>();
      gather_actors(self, [rp](std::vector<actor_info> rows) mutable { rp.deliver(std::move(rows)); });
      return rp;
    },
    [self](summary_atom) -> caf::result<inspect_summary> {
      auto& st = self->state;
      st.probe.count();
      auto rp = self->make_response_promise<inspect_summary>();
      auto out = std::make_shared<inspect_summary>();
      auto pending = std::make_shared<int>(2);
      auto finish = [rp, out, pending]() mutable {
        if (--*pending == 0)
          rp.deliver(std::move(*out));
      };
      gather_actors(self, [out, finish](std::vector<actor_info> rows) mutable {
        out->actors = std::move(rows);
        finish();
      });
      ask_all<order_summary>(
        self, st.owners, st.ctx->request_timeout(),
        [out, finish](std::vector<order_summary> parts) mutable {
          out->orders = merge_summaries(std::move(parts));
          finish();
        },
        [finish](caf::error&) mutable { finish(); }, summary_atom::value);
      return rp;
    },
  };
}

} // namespace saga
