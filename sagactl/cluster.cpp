// sagactl cluster [--watch]: the cluster's nodes and ownership, and ownership moving.
#include "sagactl/cli.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <thread>

namespace sagactl {

namespace {

/// Wall-clock time of day with milliseconds, for the watch's lines.
std::string clock_now() {
  auto now = std::chrono::system_clock::now();
  auto t = std::chrono::system_clock::to_time_t(now);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%02d:%02d:%02d.%03lld", tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<long long>(ms));
  return buf;
}

} // namespace

int cmd_cluster(const options& o) {
  auto c = get(o, "/cluster");
  if (o.raw_json) {
    std::cout << c.dump(2) << "\n";
    return 0;
  }
  std::cout << "cluster: " << c["nodes"].size() << " node(s), layout " << str(c["layout_digest"])
            << ", " << c["partitions"]["orders"] << " order and " << c["partitions"]["inventory"]
            << " SKU partitions, cluster " << str(c.value("name", json(""))) << ", replication "
            << str(c.value("replication", json(""))) << "\n";
  auto list = [](const json& xs) {
    std::string out;
    for (auto& x : xs)
      out += (out.empty() ? "" : ",") + std::to_string(x.get<int64_t>());
    return out.empty() ? std::string("-") : out;
  };
  auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                  std::chrono::system_clock::now().time_since_epoch()).count();
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> reasons;
  for (auto& n : c["nodes"]) {
    auto since = n["since"].get<int64_t>();
    auto age = since <= 0 ? std::string("-")
                          : std::to_string(std::max<int64_t>(0, now_ms - since) / 1000) + "s";
    // What it holds now (its own, plus any taken over: failover), when the node says.
    auto holds = [&](const char* kind) {
      return n.contains("holds") ? list(n["holds"][kind]) : std::string("?");
    };
    rows.push_back({str(n["id"]), str(n["state"]), age,
                    n["http"].is_null() ? "-" : str(n["http"]),
                    n["caf"].is_null() ? "-" : str(n["caf"]), list(n["partitions"]["orders"]),
                    list(n["partitions"]["inventory"]), holds("orders"), holds("inventory")});
    if (n.contains("reason"))
      reasons.push_back(str(n["id"]) + ": " + str(n["reason"]));
  }
  table(std::cout, {"NODE", "STATE", "FOR", "HTTP", "CAF", "ORDER PARTITIONS", "SKU PARTITIONS",
                    "HOLDS ORDERS", "HOLDS SKUS"},
        rows);
  if (c.contains("failover"))
    std::cout << "failover after " << c["failover"]["after_ms"] << " ms: "
              << c["failover"]["takeovers"] << " takeover(s) and " << c["failover"]["releases"]
              << " release(s) at this node\n";
  if (c.contains("standbys") && !c["standbys"].empty()) {
    // This node's standby replicas: how far each is behind its changelog.
    std::vector<std::vector<std::string>> sb;
    for (auto& x : c["standbys"])
      sb.push_back({str(x["kind"]), std::to_string(x["partition"].get<int64_t>()),
                    std::to_string(x["applied_offset"].get<int64_t>()),
                    x["lag"].is_null() ? "?" : std::to_string(x["lag"].get<int64_t>()),
                    x["held_here"].get<bool>() ? "held here" : "standby"});
    std::cout << "standby replicas at this node:\n";
    table(std::cout, {"KIND", "PARTITION", "APPLIED OFFSET", "LAG", "STATE"}, sb);
  }
  if (c.contains("claims") && !c["claims"].empty()) {
    // The last claim of each partition in the owners topic: who opened it last.
    std::vector<std::vector<std::string>> cl;
    for (auto& x : c["claims"]) {
      auto at = x["at_ms"].get<int64_t>();
      cl.push_back({str(x["kind"]), std::to_string(x["partition"].get<int64_t>()), str(x["node"]),
                    std::to_string(x["offset"].get<int64_t>()),
                    at <= 0 ? "-" : std::to_string(std::max<int64_t>(0, now_ms - at) / 1000) + "s"});
    }
    std::cout << "claims (owners topic):\n";
    table(std::cout, {"KIND", "PARTITION", "CLAIMED BY", "OFFSET", "AGO"}, cl);
  }
  for (auto& r : reasons)
    std::cout << "  " << r << "\n";
  return 0;
}

/// `cluster --watch`: ownership moving, as it happens. Reads GET /cluster every interval
/// and prints one line per partition whose holder changed ("orders/4: node-1 -> nobody",
/// then "nobody -> node-3"); with --json one object per move. A node that does not answer
/// is said once per outage, and the watch goes on. Needs replication = kafka (`holders`).
int cmd_cluster_watch(const options& o) {
  auto interval = std::chrono::milliseconds(
    o.flags.count("interval-ms") ? std::stoll(o.flags.at("interval-ms")) : 1000);
  long iterations = o.flags.count("iterations") ? std::stol(o.flags.at("iterations")) : -1;
  auto name = [](const json& h) { return h.is_string() ? h.get<std::string>() : std::string("nobody"); };
  json last;
  bool down = false;
  if (!o.raw_json)
    std::cout << "sagactl cluster --watch - http://" << o.ep.host << ":" << o.ep.port
              << " - every " << interval.count() << " ms" << std::endl;
  for (long i = 0; iterations < 0 || i < iterations; ++i) {
    if (i > 0)
      std::this_thread::sleep_for(interval);
    json c;
    try {
      c = get(o, "/cluster");
    } catch (const failure& f) {
      // Not answering, or a 5xx (a node stopping or starting): a passing outage. Anything
      // else (a missing token, an older node without /cluster) does not pass by itself.
      if (f.exit_code != 2 && f.message.find("error 5") != 0)
        throw;
      if (!down && !o.raw_json)
        std::cout << clock_now() << " " << f.message << " (still watching)" << std::endl;
      down = true;
      continue;
    }
    if (down && !o.raw_json)
      std::cout << clock_now() << " answering again" << std::endl;
    down = false;
    if (!c.contains("holders"))
      fail(1, "this node reports no holders (cluster.replication = none: partitions never move)");
    auto& h = c["holders"];
    if (last.is_null()) {
      if (o.raw_json)
        std::cout << json{{"at", clock_now()}, {"holders", h}}.dump() << std::endl;
      else
        for (auto kind : {"orders", "inventory"}) {
          std::string line;
          for (size_t p = 0; p < h[kind].size(); ++p)
            line += (p ? " " : "") + std::to_string(p) + "=" + name(h[kind][p]);
          std::cout << clock_now() << " " << kind << " held by: " << line << std::endl;
        }
      last = h;
      continue;
    }
    for (auto kind : {"orders", "inventory"})
      for (size_t p = 0; p < h[kind].size() && p < last[kind].size(); ++p) {
        if (h[kind][p] == last[kind][p])
          continue;
        auto slot = std::string(kind) + "/" + std::to_string(p);
        if (o.raw_json)
          std::cout << json{{"at", clock_now()}, {"slot", slot}, {"from", last[kind][p]},
                            {"to", h[kind][p]}}.dump()
                    << std::endl;
        else
          std::cout << clock_now() << " " << slot << ": " << name(last[kind][p]) << " -> "
                    << name(h[kind][p]) << std::endl;
      }
    last = h;
  }
  return 0;
}

} // namespace sagactl
