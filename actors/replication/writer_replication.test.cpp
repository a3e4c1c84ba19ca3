// Actor tests on CAF's deterministic test coordinator: the writer in replicated mode
// (cluster.replication = kafka) with a fake transactional sink per partition that holds,
// commits, or fences on command. Nothing is answered before its partition's transaction
// committed; a fenced transaction answers no step with success and stops the node.
#include "tests/node_fixture.hpp"

#include "storage/changelog.hpp"

namespace {

/// The fake sink is fenced: every held and later commit fails as a fenced producer's would.
using fence_atom = caf::atom_constant<caf::atom("fence")>;

/// What the fake sinks were asked to commit, in order, per partition.
struct sink_journal {
  struct txn {
    int32_t partition;
    std::vector<std::string> records, events;
  };
  std::vector<txn> txns;
};

struct fake_sink_state {
  std::vector<caf::response_promise> held;
  bool holding = false;
  bool fenced = false;
  int64_t next_offset = 0;
  static inline const char* name = "fake_sink";
};

caf::behavior fake_sink(caf::stateful_actor<fake_sink_state>* self, int32_t partition,
                        std::shared_ptr<sink_journal> journal) {
  auto commit_held = [self] {
    auto& st = self->state;
    for (auto& rp : st.held) {
      if (st.fenced)
        rp.deliver(caf::make_error(caf::sec::runtime_error, "fenced by a newer owner"));
      else
        rp.deliver(st.next_offset++);
    }
    st.held.clear();
  };
  return {
    [=](changelog_atom, std::vector<std::string> records,
        std::vector<std::string> events) -> caf::response_promise {
      journal->txns.push_back({partition, std::move(records), std::move(events)});
      auto rp = self->make_response_promise();
      self->state.held.push_back(rp);
      if (!self->state.holding)
        commit_held();
      return rp;
    },
    [=](hold_atom, bool on) {
      self->state.holding = on;
      if (!on)
        commit_held();
    },
    [=](fence_atom) {
      self->state.fenced = true;
      commit_held();
    },
  };
}

struct replicated_node {
  std::shared_ptr<sink_journal> journal = std::make_shared<sink_journal>();
  std::vector<caf::actor> sinks;
  node_fixture n;

  explicit replicated_node(const std::string& path)
    : n(path, config(), 1'000'000, true, 42, {}, [this](caf::actor_system& sys) {
        auto cfg = config();
        for (int32_t p = 0; p < cfg.saga_partitions + cfg.inventory_workers; ++p)
          sinks.push_back(sys.spawn(fake_sink, p, journal));
        return sinks;
      }) {}

  static node_config config() {
    auto c = test_node_config();
    c.cluster_replication = "kafka";
    c.kafka_brokers = "fake";
    return c;
  }
  void hold(bool on) {
    for (auto& s : sinks)
      n.self->send(s, hold_atom::value, on);
    n.run();
  }
  /// An order for one "A" through order partition 0's actor, run until it waits.
  void place(const std::string& customer) {
    std::vector<order_item> items{{"A", 1, 100}};
    n.self->send(n.dir.orders[0], create_atom::value, customer, items, std::string(), std::string());
    n.run();
  }
  /// Changelog partition `p` was taken over at runtime: its sink is a movable committer
  /// (ownership.hpp); true once the writer took it.
  bool take(int32_t p) {
    n.self->send(n.dir.writer, committer_atom::value, p, sinks[static_cast<size_t>(p)]);
    n.run();
    bool registered = false;
    n.self->receive([&](bool ok) { registered = ok; }, caf::after(0s) >> [] {});
    return registered;
  }
  std::string applied(int32_t p) {
    std::string v;
    (void)n.db->get(storage::family::meta, storage::changelog_offset_key(p), v);
    return v;
  }
};

} // namespace

TEST_CASE("replicated: a step is answered only after its partition's transaction commits",
          "[actor][replication][durability]") {
  temp_dir d;
  replicated_node r(d.path.string());
  auto& n = r.n;
  n.stock("A", 10, 100); // through the inventory partition's sink
  auto inv = directory::inventory_log_partition(n.dir.inventory_partition("A"),
                                                n.ctx->cfg.saga_partitions);
  CHECK(r.applied(inv) == "0");
  CHECK(n.sku("A").on_hand() == 10);
  r.journal->txns.clear();
  auto outbox = n.db->outbox_next_seq();
  r.hold(true);
  r.place("cust");
  n.advance(2000ms); // time passes: nothing is released by a timer either
  auto early = drain(n);
  CHECK(early.total() == 0);
  // The order's first step went to its partition's sink: its record and its event.
  REQUIRE(r.journal->txns.size() == 1);
  auto t = r.journal->txns[0]; // a copy: the journal grows
  std::vector<storage::batch> batches;
  REQUIRE(t.records.size() == 1);
  REQUIRE(storage::decode_changelog(t.records[0], batches));
  REQUIRE_FALSE(batches.empty());
  REQUIRE_FALSE(batches[0].ops.empty());
  auto id = batches[0].ops[0].key;
  CHECK(batches[0].ops[0].cf == storage::family::orders);
  CHECK(t.partition == directory::order_log_partition(id, n.ctx->cfg.saga_partitions));
  REQUIRE(t.events.size() == 1);
  CHECK(t.events[0].find("\"ordercreated\"") != std::string::npos);
  // Not in RocksDB either, and no offset applied yet for that partition.
  std::string raw;
  CHECK(n.db->get(storage::family::orders, id, raw) == storage::read_status::absent);
  CHECK(r.applied(t.partition).empty());

  r.hold(false);
  n.run();
  auto late = drain(n);
  REQUIRE(late.creates.size() == 1);
  CHECK(late.creates[0].state.order_id == id);
  CHECK(n.db->get(storage::family::orders, id, raw) == storage::read_status::found);
  CHECK_FALSE(r.applied(t.partition).empty());
  // The saga went on through the sinks: reservation on the SKU's partition, the payment
  // intent on the order's; no outbox is written in replicated mode.
  CHECK(n.view(id).state.status == order_status::payment_initiated);
  CHECK(n.db->outbox_next_seq() == outbox);
  bool reserved_on_inventory = false;
  for (auto& x : r.journal->txns)
    for (auto& e : x.events)
      if (e.find("\"inventory_reserved\"") != std::string::npos)
        reserved_on_inventory = x.partition == t.partition; // the order emits it
  CHECK(reserved_on_inventory);
}

TEST_CASE("replicated: a fenced transaction answers no step with success and stops the node",
          "[actor][replication][durability]") {
  temp_dir d;
  replicated_node r(d.path.string());
  auto& n = r.n;
  n.stock("A", 10, 100);
  r.hold(true);
  r.place("cust");
  CHECK(drain(n).total() == 0);
  for (auto& s : r.sinks)
    n.self->send(s, fence_atom::value);
  n.run();
  auto got = drain(n);
  CHECK(got.creates.empty());
  CHECK(n.ctx->halted.load());
  // Nothing of the fenced transaction reached RocksDB: a restart applies only what the
  // changelog committed.
  auto id = [&] {
    std::vector<storage::batch> batches;
    REQUIRE(storage::decode_changelog(r.journal->txns.back().records[0], batches));
    return batches[0].ops[0].key;
  }();
  std::string raw;
  CHECK(n.db->get(storage::family::orders, id, raw) == storage::read_status::absent);
  // Later writes are refused too: the node is stopping.
  n.self->send(n.dir.inventory_for("A"), stock_atom::value, std::string("A"), int64_t{5},
               int64_t{100});
  n.run();
  auto after = drain(n);
  CHECK(after.skus.empty());
}

TEST_CASE("replicated: a partition taken over and lost again fails only its own steps; the "
          "node goes on", "[actor][replication][durability][failover]") {
  temp_dir d;
  replicated_node r(d.path.string());
  auto& n = r.n;
  n.stock("A", 10, 100);
  // Order partition 0 was taken over at runtime: its committer may lose it (ownership.hpp).
  REQUIRE(r.take(0));
  r.hold(true);
  std::vector<order_item> items{{"A", 1, 100}};
  n.self->send(n.dir.orders[0], create_atom::value, std::string("cust"), items, std::string(),
               std::string());
  n.run();
  CHECK(drain(n).total() == 0);
  // The partition's own node came back and opened it: this node's transaction is fenced.
  n.self->send(r.sinks[0], fence_atom::value);
  n.run();
  auto got = drain(n);
  CHECK(got.creates.empty()); // never acknowledged
  CHECK_FALSE(n.ctx->halted.load()); // only that partition is lost
  auto id = [&] {
    std::vector<storage::batch> batches;
    REQUIRE(storage::decode_changelog(r.journal->txns.back().records[0], batches));
    return batches[0].ops[0].key;
  }();
  std::string raw;
  CHECK(n.db->get(storage::family::orders, id, raw) == storage::read_status::absent);
  // Another partition's steps still commit and are answered.
  r.hold(false);
  n.self->send(n.dir.inventory_for("A"), stock_atom::value, std::string("A"), int64_t{7},
               int64_t{100});
  n.run();
  auto after = drain(n);
  REQUIRE(after.skus.size() == 1);
  CHECK(n.sku("A").on_hand() == 7);
  // Released (the writer drops the committer): later steps of that partition fail too,
  // without a transaction and without stopping the node.
  n.self->send(n.dir.writer, committer_atom::value, int32_t{0}, caf::actor{});
  n.run();
  n.self->receive([](bool) {}, caf::after(0s) >> [] {});
  auto before = r.journal->txns.size();
  n.self->send(n.dir.orders[0], create_atom::value, std::string("cust2"), items, std::string(),
               std::string());
  n.run();
  CHECK(drain(n).creates.empty());
  CHECK(std::none_of(r.journal->txns.begin() + static_cast<long>(before), r.journal->txns.end(),
                     [](const sink_journal::txn& x) { return x.partition == 0; }));
  CHECK_FALSE(n.ctx->halted.load());
}

TEST_CASE("replicated: dropping a committer is answered only once the groups in flight are "
          "written, so the partition's mark in the store is final",
          "[actor][replication][durability][failover]") {
  temp_dir d;
  replicated_node r(d.path.string());
  auto& n = r.n;
  // Order partition 0 was taken over here (movable); partition 1 is this node's own.
  REQUIRE(r.take(0));
  n.self->send(r.sinks[1], hold_atom::value, true); // partition 1 commits only when released
  n.run();
  auto write = [&](int32_t p, const std::string& key) {
    storage::batch b;
    b.ops.push_back({storage::family::orders, key, "v", false});
    b.log_partition = p;
    caf::anon_send(n.dir.writer, write_atom::value, std::move(b));
  };
  write(0, "drop-test-0"); // one group: partition 0 commits at once, partition 1 waits
  write(1, "drop-test-1");
  n.run();
  CHECK(r.applied(0).empty()); // nothing of the group is written before all of it committed
  n.self->send(n.dir.writer, committer_atom::value, int32_t{0}, caf::actor{});
  n.run();
  bool answered = false;
  n.self->receive([&](bool) { answered = true; }, caf::after(0s) >> [] {});
  CHECK_FALSE(answered); // its committed batch is still to be written, with its mark
  n.self->send(r.sinks[1], hold_atom::value, false);
  n.run();
  n.self->receive([&](bool) { answered = true; }, caf::after(0s) >> [] {});
  CHECK(answered);
  CHECK_FALSE(r.applied(0).empty()); // the mark a standby starts from after the drop
  std::string raw;
  CHECK(n.db->get(storage::family::orders, "drop-test-0", raw) == storage::read_status::found);
  CHECK_FALSE(n.ctx->halted.load());
}

TEST_CASE("replicated: a committer that stops without answering fails only its steps; later "
          "writes of the node go on", "[actor][replication][durability][failover]") {
  temp_dir d;
  replicated_node r(d.path.string());
  auto& n = r.n;
  n.stock("A", 10, 100);
  REQUIRE(r.take(0)); // order partition 0 was taken over here (movable)
  n.self->send(r.sinks[0], hold_atom::value, true);
  n.run();
  r.place("cust");
  CHECK(drain(n).total() == 0);
  // Its committer dies with the step in hand (killed: no exit handler runs, its promise is
  // dropped, and CAF 0.17 sends nothing for it).
  n.self->send_exit(r.sinks[0], caf::exit_reason::kill);
  n.run();
  CHECK(drain(n).creates.empty()); // never acknowledged
  CHECK_FALSE(n.ctx->halted.load());
  // Before, the writer waited for that answer for ever, and every later group behind it:
  // a write of another partition is answered now.
  n.self->send(n.dir.inventory_for("A"), stock_atom::value, std::string("A"), int64_t{7},
               int64_t{100});
  n.run();
  auto after = drain(n);
  REQUIRE(after.skus.size() == 1);
  CHECK(n.sku("A").on_hand() == 7);
}

TEST_CASE("replicated: a committer of the node's own partition that stops without answering "
          "stops the node, acknowledging nothing", "[actor][replication][durability]") {
  temp_dir d;
  replicated_node r(d.path.string());
  auto& n = r.n;
  n.stock("A", 10, 100);
  r.hold(true);
  r.place("cust");
  REQUIRE_FALSE(r.journal->txns.empty());
  auto p = r.journal->txns.back().partition;
  n.self->send_exit(r.sinks[static_cast<size_t>(p)], caf::exit_reason::kill);
  n.run();
  CHECK(drain(n).creates.empty());
  CHECK(n.ctx->halted.load());
}
