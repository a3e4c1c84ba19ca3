// The payment book: signatures, idempotent verification, expiry, cancellation.
#include <catch2/catch.hpp>

#include "actors/payment/payment_book.hpp"

using namespace saga;

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
  auto declined = b.verify("k", "o1", "p1", "failed", payment_signature("k", "o1", "p1", "failed"), 1001);
  CHECK(declined.code == verify_code::conflict);
  CHECK_FALSE(declined.changed);
  CHECK(b.find("p1")->status == payment_status::expired);
  CHECK(b.refund("p1", 1002).code == verify_code::conflict);
}

TEST_CASE("a success after the intent expired is a late capture: recorded and refunded, once",
          "[unit][payment]") {
  payment_book b;
  auto sig = payment_signature("k", "o1", "p1", "succeeded");
  b.create({"p1", "o1", 500, payment_status::pending, 1000, 0});
  REQUIRE(b.expire("p1", 1000).changed);
  auto late = b.verify("k", "o1", "p1", "succeeded", sig, 1001);
  CHECK(late.code == verify_code::ok);
  CHECK(late.changed);
  CHECK(late.message == late_refund_message);
  CHECK(b.find("p1")->status == payment_status::refunded);
  auto again = b.verify("k", "o1", "p1", "succeeded", sig, 1002);
  CHECK(again.code == verify_code::ok);
  CHECK_FALSE(again.changed); // refunded once
  CHECK(b.refund("p1", 1003).message == "already refunded");
  // past its deadline but not yet expired by the timer: the same
  b.create({"p2", "o2", 500, payment_status::pending, 1000, 0});
  auto past = b.verify("k", "o2", "p2", "succeeded", payment_signature("k", "o2", "p2", "succeeded"), 1500);
  CHECK(past.code == verify_code::ok);
  CHECK(past.message == late_refund_message);
  CHECK(b.find("p2")->status == payment_status::refunded);
  // a bad signature changes nothing, late or not
  b.create({"p3", "o3", 500, payment_status::expired, 1000, 0});
  CHECK(b.verify("k", "o3", "p3", "succeeded", sig, 1001).code == verify_code::bad_signature);
  CHECK(b.find("p3")->status == payment_status::expired);
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
  CHECK(late.code == verify_code::ok); // a late success is refunded, as after an expiry
  CHECK(b.find("p1")->status == payment_status::refunded);
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
