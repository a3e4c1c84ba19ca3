#include "storage/keys.hpp"

#include <cstdio>

namespace storage {

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
