#pragma once
// A gateway request to a partition's directory slot that follows the partition when it
// moves (issue 25, item 4: "the sender resolves again within the request's deadline").
//
// In a cluster with replication = kafka every slot is a forwarder (actors/cluster/
// cluster.hpp) that hands requests to the partition's holder. When the holder releases the
// partition (another node took it) or its actor ends just as a request arrives, CAF bounces
// the request unprocessed (`request_receiver_down` without context), before this node's
// ownership table has re-routed the forwarder. Such a request is sent again through the same
// forwarder (`again`), which hands it on after a pause to whoever holds the partition then,
// or answers `node_unavailable` (503 with Retry-After) while nobody does. It is re-sent only
// while the request's deadline leaves room for the pause (and at most `max_resends` times);
// the last failure is the caller's. CAF bounces only a request its receiver never handled
// (one still in its mailbox when it ended, or sent to it after), so sending it again is
// safe; an actor that relays another's failure adds its own context, so such a failure is
// never taken for a bounce (actors/order/owner_restarts.cpp).

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>

#include <caf/all.hpp>

#include "actors/messages.hpp"
#include "runtime/config.hpp"

namespace saga::gateway_detail {

/// The pause before re-send `attempt` (0 is the first): 25 ms, doubling, at most 400 ms.
inline int64_t resend_pause_ms(int attempt) {
  return std::min<int64_t>(400, int64_t{25} << std::min(attempt, 4));
}

/// At most this many re-sends (about 2 s of pauses): a move is learnt well within that,
/// and an order actor that crashes on every start is not restarted once per re-send.
inline constexpr int max_resends = 8;

/// CAF's bounce of a request whose receiver had ended (an owner's own receiver_down carries
/// its reason as context and is not a move).
inline bool ended_on_arrival(const caf::error& e) {
  return e == caf::sec::request_receiver_down && e.context().empty();
}

/// True when the slots of a partition are forwarders that can move: another node's
/// partition, or any partition of a cluster with replication = kafka (runtime.cpp).
inline bool slot_forwards(const node_config& cfg, const directory& dir, bool remote) {
  return remote || (!dir.orders_remote.empty() && cfg.cluster_replication == "kafka");
}

template <class Ok, class Err>
class slot_request : public std::enable_shared_from_this<slot_request<Ok, Err>> {
public:
  slot_request(caf::event_based_actor* self, caf::actor slot, bool forwards,
               caf::timespan timeout, caf::message msg, Ok ok, Err err,
               std::atomic<uint64_t>* resends)
    : self_(self), slot_(std::move(slot)), forwards_(forwards),
      deadline_(self->clock().now() + timeout), msg_(std::move(msg)), ok_(std::move(ok)),
      err_(std::move(err)), resends_(resends) {
  }

  void send() {
    auto me = this->shared_from_this();
    sent_at_ = self_->clock().now();
    auto left = std::chrono::duration_cast<caf::timespan>(deadline_ - sent_at_);
    auto failed = [me](caf::error& e) { me->failed(e); };
    if (attempt_ == 0)
      self_->request(slot_, left, msg_).then(ok_, failed);
    else
      self_->request(slot_, left, again_atom::value, resend_pause_ms(attempt_ - 1), msg_)
        .then(ok_, failed);
  }

private:
  void failed(caf::error& e) {
    auto now = self_->clock().now();
    // A re-send bounced before its pause was over was not kept by a forwarder (the slot
    // ended with its node's runtime): asking again would only spin.
    bool kept = attempt_ == 0
                || now - sent_at_ >= std::chrono::milliseconds(resend_pause_ms(attempt_ - 1));
    auto pause = std::chrono::milliseconds(resend_pause_ms(attempt_));
    // Room for the pause and for the holder to answer (at least as long again).
    if (forwards_ && kept && attempt_ < max_resends && ended_on_arrival(e)
        && now + 2 * pause < deadline_) {
      ++attempt_;
      if (resends_)
        ++*resends_;
      send();
      return;
    }
    err_(e);
  }

  caf::event_based_actor* self_;
  caf::actor slot_;
  bool forwards_;
  caf::actor_clock::time_point deadline_; // CAF's clock: a test's clock moves it
  caf::actor_clock::time_point sent_at_;
  caf::message msg_;
  Ok ok_;
  Err err_;
  std::atomic<uint64_t>* resends_;
  int attempt_ = 0;
};

/// A request to a slot, sent by `then` (as CAF's `request(...).then(ok, err)`).
struct slot_call {
  caf::event_based_actor* self;
  caf::actor slot;
  bool forwards;
  caf::timespan timeout;
  std::atomic<uint64_t>* resends;
  caf::message msg;

  template <class Ok, class Err>
  void then(Ok ok, Err err) && {
    std::make_shared<slot_request<Ok, Err>>(self, std::move(slot), forwards, timeout,
                                            std::move(msg), std::move(ok), std::move(err),
                                            resends)
      ->send();
  }
};

/// Requests `xs...` of the directory slot `slot` within `timeout`; `.then(ok, err)` gets
/// the reply or the failure. `forwards`: the slot is a forwarder (`slot_forwards`); only
/// then is a request bounced by an ended actor sent again (see above). `resends` counts the
/// re-sends (saga_gateway_resends_total).
template <class... Ts>
slot_call request_slot(caf::event_based_actor* self, const caf::actor& slot, bool forwards,
                       caf::timespan timeout, std::atomic<uint64_t>* resends, Ts&&... xs) {
  return {self, slot, forwards, timeout, resends, caf::make_message(std::forward<Ts>(xs)...)};
}

} // namespace saga::gateway_detail
