// sagactl: the inspection API from a terminal.
//
//   sagactl [--url URL] [--token TOKEN] [--json] summary
//   sagactl ... actors [--kind K] [--state S] [--limit N] [--cursor C] [--all]
//   sagactl ... order ID
//   sagactl ... top [--interval-ms N] [--iterations N]
//   sagactl ... cluster [--watch [--interval-ms N] [--iterations N]]
//
// URL defaults to $SAGA_URL or http://127.0.0.1:8080; the token (needed when the node
// listens on a non-loopback address) to $SAGA_ADMIN_TOKEN. Exit codes: 0 ok, 1 the node
// answered an error, 2 usage or connection error.

#include "sagactl/cli.hpp"
#include "client/http_client.hpp"

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

using namespace sagactl;

namespace {

std::vector<std::string> actor_row(const json& a) {
  std::string state = a.value("state", "");
  if (a.value("stuck", false))
    state += " (STUCK)";
  if (a.value("passive", false))
    state += " (passive)";
  return {a.value("kind", ""), a.value("key", ""), state,
          human_ms(a.value("time_in_state_ms", int64_t{0})),
          std::to_string(a.value("mailbox", int64_t{0})),
          std::to_string(a.value("processed", uint64_t{0})),
          std::to_string(a.value("restarts", uint64_t{0}))};
}

const std::vector<std::string> actor_head = {"KIND", "KEY", "STATE", "IN STATE", "MAILBOX",
                                             "PROCESSED", "RESTARTS"};

void print_summary(std::ostream& out, const json& s) {
  auto& o = s["orders"];
  auto& st = o["by_status"];
  out << "node " << str(s["node"]) << (s.value("inspection_enabled", true) ? "" : " (inspection off)")
      << "\n";
  out << "orders: live " << o["live"] << ", stuck " << o["stuck"] << ", restarted "
      << o["restarted"] << ", parked " << o["parked"] << " | PENDING " << st["PENDING"]
      << ", PAYMENT_INITIATED " << st["PAYMENT_INITIATED"] << ", COMPLETED " << st["COMPLETED"]
      << ", FAILED " << st["FAILED"] << "\n";
  out << "outbox: depth " << s["outbox"]["depth"] << ", age " << human_ms(s["outbox"]["age_ms"].get<int64_t>())
      << ", published " << s["outbox"]["published"] << "\n";
  std::string steps;
  for (auto& [k, v] : o["by_step"].items())
    steps += (steps.empty() ? "" : ", ") + k + " " + v.dump();
  out << "live orders by step: " << (steps.empty() ? "-" : steps) << "\n";
  std::vector<std::vector<std::string>> kinds;
  for (auto& [k, v] : s["actors_by_kind"].items()) {
    std::string states;
    if (s["actors_by_state"].contains(k))
      for (auto& [x, n] : s["actors_by_state"][k].items())
        states += (states.empty() ? "" : ", ") + x + " " + n.dump();
    kinds.push_back({k, v.dump(), states});
  }
  out << "\n";
  table(out, {"KIND", "LIVE", "STATES"}, kinds);
  out << "\n";
  std::vector<std::vector<std::string>> rows;
  for (auto& a : s["actors"])
    rows.push_back(actor_row(a));
  table(out, actor_head, rows);
  if (!o["stuck_oldest"].empty()) {
    out << "\nstuck sagas (most overdue first):\n";
    std::vector<std::vector<std::string>> stuck;
    for (auto& a : o["stuck_oldest"])
      stuck.push_back({a.value("key", ""), a.value("state", ""),
                       human_ms(a.value("time_in_state_ms", int64_t{0})),
                       human_ms(a.value("budget_ms", int64_t{0}))});
    table(out, {"ORDER", "STEP", "IN STEP", "BUDGET"}, stuck);
  }
}

std::string query_string(const options& o, const std::string& cursor) {
  std::string q;
  auto add = [&](const std::string& k, const std::string& v) {
    if (!v.empty())
      q += (q.empty() ? "?" : "&") + k + "=" + v;
  };
  add("kind", o.flags.count("kind") ? o.flags.at("kind") : "");
  add("state", o.flags.count("state") ? o.flags.at("state") : "");
  add("limit", o.flags.count("limit") ? o.flags.at("limit") : "");
  add("cursor", cursor);
  return q;
}

int cmd_actors(const options& o) {
  std::string cursor = o.flags.count("cursor") ? o.flags.at("cursor") : "";
  bool all = o.flags.count("all") != 0;
  std::vector<std::vector<std::string>> rows;
  json collected = json::array();
  std::string next;
  for (int pages = 0; pages < 100000; ++pages) { // bounded even with --all
    auto page = get(o, "/inspect/actors" + query_string(o, cursor));
    for (auto& a : page["actors"]) {
      rows.push_back(actor_row(a));
      collected.push_back(a);
    }
    next = page["next_cursor"].is_string() ? page["next_cursor"].get<std::string>() : "";
    if (!all || next.empty())
      break;
    cursor = next;
  }
  if (o.raw_json) {
    std::cout << json{{"actors", collected}, {"next_cursor", next.empty() ? json(nullptr) : json(next)}}.dump(2)
              << "\n";
    return 0;
  }
  table(std::cout, actor_head, rows);
  std::cout << rows.size() << " actor(s)";
  if (!next.empty())
    std::cout << "; more with --cursor " << next << " (or --all)";
  std::cout << "\n";
  return 0;
}

int cmd_order(const options& o) {
  if (o.args.empty())
    fail(2, "usage: sagactl order ORDER_ID");
  auto d = get(o, "/inspect/orders/" + o.args[0]);
  if (o.raw_json) {
    std::cout << d.dump(2) << "\n";
    return 0;
  }
  auto& ord = d["order"];
  std::cout << "order " << str(ord["order_id"]) << "  status " << str(ord["status"]) << "  step "
            << str(d["saga_step"]) << (d.value("stuck", false) ? "  STUCK" : "")
            << (!d.value("live", false)       ? "  (finished)"
                : d.value("passive", false) ? "  (passive: no actor, activated by its next message)"
                                            : "  (actor live)")
            << "\n";
  std::cout << "customer " << str(ord["customer_id"]) << "  total " << ord["selling_price_cents"]
            << " cents";
  if (!ord["failure_reason"].is_null())
    std::cout << "  failure " << str(ord["failure_reason"]);
  if (ord.contains("parked_reason"))
    std::cout << "  PARKED: " << str(ord["parked_reason"]);
  std::cout << "\n\nevents:\n";
  std::vector<std::vector<std::string>> ev;
  int64_t t0 = ord["events"].empty() ? 0 : ord["events"][0]["ts"].get<int64_t>();
  for (auto& e : ord["events"])
    ev.push_back({std::to_string(e["seq"].get<int64_t>()), str(e["type"]), str(e["source"]),
                  "+" + human_ms(e["ts"].get<int64_t>() - t0)});
  table(std::cout, {"SEQ", "EVENT", "SOURCE", "AT"}, ev);
  std::cout << "\ntime per step:\n";
  std::vector<std::vector<std::string>> tl;
  for (auto& s : d["timeline"])
    tl.push_back({str(s["step"]), human_ms(s["duration_ms"].get<int64_t>()),
                  s["left_at"].is_null() ? "current" : ""});
  table(std::cout, {"STEP", "TIME", ""}, tl);
  std::cout << "\npending timers:\n";
  std::vector<std::vector<std::string>> tm;
  for (auto& t : d["timers"])
    tm.push_back({str(t["timer"]), str(t["owner"]), "in " + human_ms(t["in_ms"].get<int64_t>())});
  if (tm.empty())
    std::cout << "none\n";
  else
    table(std::cout, {"TIMER", "OWNER", "DUE"}, tm);
  std::cout << "\nactors involved:\n";
  std::vector<std::vector<std::string>> ac;
  for (auto& a : d["actors"])
    ac.push_back(actor_row(a));
  table(std::cout, actor_head, ac);
  return 0;
}

int cmd_top(const options& o) {
  auto interval = std::chrono::milliseconds(
    o.flags.count("interval-ms") ? std::stoll(o.flags.at("interval-ms")) : 1000);
  long iterations = o.flags.count("iterations") ? std::stol(o.flags.at("iterations")) : -1;
  bool tty = isatty(fileno(stdout)) != 0;
  int64_t last_done = -1;
  auto last_at = std::chrono::steady_clock::now();
  for (long i = 0; iterations < 0 || i < iterations; ++i) {
    auto s = get(o, "/inspect/summary");
    auto page = get(o, "/inspect/actors?kind=order&limit=1000");
    auto now = std::chrono::steady_clock::now();
    auto& st = s["orders"]["by_status"];
    int64_t done = st["COMPLETED"].get<int64_t>() + st["FAILED"].get<int64_t>();
    std::ostringstream out;
    if (tty)
      out << "\x1b[H\x1b[2J"; // home + clear: redraw in place like top
    out << "sagactl top - http://" << o.ep.host << ":" << o.ep.port << " - every "
        << interval.count() << " ms";
    if (last_done >= 0) {
      auto secs = std::chrono::duration<double>(now - last_at).count();
      char buf[64];
      std::snprintf(buf, sizeof(buf), " - %.1f sagas finished/s", secs > 0 ? (done - last_done) / secs : 0.0);
      out << buf;
    }
    out << "\n";
    last_done = done;
    last_at = now;
    print_summary(out, s);
    // Longest in their current step first (from the first 1000 live orders by id).
    std::vector<json> orders(page["actors"].begin(), page["actors"].end());
    std::sort(orders.begin(), orders.end(), [](const json& a, const json& b) {
      return a.value("time_in_state_ms", int64_t{0}) > b.value("time_in_state_ms", int64_t{0});
    });
    out << "\nlive orders, longest in step first (" << orders.size() << " shown):\n";
    std::vector<std::vector<std::string>> rows;
    for (size_t k = 0; k < orders.size() && k < 20; ++k)
      rows.push_back(actor_row(orders[k]));
    table(out, actor_head, rows);
    std::cout << out.str() << std::flush;
    if (iterations < 0 || i + 1 < iterations)
      std::this_thread::sleep_for(interval);
  }
  return 0;
}

/// Parked orders: what each holds and why it was parked.
int cmd_parked(const options& o) {
  auto p = get(o, "/admin/parked");
  if (o.raw_json) {
    std::cout << p.dump(2) << "\n";
    return 0;
  }
  std::cout << "parked: " << p["count"] << " (holding money " << p["holding_money"]
            << ", holding stock " << p["holding_stock"] << ")\n";
  std::vector<std::vector<std::string>> rows;
  for (auto& x : p["parked"])
    rows.push_back({str(x["order_id"]), str(x["saga_step"]), str(x["payment_status"]),
                    x["holds_money"].get<bool>() ? "yes" : "no",
                    x["holds_stock"].get<bool>() ? "yes" : "no", str(x["reason"])});
  if (!rows.empty())
    table(std::cout, {"ORDER", "STEP", "PAYMENT", "MONEY", "STOCK", "REASON"}, rows);
  return 0;
}
/// An operator's action on an order: retry (parked) or compensate (parked or waiting).
int cmd_admin(const options& o, const std::string& action) {
  if (o.args.size() != 1)
    fail(2, "usage: sagactl " + action + " ORDER_ID [--note TEXT]");
  std::string body;
  if (o.flags.count("note"))
    body = json{{"note", o.flags.at("note")}}.dump();
  auto r = call(o, http::verb::post, "/admin/orders/" + o.args[0] + "/" + action, body);
  if (o.raw_json)
    std::cout << r.dump(2) << "\n";
  else
    std::cout << str(r["order_id"]) << ": " << action << " recorded; now " << str(r["status"])
              << " / " << str(r["saga_step"]) << "\n";
  return 0;
}

void usage(std::ostream& out) {
  out << "usage: sagactl [--url URL] [--token TOKEN] [--json] COMMAND\n"
         "  summary                       actors by kind and state, pools, orders, outbox, stuck sagas\n"
         "  actors [--kind K] [--state S] [--limit N] [--cursor C] [--all]\n"
         "  order ID                      snapshot, events, time per step, timers, actors involved\n"
         "  top [--interval-ms N] [--iterations N]   live view, refreshed in place\n"
         "  parked                        parked orders, what each holds (money, stock) and why\n"
         "  retry ID [--note TEXT]        resume a parked order from its snapshot (admin token)\n"
         "  compensate ID [--note TEXT]   release, refund if paid, fail a parked or waiting order (admin token)\n"
         "  cluster                       nodes, their state, the partitions each owns and holds\n"
         "  cluster --watch [--interval-ms N] [--iterations N]   ownership moving: a line per move\n"
         "URL defaults to $SAGA_URL or http://127.0.0.1:8080; TOKEN to $SAGA_ADMIN_TOKEN.\n";
}

/// The command line (CLI11): global options anywhere, one command with its own options.
options parse(int argc, char** argv) {
  options o;
  if (auto* u = std::getenv("SAGA_URL"))
    set_url(o, u);
  if (auto* t = std::getenv("SAGA_ADMIN_TOKEN"))
    o.token = t;
  CLI::App app{"sagactl"};
  app.set_help_flag(); // our own usage text, below
  bool help = false;
  std::string url;
  app.add_flag("-h,--help", help);
  app.add_option("--url", url);
  app.add_option("--token", o.token);
  app.add_flag("--json", o.raw_json);
  app.allow_extras();
  // Each command's options, kept by name in o.flags (a flag as "1").
  struct command_spec {
    const char* name;
    std::vector<const char*> valued;
    std::vector<const char*> flags;
  };
  static const std::vector<command_spec> commands = {
    {"summary", {}, {}},
    {"actors", {"--kind", "--state", "--limit", "--cursor"}, {"--all"}},
    {"order", {}, {}},
    {"top", {"--interval-ms", "--iterations"}, {}},
    {"parked", {}, {}},
    {"retry", {"--note"}, {}},
    {"compensate", {"--note"}, {}},
    {"cluster", {"--interval-ms", "--iterations"}, {"--watch"}},
  };
  std::map<std::string, std::string> values;
  std::map<std::string, bool> flags;
  std::vector<CLI::App*> subs;
  for (auto& c : commands) {
    auto* sub = app.add_subcommand(c.name);
    sub->set_help_flag();
    sub->fallthrough(); // --url, --token and --json also after the command
    sub->allow_extras();
    sub->add_option("args", o.args);
    for (auto* v : c.valued)
      sub->add_option(v, values[std::string(v).substr(2)]);
    for (auto* f : c.flags)
      sub->add_flag(f, flags[std::string(f).substr(2)]);
    subs.push_back(sub);
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    fail(2, e.what());
  }
  if (help) {
    usage(std::cout);
    std::exit(0);
  }
  if (!url.empty())
    set_url(o, url);
  auto extras = app.remaining();
  for (auto* sub : subs)
    if (sub->parsed()) {
      o.command = sub->get_name();
      auto more = sub->remaining();
      extras.insert(extras.end(), more.begin(), more.end());
      for (auto& [k, v] : values)
        if (sub->get_option_no_throw("--" + k) != nullptr && sub->count("--" + k) > 0)
          o.flags[k] = v;
      for (auto& [k, v] : flags)
        if (v && sub->get_option_no_throw("--" + k) != nullptr)
          o.flags[k] = "1";
    }
  for (auto& x : extras)
    if (x.rfind("-", 0) == 0)
      fail(2, "unknown option " + x);
  if (o.command.empty() || !extras.empty()) {
    usage(std::cerr);
    std::exit(2);
  }
  for (auto key : {"limit", "interval-ms", "iterations"})
    if (o.flags.count(key)
        && (o.flags[key].empty() || o.flags[key].size() > 9
            || o.flags[key].find_first_not_of("0123456789") != std::string::npos
            || std::stoll(o.flags[key]) == 0))
      fail(2, std::string("--") + key + " must be a positive integer");
  return o;
}

} // namespace

int main(int argc, char** argv) {
  try {
    auto o = parse(argc, argv);
    if (o.command == "summary") {
      auto s = get(o, "/inspect/summary");
      if (o.raw_json)
        std::cout << s.dump(2) << "\n";
      else
        print_summary(std::cout, s);
      return 0;
    }
    if (o.command == "actors")
      return cmd_actors(o);
    if (o.command == "order")
      return cmd_order(o);
    if (o.command == "top")
      return cmd_top(o);
    if (o.command == "parked")
      return cmd_parked(o);
    if (o.command == "cluster")
      return o.flags.count("watch") ? cmd_cluster_watch(o) : cmd_cluster(o);
    if (o.command == "retry" || o.command == "compensate")
      return cmd_admin(o, o.command);
    usage(std::cerr);
    return 2;
  } catch (const failure& f) {
    std::cerr << "sagactl: " << f.message << "\n";
    return f.exit_code;
  }
}
