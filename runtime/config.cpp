#include "runtime/config.hpp"

#include <algorithm>
#include <fstream>
#include <functional>
#include <sstream>

namespace saga {

namespace {

enum class kind { integer, boolean, string, list };

struct key_spec {
  const char* key;
  kind type;
  const char* doc;
  std::function<void(node_config&, const std::string&, int64_t, bool)> set;
  int64_t min = 0;
  int64_t max = INT64_MAX;
  /// Optional check of a string or list value (an error message, empty when valid).
  std::function<std::string(const std::string&)> check = {};
};

/// "name=value, name=value" -> pairs, or an error naming the bad item.
std::pair<std::vector<std::pair<std::string, std::string>>, std::string>
parse_topic_configs(const std::string& s) {
  std::vector<std::pair<std::string, std::string>> out;
  std::stringstream in(s);
  std::string item;
  while (std::getline(in, item, ',')) {
    auto b = item.find_first_not_of(" \t");
    if (b == std::string::npos)
      continue;
    item = item.substr(b, item.find_last_not_of(" \t") - b + 1);
    auto eq = item.find('=');
    auto name = eq == std::string::npos ? std::string() : item.substr(0, eq);
    auto value = eq == std::string::npos ? std::string() : item.substr(eq + 1);
    bool ok = !name.empty() && !value.empty()
              && name.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789.") == std::string::npos;
    if (!ok)
      return {{}, "expected name=value items (lower-case topic config names), got '" + item + "'"};
    out.emplace_back(name, value);
  }
  return {out, {}};
}

/// "a, b ,c" -> {"a", "b", "c"} (blank items dropped).
std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  std::string item;
  while (std::getline(in, item, ','))
    if (auto b = item.find_first_not_of(" \t"); b != std::string::npos)
      out.push_back(item.substr(b, item.find_last_not_of(" \t") - b + 1));
  return out;
}

#define INT_KEY(name, member, lo, hi, doc)                                                   \
  key_spec{name, kind::integer, doc,                                                        \
           [](node_config& c, const std::string&, int64_t i, bool) { c.member = i; }, lo, hi}
#define BOOL_KEY(name, member, doc)                                                          \
  key_spec{name, kind::boolean, doc,                                                        \
           [](node_config& c, const std::string&, int64_t, bool b) { c.member = b; }}
#define STR_KEY(name, member, doc)                                                           \
  key_spec{name, kind::string, doc,                                                         \
           [](node_config& c, const std::string& s, int64_t, bool) { c.member = s; }}

const std::vector<key_spec>& specs() {
  static const std::vector<key_spec> xs = {
    key_spec{"cluster.nodes", kind::list,
             "comma-separated nodes of the cluster: id, or id@host:caf_port:http_port",
             [](node_config& c, const std::string& s, int64_t, bool) {
               c.cluster_nodes.clear();
               c.cluster_members.clear();
               for (auto& item : split_list(s)) {
                 cluster_member m;
                 (void) parse_cluster_member(item, m); // checked below
                 c.cluster_nodes.push_back(m.id);
                 c.cluster_members.push_back(std::move(m));
               }
             },
             0, INT64_MAX,
             [](const std::string& s) -> std::string {
               auto items = split_list(s);
               if (items.empty())
                 return "lists no node";
               std::vector<std::string> ids;
               size_t with_address = 0;
               for (auto& item : items) {
                 cluster_member m;
                 if (auto e = parse_cluster_member(item, m); !e.empty())
                   return e;
                 if (std::find(ids.begin(), ids.end(), m.id) != ids.end())
                   return "node '" + m.id + "' is listed twice";
                 ids.push_back(m.id);
                 with_address += m.host.empty() ? 0 : 1;
               }
               if (items.size() > 1 && with_address != items.size())
                 return "with several nodes every one needs its address: "
                        "id@host:caf_port:http_port";
               return {};
             }},
    INT_KEY("cluster.heartbeat_ms", cluster_heartbeat_ms, 0, 3600000,
            "CAF heartbeat interval between nodes (0 = off: a frozen peer is never noticed)"),
    INT_KEY("cluster.connection_timeout_ms", cluster_connection_timeout_ms, 0, 3600000,
            "a peer silent this long is cut and marked down (0 = never)"),
    INT_KEY("cluster.failover_after_ms", cluster_failover_after_ms, 0, 3600000,
            "replication = kafka: a partition no live node holds this long is taken over by "
            "a node of the majority (0 = never: it waits for its node)"),
    INT_KEY("cluster.failover_start_grace_ms", cluster_failover_start_grace_ms, 0, 3600000,
            "a partition of a node not seen since this node started is taken over no earlier "
            "than this after the start (a cluster that starts is not a cluster that failed)"),
    INT_KEY("cluster.take_back_after_ms", cluster_take_back_after_ms, 0, 3600000,
            "replication = kafka with failover: an own partition another node opened while "
            "this node was cut off is released (not a stop) and taken back this long after, "
            "once this node sees a majority (0 = never: it stays where it is)"),
    INT_KEY("cluster.standby_replicas", cluster_standby_replicas, 0, 16,
            "replication = kafka: other nodes that apply each partition's changelog as it is "
            "written, so a takeover applies only their lag (0 = none: a takeover applies the "
            "changelog from where this node last held the partition)"),
    INT_KEY("cluster.standby_poll_ms", cluster_standby_poll_ms, 1, 60000,
            "an idle standby replica reads the changelog again after this long"),
    INT_KEY("cluster.reconnect_backoff_ms", cluster_reconnect_backoff_ms, 1, 3600000,
            "first pause before connecting to a down peer again"),
    INT_KEY("cluster.reconnect_backoff_max_ms", cluster_reconnect_backoff_max_ms, 1, 3600000,
            "longest pause between connection attempts (doubling up to it)"),
    INT_KEY("cluster.connect_timeout_ms", cluster_connect_timeout_ms, 1, 3600000,
            "one connection attempt with its handshake"),
    STR_KEY("cluster.replication", cluster_replication,
            "none (the data directory is the only copy) or kafka (every write is committed "
            "to a changelog topic in one transaction with its events first)"),
    STR_KEY("cluster.name", cluster_name,
            "the cluster's name in every partition's transactional.id (<name>-p<N>)"),
    INT_KEY("cluster.transaction_timeout_ms", cluster_transaction_timeout_ms, 1000, 900000,
            "Kafka transaction.timeout.ms: a dead owner's open transaction is aborted then"),
    INT_KEY("cluster.commit_retries", cluster_commit_retries, 0, 1000,
            "times a failed transaction is aborted and produced again before the node stops"),
    INT_KEY("cluster.commit_interval_ms", cluster_commit_interval_ms, 0, 1000,
            "an idle partition's first step waits this long before its transaction starts, "
            "so that more steps share it (0: at once; steps that queue meanwhile share it anyway)"),
    INT_KEY("cluster.max_transaction_bytes", cluster_max_transaction_bytes, 65536, 1 << 30,
            "changelog records and events of one partition's transaction at most; the rest "
            "go in the next"),
    STR_KEY("http.address", http_address, "address the gateway binds to"),
    INT_KEY("http.port", http_port, 0, 65535, "gateway port (0 = pick a free one)"),
    INT_KEY("http.max_body_bytes", http_max_body_bytes, 1, 64 << 20, "larger bodies get 413"),
    INT_KEY("http.io_threads", http_io_threads, 1, 64, "gateway io threads"),
    INT_KEY("http.read_timeout_ms", http_read_timeout_ms, 1, 3600000,
            "a request must arrive within this time (slowloris guard)"),
    INT_KEY("http.max_inflight", http_max_inflight, 1, 10000000,
            "requests in flight before the gateway answers 429"),
    INT_KEY("http.idempotency_retention_ms", http_idempotency_retention_ms, 1, INT64_MAX / 4,
            "an Idempotency-Key is bound to its order for this long, then free again"),
    STR_KEY("storage.dir", storage_dir, "RocksDB parent directory; the node uses <dir>/<node>"),
    BOOL_KEY("storage.sync", storage_sync, "fsync every commit (durability)"),
    BOOL_KEY("storage.group_commit", storage_group_commit,
             "commit many saga steps in one synced write"),
    INT_KEY("storage.write_buffer_mb", storage_write_buffer_mb, 1, 4096,
            "RocksDB memtable size per column family (at most two each)"),
    INT_KEY("storage.block_cache_mb", storage_block_cache_mb, 1, 65536,
            "RocksDB block cache (data, index and filter blocks), shared by every family"),
    INT_KEY("storage.max_wal_mb", storage_max_wal_mb, 1, 65536,
            "write-ahead log kept before the families behind its oldest file are flushed "
            "(what a start after a crash replays at most)"),
    BOOL_KEY("storage.quarantine_corrupt", storage_quarantine_corrupt,
             "a record that does not decode at start is moved aside (meta quarantine/...) and "
             "counted, instead of stopping the start"),
    INT_KEY("payment.timeout_ms", payment_timeout_ms, 1, INT64_MAX / 4,
            "payment intent expires when not verified in this time"),
    STR_KEY("payment.provider_secret", payment_provider_secret,
            "HMAC-SHA256 key of payment verifications"),
    INT_KEY("payment.workers", payment_workers, 1, 1024, "payment pool size"),
    INT_KEY("inventory.reservation_ttl_ms", inventory_reservation_ttl_ms, 1, INT64_MAX / 4,
            "reservation lifetime; committing after it fails"),
    INT_KEY("inventory.workers", inventory_workers, 1, 1024, "inventory pool size"),
    STR_KEY("security.admin_token", security_admin_token, "bearer token of admin endpoints"),
    INT_KEY("saga.partitions", saga_partitions, 1, 4096,
            "order partitions, each with its own owner; fixed when the data directory is "
            "created"),
    INT_KEY("saga.max_restarts", saga_max_restarts, 0, 1000,
            "restarts of a crashing order actor within the window before it is parked"),
    INT_KEY("saga.restart_window_ms", saga_restart_window_ms, 1, INT64_MAX / 4,
            "window of saga.max_restarts"),
    INT_KEY("saga.request_timeout_ms", saga_request_timeout_ms, 1, INT64_MAX / 4,
            "time-out of every request between actors"),
    INT_KEY("saga.retry_backoff_ms", saga_retry_backoff_ms, 0, INT64_MAX / 4,
            "first pause before re-sending a failed command (doubles per retry, with jitter)"),
    INT_KEY("saga.retry_backoff_max_ms", saga_retry_backoff_max_ms, 0, INT64_MAX / 4,
            "cap of the exponential retry pause"),
    INT_KEY("saga.max_retries", saga_max_retries, 0, 1000,
            "re-sends of one command before the order actor gives up (and is restarted)"),
    INT_KEY("saga.auto_complete_ms", saga_auto_complete_ms, 1, INT64_MAX / 4,
            "a paid order nobody completes is completed by the saga after this time"),
    INT_KEY("saga.max_live_orders", saga_max_live_orders, 1, INT64_MAX / 4,
            "active order actors before POST /orders answers 429 (passive orders not counted)"),
    INT_KEY("saga.passivate_after_ms", saga_passivate_after_ms, 0, INT64_MAX / 4,
            "an order idle this long while it waits for its payment or its completion "
            "leaves memory as an actor (passive); the next message for it activates it"),
    INT_KEY("saga.recovery_batch", saga_recovery_batch, 1, 1000000,
            "at start, orders that were mid-step are re-activated at most this many in "
            "flight at once (a window refilled as each settles)"),
    BOOL_KEY("kafka.enabled", kafka_enabled, "publish the outbox to Kafka"),
    STR_KEY("kafka.brokers", kafka_brokers,
            "bootstrap servers; empty starts an embedded (mock) cluster for development"),
    STR_KEY("kafka.topic_prefix", kafka_topic_prefix, "prefix of every topic name"),
    STR_KEY("kafka.debug", kafka_debug, "librdkafka debug contexts (e.g. eos,msg); empty = off"),
    INT_KEY("kafka.max_inflight", kafka_max_inflight, 1, 1000000,
            "outbox entries handed to the producer and not yet acknowledged"),
    INT_KEY("kafka.poll_interval_ms", kafka_poll_interval_ms, 1, 10000,
            "how often the relay reads the outbox and serves delivery reports"),
    INT_KEY("kafka.linger_ms", kafka_linger_ms, 0, 10000, "producer linger.ms"),
    INT_KEY("kafka.outbox_max_entries", kafka_outbox_max_entries, 1, INT64_MAX / 4,
            "outbox backlog past which POST /orders answers 503 and /readyz fails"),
    INT_KEY("kafka.max_message_bytes", kafka_max_message_bytes, 1000, 1000000000,
            "larger events are refused by the producer and go to <prefix>saga_dead_letter"),
    INT_KEY("kafka.max_delivery_attempts", kafka_max_delivery_attempts, 1, 1000,
            "permanent delivery failures of one entry before it is dead-lettered"),
    BOOL_KEY("kafka.provision_topics", kafka_provision_topics,
             "create missing topics at start (Admin API); nothing is published before"),
    INT_KEY("kafka.topic_partitions", kafka_topic_partitions, -1, 100000,
            "partitions of a created topic (-1 = the broker's num.partitions)"),
    INT_KEY("kafka.topic_replication_factor", kafka_topic_replication_factor, -1, 1000,
            "replication factor of a created topic (-1 = the broker's default)"),
    key_spec{"kafka.topic_config", kind::list,
             "configs of a created topic: \"name=value, ...\" (e.g. min.insync.replicas=2)",
             [](node_config& c, const std::string& s, int64_t, bool) {
               c.kafka_topic_configs = parse_topic_configs(s).first;
             },
             0, INT64_MAX,
             [](const std::string& s) { return parse_topic_configs(s).second; }},
    INT_KEY("kafka.provision_timeout_ms", kafka_provision_timeout_ms, 100, 3600000,
            "time-out of one CreateTopics request; a failed one is retried with backoff"),
    INT_KEY("kafka.produce_retries", kafka_produce_retries, 1, 2147483647,
            "producer retries of a retriable broker error before the relay sees it "
            "(counted by code, then re-produced after a pause; never dead-lettered)"),
    INT_KEY("kafka.retry_backoff_max_ms", kafka_retry_backoff_max_ms, 1, 3600000,
            "longest pause of the relay after a failed delivery or provisioning (doubles "
            "from 100 ms)"),
    INT_KEY("kafka.error_log_interval_ms", kafka_error_log_interval_ms, 0, 3600000,
            "at most one log line per Kafka error code in this interval (the rest counted)"),
    BOOL_KEY("inspect.enabled", inspect_enabled,
             "actor introspection for /inspect, the console and sagactl (off: counters only)"),
    BOOL_KEY("inspect.open_on_loopback", inspect_open_on_loopback,
             "serve /inspect and /console without the admin token when bound to loopback"),
    INT_KEY("inspect.tick_ms", inspect_tick_ms, 10, 3600000,
            "period of the stuck-saga check and of the summary on /inspect/stream"),
    INT_KEY("inspect.budget_ms.reserving_inventory", inspect_budget_ms[0], 0, INT64_MAX / 4,
            "time budget of the step before the order counts as stuck (0 = 5000)"),
    INT_KEY("inspect.budget_ms.initiating_payment", inspect_budget_ms[1], 0, INT64_MAX / 4,
            "time budget of the step (0 = 5000)"),
    INT_KEY("inspect.budget_ms.awaiting_payment", inspect_budget_ms[2], 0, INT64_MAX / 4,
            "time budget of the step (0 = payment.timeout_ms + 5000)"),
    INT_KEY("inspect.budget_ms.awaiting_completion", inspect_budget_ms[3], 0, INT64_MAX / 4,
            "time budget of the step (0 = saga.auto_complete_ms + 5000)"),
    INT_KEY("inspect.budget_ms.committing_inventory", inspect_budget_ms[4], 0, INT64_MAX / 4,
            "time budget of the step (0 = 5000)"),
    INT_KEY("inspect.budget_ms.releasing_inventory", inspect_budget_ms[5], 0, INT64_MAX / 4,
            "time budget of the step (0 = 5000)"),
    INT_KEY("inspect.budget_ms.refunding_payment", inspect_budget_ms[6], 0, INT64_MAX / 4,
            "time budget of the step (0 = 5000)"),
    INT_KEY("inspect.stream_max_events_per_s", inspect_stream_max_events_per_s, 1, 1000000,
            "saga events per second one /inspect/stream client gets (the rest are counted)"),
    INT_KEY("inspect.max_stream_clients", inspect_max_stream_clients, 0, 100000,
            "open /inspect/stream connections past which new ones get 429"),
    INT_KEY("supervision.max_restarts", supervision_max_restarts, 0, 1000,
            "restarts of one inventory/payment partition or the Kafka relay within the window "
            "before it counts as failed (/readyz 503, new orders 503)"),
    INT_KEY("supervision.restart_window_ms", supervision_restart_window_ms, 1, INT64_MAX / 4,
            "window of supervision.max_restarts"),
    INT_KEY("scheduler.threads", scheduler_threads, 1, 256, "CAF scheduler threads"),
    STR_KEY("scheduler.policy", scheduler_policy,
            "stealing (CAF's work-stealing workers) or sharing (one shared queue)"),
    INT_KEY("scheduler.max_throughput", scheduler_max_throughput, 0, 1000000,
            "messages an actor handles before it yields its worker; 0 = unbounded (CAF's default)"),
    INT_KEY("scheduler.poll_attempts", scheduler_poll_attempts, 1, 1000000,
            "work stealing: an idle worker's busy polls before it polls less often and sleeps"),
    STR_KEY("log.level", log_level, "trace, debug, info, warn, error"),
  };
  return xs;
}

std::string trim(const std::string& s) {
  auto b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos)
    return {};
  return s.substr(b, s.find_last_not_of(" \t\r") - b + 1);
}

/// Strips a trailing comment that is not inside quotes.
std::string strip_comment(const std::string& s) {
  bool quoted = false;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '"')
      quoted = !quoted;
    else if (!quoted && (s[i] == ';' || s[i] == '#'))
      return s.substr(0, i);
  }
  return s;
}

std::string set_value(const std::string& key, const std::string& raw, node_config& cfg) {
  const key_spec* spec = nullptr;
  for (auto& s : specs())
    if (key == s.key)
      spec = &s;
  if (spec == nullptr) {
    if (key == "cluster.epoch") // checked nothing: every node compared its own value
      return "key 'cluster.epoch' was removed: a stale partition owner is fenced by Kafka "
             "transactions now (cluster.replication = kafka); delete the line";
    return "unknown key '" + key + "'";
  }
  auto v = trim(raw);
  bool quoted = v.size() >= 2 && v.front() == '"' && v.back() == '"';
  switch (spec->type) {
    case kind::string:
    case kind::list:
      if (!quoted)
        return "key '" + key + "' expects a quoted string, got " + (v.empty() ? "nothing" : v);
      if (spec->check)
        if (auto err = spec->check(v.substr(1, v.size() - 2)); !err.empty())
          return "key '" + key + "': " + err;
      spec->set(cfg, v.substr(1, v.size() - 2), 0, false);
      return {};
    case kind::boolean:
      if (v != "true" && v != "false")
        return "key '" + key + "' expects true or false, got " + (v.empty() ? "nothing" : v);
      spec->set(cfg, {}, 0, v == "true");
      return {};
    case kind::integer: {
      size_t used = 0;
      long long i = 0;
      try {
        i = std::stoll(v, &used);
      } catch (const std::exception&) {
        used = 0;
      }
      if (used == 0 || used != v.size())
        return "key '" + key + "' expects an integer, got " + (v.empty() ? "nothing" : v);
      if (i < spec->min || i > spec->max)
        return "key '" + key + "' must be between " + std::to_string(spec->min) + " and "
               + std::to_string(spec->max) + ", got " + v;
      spec->set(cfg, {}, i, false);
      return {};
    }
  }
  return "unhandled type";
}

} // namespace

std::string parse_config_text(const std::string& text, const std::string& source,
                              node_config& cfg) {
  std::istringstream in(text);
  std::string line;
  std::string section;
  int lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    auto where = source + ":" + std::to_string(lineno) + ": ";
    auto l = trim(strip_comment(line));
    if (l.empty())
      continue;
    if (l.front() == '[') {
      if (l.back() != ']' || l.size() < 3)
        return where + "malformed section header " + l;
      section = trim(l.substr(1, l.size() - 2));
      continue;
    }
    auto eq = l.find('=');
    if (eq == std::string::npos)
      return where + "expected key = value, got " + l;
    if (section.empty())
      return where + "key outside of a [section]";
    auto key = section + "." + trim(l.substr(0, eq));
    if (auto err = set_value(key, l.substr(eq + 1), cfg); !err.empty())
      return where + err;
  }
  return {};
}

std::string apply_override(const std::string& assignment, node_config& cfg) {
  auto eq = assignment.find('=');
  if (eq == std::string::npos)
    return "--set " + assignment + ": expected section.key=value";
  auto key = trim(assignment.substr(0, eq));
  auto value = trim(assignment.substr(eq + 1));
  // On the command line quotes are optional for strings.
  for (auto& s : specs())
    if (key == s.key && (s.type == kind::string || s.type == kind::list)
        && (value.size() < 2 || value.front() != '"'))
      value = "\"" + value + "\"";
  if (auto err = set_value(key, value, cfg); !err.empty())
    return "--set " + assignment + ": " + err;
  return {};
}

size_t payment_partitions(const node_config& cfg) {
  return static_cast<size_t>(cfg.cluster_members.size() > 1 ? cfg.saga_partitions
                                                          : cfg.payment_workers);
}

int64_t retry_delay_ms(const node_config& cfg, int64_t attempt, uint64_t salt) {
  int64_t d = cfg.saga_retry_backoff_ms;
  for (int64_t i = 0; i < attempt && d < cfg.saga_retry_backoff_max_ms; ++i)
    d *= 2;
  d = std::min(d, cfg.saga_retry_backoff_max_ms);
  if (d <= 1)
    return d;
  // jitter: [d/2, d], from a mix of salt and attempt (splitmix64 finaliser)
  uint64_t x = salt + 0x9e3779b97f4a7c15ULL * static_cast<uint64_t>(attempt + 1);
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return d / 2 + static_cast<int64_t>(x % static_cast<uint64_t>(d - d / 2 + 1));
}

int64_t worst_retry_budget_ms(const node_config& cfg) {
  int64_t total = (cfg.saga_max_retries + 1) * cfg.saga_request_timeout_ms;
  int64_t d = cfg.saga_retry_backoff_ms;
  for (int64_t i = 0; i < cfg.saga_max_retries; ++i) {
    total += std::min(d, cfg.saga_retry_backoff_max_ms);
    d = std::min(d * 2, cfg.saga_retry_backoff_max_ms);
  }
  return total;
}

std::string parse_cluster_member(const std::string& item, cluster_member& out) {
  auto valid_id = [](const std::string& id) {
    return !id.empty() && id.size() <= 64
           && id.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                   "0123456789-_.")
                == std::string::npos;
  };
  auto port = [](const std::string& s, int64_t& v) {
    if (s.empty() || s.size() > 5 || s.find_first_not_of("0123456789") != std::string::npos)
      return false;
    v = std::stoll(s);
    return v >= 1 && v <= 65535;
  };
  out = {};
  auto at = item.find('@');
  out.id = item.substr(0, at);
  if (!valid_id(out.id))
    return "node id '" + out.id + "' must be 1 to 64 letters, digits, '-', '_' or '.'";
  if (at == std::string::npos)
    return {};
  auto rest = item.substr(at + 1);
  auto c2 = rest.rfind(':');
  auto c1 = c2 == std::string::npos || c2 == 0 ? std::string::npos : rest.rfind(':', c2 - 1);
  if (c1 == std::string::npos || c1 == 0)
    return "node '" + out.id + "': expected id@host:caf_port:http_port, got '" + item + "'";
  out.host = rest.substr(0, c1);
  if (out.host.front() == '[' && out.host.back() == ']' && out.host.size() > 2)
    out.host = out.host.substr(1, out.host.size() - 2); // [::1] as in a URL
  if (out.host.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                 "0123456789.-:")
      != std::string::npos)
    return "node '" + out.id + "': host '" + out.host
           + "' must be a host name or an IP address, got '" + item + "'";
  if (!port(rest.substr(c1 + 1, c2 - c1 - 1), out.caf_port)
      || !port(rest.substr(c2 + 1), out.http_port))
    return "node '" + out.id + "': ports must be integers from 1 to 65535, got '" + item + "'";
  if (out.caf_port == out.http_port)
    return "node '" + out.id + "': the CAF port and the HTTP port must differ";
  return {};
}

bool is_loopback_address(const std::string& address) {
  return address == "::1" || address == "localhost" || address.rfind("127.", 0) == 0;
}

std::string validate(const node_config& cfg) {
  if (cfg.saga_partitions % cfg.payment_workers != 0)
    return "payment.workers (" + std::to_string(cfg.payment_workers)
           + ") must divide saga.partitions (" + std::to_string(cfg.saga_partitions)
           + "): each payment worker serves whole order partitions, evenly";
  bool listed = false;
  for (auto& n : cfg.cluster_nodes)
    listed = listed || n == cfg.node_id;
  if (!listed)
    return "node '" + cfg.node_id + "' is not listed in cluster.nodes";
  if (cfg.cluster_members.size() > 1) {
    // Several nodes: failure detection must be on, or a frozen peer is never noticed.
    if (cfg.cluster_heartbeat_ms == 0 || cfg.cluster_connection_timeout_ms == 0)
      return "cluster.heartbeat_ms and cluster.connection_timeout_ms must be above 0 when "
             "cluster.nodes lists several nodes: with either off a frozen peer is never "
             "marked down";
    if (cfg.cluster_connection_timeout_ms < 2 * cfg.cluster_heartbeat_ms)
      return "cluster.connection_timeout_ms (" + std::to_string(cfg.cluster_connection_timeout_ms)
             + ") must be at least twice cluster.heartbeat_ms ("
             + std::to_string(cfg.cluster_heartbeat_ms)
             + "): one late heartbeat would cut a live peer";
    if (cfg.cluster_reconnect_backoff_max_ms < cfg.cluster_reconnect_backoff_ms)
      return "cluster.reconnect_backoff_max_ms must not be below cluster.reconnect_backoff_ms";
    for (auto& m : cfg.cluster_members)
      if (m.id == cfg.node_id && m.http_port != cfg.http_port && cfg.http_port != 0)
        return "http.port (" + std::to_string(cfg.http_port) + ") differs from this node's "
               "entry in cluster.nodes (" + m.id + "@..." + std::to_string(m.http_port)
               + "): other nodes and clients use the listed one";
  }
  if (cfg.payment_provider_secret.empty())
    return "payment.provider_secret must not be empty";
  if (cfg.security_admin_token.empty())
    return "security.admin_token must not be empty";
  // The development secrets are in this repository for anyone to read: a node reachable
  // from other hosts must not accept them.
  if (!is_loopback_address(cfg.http_address)) {
    std::string weak;
    if (cfg.security_admin_token == dev_admin_token)
      weak = "security.admin_token";
    if (cfg.payment_provider_secret == dev_provider_secret)
      weak += std::string(weak.empty() ? "" : " and ") + "payment.provider_secret";
    if (!weak.empty())
      return "http.address " + cfg.http_address + " is not a loopback address, but " + weak
             + " still hold the built-in development value: set your own secret (in the "
               "config file, or --set " + weak.substr(0, weak.find(' ')) + "=...)";
  }
  if (cfg.saga_retry_backoff_max_ms < cfg.saga_retry_backoff_ms)
    return "saga.retry_backoff_max_ms (" + std::to_string(cfg.saga_retry_backoff_max_ms)
           + ") must not be below saga.retry_backoff_ms ("
           + std::to_string(cfg.saga_retry_backoff_ms) + ")";
  // Retry budget and restart window go together: an order actor that gives up on a dead
  // dependency is restarted; only if saga.max_restarts + 1 give-ups fit in the window is
  // the order parked (with the reason) instead of being restarted forever.
  if (auto need = (cfg.saga_max_restarts + 1) * worst_retry_budget_ms(cfg);
      cfg.saga_restart_window_ms < need)
    return "saga.restart_window_ms (" + std::to_string(cfg.saga_restart_window_ms)
           + ") is shorter than saga.max_restarts + 1 = "
           + std::to_string(cfg.saga_max_restarts + 1) + " times the longest retry run ("
           + std::to_string(worst_retry_budget_ms(cfg))
           + " ms: saga.max_retries, saga.retry_backoff_ms, saga.retry_backoff_max_ms, "
             "saga.request_timeout_ms): a dead dependency would restart orders forever "
             "instead of parking them. Set saga.restart_window_ms to at least "
           + std::to_string(need) + ", or retry less";
  static const char* levels[] = {"trace", "debug", "info", "warn", "error"};
  bool ok = false;
  for (auto l : levels)
    ok = ok || cfg.log_level == l;
  if (!ok)
    return "log.level must be one of trace, debug, info, warn, error";
  if (cfg.scheduler_policy != "stealing" && cfg.scheduler_policy != "sharing")
    return "scheduler.policy must be stealing or sharing";
  if (cfg.cluster_replication != "none" && cfg.cluster_replication != "kafka")
    return "cluster.replication must be none or kafka";
  if (cfg.cluster_replication == "kafka" && (!cfg.kafka_enabled || cfg.kafka_brokers.empty()))
    return "cluster.replication = kafka needs kafka.enabled = true and a real Kafka cluster in "
           "kafka.brokers: the embedded mock cluster neither fences an older producer nor "
           "hides aborted transactions from read_committed readers";
  if (cfg.cluster_name.empty()
      || cfg.cluster_name.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                            "0123456789._-") != std::string::npos)
    return "cluster.name must be non-empty letters, digits, '.', '_' or '-'";
  return {};
}

std::string load_config(const std::string& file, const std::string& node_id,
                        const std::vector<std::string>& overrides, node_config& cfg) {
  if (!node_id.empty()) // else the default node id
    cfg.node_id = node_id;
  if (!file.empty()) {
    std::ifstream in(file);
    if (!in)
      return "cannot read config file " + file;
    std::stringstream buf;
    buf << in.rdbuf();
    auto node = cfg.node_id;
    if (auto err = parse_config_text(buf.str(), file, cfg); !err.empty())
      return err;
    cfg.node_id = node;
  }
  for (auto& o : overrides)
    if (auto err = apply_override(o, cfg); !err.empty())
      return err;
  return validate(cfg);
}

std::string describe_keys() {
  std::string out;
  for (auto& s : specs())
    out += std::string("  ") + s.key + "  " + s.doc + "\n";
  return out;
}

} // namespace saga
