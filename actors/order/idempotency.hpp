#pragma once
// The record behind an Idempotency-Key (meta "idem/<scoped key>"): which order the key
// created, the digest of the request that created it, and when. A repeat with the same
// key and the same request returns that order; with another request it is refused
// (422 idempotency_key_reused); after http.idempotency_retention_ms the key is free again.

#include <cstdint>
#include <string>

namespace saga {

struct idempotency_record {
  std::string order_id;
  std::string request_digest; // hex SHA-256 of the canonical request; "" in old records
  int64_t created_at_ms = 0;  // 0 in old records (never expire by time)
};

/// "<order id> <digest> <created ms>". Ids and digests are printable without spaces.
inline std::string encode_idempotency(const idempotency_record& r) {
  return r.order_id + ' ' + r.request_digest + ' ' + std::to_string(r.created_at_ms);
}

/// Also reads the older format (the order id alone). False when the text is malformed.
inline bool decode_idempotency(const std::string& raw, idempotency_record& out) {
  out = {};
  auto a = raw.find(' ');
  if (a == std::string::npos) {
    out.order_id = raw;
    return !raw.empty();
  }
  auto b = raw.find(' ', a + 1);
  if (b == std::string::npos || a == 0)
    return false;
  out.order_id = raw.substr(0, a);
  out.request_digest = raw.substr(a + 1, b - a - 1);
  try {
    size_t used = 0;
    out.created_at_ms = std::stoll(raw.substr(b + 1), &used);
    return used == raw.size() - b - 1;
  } catch (const std::exception&) {
    return false;
  }
}

/// meta "idem_t/<created ms, 8 bytes big-endian><scoped key>": keys in expiry order.
inline std::string idempotency_index_key(int64_t created_at_ms, const std::string& scoped_key) {
  std::string k = "idem_t/";
  for (int i = 7; i >= 0; --i)
    k += static_cast<char>((static_cast<uint64_t>(created_at_ms) >> (8 * i)) & 0xff);
  return k + scoped_key;
}

} // namespace saga
