#include "actors/plumbing/component_supervisor.hpp"

#include "actors/inspect/introspection.hpp"
#include "actors/plumbing/writer.hpp"

namespace saga {

namespace {

using self_ptr = caf::stateful_actor<component_supervisor_state>*;

std::string name_of(const component_supervisor_state& st) { return st.kind + "/" + st.key; }

caf::error failed_error(const component_supervisor_state& st) {
  return caf::make_error(caf::sec::runtime_error,
                         name_of(st) + " failed after " + std::to_string(st.restarts)
                           + " restarts (last: " + st.last_reason + ")");
}

caf::error stopping_error(const component_supervisor_state& st) {
  return caf::make_error(caf::sec::runtime_error,
                         "node_stopping: " + name_of(st) + " is down (" + st.last_reason
                           + ") and the node is stopping after a failed storage read or "
                             "write; it is not restarted");
}

void start_child(self_ptr self) {
  auto& st = self->state;
  st.child = st.make(self->system(), st.restarts);
  self->monitor(st.child);
  st.restarting = false;
  if (st.restarts > 0) // what its predecessor was told at the start, first
    for (auto& r : st.registrations)
      self->send(st.child, r.msg);
  // Held messages go first, in the order they came, before anything newer.
  while (!st.held.empty()) {
    auto [rp, msg] = std::move(st.held.front());
    st.held.pop_front();
    rp.delegate(st.child, std::move(msg));
  }
}

void fail(self_ptr self) {
  auto& st = self->state;
  st.failed = true;
  st.child = nullptr;
  st.ctx->stats->set_component_failed(name_of(st), true);
  st.ctx->log->critical("{} failed for good: {} restarts within {} ms (last: {}); /readyz "
                        "answers 503 and new orders are refused until the node is restarted",
                        name_of(st), st.restart_times.size(),
                        st.ctx->cfg.supervision_restart_window_ms, st.last_reason);
  auto err = failed_error(st);
  while (!st.held.empty()) {
    st.held.front().first.deliver(err);
    st.held.pop_front();
  }
}

void on_child_down(self_ptr self, const caf::error& reason) {
  auto& st = self->state;
  auto now = st.ctx->now_ms();
  st.last_reason = self->system().render(reason);
  while (!st.restart_times.empty()
         && st.restart_times.front() <= now - st.ctx->cfg.supervision_restart_window_ms)
    st.restart_times.pop_front();
  if (static_cast<int64_t>(st.restart_times.size()) >= st.ctx->cfg.supervision_max_restarts)
    return fail(self);
  st.restart_times.push_back(now);
  ++st.restarts;
  ++st.ctx->stats->component_restarts;
  st.restarting = true;
  st.child = nullptr;
  st.ctx->log->error("{} died ({}); restart {}/{} from its durable state", name_of(st),
                     st.last_reason, st.restart_times.size(),
                     st.ctx->cfg.supervision_max_restarts);
  if (!st.writer)
    return start_child(self);
  // Writes the dead child queued are ahead of this empty batch: once it is answered the
  // store holds everything the child made durable, and the new child reads it back.
  self->request(st.writer, caf::infinite, write_atom::value, storage::batch{})
    .then([self](bool) { start_child(self); },
          [self](caf::error& e) {
            self->state.last_reason = "writer barrier: " + self->system().render(e);
            fail(self);
          });
}

/// Hands `msg` to the child with its sender and request id, holds it while the child
/// restarts, or answers the failure.
caf::result<caf::message> to_child(self_ptr self, caf::message msg) {
  auto& st = self->state;
  auto rp = self->make_response_promise();
  if (st.failed || st.stopping) {
    rp.deliver(st.stopping ? stopping_error(st) : failed_error(st));
    return caf::delegated<caf::message>{};
  }
  if (st.restarting || !st.child) {
    if (st.held.size() >= 100000) { // bounded: past it, callers retry later
      rp.deliver(caf::make_error(caf::sec::runtime_error, name_of(st) + " is restarting"));
      return caf::delegated<caf::message>{};
    }
    st.held.emplace_back(std::move(rp), std::move(msg));
    return caf::delegated<caf::message>{};
  }
  rp.delegate(st.child, std::move(msg));
  return caf::delegated<caf::message>{};
}

} // namespace

caf::behavior component_supervisor(self_ptr self, context_ptr ctx, std::string kind,
                                   std::string key, component_factory make, caf::actor writer) {
  auto& st = self->state;
  st.ctx = std::move(ctx);
  st.kind = std::move(kind);
  st.key = std::move(key);
  st.make = std::move(make);
  st.writer = std::move(writer);
  start_child(self);
  self->set_down_handler([self](caf::down_msg& dm) {
    auto& st = self->state;
    if (!st.child || dm.source != st.child.address()) {
      // A registered actor ended (a released partition): its registration is not replayed
      // to a successor.
      auto& rs = st.registrations;
      rs.erase(std::remove_if(rs.begin(), rs.end(),
                              [&](const component_supervisor_state::registration& r) {
                                return r.who == dm.source;
                              }),
               rs.end());
      return;
    }
    if (dm.reason == caf::exit_reason::normal || dm.reason == caf::exit_reason::user_shutdown) {
      st.child = nullptr;
      return;
    }
    if (st.ctx->halted.load()) { // the node stops after a failed read or write: no restarts
      st.child = nullptr;
      st.stopping = true;
      st.last_reason = self->system().render(dm.reason);
      auto err = stopping_error(st);
      while (!st.held.empty()) {
        st.held.front().first.deliver(err);
        st.held.pop_front();
      }
      return;
    }
    on_child_down(self, dm.reason);
  });
  // Shutdown takes the child along (it is monitored, not linked).
  self->set_exit_handler([self](caf::exit_msg& em) {
    if (self->state.child)
      self->send_exit(self->state.child, em.reason);
    self->quit(em.reason);
  });
  // Everything else is the child's: forwarded with its sender, held while restarting.
  self->set_default_handler([](caf::scheduled_actor* ptr,
                               caf::message_view& x) -> caf::result<caf::message> {
    return to_child(static_cast<self_ptr>(ptr), x.move_content_to_message());
  });
  return {
    // A registration (the inspector's registry): kept for the child's successors.
    [self](register_atom, std::string& kind, std::string& key, caf::actor& a) {
      auto who = a.address();
      self->monitor(a);
      auto msg = caf::make_message(register_atom::value, std::move(kind), std::move(key),
                                   std::move(a));
      self->state.registrations.push_back({who, msg});
      // While the child restarts, start_child gives it every registration kept: holding
      // this one too would register it twice.
      if (self->state.child && !self->state.restarting)
        to_child(self, std::move(msg));
    },
    // Introspection: the child's own view, plus the restarts only the supervisor knows.
    [self](inspect_atom) -> caf::result<actor_info> {
      auto& st = self->state;
      auto rp = self->make_response_promise<actor_info>();
      if (!st.child) {
        actor_info x;
        x.kind = st.kind;
        x.key = st.key;
        x.node = st.ctx->cfg.node_id;
        x.state = st.failed ? "failed" : st.stopping ? "stopping" : "restarting";
        x.actor_id = self->id();
        x.restarts = st.restarts;
        rp.deliver(std::move(x));
        return rp;
      }
      auto restarts = st.restarts;
      self->request(st.child, st.ctx->request_timeout(), inspect_atom::value)
        .then([rp, restarts](actor_info& x) mutable {
                x.restarts = restarts;
                rp.deliver(std::move(x));
              },
              [rp](caf::error& e) mutable { rp.deliver(std::move(e)); });
      return rp;
    },
  };
}

caf::actor spawn_supervised(caf::actor_system& sys, context_ptr ctx, std::string kind,
                            std::string key, component_factory make, caf::actor writer) {
  return sys.spawn(component_supervisor, std::move(ctx), std::move(kind), std::move(key),
                   std::move(make), std::move(writer));
}

} // namespace saga
