#include "actors/sink/event_envelope.hpp"

#include <charconv>

#include <nlohmann/json.hpp>

#include "runtime/invariant.hpp"
#include "storage/record_format.hpp"

using nlohmann::json;

namespace saga {

std::string event_id(const std::string& order_id, uint64_t seq) {
  return order_id + "-" + std::to_string(seq);
}

namespace {

/// `s` as a JSON string (quotes and escapes as nlohmann's dump writes them).
void append_string(std::string& out, std::string_view s) {
  static constexpr char hex[] = "0123456789abcdef";
  out += '"';
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (u < 0x20) {
          out += "\\u00";
          out += hex[u >> 4];
          out += hex[u & 15];
        } else {
          out += c;
        }
    }
  }
  out += '"';
}

/// Reads `"text"` (no escapes) at `pos`; false for anything else.
bool plain_string(std::string_view in, size_t& pos, std::string& out) {
  if (pos >= in.size() || in[pos] != '"')
    return false;
  auto end = in.find_first_of("\"\\", pos + 1);
  if (end == std::string_view::npos || in[end] != '"')
    return false;
  out.assign(in.substr(pos + 1, end - pos - 1));
  pos = end + 1;
  return true;
}

bool literal(std::string_view in, size_t& pos, std::string_view lit) {
  if (in.substr(pos, lit.size()) != lit)
    return false;
  pos += lit.size();
  return true;
}

template <class Int>
bool integer(std::string_view in, size_t& pos, Int& out) {
  auto [p, ec] = std::from_chars(in.data() + pos, in.data() + in.size(), out);
  if (ec != std::errc{} || p == in.data() + pos)
    return false;
  pos = static_cast<size_t>(p - in.data());
  return true;
}

} // namespace

std::string encode(const saga_event& x, const std::string& node) {
  // Built as text: `data` is already JSON (the step's own dump in saga.cpp, or that dump
  // read back from the order's record), copied, not parsed again.
  SAGA_INVARIANT(x.data.empty() || (x.data.front() == '{' && x.data.back() == '}'),
                 "an event's data is a JSON object");
  std::string out;
  out.reserve(160 + x.order_id.size() * 2 + node.size() + x.source.size() + x.data.size());
  out += "{\"type\":";
  append_string(out, to_string(x.type));
  out += ",\"order_id\":";
  append_string(out, x.order_id);
  out += ",\"seq\":";
  out += std::to_string(x.seq);
  out += ",\"ts\":";
  out += std::to_string(x.ts_ms);
  out += ",\"event_id\":";
  append_string(out, event_id(x.order_id, x.seq));
  out += ",\"node\":";
  append_string(out, node);
  out += ",\"source\":";
  append_string(out, x.source);
  out += ",\"data\":";
  out += x.data.empty() ? std::string_view("{}") : std::string_view(x.data);
  out += '}';
  return out;
}

bool read_head(std::string_view in, envelope_head& out) {
  size_t pos = 0;
  if (literal(in, pos, "{\"type\":") && plain_string(in, pos, out.type)
      && literal(in, pos, ",\"order_id\":") && plain_string(in, pos, out.order_id)
      && literal(in, pos, ",\"seq\":") && integer(in, pos, out.seq)
      && literal(in, pos, ",\"ts\":") && integer(in, pos, out.ts) && literal(in, pos, ",")
      && in.back() == '}') // a cut envelope goes the long way, and fails there
    return true;
  auto env = json::parse(in, nullptr, false);
  if (!env.is_object())
    return false;
  auto str = [&](const char* key, std::string fallback) {
    auto i = env.find(key);
    return i != env.end() && i->is_string() ? i->get<std::string>() : fallback;
  };
  auto num = [&](const char* key, auto fallback) {
    auto i = env.find(key);
    return i != env.end() && i->is_number_integer() ? i->get<decltype(fallback)>() : fallback;
  };
  out.type = str("type", "unknown");
  out.order_id = str("order_id", "");
  out.seq = num("seq", uint64_t{0});
  out.ts = num("ts", int64_t{0});
  return true;
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
