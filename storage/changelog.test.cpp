// The changelog record: what a node that lost its disk reads back must be the write it
// lost, byte for byte, and a damaged record must be refused, never half-applied.
#include <catch2/catch.hpp>

#include "storage/changelog.hpp"
#include "storage/store.hpp"
#include "tests/temp_dir.hpp"

using namespace storage;

namespace {

batch sample(int i) {
  batch b;
  b.ops.push_back({family::orders, "ord_" + std::to_string(i), std::string("rec\0ord", 7), false});
  b.ops.push_back({family::meta, "inflight/ord_" + std::to_string(i), {}, i % 2 == 0});
  b.counters.push_back({"orders_PENDING", i % 2 == 0 ? -1 : 1});
  b.erase_if.push_back({family::meta, "idem/k" + std::to_string(i), "v"});
  b.outbox.push_back("{\"type\":\"ordercreated\"}"); // not in the record
  b.log_partition = 3;
  return b;
}

} // namespace

TEST_CASE("changelog: batches round-trip without their outbox", "[changelog]") {
  auto a = sample(1);
  auto b = sample(2);
  auto bytes = encode_changelog({&a, &b});
  std::vector<batch> got;
  REQUIRE(decode_changelog(bytes, got));
  REQUIRE(got.size() == 2);
  for (size_t i = 0; i < 2; ++i) {
    auto& want = i == 0 ? a : b;
    REQUIRE(got[i].ops.size() == want.ops.size());
    for (size_t k = 0; k < want.ops.size(); ++k) {
      CHECK(got[i].ops[k].cf == want.ops[k].cf);
      CHECK(got[i].ops[k].key == want.ops[k].key);
      CHECK(got[i].ops[k].value == want.ops[k].value);
      CHECK(got[i].ops[k].erase == want.ops[k].erase);
    }
    CHECK(got[i].counters == want.counters);
    REQUIRE(got[i].erase_if.size() == 1);
    CHECK(got[i].erase_if[0].key == want.erase_if[0].key);
    CHECK(got[i].erase_if[0].expect == "v");
    CHECK(got[i].outbox.empty());
    CHECK(got[i].log_partition == batch::local);
  }
}

TEST_CASE("changelog: a truncated, extended or foreign record is refused", "[changelog]") {
  auto a = sample(1);
  auto bytes = encode_changelog({&a});
  std::vector<batch> got;
  for (size_t n = 0; n < bytes.size(); ++n)
    CHECK_FALSE(decode_changelog(std::string_view(bytes).substr(0, n), got));
  CHECK_FALSE(decode_changelog(bytes + "x", got));
  auto other = bytes;
  other[0] = 0x02; // an order record's version byte
  CHECK_FALSE(decode_changelog(other, got));
  auto bad_family = encode_changelog({&a});
  bad_family[3] = 0x7f; // first op's column family
  CHECK_FALSE(decode_changelog(bad_family, got));
  CHECK(decode_changelog(encode_changelog({}), got));
  CHECK(got.empty());
}

TEST_CASE("changelog: applied to a store, a record gives the state its batches wrote",
          "[changelog]") {
  saga_test::temp_dir dir;
  std::string err;
  auto db = store::open(dir.path.string(), err, {});
  REQUIRE(db);
  auto a = sample(1);
  auto b = sample(2);
  std::vector<batch> got;
  REQUIRE(decode_changelog(encode_changelog({&a, &b}), got));
  std::vector<const batch*> group;
  for (auto& x : got)
    group.push_back(&x);
  REQUIRE(db->commit(group, false).empty());
  std::string v;
  REQUIRE(db->get(family::orders, "ord_2", v) == read_status::found);
  CHECK(v == std::string("rec\0ord", 7));
  CHECK(db->get(family::meta, "inflight/ord_1", v) == read_status::found);
  CHECK(db->get(family::meta, "inflight/ord_2", v) == read_status::absent);
  CHECK(db->counter("orders_PENDING") == 0); // +1 then -1
  CHECK(changelog_offset_key(5) == "changelog/5");
}
