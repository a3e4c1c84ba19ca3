#pragma once
// Reading a changelog (module-internal): the consumer every reader of it uses (a start's
// restore, a standby replica, a takeover's catch-up), the applied offset a store holds for
// a partition, and one record turned into the store's batches.

#include <string>
#include <string_view>
#include <vector>

#include <librdkafka/rdkafka.h>

#include "runtime/config.hpp"
#include "storage/store.hpp"

namespace saga {

/// A read_committed, assign-only consumer of the changelog topic (`role` names its
/// client.id and group.id; it never joins the group), with the topic's leaders already
/// known. Null and `error` when it cannot be made.
/// `fetch_wait_ms`: how long the broker holds a fetch with nothing to give (an end is
/// known from an empty fetch: short for a reader that stops at the end). `topic`: another
/// topic read the same way (the owners topic, owners_reader.hpp); empty: the changelog.
rd_kafka_t* open_changelog_reader(const node_config& cfg, const std::string& brokers,
                                  const std::string& role, std::string& error,
                                  int fetch_wait_ms = 10, const std::string& topic = {});

/// The last changelog offset applied to the store for `p`; -1: none (or `error`).
int64_t applied_changelog_offset(storage::store& db, int32_t p, std::string& error);

/// Decodes the record at `offset` of partition `p` into `out` (appended), the last batch
/// carrying the applied-offset mark, so that the record and its mark are one write. False
/// when it does not decode.
bool changelog_record_batches(std::string_view payload, int32_t p, int64_t offset,
                              std::vector<storage::batch>& out);

} // namespace saga
