#include "actors/sink/event_envelope.hpp"

#include <nlohmann/json.hpp>

#include "storage/record_format.hpp"

using nlohmann::json;

namespace saga {

std::string event_id(const std::string& order_id, uint64_t seq) {
  return order_id + "-" + std::to_string(seq);
}

std::string encode(const saga_event& x, const std::string& node) {
  return json{{"event_id", event_id(x.order_id, x.seq)},
              {"type", to_string(x.type)},
              {"order_id", x.order_id},
              {"seq", x.seq},
              {"ts", x.ts_ms},
              {"node", node},
              {"source", x.source},
              {"data", json::parse(x.data.empty() ? "{}" : x.data)}}
    .dump();
}

bool decode(const std::string& s, saga_event& x) {
  return storage::json_guarded(s, [&](const json& j) {
    x.order_id = j.at("order_id").get<std::string>();
    x.seq = j.at("seq").get<uint64_t>();
    x.ts_ms = j.at("ts").get<int64_t>();
    x.source = j.at("source").get<std::string>();
    x.data = j.at("data").dump();
    return storage::json_enum(j, "type", x.type);
  });
}
} // namespace saga
