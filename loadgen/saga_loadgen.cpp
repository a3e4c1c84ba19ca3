// saga-loadgen: drives complete sagas through the public HTTP API only, the way a client
// would: stock SKUs (admin API), then per saga: POST /orders -> long-poll until
// PAYMENT_INITIATED -> POST /payment/verify (valid signature) -> long-poll until a
// terminal status. A mix sends some sagas down the failure branches.
//
//   saga-loadgen --url http://127.0.0.1:8080 --duration-s 30 --concurrency 64 [--rate R] [--json]
//
// Closed loop (no --rate): C clients, each starts its next saga when the last one ended
// (peak throughput). Open loop (--rate R): sagas start at R per second whatever the
// server does; latency is measured from the intended start, so a slow server is not
// under-reported (no coordinated omission); C bounds the connections.
#include "client/http_client.hpp"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <string>
#include <vector>
#include <unistd.h>

#include "actors/payment/payment_book.hpp"

namespace http = saga_client::http;
namespace net = saga_client::net;
using saga_client::connection;
using json = nlohmann::json;
using clk = std::chrono::steady_clock;

namespace {

struct options {
  saga_client::endpoint ep;
  double duration_s = 10;
  int concurrency = 32;
  double rate = 0; // 0 = closed loop
  bool json_out = false;
  double mix_out_of_stock = 0.02;
  double mix_payment_failed = 0.05;
  double mix_payment_expired = 0.0; // takes payment.timeout_ms of the server
  std::string secret = "dev-provider-secret";
  std::string admin_token = "dev-admin-token";
  int skus = 16;
  std::vector<std::string> sku_names; // --sku-names a,b,c: these instead of LG-0 .. LG-<skus-1>
  int64_t wait_timeout_ms = 30000;
  bool check_invariants = true;
  uint64_t seed = 1;
  uint64_t park = 0; // >0: create this many orders, leave them at PAYMENT_INITIATED, stop
};

enum class kind { happy, out_of_stock, payment_failed, payment_expired, park };

struct stats {
  std::map<std::string, std::vector<double>> lat_ms; // per step and "saga"
  std::map<std::string, uint64_t> errors;
  uint64_t completed = 0, failed_expected = 0, started = 0, unexpected = 0;
  std::vector<std::string> order_ids;
  std::map<std::string, int64_t> sold; // sku -> units in COMPLETED sagas (from our side)
};

double ms_since(clk::time_point t) {
  return std::chrono::duration<double, std::milli>(clk::now() - t).count();
}

class generator {
public:
  generator(net::io_context& ioc, options o) : ioc_(ioc), opt_(std::move(o)), rng_(opt_.seed), tick_(ioc) {}

  void run() {
    for (int i = 0; i < opt_.concurrency; ++i)
      idle_.push_back(std::make_shared<connection>(
        ioc_, opt_.ep, std::chrono::milliseconds(opt_.wait_timeout_ms + 10000), "saga-loadgen"));
    stock_all([this] {
      start_ = clk::now();
      deadline_ = start_ + std::chrono::milliseconds(static_cast<int64_t>(opt_.duration_s * 1000));
      progress();
      if (opt_.rate > 0)
        schedule_arrivals();
      else
        while (!idle_.empty())
          start_saga(clk::now());
    });
  }

  void finish_and_check(std::function<void()> done) {
    if (!opt_.check_invariants)
      return done();
    check_all(0, std::move(done));
  }

  stats st;
  bool invariants_ok = true;
  std::string invariant_detail;
  double elapsed_s = 0;
  uint64_t total_stocked = 1000000000;

private:
  std::string sku(int i) {
    if (!opt_.sku_names.empty())
      return opt_.sku_names[static_cast<size_t>(i)];
    return "LG-" + std::to_string(i);
  }

  void stock_all(std::function<void()> then) {
    auto conn = idle_.front();
    auto pending = std::make_shared<int>(opt_.skus + 1);
    auto next = std::make_shared<std::function<void(int)>>();
    *next = [this, conn, pending, then, next](int i) {
      if (i > opt_.skus)
        return then();
      auto name = i == opt_.skus ? std::string("LG-OOS") : sku(i);
      auto on_hand = i == opt_.skus ? 0 : total_stocked;
      // start from a known state: stock is set, not added (committed units remain counted)
      conn->request(http::verb::put, "/inventory/" + name,
                    json{{"on_hand", on_hand}, {"price_cents", 100 + i}}.dump(),
                    {{"Authorization", "Bearer " + opt_.admin_token}},
                    [this, i, next, name](int status, std::string body) {
                      if (status != 200) {
                        std::fprintf(stderr, "cannot stock %s: %d %s\n", name.c_str(), status, body.c_str());
                        std::exit(3);
                      }
                      auto j = json::parse(body, nullptr, false);
                      base_[name] = j;
                      (*next)(i + 1);
                    });
    };
    (*next)(0);
  }

  void schedule_arrivals() {
    auto interval = std::chrono::duration<double>(1.0 / opt_.rate);
    next_arrival_ = clk::now();
    arrival_timer_ = std::make_shared<net::steady_timer>(ioc_);
    arrive();
    (void) interval;
  }

  void arrive() {
    auto now = clk::now();
    auto gap = std::chrono::duration_cast<clk::duration>(std::chrono::duration<double>(1.0 / opt_.rate));
    while (next_arrival_ <= now && next_arrival_ < deadline_) {
      backlog_.push_back(next_arrival_); // intended start time
      next_arrival_ += gap;
    }
    while (!backlog_.empty() && !idle_.empty()) {
      auto t = backlog_.front();
      backlog_.pop_front();
      start_saga(t);
    }
    if (next_arrival_ < deadline_) {
      arrival_timer_->expires_at(next_arrival_);
      arrival_timer_->async_wait([this](boost::system::error_code) { arrive(); });
    } else if (!backlog_.empty()) {
      arrival_timer_->expires_after(std::chrono::milliseconds(1));
      arrival_timer_->async_wait([this](boost::system::error_code) { arrive(); });
    }
  }

  kind pick() {
    if (opt_.park > 0)
      return kind::park;
    std::uniform_real_distribution<double> u(0, 1);
    auto x = u(rng_);
    if ((x -= opt_.mix_out_of_stock) < 0) return kind::out_of_stock;
    if ((x -= opt_.mix_payment_failed) < 0) return kind::payment_failed;
    if ((x -= opt_.mix_payment_expired) < 0) return kind::payment_expired;
    return kind::happy;
  }

  void error(const std::string& k) { ++st.errors[k]; }

  void release(std::shared_ptr<connection> c) {
    idle_.push_back(std::move(c));
    if (clk::now() >= deadline_) {
      maybe_done();
      return;
    }
    if (opt_.rate > 0) {
      while (!backlog_.empty() && !idle_.empty()) {
        auto t = backlog_.front();
        backlog_.pop_front();
        start_saga(t);
      }
    } else {
      start_saga(clk::now());
    }
  }

  void maybe_done() {
    if (static_cast<int>(idle_.size()) == opt_.concurrency && clk::now() >= deadline_ && !finished_) {
      finished_ = true;
      elapsed_s = std::chrono::duration<double>(clk::now() - start_).count();
      tick_.cancel();
      if (arrival_timer_)
        arrival_timer_->cancel();
      if (on_finished)
        on_finished();
    }
  }

public:
  std::function<void()> on_finished;

private:
  void start_saga(clk::time_point intended) {
    if (intended >= deadline_ || idle_.empty())
      return;
    if (opt_.park > 0 && st.started >= opt_.park) {
      deadline_ = clk::now(); // all parked: finish when the last connection is back
      return maybe_done();
    }
    auto c = idle_.front();
    idle_.pop_front();
    ++st.started;
    auto k = pick();
    std::uniform_int_distribution<int> d(0, opt_.skus - 1);
    auto s = k == kind::out_of_stock ? std::string("LG-OOS") : sku(d(rng_));
    int64_t qty = 1 + static_cast<int64_t>(rng_() % 3);
    auto t0 = clk::now();
    c->request(http::verb::post, "/orders",
               json{{"customer_id", "lg"}, {"items", {{{"sku", s}, {"quantity", qty}}}}}.dump(), {},
               [this, c, k, s, qty, intended, t0](int status, std::string body) {
                 st.lat_ms["post_orders"].push_back(ms_since(t0));
                 if (status != 201) {
                   error(status < 0 ? "post_orders_" + body : "post_orders_http_" + std::to_string(status));
                   return release(c);
                 }
                 auto id = json::parse(body, nullptr, false).value("order_id", std::string());
                 st.order_ids.push_back(id);
                 if (k == kind::out_of_stock)
                   return wait_terminal(c, id, k, s, qty, intended, "FAILED");
                 wait_initiated(c, id, k, s, qty, intended);
               });
  }

  void wait_initiated(std::shared_ptr<connection> c, std::string id, kind k, std::string s, int64_t qty,
                      clk::time_point intended) {
    auto t0 = clk::now();
    c->request(http::verb::get, "/orders/" + id + "?wait=PAYMENT_INITIATED&timeout_ms=" + std::to_string(opt_.wait_timeout_ms),
               {}, {}, [=](int status, std::string body) {
                 st.lat_ms["wait_payment_initiated"].push_back(ms_since(t0));
                 auto j = json::parse(body, nullptr, false);
                 if (status != 200 || j.value("status", "") != "PAYMENT_INITIATED") {
                   error(status != 200 ? "get_order_http_" + std::to_string(status) : "not_initiated_" + j.value("status", std::string("?")));
                   return release(c);
                 }
                 if (k == kind::payment_expired)
                   return wait_terminal(c, id, k, s, qty, intended, "FAILED");
                 if (k == kind::park) {
                   ++st.failed_expected; // counted as "parked" in park mode
                   st.lat_ms["saga"].push_back(ms_since(intended));
                   return release(c);
                 }
                 verify(c, id, k, s, qty, intended);
               });
  }

  void verify(std::shared_ptr<connection> c, std::string id, kind k, std::string s, int64_t qty,
              clk::time_point intended) {
    auto pid = "pay_" + id;
    std::string verdict = k == kind::payment_failed ? "failed" : "succeeded";
    auto sig = saga::payment_signature(opt_.secret, id, pid, verdict);
    auto t0 = clk::now();
    c->request(http::verb::post, "/payment/verify",
               json{{"order_id", id}, {"payment_id", pid}, {"status", verdict}, {"signature", sig}}.dump(), {},
               [=](int status, std::string) {
                 st.lat_ms["verify"].push_back(ms_since(t0));
                 if (status != 200) {
                   error("verify_http_" + std::to_string(status));
                   return release(c);
                 }
                 wait_terminal(c, id, k, s, qty, intended, k == kind::happy ? "COMPLETED" : "FAILED");
               });
  }

  void wait_terminal(std::shared_ptr<connection> c, std::string id, kind k, std::string s, int64_t qty,
                     clk::time_point intended, std::string want) {
    auto t0 = clk::now();
    c->request(http::verb::get, "/orders/" + id + "?wait=" + want + "&timeout_ms=" + std::to_string(opt_.wait_timeout_ms),
               {}, {}, [=](int status, std::string body) {
                 st.lat_ms["wait_terminal"].push_back(ms_since(t0));
                 auto j = json::parse(body, nullptr, false);
                 auto got = j.is_discarded() ? std::string("?") : j.value("status", std::string("?"));
                 if (status != 200 || got != want) {
                   error(status != 200 ? "get_order_http_" + std::to_string(status) : "unexpected_status_" + got);
                   ++st.unexpected;
                   return release(c);
                 }
                 st.lat_ms["saga"].push_back(ms_since(intended));
                 if (k == kind::happy) {
                   ++st.completed;
                   st.sold[s] += qty;
                 } else {
                   ++st.failed_expected;
                 }
                 release(c);
               });
  }

  void progress() {
    tick_.expires_after(std::chrono::seconds(1));
    tick_.async_wait([this](boost::system::error_code ec) {
      if (ec || finished_)
        return;
      // The run may end with no saga in flight (the last one finished before the
      // deadline): the tick notices.
      maybe_done();
      if (finished_)
        return;
      auto t = std::chrono::duration<double>(clk::now() - start_).count();
      if (!opt_.json_out || isatty(fileno(stderr)))
        std::fprintf(stderr, "\r[%5.1fs] started %llu  completed %llu  failed-as-planned %llu  errors %llu  backlog %zu   ",
                     t, (unsigned long long) st.started, (unsigned long long) st.completed,
                     (unsigned long long) st.failed_expected, (unsigned long long) total_errors(), backlog_.size());
      progress();
    });
  }

public:
  uint64_t total_errors() const {
    uint64_t n = 0;
    for (auto& [k, v] : st.errors)
      n += v;
    return n;
  }

private:
  /// Spec §7 through the API: every order terminal; per SKU stock conserved, nothing
  /// reserved, committed grew by exactly what completed sagas bought.
  void check_all(size_t i, std::function<void()> done) {
    auto c = idle_.front();
    if (i < st.order_ids.size()) {
      auto id = st.order_ids[i];
      c->request(http::verb::get, "/orders/" + id + "?wait=COMPLETED&timeout_ms=" + std::to_string(opt_.wait_timeout_ms), {}, {},
                 [this, i, done, id](int status, std::string body) {
                   auto j = json::parse(body, nullptr, false);
                   auto s = j.is_discarded() ? std::string("?") : j.value("status", std::string("?"));
                   if (status != 200 || (s != "COMPLETED" && s != "FAILED")) {
                     invariants_ok = false;
                     invariant_detail = "order " + id + " not terminal: " + s;
                   }
                   check_all(i + 1, done);
                 });
      return;
    }
    auto k = i - st.order_ids.size();
    if (k <= static_cast<size_t>(opt_.skus)) {
      auto name = k == static_cast<size_t>(opt_.skus) ? std::string("LG-OOS") : sku(static_cast<int>(k));
      c->request(http::verb::get, "/inventory/" + name, {}, {}, [this, i, done, name](int status, std::string body) {
        auto j = json::parse(body, nullptr, false);
        if (status != 200 || j.is_discarded()) {
          invariants_ok = false;
          invariant_detail = "cannot read " + name;
        } else {
          auto& b = base_[name];
          auto committed_delta = j["committed"].get<int64_t>() - b["committed"].get<int64_t>();
          auto total = j["available"].get<int64_t>() + j["reserved"].get<int64_t>() + j["committed"].get<int64_t>();
          auto base_total = b["available"].get<int64_t>() + b["reserved"].get<int64_t>() + b["committed"].get<int64_t>();
          if (j["reserved"].get<int64_t>() != 0 || total != base_total || j["available"].get<int64_t>() < 0
              || committed_delta != st.sold[name]) {
            invariants_ok = false;
            invariant_detail = name + ": " + body + " sold=" + std::to_string(st.sold[name]);
          }
        }
        check_all(i + 1, done);
      });
      return;
    }
    done();
  }

  net::io_context& ioc_;
  options opt_;
  std::mt19937_64 rng_;
  std::deque<std::shared_ptr<connection>> idle_;
  std::deque<clk::time_point> backlog_;
  std::shared_ptr<net::steady_timer> arrival_timer_;
  net::steady_timer tick_;
  clk::time_point start_, deadline_, next_arrival_;
  bool finished_ = false;
  std::map<std::string, json> base_;
};

double pct(std::vector<double>& xs, double q) {
  if (xs.empty())
    return 0;
  std::sort(xs.begin(), xs.end());
  auto idx = static_cast<size_t>(q * (xs.size() - 1) + 0.5);
  return xs[std::min(idx, xs.size() - 1)];
}

/// The command line (CLI11). Returns -1 to go on, else the exit code (0 after --help).
int parse_args(int argc, char** argv, options& o) {
  CLI::App app{"saga-loadgen: drives complete sagas through a node's public HTTP API"};
  std::string url = "http://127.0.0.1:8080";
  app.add_option("--url", url, "the node (http://host:port)");
  app.add_option("--duration-s", o.duration_s, "seconds to run")->check(CLI::PositiveNumber);
  app.add_option("--concurrency", o.concurrency, "connections (closed loop: clients)")
    ->check(CLI::PositiveNumber);
  app.add_option("--rate", o.rate, "sagas started per second (open loop); 0: closed loop")
    ->check(CLI::NonNegativeNumber);
  app.add_flag("--json", o.json_out, "print a JSON summary line at the end");
  app.add_option("--mix-out-of-stock", o.mix_out_of_stock, "share of sagas for a SKU with no stock")
    ->check(CLI::Range(0.0, 1.0));
  app.add_option("--mix-payment-failed", o.mix_payment_failed, "share of declined payments")
    ->check(CLI::Range(0.0, 1.0));
  app.add_option("--mix-payment-expired", o.mix_payment_expired,
                 "share of payments left to expire (takes payment.timeout_ms of the node)")
    ->check(CLI::Range(0.0, 1.0));
  app.add_option("--secret", o.secret, "the provider secret (payment.provider_secret)");
  app.add_option("--admin-token", o.admin_token, "the admin token (security.admin_token)");
  auto* skus = app.add_option("--skus", o.skus, "SKUs LG-0 .. LG-<N-1>")->check(CLI::PositiveNumber);
  // e.g. SKUs whose partitions a given cluster node owns (scripts/bench-cluster.sh)
  app.add_option("--sku-names", o.sku_names, "these SKUs instead (comma-separated)")
    ->delimiter(',')
    ->excludes(skus);
  app.add_option("--seed", o.seed, "seed of the saga mix");
  bool no_invariants = false;
  app.add_flag("--no-invariants", no_invariants, "skip the invariant check at the end");
  app.add_option("--park", o.park,
                 "create N orders and leave them at PAYMENT_INITIATED (memory and recovery runs)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  if (auto err = saga_client::parse_url(url, o.ep); !err.empty()) {
    std::fprintf(stderr, "--url: %s\n", err.c_str());
    return 2;
  }
  if (no_invariants)
    o.check_invariants = false;
  if (o.park > 0) {
    o.check_invariants = false;
    o.duration_s = 1e9;
  }
  if (!o.sku_names.empty())
    o.skus = static_cast<int>(o.sku_names.size());
  return -1;
}

} // namespace

int main(int argc, char** argv) {
  options o;
  if (auto code = parse_args(argc, argv, o); code >= 0)
    return code;
  net::io_context ioc{1};
  generator g(ioc, o);
  bool checked = false;
  g.on_finished = [&] { g.finish_and_check([&] { checked = true; }); };
  g.run();
  ioc.run();
  std::fprintf(stderr, "\n");
  auto& st = g.st;
  double rate = st.completed / std::max(g.elapsed_s, 1e-9);
  std::printf("saga-loadgen: %s loop, %d connections, %.1f s, seed %llu\n",
              o.rate > 0 ? "open" : "closed", o.concurrency, g.elapsed_s, (unsigned long long) o.seed);
  std::printf("sagas started %llu, completed %llu (%.1f/s), failed as planned %llu, errors %llu\n",
              (unsigned long long) st.started, (unsigned long long) st.completed, rate,
              (unsigned long long) st.failed_expected, (unsigned long long) g.total_errors());
  std::printf("%-24s %9s %9s %9s %9s %9s %9s %9s\n", "latency (ms)", "count", "p50", "p90", "p99", "p99.9", "max", "");
  json lat = json::object();
  for (auto name : {"post_orders", "wait_payment_initiated", "verify", "wait_terminal", "saga"}) {
    auto& xs = st.lat_ms[name];
    std::printf("%-24s %9zu %9.2f %9.2f %9.2f %9.2f %9.2f\n", name, xs.size(), pct(xs, 0.5), pct(xs, 0.9),
                pct(xs, 0.99), pct(xs, 0.999), xs.empty() ? 0.0 : *std::max_element(xs.begin(), xs.end()));
    lat[name] = {{"p50", pct(xs, 0.5)}, {"p90", pct(xs, 0.9)}, {"p99", pct(xs, 0.99)},
                 {"p999", pct(xs, 0.999)}, {"max", xs.empty() ? 0.0 : *std::max_element(xs.begin(), xs.end())}};
  }
  for (auto& [k, v] : st.errors)
    std::printf("error %-30s %llu\n", k.c_str(), (unsigned long long) v);
  std::printf("invariants (spec 7: every order terminal, stock conserved, nothing reserved): %s %s\n",
              !o.check_invariants ? "not checked" : g.invariants_ok ? "ok" : "VIOLATED",
              g.invariant_detail.c_str());
  if (o.json_out) {
    json out = {{"mode", o.rate > 0 ? "open" : "closed"},
                {"rate_target", o.rate},
                {"concurrency", o.concurrency},
                {"duration_s", g.elapsed_s},
                {"sagas_started", st.started},
                {"sagas_completed", st.completed},
                {"sagas_failed_as_planned", st.failed_expected},
                {"sagas_completed_per_s", rate},
                {"post_orders_p99_ms", pct(st.lat_ms["post_orders"], 0.99)},
                {"saga_p99_ms", pct(st.lat_ms["saga"], 0.99)},
                {"saga_p50_ms", pct(st.lat_ms["saga"], 0.5)},
                {"latency_ms", lat},
                {"errors", g.total_errors()},
                {"errors_by_kind", st.errors},
                {"invariants_ok", o.check_invariants ? json(g.invariants_ok) : json(nullptr)}};
    std::printf("%s\n", out.dump().c_str());
  }
  return (!o.check_invariants || g.invariants_ok) ? 0 : 1;
}
