#include "actors/order/order_actor.hpp"

#include <cassert>
#include <map>
#include <memory>

#include "actors/cluster/cluster.hpp"
#include "actors/order/idempotency.hpp"
#include "actors/inspect/introspection.hpp"
#include "actors/plumbing/writer.hpp"
#include "runtime/fault_points.hpp"
#include "runtime/invariant.hpp"
#include "actors/order/order_codec.hpp"
#include "actors/sink/event_envelope.hpp"
#include "storage/keys.hpp"

namespace saga {

namespace {

using self_ptr = caf::stateful_actor<order_actor_state>*;

void handle_input(self_ptr self, saga_input in, caf::response_promise* rp);
void run_command(self_ptr self, const saga_command& cmd);

/// The order's items grouped by the inventory partition that owns them.
std::map<size_t, std::vector<reservation_item>> by_partition(const directory& dir,
                                                            const order_state& s) {
  std::map<size_t, std::vector<reservation_item>> out;
  for (auto& item : s.items)
    out[dir.inventory_partition(item.sku)].push_back({item.sku, item.quantity});
  return out;
}

/// Bookkeeping of a reply (or a failed request) to one of the order's commands.
void replied(self_ptr self) {
  ++self->state.processed;
  --self->state.awaiting;
}

/// Re-sends a command after a failed request (time-out, worker gone), with a bound.
/// A request to another node's partition (`remote`) is re-sent without a bound: a down or
/// cut-off node keeps the saga waiting in its step, never failed or parked for it; the
/// saga's own deadlines (reservation TTL, payment time-out) still apply at the owners.
void retry_later(self_ptr self, const saga_command& cmd, const caf::error& err,
                 bool remote = false, int64_t sent_ms = 0) {
  auto& st = self->state;
  std::string node, slot;
  if (remote && is_node_unavailable(err, node, slot) && slot.rfind("inventory/", 0) == 0) {
    // Nobody serves that partition now: the order waits as a passive row at its owner, not
    // as a live actor re-sending, until the partition is routed again (`served`). The
    // re-send below stays armed in case the owner keeps it live (it was busy).
    st.unserved = true;
    self->send(st.dir.owner_for(st.s.order_id), unserved_atom::value, st.s.order_id, slot,
               sent_ms);
  }
  if (remote) {
    ++st.ctx->stats->cross_node_resends;
    auto attempt = std::min<int64_t>(st.remote_retries++, 20);
    auto delay = retry_delay_ms(st.ctx->cfg, attempt, directory::hash(st.s.order_id));
    st.ctx->log->log(attempt == 0 ? spdlog::level::info : spdlog::level::debug,
      "order_id={} command {} to another node failed: {} (re-send {} in {} ms; the saga "
      "waits)", st.s.order_id, to_string(cmd.kind), self->system().render(err),
      st.remote_retries, delay);
    self->delayed_send(self, std::chrono::milliseconds(delay), retry_atom::value, cmd.kind,
                       cmd.deadline_ms);
    return;
  }
  ++st.ctx->stats->command_retries;
  st.ctx->log->warn("order_id={} command {} failed: {} (retry {}/{})", st.s.order_id,
                    to_string(cmd.kind), self->system().render(err), st.retries + 1,
                    st.ctx->cfg.saga_max_retries);
  if (++st.retries > st.ctx->cfg.saga_max_retries) {
    // Give up; the supervisor restarts us from the snapshot or parks the order.
    self->quit(caf::make_error(caf::sec::request_timeout, "retries exhausted"));
    return;
  }
  // Exponential with jitter and a cap (saga.retry_backoff_ms .. _max_ms): a struggling
  // worker is not hammered by every waiting order at once.
  auto delay = retry_delay_ms(st.ctx->cfg, st.retries - 1, directory::hash(st.s.order_id));
  self->delayed_send(self, std::chrono::milliseconds(delay), retry_atom::value, cmd.kind,
                     cmd.deadline_ms);
}

/// Sends `cmd` to every partition holding items of the order and calls `done`
/// with (all ok, first failure reason) once all replied. A failed request retries the
/// whole command (receivers are idempotent).
void scatter(self_ptr self, const saga_command& cmd,
             std::function<void(bool, const std::string&)> done) {
  struct gather {
    size_t remaining = 0;
    bool ok = true;
    bool failed = false;
    std::string reason;
  };
  auto& st = self->state;
  auto parts = by_partition(st.dir, st.s);
  auto g = std::make_shared<gather>();
  g->remaining = parts.size();
  for (auto& [p, items] : parts) {
    bool remote = st.dir.inventory_partition_remote(p);
    auto sent = std::chrono::steady_clock::now();
    auto on_reply = [self, g, done, remote, sent](const op_reply& r) {
      replied(self);
      if (remote)
        self->state.ctx->stats->observe_cross_node(
          std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now()
                                                                - sent).count());
      if (g->failed)
        return;
      if (!r.ok && g->ok) {
        g->ok = false;
        g->reason = r.reason;
      }
      if (--g->remaining == 0)
        done(g->ok, g->reason);
    };
    auto sent_ms = st.ctx->clock->mono_ms(); // (compared with `served` here: one process)
    auto on_error = [self, g, cmd, remote, sent_ms](caf::error& err) {
      replied(self);
      if (remote)
        ++self->state.ctx->stats->cross_node_failures;
      if (g->failed)
        return;
      g->failed = true;
      retry_later(self, cmd, err, remote, sent_ms);
    };
    auto& worker = st.dir.inventory[p];
    auto timeout = st.ctx->request_timeout();
    ++st.awaiting;
    const auto& id = st.s.order_id;
    switch (cmd.kind) {
      case command_kind::reserve_inventory:
        self->request(worker, timeout, reserve_atom::value, id, items).then(on_reply, on_error);
        break;
      case command_kind::commit_inventory:
        self->request(worker, timeout, commit_atom::value, id).then(on_reply, on_error);
        break;
      case command_kind::release_inventory:
        self->request(worker, timeout, release_atom::value, id).then(on_reply, on_error);
        break;
      case command_kind::create_payment_intent:
      case command_kind::refund_payment:
      case command_kind::arm_complete_timer:
      case command_kind::cancel_payment:
        assert(!"not an inventory command");
        break;
    }
  }
}

void on_payment_status(self_ptr self, payment_status status) {
  switch (status) {
    case payment_status::succeeded:
      handle_input(self, {input_kind::payment_succeeded, 0, {}}, nullptr);
      break;
    case payment_status::failed:
      handle_input(self, {input_kind::payment_failed, 0, {}}, nullptr);
      break;
    case payment_status::expired:
      handle_input(self, {input_kind::payment_expired, 0, {}}, nullptr);
      break;
    case payment_status::refunded: // told by the worker: a late capture it refunded
      handle_input(self, {input_kind::payment_refunded, 0, "late"}, nullptr);
      break;
    case payment_status::none:
    case payment_status::pending:
      break; // nothing new for the saga
  }
}

/// While the order waits for its payment's verdict, its partition's owner wakes it a
/// request time-out after the intent's expiry (or later, when that has passed). The
/// payment worker tells the order of the verdict once it is durable; a worker that crashes
/// between the two leaves the order waiting, so the order then asks itself (the intent
/// request is idempotent and answers the intent's status). Found by the simulation
/// (tests/simulation.test.cpp, seeds 422 and 833).
void arm_payment_check(self_ptr self) {
  auto& st = self->state;
  if (st.s.step != saga_step::awaiting_payment)
    return;
  auto grace = static_cast<int64_t>(st.ctx->cfg.saga_request_timeout_ms);
  auto at = std::max(st.s.payment_expires_at_ms, st.ctx->now_ms()) + grace;
  self->send(st.dir.owner_for(st.s.order_id), timer_atom::value, st.s.order_id, at);
}

void run_command(self_ptr self, const saga_command& cmd) {
  auto& st = self->state;
  const auto id = st.s.order_id;
  switch (cmd.kind) {
    case command_kind::reserve_inventory:
      scatter(
        self, cmd,
        [self](bool ok, const std::string& reason) {
          handle_input(self,
                       {ok ? input_kind::inventory_reserved
                           : input_kind::inventory_reservation_rejected,
                        0, reason},
                       nullptr);
        });
      break;
    case command_kind::release_inventory:
      scatter(
        self, cmd,
        [self, cmd](bool ok, const std::string& reason) {
          if (ok)
            handle_input(self, {input_kind::inventory_released, 0, {}}, nullptr);
          else
            retry_later(self, cmd, caf::make_error(caf::sec::runtime_error, reason));
        });
      break;
    case command_kind::commit_inventory:
      scatter(
        self, cmd,
        [self](bool ok, const std::string& reason) {
          handle_input(self,
                       {ok ? input_kind::inventory_committed
                           : input_kind::inventory_commit_rejected,
                        0, reason},
                       nullptr);
        });
      break;
    case command_kind::create_payment_intent: {
      payment_intent intent{st.s.payment_id, id, st.s.selling_price_cents,
                            payment_status::pending, cmd.deadline_ms, st.ctx->now_ms()};
      ++st.awaiting;
      self->request(st.dir.payment_for(id), st.ctx->request_timeout(), intent_atom::value,
                    intent)
        .then(
          [self](const payment_reply& r) {
            replied(self);
            // An answer: earlier time-outs of this request do not count against later
            // checks (a check that changes nothing persists nothing, which resets them too).
            self->state.retries = 0;
            self->state.remote_retries = 0;
            // The worker holds the intent now: the payment is initiated (a duplicate when
            // resumed later), then whatever verdict it already has.
            handle_input(self, {input_kind::payment_intent_created, 0, {}}, nullptr);
            on_payment_status(self, r.intent.status);
            arm_payment_check(self);
          },
              [self, cmd](caf::error& err) {
                replied(self);
                retry_later(self, cmd, err);
              });
      break;
    }
    case command_kind::refund_payment:
      ++st.awaiting;
      self->request(st.dir.payment_for(id), st.ctx->request_timeout(), refund_atom::value,
                    st.s.payment_id)
        .then(
          [self, cmd](const payment_reply& r) {
            replied(self);
            if (r.code == errc::ok)
              handle_input(self, {input_kind::payment_refunded, 0, {}}, nullptr);
            else
              retry_later(self, cmd, caf::make_error(caf::sec::runtime_error, r.message));
          },
          [self, cmd](caf::error& err) {
            replied(self);
            retry_later(self, cmd, err);
          });
      break;
    case command_kind::arm_complete_timer:
      // No timer of its own: the partition's owner keeps every auto-complete deadline of
      // its orders behind one timer and hands this actor `(timer, deadline)` when it passes
      // (activating it first if it went passive meanwhile).
      self->send(st.dir.owner_for(id), timer_atom::value, id, cmd.deadline_ms);
      break;
    case command_kind::cancel_payment:
      ++st.awaiting;
      self->request(st.dir.payment_for(id), st.ctx->request_timeout(), cancel_atom::value,
                    st.s.payment_id, id)
        .then(
          [self, cmd](const payment_reply& r) {
            replied(self);
            if (r.code != errc::ok)
              return retry_later(self, cmd, caf::make_error(caf::sec::runtime_error, r.message));
            if (r.intent.status == payment_status::expired && r.message == "cancelled")
              handle_input(self, {input_kind::payment_failed, 0, "cancelled"}, nullptr);
            else if (r.intent.status == payment_status::refunded) // a late capture, refunded
              on_payment_status(self, payment_status::refunded);
            else if (r.intent.status == payment_status::pending || r.intent.status == payment_status::none)
              retry_later(self, cmd, caf::make_error(caf::sec::runtime_error, "intent still pending"));
            else
              on_payment_status(self, r.intent.status);
          },
          [self, cmd](caf::error& err) {
            replied(self);
            retry_later(self, cmd, err);
          });
      break;
  }
}

/// Nothing under way: no write, no request, no retry pending.
bool idle(const order_actor_state& st) {
  return waits_outside(st.s.step) && st.inflight_writes == 0 && st.awaiting == 0
         && st.retries == 0;
}

/// Ends a finished saga's actor once nothing of it is left to write or answer: the
/// snapshot answers from now on.
void quit_if_done(self_ptr self) {
  if (is_terminal(self->state.s.step) && self->state.inflight_writes == 0)
    self->quit();
}

/// Persists an applied decision, then sends its commands and calls `then`. A new
/// order's Idempotency-Key is stored in the same atomic write as its creation.
void persist(self_ptr self, decision d, std::function<void()> then,
             const std::string& idempotency_key = {}, const std::string& request_digest = {}) {
  auto& st = self->state;
  // Long-poll waiters (at the supervisor) and the status gauges hear of status changes
  // once they are durable.
  bool created = st.s.order_id.empty();
  bool status_changed = created || st.s.status != d.next.status;
  auto old_status = st.s.status;
  bool step_changed = st.s.order_id.empty() || st.s.step != d.next.step;
  bool was_terminal = !created && is_terminal(st.s.step);
  const char* step_name = to_string(d.next.step);
  fault::kill_point("before_persist", step_name);
  // One decision per seq: the new events continue the history without a gap or a repeat,
  // and the snapshot's seq is the last of them.
  auto last_seq = st.history.empty() ? uint64_t{0} : st.history.back().seq;
  for (auto& ev : d.events)
    SAGA_INVARIANT(ev.seq == ++last_seq, "one decision per seq: an order's events are 1, 2, 3, ...");
  SAGA_INVARIANT(d.next.seq == last_seq, "one decision per seq: the snapshot's seq is its last event's");
  st.s = d.next;
  st.retries = 0;
  st.remote_retries = 0;
  st.unserved = false;
  st.history.insert(st.history.end(), d.events.begin(), d.events.end());
  storage::batch b;
  b.log_partition = directory::order_log_partition(st.s.order_id, st.ctx->cfg.saga_partitions);
  // One record: the snapshot and every event so far (GET is one point read).
  b.ops.push_back({storage::family::orders, st.s.order_id, saga::encode(st.s, st.history),
                   false});
  if (!idempotency_key.empty()) {
    b.ops.push_back({storage::family::meta, "idem/" + idempotency_key,
                     encode_idempotency({st.s.order_id, request_digest, st.s.created_at_ms}),
                     false});
    // Time index of the keys, so expired ones are found without scanning them all.
    b.ops.push_back({storage::family::meta,
                     idempotency_index_key(st.s.created_at_ms, idempotency_key), {}, false});
  }
  // The index of orders in flight (what a start reads) and the stored orders per status
  // move in the same write as the record.
  bool terminal = is_terminal(st.s.step);
  if (created && !terminal)
    b.ops.push_back({storage::family::meta, storage::inflight_key(st.s.order_id), {}, false});
  else if (!created && terminal && !was_terminal)
    b.ops.push_back({storage::family::meta, storage::inflight_key(st.s.order_id), {}, true});
  if (status_changed) {
    if (!created)
      b.counters.push_back({saga::order_status_counter(old_status), -1});
    b.counters.push_back({saga::order_status_counter(st.s.status), 1});
  }
  for (auto& ev : d.events) {
    // An operator's action on a parked order un-parks it in the same write that records it.
    if (ev.type == event_type::order_admin_action)
      b.ops.push_back({storage::family::meta, "parked/" + st.s.order_id, {}, true});
    // The Kafka envelope is built once, here, for the outbox.
    b.outbox.push_back(saga::encode(ev, st.ctx->cfg.node_id));
    st.ctx->log->debug("order_id={} seq={} event={} step={} status={}", ev.order_id, ev.seq,
                      to_string(ev.type), to_string(d.next.step), to_string(d.next.status));
  }
  order_progress progress;
  progress.order_id = st.s.order_id;
  progress.status = d.next.status;
  progress.step = d.next.step;
  progress.terminal = is_terminal(d.next.step);
  progress.status_changed = status_changed;
  if (st.ctx->cfg.inspect_enabled) {
    progress.events = std::move(d.events);
    if (step_changed)
      st.step_since_ms = st.ctx->now_ms();
  }
  persist_then(self, st.dir.writer, std::move(b),
               [self, commands = std::move(d.commands), then, created, old_status,
                progress = std::move(progress), step_name]() mutable {
                 auto& st = self->state;
                 fault::kill_point("after_persist", step_name);
                 if (progress.status_changed) {
                   auto& gauges = st.ctx->stats->orders_by_status;
                   if (!created)
                     --gauges[static_cast<size_t>(old_status)];
                   ++gauges[static_cast<size_t>(progress.status)];
                 }
                 // The supervisor hears of each durable step: long-poll waiters (status
                 // changes), and with inspection on the stuck detector and the live stream.
                 if (st.ctx->cfg.inspect_enabled || progress.status_changed
                     || progress.terminal) {
                   progress.processed = st.processed;
                   progress.mailbox = mailbox_depth(self);
                   progress.at_ms = st.step_since_ms;
                   self->send(st.dir.owner_for(st.s.order_id), changed_atom::value,
                              std::move(progress));
                 }
                 for (auto& cmd : commands)
                   run_command(self, cmd);
                 fault::kill_point("after_send", step_name);
                 then();
                 quit_if_done(self);
               });
}

/// Answers from the state as decided so far, once the writes queued before are durable:
/// a duplicate or a rejection never reports a step that a crash could still take back.
template <class Promise, class Reply>
void reply_when_durable(self_ptr self, Promise rp, Reply reply) {
  persist_then(self, self->state.dir.writer, storage::batch{},
               [self, rp, reply = std::move(reply)]() mutable {
                 rp.deliver(std::move(reply));
                 quit_if_done(self);
               });
}

void handle_input(self_ptr self, saga_input in, caf::response_promise* rp) {
  auto& st = self->state;
  if (!st.ctx->fault_crash_sku.empty() && in.kind == input_kind::payment_intent_created
      && st.s.step == saga_step::initiating_payment)
    for (auto& item : st.s.items)
      if (item.sku == st.ctx->fault_crash_sku)
        return self->quit(caf::make_error(caf::sec::runtime_error, "injected crash (SAGA_FAULT_CRASH_SKU)"));
  in.now_ms = st.ctx->now_ms();
  auto d = decide(saga_config_of(st.ctx->cfg), st.s, in);
  switch (d.result) {
    case outcome::applied: {
      input_reply reply{errc::ok, outcome::applied, {}, d.next};
      std::function<void()> then = [] {};
      if (rp != nullptr)
        then = [p = *rp, reply]() mutable { p.deliver(reply); };
      persist(self, std::move(d), then);
      return;
    }
    case outcome::duplicate:
      st.ctx->log->debug("order_id={} {}", st.s.order_id, d.why);
      if (rp != nullptr)
        reply_when_durable(self, *rp, input_reply{errc::ok, outcome::duplicate, d.why, st.s});
      else
        quit_if_done(self); // a finished order's actor started for this input
      return;
    case outcome::rejected:
      st.ctx->log->info("order_id={} rejected: {}", st.s.order_id, d.why);
      if (rp != nullptr)
        reply_when_durable(self, *rp, input_reply{errc::conflict, outcome::rejected, d.why, st.s});
      else
        quit_if_done(self);
      return;
  }
}

} // namespace

caf::behavior order_actor(self_ptr self, context_ptr ctx, directory dir, order_state initial,
                          std::vector<saga_event> history) {
  auto& st = self->state;
  st.ctx = std::move(ctx);
  st.dir = std::move(dir);
  st.s = std::move(initial);
  st.history = std::move(history);
  st.spawned_at_ms = st.ctx->now_ms();
  st.step_since_ms = st.s.order_id.empty() ? st.spawned_at_ms : st.s.updated_at_ms;
  self->set_exception_handler([self](std::exception_ptr& eptr) -> caf::error {
    std::string what = "unknown exception";
    try {
      std::rethrow_exception(eptr);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    self->state.ctx->log->error("order_id={} order actor failed: {}", self->state.s.order_id, what);
    return caf::make_error(caf::sec::runtime_error, what);
  });
  if (!st.s.order_id.empty()) {
    st.ctx->log->debug("order_id={} resumed at step={} seq={}", st.s.order_id,
                      to_string(st.s.step), st.s.seq);
    for (auto& cmd : resume_commands(st.s))
      run_command(self, cmd);
  }
  return {
    [self](create_atom, const std::string& order_id, const std::string& customer_id,
           std::vector<order_item>& items, const std::string& idempotency_key,
           const std::string& request_digest) -> caf::result<create_reply> {
      auto& st = self->state;
      ++st.processed;
      if (!st.s.order_id.empty()) { // repeated create (same Idempotency-Key)
        auto rp = self->make_response_promise<create_reply>();
        reply_when_durable(self, rp, create_reply{st.s, true});
        return rp;
      }
      auto d = create_order(saga_config_of(st.ctx->cfg), order_id, customer_id, std::move(items),
                            st.ctx->now_ms());
      auto rp = self->make_response_promise<create_reply>();
      auto created = d.next;
      auto stats = st.ctx->stats;
      bool keyed = !idempotency_key.empty();
      persist(self, std::move(d),
              [rp, created, stats, keyed]() mutable {
                if (keyed)
                  ++stats->idempotency_keys; // counted once durable
                rp.deliver(create_reply{created, false});
              },
              idempotency_key, request_digest);
      return rp;
    },
    [self](input_atom, saga_input& in) -> caf::result<input_reply> {
      ++self->state.processed;
      auto rp = self->make_response_promise();
      handle_input(self, std::move(in), &rp);
      return rp;
    },
    [self](payment_update_atom, payment_status status) {
      ++self->state.processed;
      on_payment_status(self, status);
    },
    [self](timer_atom, int64_t deadline_ms) {
      auto& st = self->state;
      ++st.processed;
      if (st.s.complete_deadline_ms == deadline_ms && st.s.step == saga_step::awaiting_completion)
        handle_input(self, {input_kind::complete_timer_fired, 0, {}}, nullptr);
      else if (st.s.step == saga_step::awaiting_payment && deadline_ms > st.s.payment_expires_at_ms) {
        st.ctx->log->info("order_id={} no payment verdict heard after the intent's expiry: "
                          "asking the payment partition", st.s.order_id);
        run_command(self, {command_kind::create_payment_intent, st.s.payment_expires_at_ms});
      }
    },
    [self](retry_atom, command_kind kind, int64_t deadline_ms) {
      // Only re-send when the saga still waits for that command's answer.
      ++self->state.processed;
      for (auto& cmd : resume_commands(self->state.s))
        if (cmd.kind == kind) {
          (void) deadline_ms;
          run_command(self, cmd);
        }
    },
    [self](inspect_atom) {
      auto& st = self->state;
      ++st.processed;
      actor_info x;
      x.kind = "order";
      x.key = st.s.order_id;
      x.node = st.ctx->cfg.node_id;
      x.state = to_string(st.s.step);
      x.actor_id = self->id();
      x.mailbox = mailbox_depth(self);
      x.processed = st.processed;
      x.state_since_ms = st.step_since_ms;
      x.spawned_at_ms = st.spawned_at_ms;
      return x;
    },
    [self](passivate_atom) {
      // Messages for this order are held by the supervisor from now on; those it sent
      // before are already handled (they came first). Everything of the order is durable.
      auto& st = self->state;
      ++st.processed;
      if (idle(st)) {
        st.ctx->log->debug("order_id={} passive at step={}", st.s.order_id, to_string(st.s.step));
        return self->quit();
      }
      // Waiting on a partition nobody serves: nothing of it is unwritten; a reply still
      // outstanding is given up (the re-activated order re-sends its step's command, and
      // receivers are idempotent).
      if (st.unserved && st.inflight_writes == 0) {
        st.ctx->log->debug("order_id={} passive at step={} (a partition it needs is not "
                           "served)", st.s.order_id, to_string(st.s.step));
        return self->quit();
      }
      self->send(st.dir.owner_for(st.s.order_id), busy_atom::value, st.s.order_id);
    },
    [self](crash_atom) -> caf::result<void> {
      // Fault injection for supervision tests.
      throw std::runtime_error("injected crash in order " + self->state.s.order_id);
    },
  };
}

} // namespace saga
