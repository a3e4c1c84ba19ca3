#pragma once
// JSON encoding of every stored record. JSON (not CAF's binary format) so a snapshot stays
// readable by people and tools and fields can be added without breaking old data; every
// record carries "v": 1. Decoders return false on malformed or unknown data.

#include <string>

#include "actors/inventory_book.hpp"
#include "actors/payment_book.hpp"
#include "actors/saga.hpp"

namespace storage {

std::string encode(const saga::order_state& x);
bool decode(const std::string& s, saga::order_state& x);

/// The event as stored in `events` and `outbox`: the Kafka envelope of spec §4.
std::string encode(const saga::saga_event& x, const std::string& node);
bool decode(const std::string& s, saga::saga_event& x);
std::string event_id(const std::string& order_id, uint64_t seq);

std::string encode(const saga::sku_record& x);
bool decode(const std::string& s, saga::sku_record& x);

/// One reservation item record (the key holds order id and sku).
std::string encode(const saga::reservation& r, const saga::reservation_item& item);
bool decode(const std::string& s, saga::reservation& r, saga::reservation_item& item);

std::string encode(const saga::payment_intent& x);
bool decode(const std::string& s, saga::payment_intent& x);

} // namespace storage
