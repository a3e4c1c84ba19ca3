#pragma once
// The HTTP/1.1 client of the project's own tools (sagactl, saga-loadgen), which talk to a
// node over its public API like any client: one keep-alive connection, one request at a
// time, asynchronous on an io_context (the load generator runs hundreds on one thread);
// `call` runs one request to completion for a command-line tool.

#include <utility> // Boost 1.74 Asio needs std::exchange declared first

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace saga_client {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

struct endpoint {
  std::string host = "127.0.0.1";
  std::string port = "8080";
};

/// Parses "http://host[:port][/...]" (port 80 when absent). Returns "" or what is wrong.
inline std::string parse_url(const std::string& url, endpoint& out) {
  if (url.rfind("http://", 0) != 0)
    return "only http:// URLs are supported: " + url;
  auto rest = url.substr(7);
  if (auto slash = rest.find('/'); slash != std::string::npos)
    rest = rest.substr(0, slash);
  auto colon = rest.rfind(':');
  endpoint ep;
  ep.host = colon == std::string::npos ? rest : rest.substr(0, colon);
  ep.port = colon == std::string::npos ? "80" : rest.substr(colon + 1);
  if (ep.host.empty() || ep.port.empty()
      || ep.port.find_first_not_of("0123456789") != std::string::npos)
    return "bad URL " + url;
  out = ep;
  return {};
}

using header_list = std::vector<std::pair<std::string, std::string>>;

/// One keep-alive connection: connects on its first request (and again after the server
/// closed it), one request at a time.
class connection : public std::enable_shared_from_this<connection> {
public:
  /// `status` < 0: no answer; `body` then names the stage that failed ("resolve",
  /// "connect", "write", "read") and `last_error()` says why.
  using callback = std::function<void(int status, std::string body)>;

  connection(net::io_context& ioc, endpoint ep, std::chrono::milliseconds timeout,
             std::string user_agent = "saga-client")
    : stream_(ioc), resolver_(ioc), ep_(std::move(ep)), timeout_(timeout),
      user_agent_(std::move(user_agent)) {}

  void request(http::verb method, const std::string& target, std::string body,
               const header_list& headers, callback cb) {
    req_ = {method, target, 11};
    req_.set(http::field::host, ep_.host);
    req_.set(http::field::user_agent, user_agent_);
    if (!body.empty())
      req_.set(http::field::content_type, "application/json");
    for (auto& [k, v] : headers)
      req_.set(k, v);
    req_.body() = std::move(body);
    req_.prepare_payload();
    req_.keep_alive(true);
    cb_ = std::move(cb);
    if (!connected_)
      return connect();
    send();
  }

  const std::string& last_error() const { return last_error_; }

private:
  void connect() {
    auto self = shared_from_this();
    resolver_.async_resolve(ep_.host, ep_.port,
                            [self](beast::error_code ec, tcp::resolver::results_type r) {
                              if (ec)
                                return self->fail("resolve", ec);
                              self->stream_.expires_after(self->timeout_);
                              self->stream_.async_connect(
                                r, [self](beast::error_code ec, const tcp::endpoint&) {
                                  if (ec)
                                    return self->fail("connect", ec);
                                  self->connected_ = true;
                                  self->stream_.socket().set_option(tcp::no_delay(true));
                                  self->send();
                                });
                            });
  }

  void send() {
    auto self = shared_from_this();
    stream_.expires_after(timeout_);
    http::async_write(stream_, req_, [self](beast::error_code ec, size_t) {
      if (ec)
        return self->fail("write", ec);
      self->res_ = {};
      http::async_read(self->stream_, self->buf_, self->res_,
                       [self](beast::error_code ec, size_t) {
                         if (ec)
                           return self->fail("read", ec);
                         if (!self->res_.keep_alive())
                           self->reset();
                         auto cb = std::move(self->cb_);
                         cb(static_cast<int>(self->res_.result_int()),
                            std::move(self->res_.body()));
                       });
    });
  }

  void reset() {
    beast::error_code ec;
    stream_.socket().close(ec);
    connected_ = false;
    buf_.clear();
  }

  void fail(const char* stage, const beast::error_code& ec) {
    reset();
    last_error_ = ec.message();
    auto cb = std::move(cb_);
    cb(-1, stage);
  }

  beast::tcp_stream stream_;
  tcp::resolver resolver_;
  endpoint ep_;
  std::chrono::milliseconds timeout_;
  std::string user_agent_;
  beast::flat_buffer buf_;
  http::request<http::string_body> req_;
  http::response<http::string_body> res_;
  callback cb_;
  bool connected_ = false;
  std::string last_error_;
};

struct response {
  int status = -1;   // < 0: no answer (`error` says why)
  std::string body;
  std::string error;
};

/// One request on a fresh connection, run to completion: for command-line tools.
inline response call(const endpoint& ep, http::verb method, const std::string& target,
                     std::string body, const header_list& headers,
                     std::chrono::milliseconds timeout, const std::string& user_agent) {
  net::io_context ioc{1};
  auto c = std::make_shared<connection>(ioc, ep, timeout, user_agent);
  response out;
  c->request(method, target, std::move(body), headers, [&](int status, std::string b) {
    out.status = status;
    if (status < 0)
      out.error = b + ": " + c->last_error();
    else
      out.body = std::move(b);
  });
  ioc.run();
  return out;
}

} // namespace saga_client
