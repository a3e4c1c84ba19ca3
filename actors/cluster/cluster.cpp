#include "actors/cluster/cluster.hpp"

#include <caf/io/middleman.hpp>

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

#include "actors/order/order_store.hpp"

namespace saga {

caf::error node_unavailable(const std::string& node, const std::string& slot) {
  return caf::make_error(caf::sec::no_route_to_receiving_node, node, slot);
}

bool is_node_unavailable(const caf::error& e, std::string& node, std::string& slot) {
  if (e != caf::sec::no_route_to_receiving_node)
    return false;
  auto& ctx = e.context();
  if (ctx.size() == 2 && ctx.match_element<std::string>(0) && ctx.match_element<std::string>(1)) {
    node = ctx.get_as<std::string>(0);
    slot = ctx.get_as<std::string>(1);
  }
  return true;
}

std::string protocol_difference(uint32_t theirs, const std::string& node) {
  if (theirs == cluster_protocol)
    return {};
  auto here = std::to_string(cluster_protocol);
  if (theirs == 0)
    return "cluster protocol: " + here + " here, none at " + node + " (an older sagad): every "
           "node of a cluster runs the same protocol; upgrade " + node;
  return "cluster protocol: " + here + " here, " + std::to_string(theirs) + " at " + node
         + ": every node of a cluster runs the same protocol";
}

cluster_hello make_hello(const node_config& cfg) {
  cluster_hello h;
  h.node_id = cfg.node_id;
  h.members = cfg.cluster_members;
  h.order_partitions = static_cast<uint64_t>(cfg.saga_partitions);
  h.sku_partitions = static_cast<uint64_t>(cfg.inventory_workers);
  h.payment_workers = static_cast<uint64_t>(cfg.payment_workers);
  h.replication = cfg.cluster_replication;
  h.name = cfg.cluster_name;
  return h;
}

std::string check_hello(const node_config& cfg, const cluster_hello& h) {
  auto here = cluster_layout::from(cfg);
  cluster_layout there;
  there.nodes = h.members;
  there.order_partitions = h.order_partitions;
  there.sku_partitions = h.sku_partitions;
  there.payment_workers = h.payment_workers;
  if (auto diff = layout_difference(here, there, h.node_id); !diff.empty())
    return diff;
  if (here.index_of(h.node_id) == here.nodes.size())
    return "node '" + h.node_id + "' is not in cluster.nodes here";
  if (h.node_id == cfg.node_id)
    return "node '" + h.node_id + "' connected to itself (two processes with one node id?)";
  // A node that keeps its partitions differently, or in another cluster's changelog and
  // transactional.ids, would acknowledge steps the others cannot rebuild or fence.
  if (h.replication != cfg.cluster_replication)
    return "cluster.replication: " + cfg.cluster_replication + " here, " + h.replication
           + " at " + h.node_id;
  if (h.name != cfg.cluster_name)
    return "cluster.name: " + cfg.cluster_name + " here, " + h.name + " at " + h.node_id;
  return {};
}

caf::behavior node_entry(caf::stateful_actor<node_entry_state>* self, context_ptr ctx,
                         caf::actor ownership) {
  self->state.ownership = std::move(ownership);
  return {
    // A peer's link says its protocol before its hello: answered with ours (it refuses a
    // difference on its side, we on ours at its hello).
    [self](protocol_atom, uint32_t theirs, const std::string& node) {
      self->state.protocols[node] = {theirs,
                                     caf::actor_cast<caf::actor_addr>(self->current_sender())};
      return cluster_protocol;
    },
    [self, ctx](hello_atom, const cluster_hello& h) -> caf::result<cluster_welcome> {
      // A node that stops (a failed write, or a lapsed lease after a freeze) is not up for
      // its peers: its welcome would claim its partitions back from whoever took them.
      // What it said before this hello, used once: a peer restarted as an older sagad under
      // the same id says nothing, and is refused for that.
      uint32_t said = 0;
      if (auto i = self->state.protocols.find(h.node_id); i != self->state.protocols.end()) {
        if (i->second.second == caf::actor_cast<caf::actor_addr>(self->current_sender()))
          said = i->second.first;
        self->state.protocols.erase(i);
      }
      auto why = ctx->halted.load() || ctx->unresponsive_ms() > 0
                   ? std::string("node '") + ctx->cfg.node_id + "' is stopping"
                   : protocol_difference(said, h.node_id);
      if (why.empty())
        why = check_hello(ctx->cfg, h);
      if (!why.empty()) {
        ctx->log->error("cluster: refused {}: {}", h.node_id, why);
        cluster_welcome no;
        no.refusal = why;
        no.node_id = ctx->cfg.node_id;
        return no;
      }
      ctx->log->info("cluster: welcomed {}", h.node_id);
      // The peer is back (a restart): our link to it connects now, not after its backoff.
      if (auto i = self->state.links.find(h.node_id); i != self->state.links.end())
        self->send(i->second, hello_atom::value);
      // What this node holds now (its own partitions and any it took over).
      auto rp = self->make_response_promise<cluster_welcome>();
      rp.delegate(self->state.ownership, welcome_atom::value);
      return rp;
    },
    // A peer's ownership table asks what this node holds now: a claim of this node is the
    // newest of a partition it serves nowhere yet (our announcement may have been lost).
    [self, ctx](welcome_atom) -> caf::result<cluster_welcome> {
      if (ctx->halted.load() || ctx->unresponsive_ms() > 0) {
        cluster_welcome no;
        no.refusal = std::string("node '") + ctx->cfg.node_id + "' is stopping";
        no.node_id = ctx->cfg.node_id;
        return no;
      }
      auto rp = self->make_response_promise<cluster_welcome>();
      rp.delegate(self->state.ownership, welcome_atom::value);
      return rp;
    },
    // A peer starts (before it opens its partitions): answered by our ownership table once
    // no takeover of them is under way here.
    [self](starting_atom a, const std::string& node) {
      auto rp = self->make_response_promise();
      rp.delegate(self->state.ownership, a, node);
      return rp;
    },
    // A peer is stopping: our ownership table takes its partitions over at once.
    [self](leaving_atom a, const std::string& node) {
      self->send(self->state.ownership, a, node);
    },
    // A peer took a partition over: our ownership table routes to it.
    [self](owns_atom a, const std::string& node, const std::string& kind, uint64_t p,
           caf::actor& h, caf::actor& pay, int64_t seq) {
      self->send(self->state.ownership, a, node, kind, p, std::move(h), std::move(pay), seq);
    },
    [self](register_atom, const std::string& id, caf::actor& link) {
      self->state.links[id] = std::move(link);
    },
    [self, ctx](get_atom, const std::string& order_id) -> caf::result<order_view> {
      // A peer's gateway reads one of this node's orders: a reader actor of its own, so
      // reads run in parallel and never queue behind the sagas. Not from a node whose
      // lease lapsed (a freeze): its store may be stale (ownership.hpp).
      if (ctx->unresponsive_ms() > 0 || ctx->halted.load())
        return node_unavailable(ctx->cfg.node_id, "orders (this node stops)");
      auto rp = self->make_response_promise<order_view>();
      rp.delegate(self->spawn(order_reader, ctx), get_atom::value, order_id);
      return rp;
    },
  };
}

bool tcp_probe(const std::string& host, uint16_t port, int64_t timeout_ms, std::string& why) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (int rc = ::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &res); rc != 0) {
    why = std::string("cannot resolve ") + host + ": " + ::gai_strerror(rc);
    return false;
  }
  bool ok = false;
  why = "no address";
  for (auto* ai = res; ai != nullptr && !ok; ai = ai->ai_next) {
    int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0)
      continue;
    int rc = ::connect(fd, ai->ai_addr, ai->ai_addrlen);
    if (rc == 0) {
      ok = true;
    } else if (errno == EINPROGRESS) {
      pollfd p{fd, POLLOUT, 0};
      rc = ::poll(&p, 1, static_cast<int>(timeout_ms));
      int err = 0;
      socklen_t len = sizeof err;
      if (rc == 1 && ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0)
        ok = true;
      else
        why = rc == 0 ? "no answer within " + std::to_string(timeout_ms) + " ms"
                      : std::string(std::strerror(err != 0 ? err : errno));
    } else {
      why = std::strerror(errno);
    }
    ::close(fd);
  }
  ::freeaddrinfo(res);
  return ok;
}

caf::behavior connect_probe(caf::event_based_actor*, std::string /* peer id, for traces */) {
  return {
    [](probe_atom, const std::string& host, uint16_t port, int64_t timeout_ms) {
      std::string why;
      bool ok = tcp_probe(host, port, timeout_ms, why);
      return caf::make_message(ok, why);
    },
  };
}

size_t announce_start(caf::actor_system& sys, const node_config& cfg, spdlog::logger& log) {
  auto timeout = std::chrono::milliseconds(cfg.cluster_connect_timeout_ms
                                           + 2 * cfg.saga_request_timeout_ms);
  size_t answered = 0;
  for (auto& m : cfg.cluster_members) {
    if (m.id == cfg.node_id)
      continue;
    std::string why;
    if (!tcp_probe(m.host, static_cast<uint16_t>(m.caf_port), cfg.cluster_connect_timeout_ms, why))
      continue; // down: it takes nothing over now
    // Not the blocking `remote_actor`, which waits without a time-out: a frozen peer
    // accepts the TCP connection but never completes CAF's handshake.
    caf::scoped_actor self{sys};
    caf::actor entry;
    self->request(sys.middleman().actor_handle(), timeout, caf::connect_atom::value, m.host,
                  static_cast<uint16_t>(m.caf_port))
      .receive(
        [&](const caf::node_id&, caf::strong_actor_ptr& ptr, const std::set<std::string>&) {
          entry = caf::actor_cast<caf::actor>(ptr);
        },
        [&](caf::error& e) {
          log.warn("cluster: could not tell {} that this node starts: {}", m.id, sys.render(e));
        });
    if (!entry)
      continue;
    self->request(entry, timeout, starting_atom::value, cfg.node_id)
      .receive([&](bool) { ++answered; },
               [&](caf::error& e) {
                 log.warn("cluster: {} did not answer that this node starts: {}", m.id,
                          sys.render(e));
               });
  }
  return answered;
}

size_t await_peers(caf::actor_system& sys, const std::vector<caf::actor>& links,
                   int64_t timeout_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  std::vector<bool> settled(links.size(), false);
  size_t up = 0;
  caf::scoped_actor self{sys};
  for (;;) {
    size_t open = 0;
    for (size_t i = 0; i < links.size(); ++i) {
      if (settled[i])
        continue;
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0)
        return up;
      self->request(links[i], std::min(left, std::chrono::milliseconds(500)), peers_atom::value)
        .receive(
          [&](const peer_status& s) {
            if (s.state == "down" && s.reason == not_connected_yet)
              return;
            settled[i] = true;
            up += s.state == "up" ? 1 : 0;
          },
          [&](caf::error& e) { settled[i] = e != caf::sec::request_timeout; }); // a dead link
      open += settled[i] ? 0 : 1;
    }
    if (open == 0 || std::chrono::steady_clock::now() >= deadline)
      return up;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

namespace {

using link_ptr = caf::stateful_actor<peer_link_state>*;

void connect(link_ptr self);

void set_state(link_ptr self, const std::string& state, const std::string& reason) {
  auto& st = self->state;
  if (st.status.state != state)
    st.status.since_ms = st.ctx->now_ms();
  st.status.state = state;
  st.status.reason = reason;
  st.stats->up = state == "up" ? 1 : 0;
}

/// The next attempt after a failed one, with doubling backoff (and jitter from the
/// node id, so two nodes do not retry in lock step).
void retry(link_ptr self, const std::string& why) {
  auto& st = self->state;
  auto& cfg = st.ctx->cfg;
  st.backoff_ms = st.backoff_ms == 0
                    ? cfg.cluster_reconnect_backoff_ms
                    : std::min(st.backoff_ms * 2, cfg.cluster_reconnect_backoff_max_ms);
  auto jitter = static_cast<int64_t>(directory::hash(cfg.node_id + st.peer.id) % 100);
  auto delay = st.backoff_ms / 2 + (st.backoff_ms / 2) * jitter / 100;
  st.ctx->log->debug("cluster: {} not reached ({}); next attempt in {} ms", st.peer.id, why,
                     delay);
  if (st.status.state == "down" && st.status.reason == not_connected_yet)
    set_state(self, "down", why); // the first attempt is over (await_peers)
  self->delayed_send(self, std::chrono::milliseconds(delay), tick_atom::value, ++st.attempt);
}

void refused(link_ptr self, const std::string& why);
void say_hello(link_ptr self, caf::actor entry);

void welcomed(link_ptr self, caf::actor entry, const cluster_welcome& w) {
  auto& st = self->state;
  st.entry = std::move(entry);
  st.backoff_ms = 0;
  self->monitor(st.entry);
  self->send(st.ownership, member_up_atom::value, st.peer.id, st.entry, w);
  ++st.stats->connects;
  set_state(self, "up", {});
  st.ctx->log->info("cluster: {} is up at {}:{} (its node {})", st.peer.id, st.peer.host,
                    st.peer.caf_port, to_string(st.entry.node()));
}

void connect(link_ptr self);

/// First a TCP probe with a time-out on this link's own thread: CAF's middleman actor
/// connects with a blocking connect() on one thread for every peer, so an unreachable
/// host (a cut, a dropped SYN) would hold up every other reconnection for minutes.
void probe(link_ptr self) {
  auto& st = self->state;
  auto gen = st.attempt;
  auto timeout_ms = st.ctx->cfg.cluster_connect_timeout_ms;
  self->request(st.prober, std::chrono::milliseconds(timeout_ms * 2 + 1000), probe_atom::value,
                st.peer.host, static_cast<uint16_t>(st.peer.caf_port), timeout_ms)
    .then(
      [self, gen](bool ok, const std::string& why) {
        if (gen != self->state.attempt)
          return;
        if (!ok)
          return retry(self, why);
        connect(self);
      },
      [self, gen](caf::error& e) {
        if (gen == self->state.attempt)
          retry(self, "probe: " + self->system().render(e));
      });
}

void connect(link_ptr self) {
  auto& st = self->state;
  auto gen = st.attempt;
  auto timeout = std::chrono::milliseconds(st.ctx->cfg.cluster_connect_timeout_ms);
  // Never the blocking `remote_actor`: the middleman actor connects on its own thread and
  // answers (node id, entry actor, interface). The probe made sure the port answers.
  auto mm = self->system().middleman().actor_handle();
  self->request(mm, timeout, caf::connect_atom::value, st.peer.host,
                static_cast<uint16_t>(st.peer.caf_port))
    .then(
      [self, gen, timeout](const caf::node_id&, caf::strong_actor_ptr& ptr,
                           const std::set<std::string>&) {
        auto& st = self->state;
        if (gen != st.attempt)
          return;
        if (!ptr)
          return retry(self, "nothing published on its CAF port");
        auto entry = caf::actor_cast<caf::actor>(ptr);
        // Our protocol first (its shape never changes): a peer that runs another one, or
        // an older sagad without one, is refused with that reason, not with a hello it
        // cannot read.
        self->request(entry, timeout, protocol_atom::value, cluster_protocol, st.ctx->cfg.node_id)
          .then(
            [self, gen, entry](uint32_t theirs) {
              if (gen != self->state.attempt)
                return;
              if (auto why = protocol_difference(theirs, self->state.peer.id); !why.empty())
                return refused(self, why);
              say_hello(self, entry);
            },
            [self, gen](caf::error& e) {
              if (gen != self->state.attempt)
                return;
              if (e == caf::sec::unexpected_message) // it does not know the message
                return refused(self, protocol_difference(0, self->state.peer.id));
              retry(self, "protocol: " + self->system().render(e));
            });
      },
      [self, gen](caf::error& e) {
        if (gen == self->state.attempt)
          retry(self, self->system().render(e));
      });
}

/// The peer refused us (or we it): logged once per reason, counted, and tried again later
/// (its configuration or version may change with a restart).
void refused(link_ptr self, const std::string& why) {
  auto& st = self->state;
  if (st.status.state != "refused" || st.status.reason != why)
    st.ctx->log->error("cluster: {} refused the connection: {}", st.peer.id, why);
  ++st.stats->refused;
  set_state(self, "refused", why);
  retry(self, why);
}

void say_hello(link_ptr self, caf::actor entry) {
  auto& st = self->state;
  auto gen = st.attempt;
  auto timeout = std::chrono::milliseconds(st.ctx->cfg.cluster_connect_timeout_ms);
  self->request(entry, timeout, hello_atom::value, make_hello(st.ctx->cfg))
    .then(
      [self, gen, entry](const cluster_welcome& w) {
        auto& st = self->state;
        if (gen != st.attempt)
          return;
        if (!w.ok)
          return refused(self, w.refusal);
        if (w.node_id != st.peer.id)
          return refused(self, "the node at " + st.peer.host + ":"
                                 + std::to_string(st.peer.caf_port) + " is '" + w.node_id
                                 + "', not '" + st.peer.id + "'");
        welcomed(self, entry, w);
      },
      [self, gen](caf::error& e) {
        if (gen == self->state.attempt)
          retry(self, "hello: " + self->system().render(e));
      });
}

} // namespace

caf::behavior peer_link(caf::stateful_actor<peer_link_state>* self, context_ptr ctx,
                        cluster_member peer, caf::actor ownership) {
  auto& st = self->state;
  st.ctx = std::move(ctx);
  st.peer = std::move(peer);
  st.ownership = std::move(ownership);
  st.stats = st.ctx->stats->peer(st.peer.id);
  st.status.node_id = st.peer.id;
  st.status.state = "down";
  st.status.reason = not_connected_yet;
  st.status.since_ms = st.ctx->now_ms();
  // The probe blocks (poll with a time-out): it gets a thread of its own, and ends with us.
  // (CAF 0.17 spawns a function actor without arguments through a null pointer: give it one.)
  st.prober = self->spawn<caf::detached + caf::linked>(connect_probe, st.peer.id);
  self->set_down_handler([self](caf::down_msg& dm) {
    auto& st = self->state;
    if (!st.entry || dm.source != st.entry.address())
      return; // an older connection's entry
    // The connection is gone (or the peer stopped): every proxy of it is dead. Requests
    // for its partitions are answered unavailable from now on; nothing waits on a handle.
    st.entry = caf::actor{};
    self->send(st.ownership, member_down_atom::value, st.peer.id);
    ++st.stats->disconnects;
    auto why = self->system().render(dm.reason);
    set_state(self, "down", why);
    st.ctx->log->warn("cluster: {} is down ({}); its partitions answer 503 until it is back",
                      st.peer.id, why);
    retry(self, why);
  });
  self->send(self, tick_atom::value, st.attempt);
  return {
    [self](tick_atom, uint64_t gen) {
      if (gen == self->state.attempt && !self->state.entry)
        probe(self);
    },
    [self](get_atom, const std::string& order_id) -> caf::result<caf::message> {
      // A read of one of the peer's orders, by its entry actor (not its partition owner,
      // which must stay light): answered by the peer, or unavailable while it is down.
      auto& st = self->state;
      if (!st.entry)
        return node_unavailable(st.peer.id, "orders/" + std::to_string(directory::order_partition(
                                                          order_id, static_cast<size_t>(st.ctx->cfg.saga_partitions))));
      return self->delegate(st.entry, get_atom::value, order_id);
    },
    [self](peers_atom) { return self->state.status; },
    [self](hello_atom) {
      // The peer said hello to our entry: it is reachable now.
      auto& st = self->state;
      if (!st.entry) {
        st.backoff_ms = 0;
        ++st.attempt; // answers to an attempt under way are ignored from now on
        probe(self);
      }
    },
  };
}

} // namespace saga
