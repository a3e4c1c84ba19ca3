#include "storage/changelog.hpp"

#include "storage/record_format.hpp"

namespace storage {

std::string encode_changelog(const std::vector<const batch*>& batches) {
  std::string out;
  out.push_back(changelog_v1);
  put_u(out, batches.size());
  for (auto* b : batches) {
    put_u(out, b->ops.size());
    for (auto& op : b->ops) {
      put_u(out, static_cast<uint64_t>(op.cf));
      put_u(out, op.erase ? 1 : 0);
      put_s(out, op.key);
      put_s(out, op.value);
    }
    put_u(out, b->counters.size());
    for (auto& [name, delta] : b->counters) {
      put_s(out, name);
      put_i(out, delta);
    }
    put_u(out, b->erase_if.size());
    for (auto& e : b->erase_if) {
      put_u(out, static_cast<uint64_t>(e.cf));
      put_s(out, e.key);
      put_s(out, e.expect);
    }
  }
  return out;
}

bool decode_changelog(std::string_view in, std::vector<batch>& out) {
  if (in.empty() || in.front() != changelog_v1)
    return false;
  record_reader r{in.substr(1)};
  auto family_ok = [&](uint64_t v) { return v < static_cast<uint64_t>(family_count); };
  auto n = r.u();
  // Every batch takes at least three bytes: a count larger than what is left is corrupt.
  if (!r.ok || n > r.in.size())
    return false;
  out.clear();
  out.reserve(n);
  for (uint64_t i = 0; i < n && r.ok; ++i) {
    batch b;
    auto ops = r.u();
    for (uint64_t k = 0; k < ops && r.ok; ++k) {
      db_op op;
      auto cf = r.u();
      auto erase = r.u();
      if (!family_ok(cf) || erase > 1)
        return false;
      op.cf = static_cast<family>(cf);
      op.erase = erase == 1;
      op.key = r.s();
      op.value = r.s();
      b.ops.push_back(std::move(op));
    }
    auto counters = r.u();
    for (uint64_t k = 0; k < counters && r.ok; ++k) {
      auto name = r.s();
      auto delta = r.i();
      b.counters.emplace_back(std::move(name), delta);
    }
    auto erases = r.u();
    for (uint64_t k = 0; k < erases && r.ok; ++k) {
      conditional_erase e;
      auto cf = r.u();
      if (!family_ok(cf))
        return false;
      e.cf = static_cast<family>(cf);
      e.key = r.s();
      e.expect = r.s();
      b.erase_if.push_back(std::move(e));
    }
    out.push_back(std::move(b));
  }
  return r.ok && r.in.empty();
}

std::string changelog_offset_key(int32_t log_partition) {
  return "changelog/" + std::to_string(log_partition);
}

} // namespace storage
