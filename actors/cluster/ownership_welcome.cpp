// Welcomes (ownership.hpp): what this node tells a peer it holds, and what it learns from a
// peer's. A welcome lists, per partition, the holder's actors (never a forwarder standing
// for them) and the offset of its claim.
#include "actors/cluster/ownership_detail.hpp"

namespace saga::ownership_detail {

void apply_welcome(own_ptr self, const std::string& node, const cluster_welcome& w,
                   bool complete) {
  auto& st = self->state;
  auto seq = [](const std::vector<int64_t>& xs, size_t p) {
    return p < xs.size() ? xs[p] : int64_t{-1};
  };
  for (size_t p = 0; p < st.orders.size(); ++p) {
    auto h = actor_at(w.orders, p);
    if (h)
      held_by(self, partition_kind::orders, p, node, h, actor_at(w.payment_by_order, p),
              seq(w.order_seqs, p));
    else if (complete && st.orders[p].holder == node)
      held_by(self, partition_kind::orders, p, {}, {}, {});
  }
  for (size_t q = 0; q < st.inventory.size(); ++q) {
    auto h = actor_at(w.inventory, q);
    if (h)
      held_by(self, partition_kind::inventory, q, node, h, {}, seq(w.inventory_seqs, q));
    else if (complete && st.inventory[q].holder == node)
      held_by(self, partition_kind::inventory, q, {}, {}, {});
  }
}

cluster_welcome welcome_of(own_ptr self) {
  auto& st = self->state;
  cluster_welcome w;
  w.ok = true;
  w.node_id = me(self);
  for (size_t p = 0; p < st.orders.size(); ++p) {
    auto& s = st.orders[p];
    bool local = s.holder == me(self); // (an own partition handed over is not)
    w.orders.push_back(local ? s.local : caf::actor{});
    w.order_seqs.push_back(local ? s.seq : -1);
    w.payment_by_order.push_back(local ? s.local_pay : caf::actor{});
  }
  for (size_t q = 0; q < st.inventory.size(); ++q) {
    auto& s = st.inventory[q];
    bool local = s.holder == me(self); // (an own partition handed over is not)
    w.inventory.push_back(local ? s.local : caf::actor{});
    w.inventory_seqs.push_back(local ? s.seq : -1);
  }
  return w;
}

} // namespace saga::ownership_detail
