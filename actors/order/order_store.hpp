#pragma once
// The order's read model in the store: its record (snapshot and events) and whether it is
// parked. Read by the order's owner and by `order_reader` actors, which the gateway (and,
// for another node's gateway, the node entry in actors/cluster/) asks.

#include <string>
#include <vector>

#include "actors/messages.hpp"
#include "runtime/context.hpp"
#include "storage/store.hpp"

namespace saga {

/// Reads an order's record: its snapshot and its events (one point read; a format-1
/// snapshot's events are read from the events family). False when missing (`*status`
/// absent), when the read failed (`*status` failed: never take that for "missing"), or
/// when the record does not decode (`*status` found).
bool read_order(const storage::store& db, const std::string& order_id, order_state& s,
                std::vector<saga_event>& history, storage::read_status* status = nullptr);
/// Reads an order's view (snapshot, events, parked reason) from the store.
order_view load_order_view(const storage::store& db, const std::string& order_id);

/// One read of an order: answers `(get_atom, order_id)` with its view, then quits. Spawned
/// per read, so reads run in parallel and never queue behind a partition's sagas.
caf::behavior order_reader(caf::event_based_actor* self, context_ptr ctx);

} // namespace saga
