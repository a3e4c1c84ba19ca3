#pragma once
// The bytes of a stored record, shared by every module's codec (actors/*/..._codec.cpp):
// a version byte, then LEB128 varints (zigzag for signed values) and length-prefixed
// strings. Storage knows how to write and read these, never what they mean: each module
// encodes its own records beside its logic. Format 1 was JSON (first byte '{'); its
// helpers stay for reading older data directories.

#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace storage {

/// First byte of a binary record (format 2) of every kind. Format 1 is JSON and starts
/// with '{'.
constexpr char record_v2 = 0x02;

inline void put_u(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

inline void put_i(std::string& out, int64_t v) {
  put_u(out, (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63));
}

inline void put_s(std::string& out, std::string_view v) {
  put_u(out, v.size());
  out.append(v.data(), v.size());
}

/// Reads what put_u/put_i/put_s wrote; `ok` turns false at the first malformed or
/// truncated field (and stays false), so a decoder checks it once at the end.
struct record_reader {
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
  /// An enum stored as its underlying value; only values that name something decode. The
  /// module that owns `Enum` says where it ends with `enum_end(Enum)` in the enum's own
  /// namespace (found by argument-dependent lookup), so a value added after the last one
  /// is refused until that is updated: a failed decode, never a read past a name table.
  template <class Enum>
  void e(Enum& out) {
    auto v = u();
    if (!ok || v >= enum_end(Enum{}))
      return void(ok = false);
    out = static_cast<Enum>(v);
  }
};

/// Runs `f` on the parsed JSON of `s` (a format-1 record); false when it does not parse or
/// `f` meets a missing field or a wrong type.
template <class F>
bool json_guarded(const std::string& s, F f) {
  try {
    auto j = nlohmann::json::parse(s);
    return f(j);
  } catch (const nlohmann::json::exception&) {
    return false;
  }
}

/// An enum stored by name in a format-1 record: `from_string` of the enum's module (found
/// by argument-dependent lookup).
template <class Enum>
bool json_enum(const nlohmann::json& j, const char* key, Enum& out) {
  return from_string(j.at(key).get<std::string>(), out);
}

} // namespace storage
