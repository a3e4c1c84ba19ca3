#include "actors/order/order_store.hpp"

#include "actors/order/order_codec.hpp"
#include "actors/sink/event_envelope.hpp"

namespace saga {

bool read_order(const storage::store& db, const std::string& order_id, order_state& s,
                std::vector<saga_event>& history, storage::read_status* status) {
  std::string raw;
  auto got = db.get(storage::family::orders, order_id, raw);
  if (status != nullptr)
    *status = got;
  bool with_history = false;
  if (got != storage::read_status::found || !saga::decode(raw, s, &history, &with_history))
    return false;
  if (!with_history // a format-1 snapshot (not converted yet): its events are apart
      && !db.scan(storage::family::events, order_id + std::string(1, '\0'),
                  [&](std::string_view, std::string_view value) {
                    saga_event ev;
                    if (saga::decode(std::string(value), ev))
                      history.push_back(std::move(ev));
                    return true;
                  })) {
    if (status != nullptr)
      *status = storage::read_status::failed;
    return false;
  }
  return true;
}

order_view load_order_view(const storage::store& db, const std::string& order_id) {
  order_view v;
  auto got = storage::read_status::absent;
  const order_view failed{errc::unavailable,
                          "order " + order_id + " cannot be read: the storage read failed",
                          {}, {}, {}};
  if (!read_order(db, order_id, v.state, v.events, &got)) {
    if (got == storage::read_status::absent)
      return {errc::not_found, "unknown order " + order_id, {}, {}, {}};
    if (got == storage::read_status::failed)
      return failed;
    return {errc::unavailable, "snapshot of order " + order_id + " is unreadable", {}, {}, {}};
  }
  if (db.get(storage::family::meta, "parked/" + order_id, v.parked_reason)
      == storage::read_status::failed)
    return failed;
  return v;
}

caf::behavior order_reader(caf::event_based_actor* self, context_ptr ctx) {
  return {
    [self, ctx](get_atom, const std::string& order_id) -> order_view {
      self->quit(); // after this answer
      return load_order_view(*ctx->db, order_id);
    },
  };
}

} // namespace saga
