// Storage: atomic batches, outbox order, counters, checkpoints and the deadline index
// keys on a real RocksDB directory (bytes only; the records of every module are tested
// with their codecs in tests/records.test.cpp).
#include <catch2/catch.hpp>

#include <algorithm>
#include <array>

#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "storage/keys.hpp"
#include "storage/store.hpp"
#include "tests/temp_dir.hpp"

using namespace storage;

using saga_test::temp_dir;

TEST_CASE("a conditional erase removes only the value it was given, after the writes ahead "
          "of it in its group", "[unit][storage]") {
  temp_dir dir;
  std::string err;
  auto db = store::open(dir.path.string(), err);
  REQUIRE(db);
  batch put;
  put.ops = {{family::meta, "k1", "old", false}, {family::meta, "k2", "old", false},
             {family::meta, "k3", "old", false}};
  REQUIRE(db->commit({&put}, false).empty());
  batch rebind; // ahead of the erases in the same group
  rebind.ops = {{family::meta, "k2", "new", false}};
  batch erase;
  erase.erase_if = {{family::meta, "k1", "old"}, {family::meta, "k2", "old"},
                    {family::meta, "k3", "other"}, {family::meta, "absent", "old"}};
  REQUIRE(db->commit({&rebind, &erase}, false).empty());
  std::string v;
  CHECK(db->get(family::meta, "k1", v) == storage::read_status::absent); // still what was read: erased
  REQUIRE(db->get(family::meta, "k2", v) == storage::read_status::found);     // re-bound ahead of it: kept
  CHECK(v == "new");
  REQUIRE(db->get(family::meta, "k3", v) == storage::read_status::found); // never what the erase expected: kept
  CHECK(v == "old");
  CHECK(db->get(family::meta, "absent", v) == storage::read_status::absent);
}

TEST_CASE("outbox keys follow commit order across groups", "[unit][storage]") {
  temp_dir dir;
  std::string err;
  auto db = store::open(dir.path.string(), err);
  REQUIRE(db);
  batch a, b;
  a.outbox = {"a1", "a2"};
  b.outbox = {"b1"};
  REQUIRE(db->commit({&a, &b}, false).empty());
  std::vector<std::string> seen;
  (void)db->scan(family::outbox, "", [&](std::string_view, std::string_view v) {
    seen.emplace_back(v);
    return true;
  });
  CHECK(seen == std::vector<std::string>{"a1", "a2", "b1"});
}

TEST_CASE("a commit without outbox entries never moves the outbox counter back", "[unit][storage]") {
  // The relay benchmark fills the outbox from one thread while the writer deletes
  // acknowledged entries from another: a delete-only commit used to write back the counter
  // it read before, and later entries reused keys below the relay's read position.
  temp_dir dir;
  std::string err;
  auto db = store::open(dir.path.string(), err);
  REQUIRE(db);
  constexpr int n = 2000;
  std::thread filler([&] {
    for (int i = 0; i < n; ++i) {
      batch b;
      b.outbox = {"e" + std::to_string(i)};
      REQUIRE(db->commit({&b}, false).empty());
    }
  });
  for (int i = 0; i < n; ++i) {
    batch d;
    d.ops.push_back({family::meta, "other/" + std::to_string(i % 7), "x", false});
    REQUIRE(db->commit({&d}, false).empty());
  }
  filler.join();
  CHECK(db->outbox_next_seq() == n + 1);
  int entries = 0;
  uint64_t last = 0;
  (void)db->scan(family::outbox, "", [&](std::string_view k, std::string_view) {
    CHECK(from_be64(k) == last + 1);
    last = from_be64(k);
    return ++entries, true;
  });
  CHECK(entries == n);
}

TEST_CASE("event scan by order does not leak into a longer order id", "[unit][storage]") {
  temp_dir dir;
  std::string err;
  auto db = store::open(dir.path.string(), err);
  REQUIRE(db);
  batch b;
  b.ops.push_back({family::events, event_key("o1", 1), "x", false});
  b.ops.push_back({family::events, event_key("o10", 1), "y", false});
  REQUIRE(db->commit({&b}, false).empty());
  int n = 0;
  (void)db->scan(family::events, "o1" + std::string(1, '\0'), [&](auto, auto) { return ++n, true; });
  CHECK(n == 1);
}

TEST_CASE("counters move with their commit and survive a reopen", "[unit][storage]") {
  temp_dir dir;
  {
    std::string err;
    auto db = store::open(dir.path.string(), err);
    REQUIRE(db);
    CHECK(db->counter("c") == 0);
    batch a, b;
    a.counters = {{"c", 2}, {"d", -1}};
    b.counters = {{"c", 3}};
    REQUIRE(db->commit({&a, &b}, true).empty());
    CHECK(db->counter("c") == 5);
    REQUIRE(db->commit({&b}, false).empty());
    CHECK(db->counter("c") == 8);
    CHECK(db->counter("d") == -1);
  }
  std::string err;
  auto db = store::open(dir.path.string(), err);
  REQUIRE(db);
  CHECK(db->counter("c") == 8);
  std::string raw;
  REQUIRE(db->get(family::meta, "count/c", raw) == storage::read_status::found);
  CHECK(raw == "8"); // readable with ldb
}

TEST_CASE("a checkpoint holds every committed write and nothing written after it; a "
          "checkpoint into a directory that exists is an error", "[unit][storage]") {
  temp_dir dir, copies;
  auto to = (copies.path / "cp").string();
  std::string err;
  auto db = store::open(dir.path.string(), err);
  REQUIRE(db);
  batch a, b;
  a.counters = {{"c", 2}};
  b.counters = {{"c", 5}};
  REQUIRE(db->commit({&a}, false).empty()); // unsynced: still in the copy
  CHECK(db->checkpoint(to).empty());
  REQUIRE(db->commit({&b}, false).empty());
  CHECK_FALSE(db->checkpoint(to).empty()); // never over an older copy
  auto copy = store::open(to, err);
  REQUIRE(copy);
  CHECK(copy->counter("c") == 2);
  CHECK(db->counter("c") == 7);
}

TEST_CASE("opening an unusable directory is an error, not a crash", "[unit][storage]") {
  std::string err;
  auto db = store::open("/proc/definitely/not/here", err);
  CHECK_FALSE(db);
  CHECK_FALSE(err.empty());
}

TEST_CASE("the write-ahead log stays near max_wal_bytes while one family is rarely written",
          "[unit][storage]") {
  // A family written once keeps every log since alive unless the total is capped: a start
  // after a crash then replays all of them (330 MB after 100,000 orders before the cap).
  temp_dir dir;
  store_options opts;
  opts.write_buffer_bytes = 4 << 20;
  opts.max_wal_bytes = 2 << 20;
  std::string err;
  auto db = store::open(dir.path.string(), err, opts);
  REQUIRE(db);
  batch once;
  once.ops.push_back({family::meta, "k", "v", false});
  REQUIRE(db->commit({&once}, false).empty());
  std::string value(1000, 'x');
  for (int i = 0; i < 24000; ++i) { // ~24 MB into one family, six memtables' worth
    batch b;
    b.ops.push_back({family::orders, "o" + std::to_string(i), value, false});
    REQUIRE(db->commit({&b}, false).empty());
  }
  uintmax_t wal = 0;
  for (auto& f : std::filesystem::directory_iterator(dir.path))
    if (f.path().extension() == ".log")
      wal += f.file_size();
  INFO("write-ahead log files: " << wal << " bytes");
  CHECK(wal < 12u << 20); // without the cap: all ~24 MB (the meta family pins the first log)
}

TEST_CASE("deadline index keys sort by deadline and parse back; malformed ones are refused",
          "[unit][storage]") {
  auto a = storage::due_reservation_key(999, "ord_0001000000000001", "sku/with/slash");
  auto b = storage::due_reservation_key(1000, "ord_0000000000000002", "A");
  CHECK(a < b); // ordered by deadline, whatever the id
  storage::due_entry e;
  REQUIRE(storage::parse_due_key(a, 'r', e));
  CHECK(e.deadline_ms == 999);
  CHECK(e.id == "ord_0001000000000001");
  CHECK(e.sku == "sku/with/slash");
  auto p = storage::due_payment_key(int64_t{1} << 45, "pay_ord_0000000000000002");
  REQUIRE(storage::parse_due_key(p, 'p', e));
  CHECK(e.deadline_ms == int64_t{1} << 45);
  CHECK(e.id == "pay_ord_0000000000000002");
  CHECK(e.sku.empty());
  CHECK_FALSE(storage::parse_due_key(p, 'r', e));                        // wrong kind
  CHECK_FALSE(storage::parse_due_key("due/r/00000000000003e8/ord_1", 'r', e)); // no sku
  CHECK_FALSE(storage::parse_due_key("due/r/00000000000003e8/ord_1/", 'r', e));
  CHECK_FALSE(storage::parse_due_key("due/p/00000000000003g8/pay_1", 'p', e)); // not hex
  CHECK_FALSE(storage::parse_due_key("due/p/80000000000003e8/pay_1", 'p', e)); // negative
  CHECK_FALSE(storage::parse_due_key("due/p/00000000000003e8", 'p', e));       // no id
  CHECK_FALSE(storage::parse_due_key("due/p/3e8/pay_1", 'p', e));
}

TEST_CASE("a read the disk fails is 'failed', never 'absent': the handler hears it once and "
          "no write lands after it", "[unit][storage]") {
  temp_dir dir;
  auto trigger = dir.path / "read-fault";
  store_options so;
  so.read_fault_trigger = trigger.string();
  so.block_cache_bytes = 0; // every read of a table goes to the file system
  std::string err;
  {
    auto db = store::open(dir.path.string(), err, so);
    REQUIRE(db);
    batch b;
    for (int i = 0; i < 100; ++i)
      b.ops.push_back({family::meta, "k/" + std::to_string(100 + i), "v", false});
    REQUIRE(db->commit({&b}, true).empty());
    REQUIRE(db->flush().empty()); // in a table file, not only in the memtable
  }
  auto db = store::open(dir.path.string(), err, so);
  REQUIRE(db);
  std::vector<std::string> heard;
  db->on_read_failure([&](const std::string& why) { heard.push_back(why); });
  std::string v;
  REQUIRE(db->get(family::meta, "k/150", v) == read_status::found); // no fault yet
  { std::ofstream touch(trigger); }
  CHECK(db->get(family::meta, "k/151", v) == read_status::failed);
  size_t seen = 0;
  CHECK_FALSE(db->scan(family::meta, "k/", [&](auto, auto) { return ++seen, true; }));
  CHECK(seen == 0);
  CHECK_FALSE(db->scan_from(family::meta, "k/", [&](auto, auto) { return ++seen, true; }));
  CHECK_FALSE(db->scan_each(family::meta, {"k/1"}, [&](size_t, auto, auto) { return ++seen, true; }));
  REQUIRE(heard.size() == 1);
  CHECK(heard[0].find("RocksDB read failed") != std::string::npos);
  CHECK(heard[0].find("injected disk fault") != std::string::npos);
  CHECK(db->read_failed());
  // Whatever was decided after it may rest on it: no write lands, even once the disk is back.
  std::filesystem::remove(trigger);
  batch after;
  after.ops = {{family::meta, "k/999", "decided on a failed read", false}};
  CHECK_FALSE(db->commit({&after}, true).empty());
  CHECK(db->get(family::meta, "k/999", v) == read_status::absent);
  CHECK(db->get(family::meta, "k/151", v) == read_status::found);
}

TEST_CASE("every point read and iteration is counted under its column family",
          "[unit][storage]") {
  temp_dir dir;
  std::string err;
  auto db = store::open(dir.path.string(), err);
  REQUIRE(db);
  std::array<std::atomic<uint64_t>, family_count> reads{};
  std::string v;
  CHECK(db->get(family::orders, "before", v) == read_status::absent); // not counted yet
  db->count_reads(reads.data());
  CHECK(db->get(family::orders, "a", v) == read_status::absent);
  CHECK(db->get(family::orders, "b", v) == read_status::absent);
  CHECK(db->scan(family::meta, "p/", [](std::string_view, std::string_view) { return true; }));
  CHECK(db->scan_from(family::outbox, {}, [](std::string_view, std::string_view) { return true; }));
  CHECK(db->scan_each(family::reservations, {"a", "b", "c"},
                      [](size_t, std::string_view, std::string_view) { return true; }));
  CHECK(reads[int(family::orders)] == 2);
  CHECK(reads[int(family::meta)] == 1);
  CHECK(reads[int(family::outbox)] == 1);
  CHECK(reads[int(family::reservations)] == 3);
  CHECK(reads[int(family::payments)] == 0);
  db->count_reads(nullptr); // the counters go before the store here
}
