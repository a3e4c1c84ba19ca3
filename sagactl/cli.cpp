#include "sagactl/cli.hpp"

#include <cctype>
#include <cstdio>

namespace sagactl {

void set_url(options& o, const std::string& url) {
  if (auto err = saga_client::parse_url(url, o.ep); !err.empty())
    fail(2, "--url: " + err);
}

/// One request; returns the parsed JSON body or fails with the node's error message.
json call(const options& o, http::verb verb, const std::string& target,
          const std::string& body_text) {
  saga_client::header_list headers;
  if (!o.token.empty())
    headers.push_back({"Authorization", "Bearer " + o.token});
  auto res = saga_client::call(o.ep, verb, target, body_text, headers, std::chrono::seconds(15),
                               "sagactl");
  if (res.status < 0)
    fail(2, "cannot reach http://" + o.ep.host + ":" + o.ep.port + ": " + res.error);
  auto body = json::parse(res.body, nullptr, false);
  if (body.is_discarded())
    fail(1, "the node answered " + std::to_string(res.status) + " with a body that is not JSON");
  if (res.status != 200) {
    std::string msg = body.contains("error") ? body["error"].value("message", "") : res.body;
    fail(1, "error " + std::to_string(res.status) + ": " + msg);
  }
  return body;
}

json get(const options& o, const std::string& target) { return call(o, http::verb::get, target); }

std::string human_ms(int64_t ms) {
  char buf[32];
  if (ms >= 60000)
    std::snprintf(buf, sizeof(buf), "%.1fm", ms / 60000.0);
  else if (ms >= 1000)
    std::snprintf(buf, sizeof(buf), "%.1fs", ms / 1000.0);
  else
    std::snprintf(buf, sizeof(buf), "%lldms", static_cast<long long>(ms));
  return buf;
}

std::string str(const json& j) { return j.is_string() ? j.get<std::string>() : j.dump(); }

/// Prints rows as aligned columns (numbers right-aligned).
void table(std::ostream& out, const std::vector<std::string>& head,
           const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> w(head.size());
  for (size_t i = 0; i < head.size(); ++i)
    w[i] = head[i].size();
  for (auto& r : rows)
    for (size_t i = 0; i < r.size() && i < w.size(); ++i)
      w[i] = std::max(w[i], r[i].size());
  auto line = [&](const std::vector<std::string>& r) {
    for (size_t i = 0; i < head.size(); ++i) {
      auto cell = i < r.size() ? r[i] : "";
      bool num = !cell.empty() && cell.find_first_not_of("0123456789-.msh") == std::string::npos
                 && std::isdigit(static_cast<unsigned char>(cell[0]));
      auto pad = std::string(w[i] - cell.size(), ' ');
      out << (num ? pad + cell : cell + pad) << (i + 1 < head.size() ? "  " : "");
    }
    out << "\n";
  };
  line(head);
  for (auto& r : rows)
    line(r);
}

} // namespace sagactl
