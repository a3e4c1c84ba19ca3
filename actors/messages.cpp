#include "actors/messages.hpp"

namespace saga {

const char* to_string(errc x) {
  switch (x) {
    case errc::ok: return "ok";
    case errc::invalid: return "invalid";
    case errc::not_found: return "not_found";
    case errc::conflict: return "conflict";
    case errc::bad_signature: return "bad_signature";
    case errc::unavailable: return "unavailable";
  }
  return "unknown";
}

uint64_t directory::hash(const std::string& key) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : key) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

size_t directory::order_partition(const std::string& order_id, size_t partitions) {
  if (partitions <= 1)
    return 0;
  constexpr size_t prefix = 4; // "ord_"
  if (order_id.size() == prefix + 16 && order_id.compare(0, prefix, "ord_") == 0) {
    size_t v = 0;
    for (size_t i = prefix; i < prefix + 4; ++i) {
      char c = order_id[i];
      int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
      if (d < 0)
        return hash(order_id) % partitions;
      v = v * 16 + static_cast<size_t>(d);
    }
    return v % partitions;
  }
  return hash(order_id) % partitions;
}

void register_message_types(caf::actor_system_config& cfg) {
  cfg.add_message_type<order_item>("order_item");
  cfg.add_message_type<std::vector<order_item>>("std::vector<order_item>");
  cfg.add_message_type<saga_event>("saga_event");
  cfg.add_message_type<order_state>("order_state");
  cfg.add_message_type<saga_input>("saga_input");
  cfg.add_message_type<reservation_item>("reservation_item");
  cfg.add_message_type<std::vector<reservation_item>>("std::vector<reservation_item>");
  cfg.add_message_type<sku_record>("sku_record");
  cfg.add_message_type<payment_intent>("payment_intent");
  cfg.add_message_type<payment_status>("payment_status");
  cfg.add_message_type<op_reply>("op_reply");
  cfg.add_message_type<sku_reply>("sku_reply");
  cfg.add_message_type<prices_reply>("prices_reply");
  cfg.add_message_type<payment_reply>("payment_reply");
  cfg.add_message_type<order_view>("order_view");
  cfg.add_message_type<input_reply>("input_reply");
  cfg.add_message_type<create_reply>("create_reply");
  cfg.add_message_type<writer_stats>("writer_stats");
  cfg.add_message_type<kafka_sink_status>("kafka_sink_status");
  cfg.add_message_type<supervisor_stats>("supervisor_stats");
  cfg.add_message_type<directory>("directory");
  cfg.add_message_type<command_kind>("command_kind");
  cfg.add_message_type<order_status>("order_status");
  cfg.add_message_type<storage::batch>("storage::batch");
  cfg.add_message_type<std::vector<storage::batch>>("std::vector<storage::batch>");
  cfg.add_message_type<std::vector<order_state>>("std::vector<order_state>");
  cfg.add_message_type<saga_step>("saga_step");
  cfg.add_message_type<actor_info>("actor_info");
  cfg.add_message_type<std::vector<actor_info>>("std::vector<actor_info>");
  cfg.add_message_type<order_progress>("order_progress");
  cfg.add_message_type<order_summary>("order_summary");
  cfg.add_message_type<parked_order>("parked_order");
  cfg.add_message_type<std::vector<parked_order>>("std::vector<parked_order>");
  cfg.add_message_type<inspect_summary>("inspect_summary");
  cfg.add_message_type<order_page>("order_page");
  cfg.add_message_type<order_inspection>("order_inspection");
  // Cross-node: the handshake, and top-level types of messages that reach other nodes.
  cfg.add_message_type<cluster_hello>("cluster_hello");
  cfg.add_message_type<cluster_welcome>("cluster_welcome");
  cfg.add_message_type<peer_status>("peer_status");
  cfg.add_message_type<std::vector<peer_status>>("std::vector<peer_status>");
  cfg.add_message_type<input_kind>("input_kind");
  cfg.add_message_type<taken_partition>("taken_partition");
  cfg.add_message_type<ownership_view>("ownership_view");
  cfg.add_message_type<standby_status>("standby_status");
  cfg.add_message_type<partition_claim>("partition_claim");
  cfg.add_message_type<std::vector<partition_claim>>("std::vector<partition_claim>");
  cfg.add_message_type<std::vector<standby_status>>("std::vector<standby_status>");
}

} // namespace saga
