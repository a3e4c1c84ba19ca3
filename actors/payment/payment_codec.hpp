#pragma once
// Payment intent records, binary (storage/record_format.hpp, format 2); the JSON of older
// data directories ("v": 1) still decodes, and a record is written in format 2 the next
// time it changes.

#include <string>

#include "actors/payment/payment_book.hpp"

namespace saga {

std::string encode(const payment_intent& x);
std::string encode_v1(const payment_intent& x);
bool decode(const std::string& s, payment_intent& x);

} // namespace saga
