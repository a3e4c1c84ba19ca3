#include "storage/codec.hpp"

#include <algorithm>
#include <cstdio>

#include <nlohmann/json.hpp>

using nlohmann::json;

namespace storage {

namespace {

template <class Enum>
bool get_enum(const json& j, const char* key, Enum& out) {
  return saga::from_string(j.at(key).get<std::string>(), out);
}

template <class F>
bool guarded(const std::string& s, F f) {
  try {
    auto j = json::parse(s);
    return f(j);
  } catch (const json::exception&) {
    return false;
  }
}

} // namespace

namespace {

// ---- binary primitives: LEB128 varints, zigzag for signed, length-prefixed strings ----

void put_u(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

void put_i(std::string& out, int64_t v) {
  put_u(out, (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63));
}

void put_s(std::string& out, std::string_view v) {
  put_u(out, v.size());
  out.append(v.data(), v.size());
}

// One past each enum's last value (a value added after the last one is refused until this
// is updated: a failed decode, never a read past a name table).
constexpr uint64_t enum_end(saga::order_status) {
  return static_cast<uint64_t>(saga::order_status::failed) + 1;
}
constexpr uint64_t enum_end(saga::saga_step) {
  return static_cast<uint64_t>(saga::saga_step::failed) + 1;
}
constexpr uint64_t enum_end(saga::failure_reason) {
  return static_cast<uint64_t>(saga::failure_reason::cancelled) + 1;
}
constexpr uint64_t enum_end(saga::payment_status) {
  return static_cast<uint64_t>(saga::payment_status::refunded) + 1;
}
constexpr uint64_t enum_end(saga::reservation_state) {
  return static_cast<uint64_t>(saga::reservation_state::expired) + 1;
}
constexpr uint64_t enum_end(saga::event_type) {
  return static_cast<uint64_t>(saga::event_type::order_admin_action) + 1;
}

struct reader {
  std::string_view in;
  bool ok = true;

  uint64_t u() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (in.empty())
        return ok = false, 0;
      auto b = static_cast<uint8_t>(in.front());
      in.remove_prefix(1);
      if (shift == 63 && b > 1)
        return ok = false, 0; // more than 64 bits
      v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if ((b & 0x80) == 0)
        return v;
    }
    return ok = false, 0;
  }
  int64_t i() {
    auto z = u();
    return static_cast<int64_t>((z >> 1) ^ (~(z & 1) + 1));
  }
  std::string s() {
    auto n = u();
    if (!ok || n > in.size())
      return ok = false, std::string{};
    std::string out(in.substr(0, n));
    in.remove_prefix(n);
    return out;
  }
  void skip_s() {
    auto n = u();
    if (!ok || n > in.size())
      return void(ok = false);
    in.remove_prefix(n);
  }
  /// An enum stored as its underlying value; only values that name something decode.
  template <class Enum>
  void e(Enum& out) {
    auto v = u();
    if (!ok || v >= enum_end(Enum{}))
      return void(ok = false);
    out = static_cast<Enum>(v);
  }
};

} // namespace

std::string encode(const saga::order_state& x, const std::vector<saga::saga_event>& history) {
  std::string out;
  out.reserve(128 + history.size() * 96);
  out.push_back(order_record_v2);
  put_s(out, x.order_id);
  put_s(out, x.customer_id);
  put_u(out, x.items.size());
  for (auto& i : x.items) {
    put_s(out, i.sku);
    put_i(out, i.quantity);
    put_i(out, i.unit_price_cents);
  }
  put_i(out, x.selling_price_cents);
  put_u(out, static_cast<uint64_t>(x.status));
  put_u(out, static_cast<uint64_t>(x.step));
  put_u(out, static_cast<uint64_t>(x.reason));
  put_u(out, x.seq);
  put_s(out, x.payment_id);
  put_u(out, static_cast<uint64_t>(x.payment));
  put_i(out, x.payment_expires_at_ms);
  put_i(out, x.complete_deadline_ms);
  put_i(out, x.created_at_ms);
  put_i(out, x.updated_at_ms);
  put_u(out, history.size());
  for (auto& ev : history) {
    put_u(out, ev.seq);
    put_u(out, static_cast<uint64_t>(ev.type));
    put_i(out, ev.ts_ms);
    put_s(out, ev.source);
    put_s(out, ev.data);
  }
  return out;
}

namespace {

bool decode_v1(const std::string& s, saga::order_state& x);

} // namespace

bool decode(std::string_view s, saga::order_state& x, std::vector<saga::saga_event>* history,
            bool* has_history) {
  if (has_history != nullptr)
    *has_history = false;
  if (history != nullptr)
    history->clear();
  if (!s.empty() && s.front() == '{')
    return decode_v1(std::string(s), x);
  if (s.empty() || s.front() != order_record_v2)
    return false; // neither format: never guessed at
  reader r{s.substr(1)};
  x.order_id = r.s();
  x.customer_id = r.s();
  auto n = r.u();
  if (!r.ok || n > r.in.size())
    return false;
  x.items.clear();
  x.items.reserve(n);
  for (uint64_t k = 0; k < n && r.ok; ++k) {
    saga::order_item i;
    i.sku = r.s();
    i.quantity = r.i();
    i.unit_price_cents = r.i();
    x.items.push_back(std::move(i));
  }
  x.selling_price_cents = r.i();
  r.e(x.status);
  r.e(x.step);
  r.e(x.reason);
  x.seq = r.u();
  x.payment_id = r.s();
  r.e(x.payment);
  x.payment_expires_at_ms = r.i();
  x.complete_deadline_ms = r.i();
  x.created_at_ms = r.i();
  x.updated_at_ms = r.i();
  auto events = r.u();
  if (!r.ok || events > r.in.size())
    return false;
  if (history == nullptr) { // not wanted: checked, not copied
    for (uint64_t k = 0; k < events && r.ok; ++k) {
      r.u();
      saga::event_type t;
      r.e(t);
      r.i();
      r.skip_s();
      r.skip_s();
    }
    return r.ok && r.in.empty();
  }
  history->reserve(events);
  for (uint64_t k = 0; k < events && r.ok; ++k) {
    saga::saga_event ev;
    ev.order_id = x.order_id;
    ev.seq = r.u();
    r.e(ev.type);
    ev.ts_ms = r.i();
    ev.source = r.s();
    ev.data = r.s();
    history->push_back(std::move(ev));
  }
  if (!r.ok || !r.in.empty())
    return false; // truncated, or bytes after the last event
  if (has_history != nullptr)
    *has_history = true;
  return true;
}

std::string encode_v1(const saga::order_state& x) {
  json items = json::array();
  for (auto& i : x.items)
    items.push_back({{"sku", i.sku}, {"quantity", i.quantity}, {"unit_price_cents", i.unit_price_cents}});
  return json{{"v", 1},
              {"order_id", x.order_id},
              {"customer_id", x.customer_id},
              {"items", items},
              {"selling_price_cents", x.selling_price_cents},
              {"status", saga::to_string(x.status)},
              {"step", saga::to_string(x.step)},
              {"reason", saga::to_string(x.reason)},
              {"seq", x.seq},
              {"payment_id", x.payment_id},
              {"payment", saga::to_string(x.payment)},
              {"payment_expires_at_ms", x.payment_expires_at_ms},
              {"complete_deadline_ms", x.complete_deadline_ms},
              {"created_at_ms", x.created_at_ms},
              {"updated_at_ms", x.updated_at_ms}}
    .dump();
}

namespace {

bool decode_v1(const std::string& s, saga::order_state& x) {
  return guarded(s, [&](const json& j) {
    x.order_id = j.at("order_id").get<std::string>();
    x.customer_id = j.at("customer_id").get<std::string>();
    x.items.clear();
    for (auto& i : j.at("items"))
      x.items.push_back({i.at("sku").get<std::string>(), i.at("quantity").get<int64_t>(),
                         i.at("unit_price_cents").get<int64_t>()});
    x.selling_price_cents = j.at("selling_price_cents").get<int64_t>();
    x.seq = j.at("seq").get<uint64_t>();
    x.payment_id = j.at("payment_id").get<std::string>();
    x.payment_expires_at_ms = j.at("payment_expires_at_ms").get<int64_t>();
    x.complete_deadline_ms = j.at("complete_deadline_ms").get<int64_t>();
    x.created_at_ms = j.at("created_at_ms").get<int64_t>();
    x.updated_at_ms = j.at("updated_at_ms").get<int64_t>();
    return get_enum(j, "status", x.status) && get_enum(j, "step", x.step)
           && get_enum(j, "reason", x.reason) && get_enum(j, "payment", x.payment);
  });
}

} // namespace

std::string event_id(const std::string& order_id, uint64_t seq) {
  return order_id + "-" + std::to_string(seq);
}

std::string encode(const saga::saga_event& x, const std::string& node) {
  return json{{"event_id", event_id(x.order_id, x.seq)},
              {"type", saga::to_string(x.type)},
              {"order_id", x.order_id},
              {"seq", x.seq},
              {"ts", x.ts_ms},
              {"node", node},
              {"source", x.source},
              {"data", json::parse(x.data.empty() ? "{}" : x.data)}}
    .dump();
}

bool decode(const std::string& s, saga::saga_event& x) {
  return guarded(s, [&](const json& j) {
    x.order_id = j.at("order_id").get<std::string>();
    x.seq = j.at("seq").get<uint64_t>();
    x.ts_ms = j.at("ts").get<int64_t>();
    x.source = j.at("source").get<std::string>();
    x.data = j.at("data").dump();
    return get_enum(j, "type", x.type);
  });
}

// SKU, reservation and payment records: the same version byte and primitives as the order
// record; the JSON of older data directories ("v": 1, first byte '{') still decodes, and
// a record is rewritten in the new format the next time it changes.

std::string encode(const saga::sku_record& x) {
  std::string out;
  out.reserve(16 + x.sku.size() + 5 * 4);
  out.push_back(record_v2);
  put_s(out, x.sku);
  put_i(out, x.available);
  put_i(out, x.reserved);
  put_i(out, x.committed);
  put_i(out, x.price_cents);
  put_i(out, x.restocked_total);
  return out;
}

std::string encode_v1(const saga::sku_record& x) {
  return json{{"v", 1},
              {"sku", x.sku},
              {"available", x.available},
              {"reserved", x.reserved},
              {"committed", x.committed},
              {"price_cents", x.price_cents},
              {"restocked_total", x.restocked_total}}
    .dump();
}

bool decode(const std::string& s, saga::sku_record& x) {
  if (!s.empty() && s.front() == record_v2) {
    reader r{std::string_view(s).substr(1)};
    x.sku = r.s();
    x.available = r.i();
    x.reserved = r.i();
    x.committed = r.i();
    x.price_cents = r.i();
    x.restocked_total = r.i();
    return r.ok && r.in.empty();
  }
  if (s.empty() || s.front() != '{')
    return false;
  return guarded(s, [&](const json& j) {
    x.sku = j.at("sku").get<std::string>();
    x.available = j.at("available").get<int64_t>();
    x.reserved = j.at("reserved").get<int64_t>();
    x.committed = j.at("committed").get<int64_t>();
    x.price_cents = j.at("price_cents").get<int64_t>();
    x.restocked_total = j.at("restocked_total").get<int64_t>();
    return true;
  });
}

std::string encode(const saga::reservation& r, const saga::reservation_item& item) {
  std::string out;
  out.reserve(16 + r.order_id.size() + item.sku.size() + 16);
  out.push_back(record_v2);
  put_s(out, r.order_id);
  put_s(out, item.sku);
  put_i(out, item.quantity);
  put_u(out, static_cast<uint64_t>(r.state));
  put_i(out, r.expires_at_ms);
  return out;
}

std::string encode_v1(const saga::reservation& r, const saga::reservation_item& item) {
  return json{{"v", 1},
              {"order_id", r.order_id},
              {"sku", item.sku},
              {"quantity", item.quantity},
              {"state", saga::to_string(r.state)},
              {"expires_at_ms", r.expires_at_ms}}
    .dump();
}

bool decode(const std::string& s, saga::reservation& r, saga::reservation_item& item) {
  if (!s.empty() && s.front() == record_v2) {
    reader in{std::string_view(s).substr(1)};
    r.order_id = in.s();
    item.sku = in.s();
    item.quantity = in.i();
    in.e(r.state);
    r.expires_at_ms = in.i();
    return in.ok && in.in.empty();
  }
  if (s.empty() || s.front() != '{')
    return false;
  return guarded(s, [&](const json& j) {
    r.order_id = j.at("order_id").get<std::string>();
    r.expires_at_ms = j.at("expires_at_ms").get<int64_t>();
    item.sku = j.at("sku").get<std::string>();
    item.quantity = j.at("quantity").get<int64_t>();
    return saga::from_string(j.at("state").get<std::string>(), r.state);
  });
}

std::string encode(const saga::payment_intent& x) {
  std::string out;
  out.reserve(16 + x.payment_id.size() + x.order_id.size() + 24);
  out.push_back(record_v2);
  put_s(out, x.payment_id);
  put_s(out, x.order_id);
  put_i(out, x.amount_cents);
  put_u(out, static_cast<uint64_t>(x.status));
  put_i(out, x.expires_at_ms);
  put_i(out, x.updated_at_ms);
  return out;
}

std::string encode_v1(const saga::payment_intent& x) {
  return json{{"v", 1},
              {"payment_id", x.payment_id},
              {"order_id", x.order_id},
              {"amount_cents", x.amount_cents},
              {"status", saga::to_string(x.status)},
              {"expires_at_ms", x.expires_at_ms},
              {"updated_at_ms", x.updated_at_ms}}
    .dump();
}

bool decode(const std::string& s, saga::payment_intent& x) {
  if (!s.empty() && s.front() == record_v2) {
    reader r{std::string_view(s).substr(1)};
    x.payment_id = r.s();
    x.order_id = r.s();
    x.amount_cents = r.i();
    r.e(x.status);
    x.expires_at_ms = r.i();
    x.updated_at_ms = r.i();
    return r.ok && r.in.empty();
  }
  if (s.empty() || s.front() != '{')
    return false;
  return guarded(s, [&](const json& j) {
    x.payment_id = j.at("payment_id").get<std::string>();
    x.order_id = j.at("order_id").get<std::string>();
    x.amount_cents = j.at("amount_cents").get<int64_t>();
    x.expires_at_ms = j.at("expires_at_ms").get<int64_t>();
    x.updated_at_ms = j.at("updated_at_ms").get<int64_t>();
    return get_enum(j, "status", x.status);
  });
}

namespace {

std::string due_key(char kind, int64_t deadline_ms) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "due/%c/%016llx/", kind,
                static_cast<unsigned long long>(std::max<int64_t>(0, deadline_ms)));
  return buf;
}

} // namespace

std::string due_reservation_key(int64_t deadline_ms, const std::string& order_id,
                                const std::string& sku) {
  return due_key('r', deadline_ms) + order_id + "/" + sku;
}

std::string due_payment_key(int64_t deadline_ms, const std::string& payment_id) {
  return due_key('p', deadline_ms) + payment_id;
}

bool parse_due_key(std::string_view key, char kind, due_entry& out) {
  // "due/" kind "/" 16 hex "/" rest
  constexpr size_t head = 6, hex = 16;
  if (key.size() <= head + hex + 1 || key.substr(0, 4) != "due/" || key[4] != kind
      || key[5] != '/' || key[head + hex] != '/')
    return false;
  int64_t d = 0;
  for (size_t i = head; i < head + hex; ++i) {
    char c = key[i];
    int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    if (v < 0 || (i == head && v > 7)) // 63 bits at most: a deadline is never negative
      return false;
    d = d * 16 + v;
  }
  auto rest = key.substr(head + hex + 1);
  out.deadline_ms = d;
  out.sku.clear();
  if (kind == 'r') {
    auto slash = rest.find('/');
    if (slash == std::string_view::npos || slash == 0 || slash + 1 == rest.size())
      return false;
    out.id = std::string(rest.substr(0, slash));
    out.sku = std::string(rest.substr(slash + 1));
  } else {
    out.id = std::string(rest);
  }
  return true;
}

} // namespace storage
