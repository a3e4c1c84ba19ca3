#include "actors/plumbing/partitions.hpp"

namespace saga {

std::vector<parked_order> merge_parked(std::vector<std::vector<parked_order>> parts) {
  std::vector<parked_order> out;
  for (auto& xs : parts)
    out.insert(out.end(), std::make_move_iterator(xs.begin()), std::make_move_iterator(xs.end()));
  std::sort(out.begin(), out.end(),
            [](const parked_order& a, const parked_order& b) { return a.order_id < b.order_id; });
  return out;
}

order_page merge_pages(std::vector<order_page> parts, uint64_t limit) {
  order_page out;
  const std::string* bound = nullptr; // every partition is complete up to here
  for (auto& p : parts) {
    out.scanned += p.scanned;
    if (!p.next_cursor.empty() && (bound == nullptr || p.next_cursor < *bound))
      bound = &p.next_cursor;
  }
  for (auto& p : parts)
    for (auto& r : p.rows)
      if (bound == nullptr || r.key <= *bound)
        out.rows.push_back(std::move(r));
  std::sort(out.rows.begin(), out.rows.end(),
            [](const actor_info& a, const actor_info& b) { return a.key < b.key; });
  if (out.rows.size() > limit) {
    out.rows.resize(limit);
    out.next_cursor = out.rows.back().key;
  } else if (bound != nullptr) {
    out.next_cursor = *bound;
  }
  return out;
}

order_summary merge_summaries(std::vector<order_summary> parts, size_t max_listed) {
  order_summary out;
  for (auto& s : parts) {
    out.live += s.live;
    if (out.by_step.size() < s.by_step.size())
      out.by_step.resize(s.by_step.size());
    for (size_t i = 0; i < s.by_step.size(); ++i)
      out.by_step[i] += s.by_step[i];
    out.stuck += s.stuck;
    out.restarted += s.restarted;
    out.parked += s.parked;
    out.stuck_oldest.insert(out.stuck_oldest.end(), s.stuck_oldest.begin(), s.stuck_oldest.end());
    out.parked_orders.insert(out.parked_orders.end(), s.parked_orders.begin(),
                             s.parked_orders.end());
  }
  auto overdue_since = [](const actor_info& a) { return a.state_since_ms + a.budget_ms; };
  std::sort(out.stuck_oldest.begin(), out.stuck_oldest.end(),
            [&](const actor_info& a, const actor_info& b) {
              return overdue_since(a) < overdue_since(b);
            });
  if (out.stuck_oldest.size() > max_listed)
    out.stuck_oldest.resize(max_listed);
  std::sort(out.parked_orders.begin(), out.parked_orders.end(),
            [](const parked_order& a, const parked_order& b) { return a.order_id < b.order_id; });
  if (out.parked_orders.size() > max_listed)
    out.parked_orders.resize(max_listed);
  return out;
}

} // namespace saga
