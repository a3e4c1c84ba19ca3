// The forwarder (cluster.hpp): a partition's local stand-in in the directory. It hands
// each message on to the partition's holder, holds messages during a hand-off, and keeps a
// request sent again after a move (`again`) for its pause.
#include "actors/cluster/cluster.hpp"

namespace saga {

namespace {

using forwarder_ptr = caf::stateful_actor<forwarder_state>*;

/// Hands a kept message (held during a hand-off, or sent again after a move) to the
/// partition's holder with its sender and request id, or answers a request
/// `node_unavailable` when nobody holds it now.
void hand_on(forwarder_ptr self, const std::string& node, const std::string& slot,
             metrics::peer_stats* stats, forwarder_state::held_message&& h) {
  auto& st = self->state;
  if (st.target) {
    if (stats)
      ++stats->forwarded;
    st.target->enqueue(caf::make_mailbox_element(std::move(h.sender), h.mid,
                                                 std::move(h.stages), std::move(h.content)),
                       self->context());
  } else if (!h.mid.is_async() && h.sender) {
    if (stats)
      ++stats->unavailable;
    h.sender->enqueue(caf::make_mailbox_element(self->ctrl(), h.mid.response_id(), {},
                                                caf::make_message(node_unavailable(node, slot))),
                      self->context());
  }
}

} // namespace

caf::behavior forwarder(caf::stateful_actor<forwarder_state>* self, std::string node,
                        std::string slot, metrics::peer_stats* stats) {
  // Every message but `route`, `hold` and `again` is the owner's: handed on as it is, with
  // its sender and request id (`delegate`), so the owner answers the requester directly.
  // While the owner is down a request gets `node_unavailable` at once; a plain message is
  // dropped (as CAF drops a message to a dead proxy), its sender re-sends.
  self->set_default_handler(
    [node, slot, stats](caf::scheduled_actor* ptr, caf::message_view& x) -> caf::result<caf::message> {
      auto* me = static_cast<caf::stateful_actor<forwarder_state>*>(ptr);
      if (me->state.holding) { // a hand-off: kept, answered by the new holder
        auto* e = me->current_mailbox_element();
        me->state.held.push_back({e->sender, e->mid, e->stages, x.move_content_to_message()});
        return caf::delegated<caf::message>{};
      }
      if (me->state.target) {
        if (stats)
          ++stats->forwarded;
        return me->delegate(me->state.target, x.move_content_to_message());
      }
      if (stats)
          ++stats->unavailable;
      // An error returned for a plain message would reach its sender as an error message
      // (and stop it): only a request gets an answer.
      if (me->current_mailbox_element()->mid.is_async())
        return caf::message{};
      return node_unavailable(node, slot);
    });
  // Hands the held messages to the target, or answers the held requests unavailable.
  auto release = [self, node, slot, stats] {
    auto& st = self->state;
    st.holding = false;
    auto held = std::move(st.held);
    st.held.clear();
    for (auto& h : held)
      hand_on(self, node, slot, stats, std::move(h));
  };
  return {
    [self, release](route_atom, caf::actor& target) {
      self->state.target = std::move(target);
      if (self->state.holding && self->state.target)
        release();
    },
    // A graceful hand-off starts (on) or gives up (off); `ms`: the longest it holds.
    [self, release](hold_atom, bool on, int64_t ms) {
      auto& st = self->state;
      if (!on) {
        if (st.holding)
          release();
        return;
      }
      st.holding = true;
      auto gen = ++st.hold_generation;
      self->delayed_send(self, std::chrono::milliseconds(ms), hold_atom::value, false, gen);
    },
    [self, release](hold_atom, bool, uint64_t gen) { // the hold's time-out
      if (self->state.holding && gen == self->state.hold_generation)
        release();
    },
    // A request that reached an ended actor (the partition moved before this forwarder
    // learnt of it), sent again by its requester (gateway/slot_request.hpp): after
    // `pause_ms` it goes, with its sender and request id, to whoever holds the partition
    // then (kept by a hold like any other message), or is answered node_unavailable.
    [self](again_atom, int64_t pause_ms, caf::message& content) -> caf::result<caf::message> {
      auto* e = self->current_mailbox_element();
      auto id = ++self->state.again_seq;
      self->state.again.emplace(id, forwarder_state::held_message{e->sender, e->mid, e->stages,
                                                                  std::move(content)});
      self->delayed_send(self, std::chrono::milliseconds(std::max<int64_t>(0, pause_ms)),
                         again_atom::value, id);
      return caf::delegated<caf::message>{};
    },
    [self, node, slot, stats](again_atom, uint64_t id) {
      auto& st = self->state;
      auto i = st.again.find(id);
      if (i == st.again.end())
        return;
      auto h = std::move(i->second);
      st.again.erase(i);
      if (st.holding)
        st.held.push_back(std::move(h));
      else
        hand_on(self, node, slot, stats, std::move(h));
    },
  };
}

} // namespace saga
