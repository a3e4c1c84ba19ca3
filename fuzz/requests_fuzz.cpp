// libFuzzer target for the gateway's request parsing and validation (gateway/requests.cpp).
// The first byte picks the parser; the rest is the body. Every input must be answered with
// either a parsed request that satisfies the documented bounds or a 4xx error.
//   bash scripts/fuzz.sh 600     # ten minutes
#include <cassert>
#include <cstdint>
#include <string>

#include "gateway/requests.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0)
    return 0;
  std::string body(reinterpret_cast<const char*>(data + 1), size - 1);
  saga::request_error e;
  switch (data[0] % 4) {
    case 0: {
      saga::create_order_request r;
      e = saga::parse_create_order(body, r);
      if (!e) {
        assert(!r.customer_id.empty() && r.customer_id.size() <= saga::max_id_chars);
        assert(!r.items.empty() && r.items.size() <= saga::max_order_items);
        for (auto& i : r.items)
          assert(i.quantity >= 1 && i.quantity <= saga::max_item_quantity);
      }
      break;
    }
    case 1: {
      saga::verify_request r;
      e = saga::parse_verify(body, r);
      if (!e)
        assert(r.status == "succeeded" || r.status == "failed");
      break;
    }
    case 2: {
      std::string id;
      e = saga::parse_complete(body, id);
      if (!e)
        assert(!id.empty());
      break;
    }
    case 3: {
      saga::stock_request r;
      e = saga::parse_stock(body, r);
      if (!e)
        assert(r.on_hand >= 0 && r.price_cents >= 0);
      break;
    }
  }
  if (e)
    assert(e.status >= 400 && e.status < 500 && !e.code.empty());
  // A query value: decoding never grows it, and a value without '%' is its own decoding.
  auto decoded = saga::percent_decode(body);
  assert(decoded.size() <= body.size());
  if (body.find('%') == std::string::npos)
    assert(decoded == body);
  return 0;
}
