#pragma once
// HTTP/1.1 server on Boost.Beast (keep-alive, body limit -> 413, read time-out against
// slow clients, in-flight bound -> 429). Every request goes to `api::handle`; the answer is
// posted back onto the connection's strand, so io threads never wait for an actor.

#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "gateway/api.hpp"

namespace saga {

class http_server {
public:
  http_server(api& routes, const node_config& cfg, std::shared_ptr<spdlog::logger> log);
  ~http_server();
  /// Binds and starts the io threads. Returns "" or the error.
  [[nodiscard]] std::string start();
  void stop();
  uint16_t port() const { return port_; }

private:
  struct impl;
  std::unique_ptr<impl> impl_;
  uint16_t port_ = 0;
};

} // namespace saga
