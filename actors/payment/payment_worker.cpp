#include "actors/payment/payment_worker.hpp"

#include "actors/plumbing/writer.hpp"
#include "actors/payment/payment_codec.hpp"
#include "storage/keys.hpp"

namespace saga {

namespace {

using self_ptr = caf::stateful_actor<payment_worker_state>*;

/// The intent and its deadline index entry (storage/keys.hpp): put while it is pending,
/// erased once it is decided.
storage::batch to_batch(const payment_intent& p, int64_t partitions) {
  storage::batch b;
  b.ops.push_back({storage::family::payments, p.payment_id, saga::encode(p), false});
  b.log_partition = directory::order_log_partition(p.order_id, partitions);
  bool pending = p.status == payment_status::pending;
  b.ops.push_back({storage::family::meta, storage::due_payment_key(p.expires_at_ms, p.payment_id),
                   pending ? p.order_id : std::string(), !pending});
  return b;
}

void arm_expiry(self_ptr self, const payment_intent& p) {
  self->state.deadlines.add(self, *self->state.ctx, p.expires_at_ms, p.payment_id);
}

void publish_count(self_ptr self) {
  auto& st = self->state;
  publish_share(st.ctx->stats->intents_in_memory, st.counted,
                static_cast<int64_t>(st.book.intents().size()));
}

/// A decided intent leaves memory (and the deadline index) once durable; repeats and
/// refunds find it in the store.
void forget_if_decided(self_ptr self, const std::string& payment_id) {
  auto& st = self->state;
  if (st.writing.count(payment_id) != 0)
    return; // a later change is still on its way to the disk: its answer forgets it
  auto* p = st.book.find(payment_id);
  if (p != nullptr && p->status != payment_status::pending) {
    st.deadlines.remove(p->expires_at_ms, payment_id);
    st.book.forget(payment_id);
    publish_count(self);
  }
}

/// Brings a forgotten intent back from the store (idempotency per payment holds). False
/// when its record does not decode (logged; nothing is loaded).
bool ensure_loaded(self_ptr self, const std::string& payment_id) {
  auto& st = self->state;
  if (st.book.find(payment_id) != nullptr)
    return true;
  std::string raw;
  payment_intent x;
  auto got = st.ctx->db->get(storage::family::payments, payment_id, raw);
  if (got == storage::read_status::failed) { // never "no intent": the node stops
    st.ctx->log->error("payment_id={} the payment record cannot be read (storage read failed)",
                       payment_id);
    return false;
  }
  if (got == storage::read_status::absent)
    return true;
  if (!saga::decode(raw, x)) {
    st.ctx->log->error("payment_id={} the payment record does not decode: left as it is (its "
                       "deadline stays in the index; restore the record from a backup)",
                       payment_id);
    return false;
  }
  st.book.load(std::move(x));
  publish_count(self);
  return true;
}

errc to_errc(verify_code c) {
  switch (c) {
    case verify_code::ok: return errc::ok;
    case verify_code::bad_signature: return errc::bad_signature;
    case verify_code::not_found: return errc::not_found;
    case verify_code::conflict: return errc::conflict;
  }
  return errc::invalid;
}

/// Persists the intent if it changed, tells the order when asked to, then calls `then`.
void apply_change(self_ptr self, const payment_book::result& r, const payment_intent& p,
                  bool notify_order, std::function<void(const payment_reply&)> then) {
  auto& st = self->state;
  payment_reply reply{to_errc(r.code), r.message, p};
  storage::batch b;
  if (r.changed) {
    st.ctx->log->debug("order_id={} payment_id={} payment {}", p.order_id, p.payment_id,
                      to_string(p.status));
    b = to_batch(p, st.ctx->cfg.saga_partitions);
  }
  auto sup = st.owners[directory::order_partition(p.order_id, st.owners.size())];
  bool notify = notify_order && r.changed;
  bool counted = r.changed;
  if (counted)
    ++st.writing[p.payment_id];
  persist_then(self, st.writer, std::move(b), [self, reply, sup, notify, then, counted] {
    auto& st = self->state;
    if (counted) {
      auto i = st.writing.find(reply.intent.payment_id);
      if (i != st.writing.end() && --i->second == 0)
        st.writing.erase(i);
    }
    // Found by the simulation (seed 635): forgetting an intent here while its expiry was
    // still queued made the next read load the older, pending record from the store.
    forget_if_decided(self, reply.intent.payment_id);
    if (notify)
      self->send(sup, payment_update_atom::value, reply.intent.order_id, reply.intent.status);
    then(reply);
  });
}

/// A command whose record could not be read changes nothing: the node stops (the store's
/// read-failure handler), and the asker hears 503, never "no such intent".
payment_reply read_failed_reply() {
  return payment_reply{errc::unavailable, "the payment record cannot be read (storage read "
                                          "failed); the node is stopping", {}};
}

caf::result<payment_reply> persist_and_reply(self_ptr self, const payment_book::result& r,
                                             const payment_intent& p, bool notify_order) {
  auto rp = self->make_response_promise<payment_reply>();
  apply_change(self, r, p, notify_order,
               [rp](const payment_reply& reply) mutable { rp.deliver(reply); });
  return rp;
}

/// Times a late capture's order is asked again after its actor ended under the request
/// (CAF answers request_receiver_down), a pause apart: the row is gone by then and the
/// order's owner starts an actor from the snapshot.
constexpr int late_ask_attempts = 3;
constexpr auto late_ask_pause = std::chrono::milliseconds(50);

/// A late capture (payment_book::verify), refunded and durable: its order records the
/// capture and the refund (`late_refund`) before the verification is answered, so a client
/// that hears REFUNDED finds it on the order. When its order cannot record it now (its
/// partition is not served, a time-out) the verification answers 503: the provider's
/// repeat finds the payment refunded and asks the order again.
void ask_order_then_reply(self_ptr self, payment_reply reply, caf::response_promise rp,
                          int attempt) {
  auto& st = self->state;
  auto& id = reply.intent.order_id;
  auto sup = st.owners[directory::order_partition(id, st.owners.size())];
  // Half the request time-out: the gateway waits the whole of it for this answer, so an
  // order that is slow to answer gives the client this 503, which says why.
  self->request(sup, st.ctx->request_timeout() / 2, late_refund_atom::value, id)
    .then(
      [self, reply, rp](const input_reply& ir) mutable {
        if (ir.code == errc::ok || ir.state.payment == payment_status::refunded)
          return rp.deliver(reply);
        if (ir.code == errc::not_found) { // no order any more (retention): nothing to tell
          self->state.ctx->log->warn("order_id={} payment_id={} a late capture was refunded; "
                                     "its order is not stored here any more",
                                     reply.intent.order_id, reply.intent.payment_id);
          return rp.deliver(reply);
        }
        rp.deliver(payment_reply{errc::unavailable,
                                 "the late capture is refunded; its order has not recorded the "
                                 "refund yet (" + ir.message + "): retry",
                                 reply.intent});
      },
      [self, reply, rp, attempt](caf::error& e) mutable {
        auto& st = self->state;
        if (e == caf::sec::request_receiver_down && attempt + 1 < late_ask_attempts) {
          auto token = ++st.next_late_ask;
          st.late_asks[token] = {std::move(reply), std::move(rp), attempt + 1};
          self->delayed_send(self, late_ask_pause, late_refund_atom::value, token);
          return;
        }
        st.ctx->log->warn("order_id={} payment_id={} a late capture is refunded; its order "
                          "did not record it yet ({}): the verification answers 503",
                          reply.intent.order_id, reply.intent.payment_id,
                          self->system().render(e));
        rp.deliver(payment_reply{errc::unavailable,
                                 "the late capture is refunded; its order has not recorded the "
                                 "refund yet (" + self->system().render(e) + "): retry",
                                 reply.intent});
      });
}

} // namespace

caf::behavior payment_worker(self_ptr self, context_ptr ctx, caf::actor writer,
                             std::vector<caf::actor> owners, size_t partition, payment_book book,
                             due_list due) {
  auto& st = self->state;
  st.ctx = ctx;
  st.writer = std::move(writer);
  st.owners = std::move(owners);
  st.partition = partition;
  st.book = std::move(book);
  st.probe = {"payment_worker", std::to_string(partition), st.ctx->now_ms(), 0};
  // Durable timers: the deadline index read back from the store; the intents themselves
  // are read when something happens to them.
  st.deadlines.load(due);
  st.deadlines.schedule(self, *st.ctx);
  publish_count(self);
  return {
    [self](inspect_atom) {
      self->state.probe.count();
      return self->state.probe.read(self, *self->state.ctx);
    },
    // Fault injection for the supervision tests (no HTTP route reaches it).
    [self](crash_atom) { self->quit(caf::make_error(caf::sec::runtime_error, "crash requested")); },
    [self](intent_atom, const payment_intent& x) -> caf::result<payment_reply> {
      self->state.probe.count();
      auto& st = self->state;
      if (!ensure_loaded(self, x.payment_id) && st.ctx->db->read_failed())
        return read_failed_reply();
      auto r = st.book.create(x);
      auto& p = *st.book.find(x.payment_id);
      if (r.changed)
        arm_expiry(self, p);
      publish_count(self);
      // A known intent past its expiry is expired here too, and its order told, whatever
      // happened to its timer: an order that asks never hears "pending" forever.
      if (!r.changed && p.status == payment_status::pending && st.ctx->now_ms() >= p.expires_at_ms) {
        auto e = st.book.expire(x.payment_id, st.ctx->now_ms());
        if (e.changed)
          return persist_and_reply(self, e, *st.book.find(x.payment_id), true);
      }
      // A repeat (after an order restart) reports the current status: the order learns
      // of a verdict it may have missed while it was down.
      return persist_and_reply(self, r, p, false);
    },
    [self](verify_atom, const std::string& order_id, const std::string& payment_id,
           const std::string& status, const std::string& signature)
      -> caf::result<payment_reply> {
      self->state.probe.count();
      auto& st = self->state;
      if (status != "succeeded" && status != "failed")
        return payment_reply{errc::invalid, "status must be succeeded or failed", {}};
      if (!ensure_loaded(self, payment_id) && st.ctx->db->read_failed())
        return read_failed_reply();
      auto r = st.book.verify(st.ctx->cfg.payment_provider_secret, order_id, payment_id, status,
                              signature, st.ctx->now_ms());
      if (r.code == verify_code::bad_signature) {
        st.ctx->log->warn("order_id={} payment_id={} verification with a bad signature",
                          order_id, payment_id);
        return payment_reply{errc::bad_signature, r.message, {}};
      }
      if (r.code == verify_code::not_found)
        return payment_reply{errc::not_found, r.message, {}};
      auto& p = *st.book.find(payment_id);
      if (r.code == verify_code::ok && p.status == payment_status::refunded) {
        // A late capture, new or repeated: answered once its order has recorded it too.
        auto rp = self->make_response_promise<payment_reply>();
        apply_change(self, r, p, false, [self, rp](const payment_reply& reply) mutable {
          ask_order_then_reply(self, reply, rp, 0);
        });
        return rp;
      }
      return persist_and_reply(self, r, p, true);
    },
    [self](late_refund_atom, uint64_t token) { // the pause before asking the order again
      auto& st = self->state;
      auto i = st.late_asks.find(token);
      if (i == st.late_asks.end())
        return;
      auto ask = std::move(i->second);
      st.late_asks.erase(i);
      ask_order_then_reply(self, std::move(ask.reply), std::move(ask.rp), ask.attempt);
    },
    [self](timer_atom, int64_t at) {
      self->state.probe.count();
      auto& st = self->state;
      auto now = st.ctx->now_ms();
      due_list due;
      if (!st.deadlines.take_due(at, now, due, max_due_per_round))
        return; // superseded by an earlier wake-up
      for (auto& [deadline, payment_id] : due) {
        bool in_memory = st.book.find(payment_id) != nullptr;
        if (!ensure_loaded(self, payment_id)) // read back from the store after a start
          continue; // unreadable: its index entry stays for a restored record
        auto r = st.book.expire(payment_id, now);
        if (r.changed) {
          apply_change(self, r, *st.book.find(payment_id), true, [](const payment_reply&) {});
          continue;
        }
        auto* p = st.book.find(payment_id);
        if (p != nullptr && p->status == payment_status::pending) {
          arm_expiry(self, *p); // pending under another deadline
          continue;
        }
        // Decided meanwhile (its entry is gone or going) or an entry without its intent:
        // out of the index, so no start arms it again.
        storage::batch b;
        b.ops.push_back({storage::family::meta, storage::due_payment_key(deadline, payment_id),
                         {}, true});
        persist_then(self, st.writer, std::move(b), [] {});
        if (!in_memory)
          forget_if_decided(self, payment_id); // read from the store just now: durable
      }
      st.deadlines.schedule(self, *st.ctx); // overdue ones left: at once, after other mail
    },
    [self](refund_atom, const std::string& payment_id) -> caf::result<payment_reply> {
      self->state.probe.count();
      auto& st = self->state;
      if (!ensure_loaded(self, payment_id) && st.ctx->db->read_failed())
        return read_failed_reply();
      auto r = st.book.refund(payment_id, st.ctx->now_ms());
      if (r.code == verify_code::not_found)
        return payment_reply{errc::not_found, r.message, {}};
      return persist_and_reply(self, r, *st.book.find(payment_id), false);
    },
    [self](cancel_atom, const std::string& payment_id,
           const std::string& order_id) -> caf::result<payment_reply> {
      self->state.probe.count();
      auto& st = self->state;
      if (!ensure_loaded(self, payment_id) && st.ctx->db->read_failed())
        return read_failed_reply();
      auto r = st.book.cancel(payment_id, order_id, st.ctx->now_ms());
      return persist_and_reply(self, r, *st.book.find(payment_id), false);
    },
    [self](get_atom, const std::string& payment_id) -> caf::result<payment_reply> {
      auto& st = self->state;
      st.probe.count();
      if (!ensure_loaded(self, payment_id) && st.ctx->db->read_failed())
        return read_failed_reply();
      auto* p = st.book.find(payment_id);
      if (p == nullptr)
        return payment_reply{errc::not_found, "unknown payment " + payment_id, {}};
      // Only what is durable: the answer waits for the writes this worker queued before.
      auto rp = self->make_response_promise<payment_reply>();
      persist_then(self, st.writer, storage::batch{},
                   [self, rp, reply = payment_reply{errc::ok, {}, *p}, payment_id]() mutable {
                     forget_if_decided(self, payment_id); // read back for this answer only
                     rp.deliver(reply);
                   });
      return rp;
    },
  };
}

} // namespace saga
