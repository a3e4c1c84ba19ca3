// The inventory book: stock conservation, idempotency, all-or-nothing, expiry.
#include <catch2/catch.hpp>

#include <csignal>
#include <string>
#include <sys/wait.h>
#include <unistd.h>

#include "actors/inventory/inventory_book.hpp"

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

TEST_CASE("a broken stock invariant stops the process, naming it, in every build",
          "[unit][inventory]") {
  // State that cannot come from the book's own operations (as from a bad record): a
  // reservation of 5 over a SKU that has none reserved. Releasing it would make the
  // reserved stock negative; the check stops the process first (here a forked child).
  int out[2];
  REQUIRE(pipe(out) == 0);
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    dup2(out[1], 2);
    inventory_book b;
    b.load_sku({"A", 0, 0, 0, 100, 0});
    b.load_reservation({"o1", {{"A", 5}}, reservation_state::reserved, 1000});
    b.release("o1");
    _exit(0); // not reached when the check holds
  }
  close(out[1]);
  std::string err;
  char buf[512];
  for (ssize_t n; (n = read(out[0], buf, sizeof(buf))) > 0;)
    err.append(buf, static_cast<size_t>(n));
  close(out[0]);
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  CHECK(WIFSIGNALED(status));
  CHECK((WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT));
  CHECK(err.find("invariant violated: no negative stock") != std::string::npos);
}
