#pragma once
// A partition's changelog record (cluster.replication = kafka): the write batches of one
// group commit that belong to one partition, as bytes. The writer appends one such record
// per partition and group to the changelog topic, in the Kafka transaction that also
// carries their events; a node that lost its data directory applies the records back into
// RocksDB (actors/replication/). The outbox is not in the record: its envelopes are the
// transaction's events, already in Kafka.

#include <string>
#include <string_view>
#include <vector>

#include "storage/batch.hpp"

namespace storage {

/// First byte of a changelog record (format 1 of the changelog).
constexpr char changelog_v1 = 0x31;

/// The batches' ops, counters and conditional erases, in order (outbox left out).
std::string encode_changelog(const std::vector<const batch*>& batches);
/// False on malformed data (then `out` is unspecified). Decoded batches have no outbox and
/// keep `log_partition` unset (local): the caller knows the partition.
bool decode_changelog(std::string_view in, std::vector<batch>& out);

/// The meta key holding the last changelog offset applied to this store for a partition,
/// written in the same RocksDB write as what it applied.
std::string changelog_offset_key(int32_t log_partition);

} // namespace storage
