#include "actors/replication/standby.hpp"

#include <map>
#include <memory>
#include <set>

#include <librdkafka/rdkafka.h>

#include "actors/cluster/cluster_layout.hpp"
#include "actors/replication/changelog_reader.hpp"
#include "actors/replication/replication.hpp"

// The applier reads with a consumer of its own and writes through the writer (the one
// writer of the store: the status counters a record moves are summed there), a record and
// its offset mark in one write. It keeps at most max_in_flight records sent and not yet
// written, so a standby far behind cannot flood the writer's mailbox.

namespace saga {

namespace {

constexpr size_t max_in_flight = 1024; // records sent to the writer, not yet written
constexpr int max_per_round = 256;     // records taken from the consumer per turn
constexpr int64_t min_assign_gap_ms = 50; // between two assignments of the consumer (reassign)

using reassign_atom = caf::atom_constant<caf::atom("reassign")>;

struct consumer_closer {
  void operator()(rd_kafka_t* rk) const {
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
  }
};

struct catch_up {
  caf::response_promise rp;
  int64_t end = 0; // the partition's end after the takeover fenced its old owner
  uint64_t applied = 0;
  int64_t since_ms = 0;
};

struct standby_state {
  static inline const char* name = "standby";
  context_ptr ctx;
  caf::actor writer;
  std::string topic;
  std::shared_ptr<rd_kafka_t> rk; // closed and destroyed with the actor's state
  std::set<int32_t> wanted;          // kept as standby (the layout's choice)
  std::set<int32_t> paused;          // not applied here now (a takeover is under way, or held)
  std::set<int32_t> held;            // the writer's since their catch-up: `next` is stale
  std::map<int32_t, catch_up> catching; // takeovers here: read to the end, then answer
  std::map<int32_t, int64_t> next;   // the next offset to apply, by partition
  size_t in_flight = 0;
  bool tick_scheduled = false;
  bool failed = false; // a write failed: the node stops (the writer halted it)
  int64_t lag_published_ms = 0; // saga_standby_lag_max, refreshed once a second
  int64_t last_assign_mono = 0;  // the clock's mono_ms at the last rd_kafka_assign (0: none)
  bool assign_scheduled = false; // a reassign waits for min_assign_gap_ms
};

using standby_ptr = caf::stateful_actor<standby_state>*;

bool active(const standby_state& st, int32_t p) {
  return st.catching.count(p) != 0 || (st.wanted.count(p) != 0 && st.paused.count(p) == 0);
}

/// The next offset of `p` to apply: one past what the store holds for it.
int64_t next_of(standby_ptr self, int32_t p) {
  auto& st = self->state;
  if (auto i = st.next.find(p); i != st.next.end())
    return i->second;
  std::string error;
  auto at = applied_changelog_offset(*st.ctx->db, p, error);
  if (!error.empty())
    st.ctx->log->error("standby: {}", error);
  return st.next[p] = at + 1;
}

/// Assigns every active partition from its next offset (a fresh fetch of each: a partition
/// caught up reports its end again, which a catch-up waits for).
void assign_now(standby_ptr self) {
  auto& st = self->state;
  std::set<int32_t> parts;
  for (auto p : st.wanted)
    if (active(st, p))
      parts.insert(p);
  for (auto& [p, c] : st.catching)
    parts.insert(p);
  auto* list = rd_kafka_topic_partition_list_new(static_cast<int>(parts.size()));
  for (auto p : parts) {
    auto at = next_of(self, p);
    rd_kafka_topic_partition_list_add(list, st.topic.c_str(), p)->offset =
      at <= 0 ? RD_KAFKA_OFFSET_BEGINNING : at;
  }
  st.last_assign_mono = std::max<int64_t>(1, st.ctx->clock->mono_ms());
  if (auto e = rd_kafka_assign(st.rk.get(), list); e != RD_KAFKA_RESP_ERR_NO_ERROR)
    st.ctx->log->error("standby: cannot assign the changelog partitions: {}",
                       rd_kafka_err2str(e));
  rd_kafka_topic_partition_list_destroy(list);
}

/// Asks for assign_now: at once when the last assignment is at least min_assign_gap_ms old,
/// else once, that long after it (the changes meanwhile coalesce: one re-fetch of every
/// partition instead of several). Unpatched librdkafka 2.8.0 aborted the process when an
/// assignment removed a partition whose stop from the assignment before was still
/// unanswered (#5573): three assignments in a row did it here, when three partitions taken
/// over were released within 0.1 s of each other. The project's build patches that
/// (scripts/librdkafka-patches/, actors/replication/assign_churn.test.cpp); the gap stays.
void reassign(standby_ptr self) {
  auto& st = self->state;
  if (st.assign_scheduled)
    return;
  auto wait = st.last_assign_mono + min_assign_gap_ms - st.ctx->clock->mono_ms();
  if (st.last_assign_mono == 0 || wait <= 0) {
    assign_now(self);
    return;
  }
  st.assign_scheduled = true;
  self->delayed_send(self, std::chrono::milliseconds(wait), reassign_atom::value);
}

/// A takeover's catch-up reached the end of its partition: once everything sent is written,
/// it is answered with the number of records applied; the partition is the writer's now.
void finish_catch_up(standby_ptr self, int32_t p) {
  auto& st = self->state;
  auto i = st.catching.find(p);
  if (i == st.catching.end())
    return;
  auto c = std::move(i->second);
  st.catching.erase(i);
  st.paused.insert(p); // (a resume during the catch-up was ignored)
  st.held.insert(p);   // the writer applies it now: read the store again if it comes back
  st.next.erase(p);
  reassign(self);
  // An empty write is answered after every write sent before it.
  self->request(st.writer, caf::infinite, write_atom::value, std::vector<storage::batch>{})
    .then([c](bool) mutable { c.rp.deliver(c.applied); },
          [c](caf::error& e) mutable { c.rp.deliver(std::move(e)); });
}

void schedule(standby_ptr self, bool now) {
  auto& st = self->state;
  if (st.tick_scheduled)
    return;
  st.tick_scheduled = true;
  if (now)
    self->send(self, tick_atom::value);
  else
    self->delayed_send(self, std::chrono::milliseconds(st.ctx->cfg.cluster_standby_poll_ms),
                       tick_atom::value);
}

void apply(standby_ptr self, rd_kafka_message_t* m) {
  auto& st = self->state;
  auto p = m->partition;
  if (!active(st, p) || m->offset < next_of(self, p))
    return; // not ours now, or already applied (by the writer, or before a reassign)
  std::vector<storage::batch> batches;
  if (!changelog_record_batches(std::string_view(static_cast<const char*>(m->payload), m->len),
                                p, m->offset, batches)) {
    auto why = "changelog record at partition " + std::to_string(p) + " offset "
               + std::to_string(m->offset) + " does not decode (" + std::to_string(m->len)
               + " bytes)";
    st.ctx->log->error("standby: {}; partition {} is not applied further here", why, p);
    st.wanted.erase(p);
    if (auto i = st.catching.find(p); i != st.catching.end()) {
      i->second.rp.deliver(caf::make_error(caf::sec::runtime_error, why));
      st.catching.erase(i);
    }
    reassign(self);
    return;
  }
  for (auto& b : batches)
    b.sync = false; // the changelog is the durable copy; the mark is in the same write
  st.next[p] = m->offset + 1;
  st.ctx->stats->standby_applied += 1;
  if (auto i = st.catching.find(p); i != st.catching.end()) {
    ++i->second.applied;
    i->second.since_ms = st.ctx->now_ms(); // patience counts from the last record
  }
  ++st.in_flight;
  self->request(st.writer, caf::infinite, write_atom::value, std::move(batches))
    .then(
      [self](bool) {
        --self->state.in_flight;
        schedule(self, true);
      },
      [self](caf::error& e) {
        auto& st = self->state;
        --st.in_flight;
        if (!st.failed)
          st.ctx->log->error("standby: writing the changelog to the store failed: {}",
                             self->system().render(e));
        st.failed = true;
        for (auto& [p, c] : st.catching)
          c.rp.deliver(e);
        st.catching.clear();
      });
}

void publish_lag(standby_ptr self);

/// One turn: up to max_per_round records from the consumer, then the next turn at once
/// when there was something, after cluster.standby_poll_ms when not.
void poll_round(standby_ptr self) {
  auto& st = self->state;
  if (st.failed)
    return;
  int got = 0;
  // Nothing is read while an assignment change waits (reassign): a record fetched under the
  // old assignment of a partition paused and resumed meanwhile would be applied past the
  // ones dropped while it was paused. The change re-fetches every partition from `next`,
  // and its ends (which a catch-up waits for) are reported again.
  while (!st.assign_scheduled && got < max_per_round && st.in_flight < max_in_flight) {
    auto* m = rd_kafka_consumer_poll(st.rk.get(), 0);
    if (m == nullptr)
      break;
    ++got;
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      // (An end reported before the takeover fenced the old owner is short of `end`.)
      if (auto i = st.catching.find(m->partition);
          i != st.catching.end() && m->offset >= i->second.end)
        finish_catch_up(self, m->partition);
    } else if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      st.ctx->log->warn("standby: reading the changelog: {}", rd_kafka_message_errstr(m));
    } else {
      apply(self, m);
    }
    rd_kafka_message_destroy(m);
  }
  // A catch-up that got nothing of its partition for 3 x kafka.provision_timeout_ms fails
  // (the takeover is tried again later), as a start's restore does.
  auto now = st.ctx->now_ms();
  auto patience = st.ctx->cfg.kafka_provision_timeout_ms * 3;
  bool gave_up = false;
  for (auto i = st.catching.begin(); i != st.catching.end();) {
    if (now - i->second.since_ms > patience) {
      i->second.rp.deliver(caf::make_error(
        caf::sec::request_timeout, "the changelog of partition " + std::to_string(i->first)
                                     + " gave no end in " + std::to_string(patience) + " ms"));
      i = st.catching.erase(i);
      gave_up = true;
    } else {
      ++i;
    }
  }
  if (gave_up)
    reassign(self); // (paused until the ownership actor resumes it)
  if (st.in_flight < max_in_flight)
    schedule(self, got > 0);
  publish_lag(self);
}

std::vector<standby_status> status_of(standby_ptr self) {
  auto& st = self->state;
  std::vector<standby_status> out;
  for (auto p : st.wanted) {
    standby_status s;
    s.log_partition = p;
    s.paused = !active(st, p);
    if (auto i = st.next.find(p); i != st.next.end())
      s.applied = i->second - 1;
    else {
      std::string ignored;
      s.applied = applied_changelog_offset(*st.ctx->db, p, ignored);
    }
    int64_t lo = -1, hi = -1;
    if (rd_kafka_get_watermark_offsets(st.rk.get(), st.topic.c_str(), p, &lo, &hi)
          == RD_KAFKA_RESP_ERR_NO_ERROR
        && hi >= 0) {
      // Past the last record applied is its transaction's commit marker: one to skip.
      auto pos = s.applied + 1;
      s.lag = std::max<int64_t>(0, hi - pos - 1);
    }
    out.push_back(s);
  }
  return out;
}

/// saga_standby_lag_max: the largest lag of the standbys applied here (paused ones, held
/// here, are the writer's).
void publish_lag(standby_ptr self) {
  auto& st = self->state;
  auto now = st.ctx->now_ms();
  if (now - st.lag_published_ms < 1000 && st.lag_published_ms != 0)
    return; // once a second is enough for a gauge
  st.lag_published_ms = now;
  int64_t worst = -1;
  for (auto& s : status_of(self))
    if (!s.paused)
      worst = std::max(worst, s.lag);
  st.ctx->stats->standby_lag_max.store(worst, std::memory_order_relaxed);
}

caf::behavior standby(standby_ptr self, context_ptr ctx, caf::actor writer,
                      std::shared_ptr<rd_kafka_t> rk, std::vector<int32_t> parts) {
  auto& st = self->state;
  st.ctx = ctx;
  st.writer = std::move(writer);
  st.topic = txn_producer::changelog_topic(ctx->cfg);
  st.rk = std::move(rk);
  st.wanted.insert(parts.begin(), parts.end());
  reassign(self);
  schedule(self, true);
  // Stopping (the node's shutdown): a takeover waiting for its catch-up is told, so its
  // taker does not wait for its time-out and hold up the actor system's end.
  self->set_exit_handler([self](caf::exit_msg& m) {
    for (auto& [p, c] : self->state.catching)
      c.rp.deliver(caf::make_error(caf::sec::runtime_error, "the node is stopping"));
    self->state.catching.clear();
    self->quit(m.reason);
  });
  ctx->log->info("standby: applying the changelog of partitions [{}] as it is written "
                 "(cluster.standby_replicas = {})",
                 fmt::join(parts, ","), ctx->cfg.cluster_standby_replicas);
  return {
    [self](tick_atom) {
      self->state.tick_scheduled = false;
      poll_round(self);
    },
    [self](reassign_atom) {
      self->state.assign_scheduled = false;
      assign_now(self);
      schedule(self, true);
    },
    // A takeover here: read `p` up to `end` (its end once the old owner was fenced), answer
    // with the records applied once they are written; from then on the writer applies it.
    [self](catch_up_atom, int32_t p, int64_t end) -> caf::response_promise {
      auto& st = self->state;
      auto rp = self->make_response_promise();
      if (st.failed) {
        rp.deliver(caf::make_error(caf::sec::runtime_error, "the standby stopped after a failed write"));
        return rp;
      }
      if (auto i = st.catching.find(p); i != st.catching.end())
        i->second.rp.deliver(caf::make_error(caf::sec::runtime_error, "a newer catch-up"));
      // `next` stays: records of p sent to the writer and not written yet are ahead of the
      // store's mark (reading the mark now would apply them twice). It is absent only when
      // the writer applied p last (held), then the store's mark is right.
      st.paused.insert(p);
      st.catching[p] = catch_up{rp, end, 0, st.ctx->now_ms()};
      reassign(self);
      schedule(self, true);
      return rp;
    },
    // `p` is not held here any more (or its takeover failed): apply it again as a standby.
    [self](standby_atom, bool on, int32_t p) {
      auto& st = self->state;
      if (st.catching.count(p) != 0)
        return; // a takeover here is under way: the ownership actor resumes it after
      if (!on) {
        st.paused.insert(p);
      } else {
        st.paused.erase(p);
        // Held here until now: the writer applied it (and dropped its committer before this
        // came): from the store's mark. Never held (a takeover that failed before its
        // catch-up ended): `next` is still ahead of the store's mark for what is in flight.
        if (st.held.erase(p) != 0)
          st.next.erase(p);
      }
      if (st.wanted.count(p) != 0 && st.catching.count(p) == 0)
        reassign(self);
    },
    [self](get_atom, standby_atom) { return status_of(self); },
  };
}

} // namespace

std::vector<int32_t> standby_log_partitions(const node_config& cfg) {
  std::vector<int32_t> out;
  if (cfg.cluster_replication != "kafka" || cfg.cluster_standby_replicas <= 0)
    return out;
  auto layout = cluster_layout::from(cfg);
  auto self = layout.index_of(cfg.node_id);
  if (layout.nodes.size() < 2 || self == layout.nodes.size())
    return out;
  auto count = static_cast<size_t>(cfg.cluster_standby_replicas);
  for (auto k : {partition_kind::orders, partition_kind::inventory})
    for (size_t p = 0; p < layout.partitions(k); ++p)
      for (auto n : layout.standbys(k, p, count))
        if (n == self)
          out.push_back(static_cast<int32_t>(k == partition_kind::orders
                                               ? p
                                               : layout.order_partitions + p));
  return out;
}

caf::actor spawn_standby(caf::actor_system& sys, context_ptr ctx, caf::actor writer,
                         std::string brokers, std::vector<int32_t> parts, std::string& error) {
  // An idle standby's fetch waits at the broker for 50 ms (the restore's 10 ms would be 100
  // fetches a second per broker for ever); a takeover's catch-up pays it once at the end.
  auto* rk = open_changelog_reader(ctx->cfg, brokers, "standby", error, 50);
  if (rk == nullptr)
    return caf::actor{};
  return sys.spawn<caf::detached>(standby, std::move(ctx), std::move(writer),
                                  std::shared_ptr<rd_kafka_t>(rk, consumer_closer{}),
                                  std::move(parts));
}

} // namespace saga
