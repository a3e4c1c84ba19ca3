// Inventory and payment books: stock conservation, idempotency, all-or-nothing, expiry,
// signatures.
#include <catch2/catch.hpp>

#include "actors/inventory_book.hpp"
#include "actors/payment_book.hpp"

using namespace saga;

namespace {
bool conserved(const sku_record& s) {
  return s.available + s.reserved + s.committed == s.restocked_total && s.available >= 0;
}
} // namespace

TEST_CASE("reserve is all or nothing across SKUs", "[unit][inventory]") {
  inventory_book b;
  REQUIRE(b.set_stock("A", 5, 100).ok);
  REQUIRE(b.set_stock("B", 1, 100).ok);
  auto r = b.reserve("o1", {{"A", 2}, {"B", 2}}, 1000);
  CHECK_FALSE(r.ok);
  CHECK(r.reason == "insufficient stock for sku B");
  CHECK(b.find_sku("A")->available == 5);
  CHECK(b.find_reservation("o1") == nullptr);
  CHECK_FALSE(b.reserve("o2", {{"Z", 1}}, 1000).ok);
}

TEST_CASE("reserve, commit and release are idempotent and conserve stock", "[unit][inventory]") {
  inventory_book b;
  REQUIRE(b.set_stock("A", 5, 100).ok);
  REQUIRE(b.reserve("o1", {{"A", 2}}, 1000).ok);
  auto again = b.reserve("o1", {{"A", 2}}, 1000);
  CHECK(again.ok);
  CHECK_FALSE(again.reservation_changed);
  CHECK(b.find_sku("A")->reserved == 2);
  REQUIRE(b.commit("o1", 10).ok);
  CHECK(b.commit("o1", 10).ok);
  CHECK(b.find_sku("A")->committed == 2);
  CHECK(b.find_sku("A")->available == 3);
  CHECK(conserved(*b.find_sku("A")));
  REQUIRE(b.reserve("o2", {{"A", 3}}, 1000).ok);
  CHECK(b.find_sku("A")->available == 0);
  CHECK_FALSE(b.reserve("o3", {{"A", 1}}, 1000).ok); // never oversold
  REQUIRE(b.release("o2").ok);
  CHECK(b.release("o2").ok);
  CHECK(b.release("never-reserved").ok);
  CHECK(b.find_sku("A")->available == 3);
  CHECK(conserved(*b.find_sku("A")));
  CHECK_FALSE(b.reserve("o2", {{"A", 1}}, 1000).ok); // released reservations stay released
}

TEST_CASE("an expired reservation cannot be committed", "[unit][inventory]") {
  inventory_book b;
  REQUIRE(b.set_stock("A", 5, 100).ok);
  REQUIRE(b.reserve("o1", {{"A", 2}}, 1000).ok);
  CHECK_FALSE(b.expire("o1", 999).ok);
  REQUIRE(b.expire("o1", 1000).ok);
  CHECK(b.find_sku("A")->available == 5);
  auto c = b.commit("o1", 1001);
  CHECK_FALSE(c.ok);
  CHECK(c.reason == "reservation expired");
  // commit past the deadline fails even when the timer has not fired yet
  REQUIRE(b.reserve("o2", {{"A", 1}}, 2000).ok);
  CHECK_FALSE(b.commit("o2", 2000).ok);
  CHECK(b.find_sku("A")->available == 5);
  CHECK(conserved(*b.find_sku("A")));
}

TEST_CASE("release after a partial commit gives the units back", "[unit][inventory]") {
  inventory_book b;
  REQUIRE(b.set_stock("A", 5, 100).ok);
  REQUIRE(b.reserve("o1", {{"A", 2}}, 1000).ok);
  REQUIRE(b.commit("o1", 10).ok);
  REQUIRE(b.release("o1").ok);
  CHECK(b.find_sku("A")->committed == 0);
  CHECK(b.find_sku("A")->available == 5);
  CHECK(conserved(*b.find_sku("A")));
}

TEST_CASE("set_stock keeps reservations and refuses going below them", "[unit][inventory]") {
  inventory_book b;
  REQUIRE(b.set_stock("A", 5, 100).ok);
  REQUIRE(b.reserve("o1", {{"A", 4}}, 1000).ok);
  CHECK_FALSE(b.set_stock("A", 3, 100).ok);
  REQUIRE(b.set_stock("A", 10, 120).ok);
  CHECK(b.find_sku("A")->available == 6);
  CHECK(b.find_sku("A")->price_cents == 120);
  CHECK(conserved(*b.find_sku("A")));
  CHECK_FALSE(b.set_stock("B", -1, 1).ok);
  CHECK(b.find_sku("B") == nullptr);
}

TEST_CASE("payment signature matches openssl's HMAC-SHA256", "[unit][payment]") {
  // printf 'o1|p1|succeeded' | openssl dgst -sha256 -hmac secret
  CHECK(payment_signature("secret", "o1", "p1", "succeeded")
        == "2aa3c167ef9415248c694a1c62764486a8d9606abf18efaccd35fad1b5e37d94");
}

TEST_CASE("verification needs a valid signature and is idempotent", "[unit][payment]") {
  payment_book b;
  REQUIRE(b.create({"p1", "o1", 500, payment_status::pending, 1000, 0}).changed);
  CHECK_FALSE(b.create({"p1", "o1", 500, payment_status::pending, 1000, 0}).changed);
  auto sig = payment_signature("k", "o1", "p1", "succeeded");
  auto bad = b.verify("k", "o1", "p1", "succeeded", "00" + sig.substr(2), 10);
  CHECK(bad.code == verify_code::bad_signature);
  CHECK(b.find("p1")->status == payment_status::pending);
  CHECK(b.verify("k", "o9", "p9", "succeeded", payment_signature("k", "o9", "p9", "succeeded"), 10)
          .code
        == verify_code::not_found);
  auto ok = b.verify("k", "o1", "p1", "succeeded", sig, 10);
  CHECK(ok.code == verify_code::ok);
  CHECK(ok.changed);
  auto repeat = b.verify("k", "o1", "p1", "succeeded", sig, 11);
  CHECK(repeat.code == verify_code::ok);
  CHECK_FALSE(repeat.changed);
  auto contra = b.verify("k", "o1", "p1", "failed", payment_signature("k", "o1", "p1", "failed"), 12);
  CHECK(contra.code == verify_code::conflict);
  CHECK(b.refund("p1", 13).changed);
  CHECK_FALSE(b.refund("p1", 14).changed);
  CHECK(b.find("p1")->status == payment_status::refunded);
}

TEST_CASE("an unverified intent expires at its deadline", "[unit][payment]") {
  payment_book b;
  b.create({"p1", "o1", 500, payment_status::pending, 1000, 0});
  CHECK_FALSE(b.expire("p1", 999).changed);
  CHECK(b.expire("p1", 1000).changed);
  auto late = b.verify("k", "o1", "p1", "succeeded", payment_signature("k", "o1", "p1", "succeeded"), 1001);
  CHECK(late.code == verify_code::conflict);
  CHECK(b.find("p1")->status == payment_status::expired);
  CHECK(b.refund("p1", 1002).code == verify_code::conflict);
}

TEST_CASE("token comparison: equal only when identical, whatever the lengths", "[unit][security]") {
  CHECK(signature_equal("Bearer tok", "Bearer tok"));
  CHECK_FALSE(signature_equal("Bearer to", "Bearer tok"));   // a prefix is not enough
  CHECK_FALSE(signature_equal("Bearer tokk", "Bearer tok"));
  CHECK_FALSE(signature_equal("", "Bearer tok"));
  CHECK(signature_equal("", ""));
}

TEST_CASE("a compensated order's intent is cancelled: pending, unknown or decided", "[unit][payment]") {
  payment_book b;
  b.create({"p1", "o1", 500, payment_status::pending, 1000, 0});
  auto r = b.cancel("p1", "o1", 10);
  CHECK(r.changed);
  CHECK(r.message == "cancelled");
  CHECK(b.find("p1")->status == payment_status::expired);
  auto late = b.verify("k", "o1", "p1", "succeeded", payment_signature("k", "o1", "p1", "succeeded"), 11);
  CHECK(late.code == verify_code::conflict); // a late success is refused, as after an expiry
  CHECK_FALSE(b.cancel("p1", "o1", 12).changed);
  // never created: recorded as cancelled, so a creation arriving late opens nothing
  auto t = b.cancel("p2", "o2", 20);
  CHECK(t.changed);
  CHECK(t.message == "cancelled");
  CHECK_FALSE(b.create({"p2", "o2", 700, payment_status::pending, 5000, 21}).changed);
  CHECK(b.find("p2")->status == payment_status::expired);
  // already succeeded: left as it is, for the caller to refund
  b.create({"p3", "o3", 500, payment_status::pending, 1000, 0});
  REQUIRE(b.verify("k", "o3", "p3", "succeeded", payment_signature("k", "o3", "p3", "succeeded"), 5).changed);
  auto s = b.cancel("p3", "o3", 30);
  CHECK_FALSE(s.changed);
  CHECK(s.message != "cancelled");
  CHECK(b.find("p3")->status == payment_status::succeeded);
}
