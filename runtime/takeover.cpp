#include "runtime/takeover.hpp"

#include <chrono>

#include "actors/inventory/inventory_worker.hpp"
#include "actors/order/order_supervisor.hpp"
#include "actors/payment/payment_worker.hpp"
#include "actors/plumbing/component_supervisor.hpp"
#include "actors/replication/replication.hpp"
#include "actors/replication/standby.hpp"
#include "runtime/runtime.hpp"

namespace saga {

namespace {

taken_partition take(caf::blocking_actor* self, const context_ptr& ctx, const directory& dir,
                     const std::string& brokers, uint64_t seed, caf::actor router,
                     caf::actor standby, partition_kind kind, size_t p) {
  taken_partition t;
  auto t0 = std::chrono::steady_clock::now();
  auto& cfg = ctx->cfg;
  auto n_orders = static_cast<size_t>(cfg.saga_partitions);
  auto n_inv = static_cast<size_t>(cfg.inventory_workers);
  auto n_pay = payment_partitions(cfg); // one per order partition in a cluster
  int32_t lp = kind == partition_kind::orders
                 ? static_cast<int32_t>(p)
                 : directory::inventory_log_partition(p, cfg.saga_partitions);
  // Fencing first: once the producer is open, the old owner commits nothing more, and the
  // changelog's end is final until this node commits.
  std::shared_ptr<txn_producer> producer = txn_producer::open(cfg, brokers, lp, ctx->log, t.error);
  if (!producer)
    return t;
  auto end = producer->end_offset(t.error);
  if (end < 0)
    return t;
  auto& sys = self->system();
  // The changelog after this store's offset, applied by the standby actor through the
  // writer (a standby replica of it is only its lag behind). Bounded here; the standby
  // answers sooner (it fails a catch-up that gets nothing for 3 x provision time-out).
  self->request(standby, std::chrono::seconds(3600), catch_up_atom::value, lp, end)
    .receive([&](uint64_t n) { t.applied = n; },
             [&](caf::error& e) { t.error = "applying the changelog: " + sys.render(e); });
  if (!t.error.empty())
    return t;
  // The claim (owners_reader.hpp), before the committer owns the producer: it commits only
  // if no node fenced this one meanwhile.
  auto t_claim = std::chrono::steady_clock::now();
  if (t.error = claim_partition(*producer, cfg, ctx->now_ms(), &t.claim_offset); !t.error.empty())
    return t;
  t.claim_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                 std::chrono::steady_clock::now() - t_claim).count();
  t.committer = spawn_movable_committer(sys, ctx, producer, router);
  bool registered = false;
  self->request(dir.writer, std::chrono::seconds(10), committer_atom::value, lp, t.committer)
    .receive([&](bool ok) { registered = ok; },
             [&](caf::error& e) { t.error = "the writer: " + sys.render(e); });
  if (!registered) {
    if (t.error.empty())
      t.error = "the writer refused the committer";
    self->send_exit(t.committer, caf::exit_reason::user_shutdown);
    t.committer = caf::actor{};
    return t;
  }
  if (kind == partition_kind::inventory) {
    auto writer = dir.writer;
    component_factory make = [ctx, writer, p, n_inv](caf::actor_system& s, uint64_t) {
      due_list due;
      auto book = load_inventory_partition(*ctx->db, n_inv, p, *ctx->log, due);
      return s.spawn(inventory_worker, ctx, writer, p, std::move(book), std::move(due));
    };
    t.main = spawn_supervised(sys, ctx, "inventory_worker", std::to_string(p), make, dir.writer);
  } else {
    // The orders of this partition in flight: the index of every order in flight is read
    // (keys only), the rows of this partition's alone, and no SKU (BENCHMARKS, "a
    // takeover's load").
    std::vector<uint8_t> foreign(n_orders, 1);
    foreign[p] = 0;
    auto state = load_state(*ctx->db, n_inv, n_pay, n_orders, true, foreign, /*skus=*/false);
    if (!state.error.empty()) {
      t.error = state.error;
      return t;
    }
    // A record that does not decode is not loaded. It stays where it is: only the writer
    // writes, and moving it aside is the start's job (storage.quarantine_corrupt).
    for (auto& x : state.corrupt)
      ctx->log->error("takeover of partition orders/{}: record '{}' in column family '{}' does "
                      "not decode ({} bytes): not loaded (a start with "
                      "storage.quarantine_corrupt = true moves it aside)", p,
                      printable_key(x.key), storage::family_name(x.cf), x.value.size());
    auto resume = by_partition(std::move(state.resume), n_orders);
    auto passive = by_partition(std::move(state.passive), n_orders);
    t.main = sys.spawn(order_supervisor, ctx, seed, p);
    // Its payments: a worker of its own, with this partition's deadlines, as at a start
    // (runtime.cpp: one payment worker per order partition in a cluster).
    t.payment = spawn_payment_partition(sys, ctx, dir.writer, dir.orders, p,
                                        std::move(state.payment_due[p % n_pay]),
                                        std::to_string(p));
    self->request(t.main, std::chrono::seconds(30), start_atom::value, dir, std::move(resume[p]),
                  std::move(passive[p]))
      .receive([&](uint64_t) {}, [&](caf::error& e) { t.error = "start: " + sys.render(e); });
  }
  if (dir.inspector) {
    caf::anon_send(dir.inspector, register_atom::value,
                   std::string(kind == partition_kind::orders ? "order_supervisor"
                                                              : "inventory_worker"),
                   std::to_string(p), t.main);
    if (t.payment)
      caf::anon_send(dir.inspector, register_atom::value, std::string("payment_worker"),
                     std::to_string(p), t.payment);
  }
  t.took_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                std::chrono::steady_clock::now() - t0).count();
  return t;
}

void taker(caf::blocking_actor* self, context_ptr ctx, directory dir, std::string brokers,
           uint64_t seed, caf::actor router, caf::actor standby, std::string kind, size_t p) {
  auto k = kind == "inventory" ? partition_kind::inventory : partition_kind::orders;
  auto t = take(self, ctx, dir, brokers, seed, router, std::move(standby), k, p);
  self->send(router, owns_atom::value, kind, static_cast<uint64_t>(p), std::move(t));
}

} // namespace

take_fn make_take(caf::actor_system& sys, context_ptr ctx, directory dir, std::string brokers,
                  uint64_t seed, caf::actor standby) {
  return [&sys, ctx, dir, brokers, seed, standby](caf::actor router, partition_kind kind,
                                                  size_t p) {
    sys.spawn(taker, ctx, dir, brokers, seed + p, std::move(router), standby,
              std::string(to_string(kind)), p);
  };
}

} // namespace saga
