#include <utility> // Boost 1.74 Asio needs std::exchange declared first
#include "gateway/http_server.hpp"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <deque>
#include <mutex>
#include <optional>

#include "gateway/requests.hpp"

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace saga {

namespace {

class session;

/// The event_sink of one streaming connection. `send` may be called from any thread; it
/// posts onto the connection's strand. Closed by the connection (client gone, too slow)
/// or by the server when it stops, after which nothing is posted any more.
class stream_sink : public event_sink {
public:
  stream_sink(std::weak_ptr<session> s, net::any_io_executor ex)
    : session_(std::move(s)), ex_(std::move(ex)) {}
  bool send(std::string event) override;
  bool closed() const override {
    std::lock_guard<std::mutex> g(mu_);
    return closed_;
  }
  void close() {
    std::lock_guard<std::mutex> g(mu_);
    closed_ = true;
  }

private:
  mutable std::mutex mu_; // one per stream connection, never on the saga path
  bool closed_ = false;
  std::weak_ptr<session> session_;
  net::any_io_executor ex_;
};

struct shared_state {
  shared_state(api& r, const node_config& c, std::shared_ptr<spdlog::logger> l)
    : routes(r), cfg(c), log(std::move(l)) {}
  api& routes;
  const node_config& cfg;
  std::shared_ptr<spdlog::logger> log;
  std::atomic<int64_t> inflight{0};
  std::mutex sinks_mu;
  std::vector<std::weak_ptr<stream_sink>> sinks; // closed when the server stops
};

class session : public std::enable_shared_from_this<session> {
public:
  session(tcp::socket&& s, std::shared_ptr<shared_state> st)
    : stream_(std::move(s)), st_(std::move(st)) {}

  void run() {
    net::dispatch(stream_.get_executor(),
                  beast::bind_front_handler(&session::do_read, shared_from_this()));
  }

private:
  void do_read() {
    parser_.emplace();
    parser_->body_limit(static_cast<uint64_t>(st_->cfg.http_max_body_bytes));
    parser_->header_limit(16 * 1024);
    stream_.expires_after(std::chrono::milliseconds(st_->cfg.http_read_timeout_ms));
    http::async_read(stream_, buffer_, *parser_,
                     beast::bind_front_handler(&session::on_read, shared_from_this()));
  }

  void on_read(beast::error_code ec, std::size_t) {
    if (ec == http::error::end_of_stream || ec == beast::error::timeout)
      return close();
    if (ec == http::error::body_limit) {
      keep_alive_ = false;
      return write(api::error(413, "body_too_large",
                              "body exceeds " + std::to_string(st_->cfg.http_max_body_bytes)
                                + " bytes"),
                   "?", "?", std::chrono::steady_clock::now());
    }
    if (ec) {
      if (ec == net::error::operation_aborted || ec == net::error::eof
          || ec == net::error::connection_reset)
        return close();
      keep_alive_ = false;
      return write(api::error(400, "bad_request", "malformed HTTP request: " + ec.message()), "?",
                   "?", std::chrono::steady_clock::now());
    }
    auto req = parser_->release();
    keep_alive_ = req.keep_alive();
    version_ = req.version();
    stream_.expires_never();
    http_request r;
    r.method = std::string(req.method_string());
    r.target = std::string(req.target());
    r.body = std::move(req.body());
    if (auto i = req.find(http::field::authorization); i != req.end())
      r.authorization = std::string(i->value());
    if (auto i = req.find("Idempotency-Key"); i != req.end()) {
      r.idempotency_key = std::string(i->value());
      r.has_idempotency_key = true;
    }
    auto started = std::chrono::steady_clock::now();
    if (st_->inflight.load() >= st_->cfg.http_max_inflight) {
      ++st_->routes.stats().rejected_overload;
      auto resp = api::error(429, "overloaded", "too many requests in flight; retry later");
      resp.headers["Retry-After"] = "1";
      return write(resp, r.method, r.target, started);
    }
    ++st_->inflight;
    ++st_->routes.stats().http_inflight;
    auto self = shared_from_this();
    auto ex = stream_.get_executor();
    auto method = r.method;
    auto target = r.target;
    st_->routes.handle(r, [self, ex, method, target, started](http_response resp) {
      net::post(ex, [self, resp = std::move(resp), method, target, started]() mutable {
        --self->st_->inflight;
        --self->st_->routes.stats().http_inflight;
        self->write(std::move(resp), method, target, started);
      });
    });
  }

public:
  /// Queues one event of a streaming answer (on the strand).
  void push_event(std::string event) {
    constexpr size_t max_queued = 1024; // a client that reads slower than this is dropped
    if (!streaming_)
      return;
    if (queue_.size() >= max_queued) {
      st_->log->warn("http stream client too slow ({} events queued): closing", queue_.size());
      return end_stream();
    }
    queue_.push_back(std::move(event));
    if (queue_.size() == 1)
      write_next_event();
  }

  ~session() {
    if (sink_)
      sink_->close();
  }

private:
  void write_next_event() {
    net::async_write(stream_.socket(), net::buffer(queue_.front()),
                     [self = shared_from_this()](beast::error_code ec, std::size_t) {
                       // The stream may have ended while this write was under way (the
                       // client hung up, or read too slowly): its queue is no longer ours.
                       if (ec || !self->streaming_)
                         return self->end_stream();
                       self->queue_.pop_front();
                       if (!self->queue_.empty())
                         self->write_next_event();
                     });
  }

  /// Ends a streaming answer once. The queue is left alone: a write under way still refers
  /// to its front (a send to a client whose FIN is already in succeeds, and its completion
  /// can run after the hang-up's). It goes with the session.
  void end_stream() {
    if (!streaming_)
      return;
    streaming_ = false;
    if (sink_)
      sink_->close();
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_.socket().close(ec);
  }

  /// Sends the header of a text/event-stream answer, then hands the sink to the feeder.
  /// A read stays pending so that a client closing the connection is noticed at once.
  void start_stream(http_response resp) {
    streaming_ = true;
    sink_ = std::make_shared<stream_sink>(weak_from_this(), stream_.get_executor());
    {
      std::lock_guard<std::mutex> g(st_->sinks_mu);
      auto& xs = st_->sinks;
      xs.erase(std::remove_if(xs.begin(), xs.end(), [](auto& w) { return w.expired(); }), xs.end());
      xs.push_back(sink_);
    }
    std::string head = "HTTP/1.1 200 OK\r\nServer: sagad\r\nContent-Type: text/event-stream\r\n"
                       "Cache-Control: no-cache\r\nConnection: close\r\nX-Accel-Buffering: no\r\n\r\n";
    queue_.push_back(std::move(head));
    write_next_event();
    stream_.expires_never();
    stream_.socket().async_read_some(
      net::buffer(discard_), [self = shared_from_this()](beast::error_code, std::size_t) {
        self->end_stream(); // clients send nothing on an event stream: any read ends it
      });
    resp.stream(sink_);
  }

  void write(http_response resp, const std::string& method, const std::string& target,
             std::chrono::steady_clock::time_point started) {
    auto us = std::chrono::duration_cast<std::chrono::microseconds>(
                std::chrono::steady_clock::now() - started)
                .count();
    st_->routes.stats().observe(classify(method, target), resp.status, us);
    // Never the admin token: the console and the stream may carry it as ?token=.
    st_->log->debug("http method={} path={} status={} latency_us={} order_id={}", method,
                   redact_target(target), resp.status, us,
                   resp.order_id.empty() ? "-" : resp.order_id);
    if (resp.stream && resp.status == 200)
      return start_stream(std::move(resp));
    res_ = {};
    res_.version(version_ == 0 ? 11 : version_);
    res_.result(static_cast<http::status>(resp.status));
    res_.set(http::field::server, "sagad");
    res_.set(http::field::content_type, "application/json");
    for (auto& [k, v] : resp.headers)
      res_.set(k, v);
    res_.keep_alive(keep_alive_);
    res_.body() = std::move(resp.body);
    res_.prepare_payload();
    http::async_write(stream_, res_,
                      beast::bind_front_handler(&session::on_write, shared_from_this()));
  }

  void on_write(beast::error_code ec, std::size_t) {
    if (ec || !keep_alive_)
      return close();
    do_read();
  }

  void close() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::response<http::string_body> res_;
  std::shared_ptr<shared_state> st_;
  bool keep_alive_ = true;
  unsigned version_ = 11;
  // streaming answers (text/event-stream)
  bool streaming_ = false;
  std::shared_ptr<stream_sink> sink_;
  std::deque<std::string> queue_;
  std::array<char, 64> discard_{};
};

bool stream_sink::send(std::string event) {
  std::lock_guard<std::mutex> g(mu_);
  if (closed_)
    return false;
  net::post(ex_, [w = session_, event = std::move(event)]() mutable {
    if (auto s = w.lock())
      s->push_event(std::move(event));
  });
  return true;
}

class listener : public std::enable_shared_from_this<listener> {
public:
  listener(net::io_context& ioc, tcp::acceptor acc, std::shared_ptr<shared_state> st)
    : ioc_(ioc), acc_(std::move(acc)), st_(std::move(st)) {}
  void run() { accept(); }

private:
  void accept() {
    acc_.async_accept(net::make_strand(ioc_),
                      beast::bind_front_handler(&listener::on_accept, shared_from_this()));
  }
  void on_accept(beast::error_code ec, tcp::socket s) {
    if (ec == net::error::operation_aborted)
      return;
    if (!ec)
      std::make_shared<session>(std::move(s), st_)->run();
    accept();
  }
  net::io_context& ioc_;
  tcp::acceptor acc_;
  std::shared_ptr<shared_state> st_;
};

} // namespace

struct http_server::impl {
  net::io_context ioc;
  std::shared_ptr<shared_state> st;
  std::vector<std::thread> threads;
  std::optional<net::executor_work_guard<net::io_context::executor_type>> work;
};

http_server::http_server(api& routes, const node_config& cfg, std::shared_ptr<spdlog::logger> log)
  : impl_(new impl) {
  impl_->st = std::make_shared<shared_state>(routes, cfg, std::move(log));
}

http_server::~http_server() { stop(); }

std::string http_server::start() {
  auto& cfg = impl_->st->cfg;
  beast::error_code ec;
  auto addr = net::ip::make_address(cfg.http_address, ec);
  if (ec)
    return "http.address " + cfg.http_address + " is not an IP address";
  tcp::acceptor acc(impl_->ioc);
  tcp::endpoint ep{addr, static_cast<uint16_t>(cfg.http_port)};
  acc.open(ep.protocol(), ec);
  if (!ec)
    acc.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec)
    acc.bind(ep, ec);
  if (!ec)
    acc.listen(net::socket_base::max_listen_connections, ec);
  if (ec)
    return "cannot listen on " + cfg.http_address + ":" + std::to_string(cfg.http_port) + ": "
           + ec.message();
  port_ = acc.local_endpoint().port();
  std::make_shared<listener>(impl_->ioc, std::move(acc), impl_->st)->run();
  impl_->work.emplace(impl_->ioc.get_executor());
  for (int64_t i = 0; i < cfg.http_io_threads; ++i)
    impl_->threads.emplace_back([this] { impl_->ioc.run(); });
  return {};
}

void http_server::stop() {
  if (!impl_)
    return;
  {
    std::lock_guard<std::mutex> g(impl_->st->sinks_mu);
    for (auto& w : impl_->st->sinks)
      if (auto s = w.lock())
        s->close();
    impl_->st->sinks.clear();
  }
  impl_->work.reset();
  impl_->ioc.stop();
  for (auto& t : impl_->threads)
    if (t.joinable())
      t.join();
  impl_->threads.clear();
}

} // namespace saga
