#pragma once
// The gateway's routes (spec §3): validation of every input, then asynchronous requests to
// the actors. `handle` never blocks: the answer arrives through `respond`, possibly on
// another thread; the HTTP layer posts it back onto the connection's strand.

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "actors/messages.hpp"
#include "actors/cluster/cluster_layout.hpp"
#include "runtime/context.hpp"

namespace saga {

struct http_request {
  std::string method;
  std::string target; // path and query
  std::string body;
  std::string authorization;
  std::string idempotency_key;
  bool has_idempotency_key = false; // the header was sent (possibly empty: refused)
};

/// The write end of a Server-Sent Events stream, held by the actor that feeds it.
/// Thread-safe; `send` queues one event and returns false once the client is gone (closed,
/// too slow to read, or the server stops). The HTTP layer implements it.
class event_sink {
public:
  virtual ~event_sink() = default;
  virtual bool send(std::string event) = 0;
  virtual bool closed() const = 0;
};

struct http_response {
  int status = 200;
  std::string body;
  std::map<std::string, std::string> headers;
  std::string order_id; // for the access log
  /// Set for a streaming answer (text/event-stream): called with the sink once the
  /// header is on the wire; `body` is ignored.
  std::function<void(std::shared_ptr<event_sink>)> stream;
};

using responder = std::function<void(http_response)>;

/// The console page (gateway/console/index.html, embedded at build time).
const std::string& console_html();
/// The API contract (gateway/openapi.json, embedded at build time).
const std::string& openapi_json();
/// The event contract (gateway/asyncapi.json, AsyncAPI 3.0, embedded at build time).
const std::string& asyncapi_json();

/// The answer to a failed request for partition `p` of `kind`: 503 `node_unavailable`
/// naming the owner node when it is another node's partition that is down or did not
/// answer, or (in a cluster) whose actor ended as the request arrived (it moved), with
/// Retry-After; else 503 `unavailable`.
http_response partition_failure(caf::actor_system& sys, const node_config& cfg,
                                const cluster_layout& layout, const directory& dir,
                                const caf::error& e, partition_kind kind, size_t p);

class api {
public:
  api(caf::actor_system& sys, context_ptr ctx, directory dir)
    : sys_(sys), ctx_(std::move(ctx)), dir_(std::move(dir)), started_at_ms(ctx_->now_ms()),
      layout_(std::make_shared<const cluster_layout>(cluster_layout::from(ctx_->cfg))) {}

  void handle(const http_request& req, responder respond);

  /// Readiness: set once recovery finished and the node accepts orders.
  std::atomic<bool> ready{false};
  /// Cluster: one link actor per peer (their state for GET /cluster). Set before start.
  std::vector<caf::actor> peer_links;
  /// Cluster: who holds each partition now (actors/cluster/ownership.hpp); reads of an
  /// order held elsewhere go through it to the holder.
  caf::actor ownership;

  metrics& stats() { return *ctx_->stats; }

  static http_response error(int status, const std::string& code, const std::string& message);

private:
  void post_order(const http_request& req, responder respond);
  void get_order(const std::string& id, const std::string& query, responder respond);
  void verify_payment(const http_request& req, responder respond);
  void complete_order(const http_request& req, responder respond);
  void put_inventory(const std::string& sku, const http_request& req, responder respond);
  void get_inventory(const std::string& sku, responder respond);
  // operators (admin token always required)
  bool admin_allowed(const http_request& req) const;
  void admin_parked(responder respond);
  void admin_action(const std::string& id, const std::string& action, const http_request& req,
                    responder respond);
  // introspection (GET /inspect/..., GET /console)
  bool inspect_allowed(const http_request& req, const std::string& query) const;
  void inspect_summary(responder respond);
  void inspect_actors(const std::string& query, responder respond);
  void inspect_order(const std::string& id, responder respond);
  void inspect_stream(const std::string& query, responder respond);
  // GET /cluster: the nodes of cluster.conf, their state and the partitions each owns
  static nlohmann::json cluster_view(const cluster_layout& layout, const node_config& cfg,
                                     int64_t started_at_ms,
                                     const std::vector<peer_status>& peers,
                                     const ownership_view* owners = nullptr);

  caf::actor_system& sys_;
  context_ptr ctx_;
  directory dir_;
  std::atomic<uint64_t> next_owner_{0}; // partition of the next order without a key
  int64_t started_at_ms;                // this node's start (GET /cluster "since")
  std::shared_ptr<const cluster_layout> layout_;
};

} // namespace saga
