#pragma once
// One payment partition's intents, as plain data and pure functions (HMAC aside, which
// is a pure function too). The payment worker actor owns one book and is its only writer.

#include <cstdint>
#include <map>
#include <string>

#include "actors/order/saga.hpp"

namespace saga {

struct payment_intent {
  std::string payment_id;
  std::string order_id;
  int64_t amount_cents = 0;
  payment_status status = payment_status::pending;
  int64_t expires_at_ms = 0;
  int64_t updated_at_ms = 0;
};

/// Lowercase hex HMAC-SHA256 of `order_id|payment_id|status` keyed with `secret` (spec §3).
std::string payment_signature(const std::string& secret, const std::string& order_id,
                              const std::string& payment_id, const std::string& status);

/// Constant-time comparison, so a forger learns nothing from response times.
bool signature_equal(const std::string& a, const std::string& b);

enum class verify_code : uint8_t { ok, bad_signature, not_found, conflict };

/// The message of a verification that found a late capture and refunded it.
inline constexpr const char* late_refund_message =
  "late payment: the intent had expired (or its order was cancelled) before the provider's "
  "success; the payment is refunded";

class payment_book {
public:
  struct result {
    verify_code code = verify_code::ok;
    std::string message;
    bool changed = false; // the intent changed: persist it, then tell the order
  };

  /// Creates the intent; a repeat changes nothing and reports the current intent.
  result create(const payment_intent& intent);
  /// Applies the provider's verdict (`succeeded` or `failed`) when the signature is valid.
  /// A success for an intent that expired (or was cancelled with its order) is a late
  /// capture: the intent becomes refunded (`late_refund_message`), once; a repeat is "already
  /// verified (since refunded)".
  result verify(const std::string& secret, const std::string& order_id,
                const std::string& payment_id, const std::string& status,
                const std::string& signature, int64_t now_ms);
  /// Expires a pending intent past its deadline. `changed` tells if it did.
  result expire(const std::string& payment_id, int64_t now_ms);
  /// Cancels the intent of a compensated order: a pending one becomes expired (a later
  /// verdict gets 409, as after an expiry); an unknown one is recorded as expired, so a
  /// creation that arrives late cannot open it again. A decided intent is left as it is
  /// (the caller refunds a success). Message "cancelled" when this call cancelled it.
  result cancel(const std::string& payment_id, const std::string& order_id, int64_t now_ms);
  /// Refunds a succeeded payment. Idempotent.
  result refund(const std::string& payment_id, int64_t now_ms);

  const payment_intent* find(const std::string& payment_id) const;
  void load(payment_intent x) { intents_[x.payment_id] = std::move(x); }
  /// Drops a decided intent from memory (it stays in the store; see inventory_book::forget).
  void forget(const std::string& payment_id) { intents_.erase(payment_id); }
  const std::map<std::string, payment_intent>& intents() const { return intents_; }

private:
  std::map<std::string, payment_intent> intents_;
};

} // namespace saga
