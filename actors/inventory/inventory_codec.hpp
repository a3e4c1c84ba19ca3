#pragma once
// SKU and reservation item records, binary (storage/record_format.hpp, format 2); the JSON of
// older data directories ("v": 1) still decodes, and a record is written in format 2 the
// next time it changes.

#include <string>

#include "actors/inventory/inventory_book.hpp"

namespace saga {

/// `encode` writes format 2, `decode` reads either format (false on malformed or unknown
/// data), `encode_v1` writes the JSON of older data directories (tests).
std::string encode(const sku_record& x);
std::string encode_v1(const sku_record& x);
bool decode(const std::string& s, sku_record& x);

/// One reservation item record (the key holds order id and sku).
std::string encode(const reservation& r, const reservation_item& item);
std::string encode_v1(const reservation& r, const reservation_item& item);
bool decode(const std::string& s, reservation& r, reservation_item& item);

} // namespace saga
