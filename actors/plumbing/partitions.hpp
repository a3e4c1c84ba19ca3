#pragma once
// Asking every order partition's owner at once, and merging their answers into the one
// answer a node gives (parked orders, pages of live orders, the summary). Each owner
// answers for its own partition only.

#include <algorithm>
#include <memory>
#include <vector>

#include <caf/all.hpp>

#include "actors/messages.hpp"

namespace saga {

/// Sends `msg...` to every actor in `xs` and calls `done` with their answers (in the order
/// of `xs`) once all have answered, or `fail` with the first error (then never `done`).
template <class T, class Self, class Timeout, class Done, class Fail, class... Ts>
void ask_all(Self* self, const std::vector<caf::actor>& xs, Timeout timeout, Done done, Fail fail,
             const Ts&... msg) {
  struct gather {
    std::vector<T> got;
    size_t remaining = 0;
    bool failed = false;
  };
  auto g = std::make_shared<gather>();
  g->got.resize(xs.size());
  g->remaining = xs.size();
  if (xs.empty())
    return done(std::move(g->got));
  for (size_t i = 0; i < xs.size(); ++i)
    self->request(xs[i], timeout, msg...)
      .then(
        [g, i, done](T& x) mutable {
          g->got[i] = std::move(x);
          if (--g->remaining == 0 && !g->failed)
            done(std::move(g->got));
        },
        [g, fail](caf::error& e) mutable {
          if (!g->failed) {
            g->failed = true;
            fail(e);
          }
        });
}

/// Parked orders of every partition, by order id.
std::vector<parked_order> merge_parked(std::vector<std::vector<parked_order>> parts);

/// One page of live orders from the pages of every partition, all asked with the same
/// cursor and limit: ordered by id, at most `limit` rows, and a `next_cursor` before which
/// no partition has an unreturned row (a partition that stopped early bounds the page).
order_page merge_pages(std::vector<order_page> parts, uint64_t limit);

/// The node's order summary from every partition's (sums; the bounded lists keep the most
/// overdue and the first parked by id).
order_summary merge_summaries(std::vector<order_summary> parts, size_t max_listed = 20);

} // namespace saga
