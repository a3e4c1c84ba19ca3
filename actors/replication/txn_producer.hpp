#pragma once
// One partition's transactional Kafka producer (cluster.replication = kafka). Opening it
// calls init_transactions with the partition's transactional.id: that aborts whatever an
// older owner of the partition left open and fences that owner for good (its next
// produce or commit fails). Every commit appends the partition's changelog records and
// their events in one transaction: readers with isolation.level=read_committed see all of
// it or nothing. Blocking calls: used on the main thread at start and by the partition's
// detached committer actor (committer.hpp), never inside a pooled actor.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <librdkafka/rdkafka.h>
#include <spdlog/spdlog.h>

#include "runtime/config.hpp"

namespace saga {

class txn_producer {
public:
  /// The transactional.id of a changelog partition: "<cluster.name>-p<N>".
  static std::string transactional_id(const node_config& cfg, int32_t log_partition);
  /// The changelog topic: "<kafka.topic_prefix>saga_changelog".
  static std::string changelog_topic(const node_config& cfg);
  /// The claims topic: "<kafka.topic_prefix>saga_owners", compacted, one partition per
  /// changelog partition (owners_reader.hpp).
  static std::string owners_topic(const node_config& cfg);

  /// Creates the producer and calls init_transactions (fencing any older owner). Null and
  /// `error` set when that fails within kafka.provision_timeout_ms x 3.
  static std::unique_ptr<txn_producer> open(const node_config& cfg, const std::string& brokers,
                                            int32_t log_partition,
                                            std::shared_ptr<spdlog::logger> log,
                                            std::string& error);
  ~txn_producer();
  txn_producer(const txn_producer&) = delete;
  txn_producer& operator=(const txn_producer&) = delete;

  struct outcome {
    std::string error; // empty: committed
    bool fenced = false; // another owner opened the partition: never retry
    std::vector<int64_t> offsets; // each changelog record's offset, in order
    int attempts = 0;
  };
  /// One transaction: `records` to this partition of the changelog, then `events` (saga
  /// envelopes, JSON) to their topics. An abortable failure is aborted and produced again
  /// (cluster.commit_retries times): aborted messages stay invisible to read_committed.
  outcome commit(const std::vector<std::string>& records, const std::vector<std::string>& events);

  /// A transaction of its own with one record, `value` (a claim: who holds this partition
  /// now, owners_reader.hpp), to this partition of the owners topic, key "p<N>". Called right
  /// after open and before any commit: a claim commits only while this producer is the
  /// partition's newest, so the committed claims of a partition come in the order their
  /// nodes fenced each other, and the last one names the holder. `offsets[0]`: its offset.
  outcome claim(const std::string& value);

  /// The end of this partition of the changelog (its high watermark) as the brokers have
  /// it now, asked with a time-out of kafka.provision_timeout_ms; -1 and `error` when not
  /// known. Right after open, nothing is open in it any more: the end is final until this
  /// producer commits (a takeover reads up to it).
  int64_t end_offset(std::string& error) const;

  int32_t log_partition() const { return partition_; }
  const std::string& id() const { return id_; }
  const std::shared_ptr<spdlog::logger>& logger() const { return log_; }

private:
  txn_producer() = default;
  void warm_metadata();
  outcome try_commit(const std::vector<std::string>& records,
                     const std::vector<std::string>& events, const std::string* claim = nullptr);
  outcome with_retries(const std::vector<std::string>& records,
                       const std::vector<std::string>& events, const std::string* claim);

  rd_kafka_t* rk_ = nullptr;
  // Handles of the changelog and every event topic, held open with their metadata, so a
  // transaction's first message to a topic does not wait for it (see open()).
  std::vector<rd_kafka_topic_t*> topics_;
  node_config cfg_;
  std::string id_, topic_;
  int32_t partition_ = 0;
  std::shared_ptr<spdlog::logger> log_;
  // Delivery reports of the transaction in progress (the producer's callback thread is the
  // caller's: they are served by rd_kafka_flush inside commit).
  struct reports {
    std::vector<int64_t> offsets;
    int failed = 0;
    std::string first_error;
  } reports_;
  friend void txn_on_delivery(rd_kafka_t*, const rd_kafka_message_t*, void*);
};

} // namespace saga
