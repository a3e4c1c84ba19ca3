#include "actors/payment/payment_book.hpp"

#include <openssl/evp.h>
#include <openssl/crypto.h>
#include <openssl/hmac.h>

namespace saga {

std::string payment_signature(const std::string& secret, const std::string& order_id,
                              const std::string& payment_id, const std::string& status) {
  auto msg = order_id + "|" + payment_id + "|" + status;
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(msg.data()), msg.size(), mac, &len);
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  out.reserve(len * 2);
  for (unsigned i = 0; i < len; ++i) {
    out += hex[mac[i] >> 4];
    out += hex[mac[i] & 0x0f];
  }
  return out;
}

bool signature_equal(const std::string& a, const std::string& b) {
  // Compare fixed-size digests, not the strings: the time taken depends neither on where
  // they differ nor on their lengths (an early length check would leak a token's length).
  unsigned char da[EVP_MAX_MD_SIZE], db[EVP_MAX_MD_SIZE];
  unsigned int la = 0, lb = 0;
  EVP_Digest(a.data(), a.size(), da, &la, EVP_sha256(), nullptr);
  EVP_Digest(b.data(), b.size(), db, &lb, EVP_sha256(), nullptr);
  return la == lb && CRYPTO_memcmp(da, db, la) == 0;
}

payment_book::result payment_book::create(const payment_intent& intent) {
  if (intents_.count(intent.payment_id) != 0)
    return {verify_code::ok, "exists", false};
  intents_[intent.payment_id] = intent;
  return {verify_code::ok, "created", true};
}

payment_book::result payment_book::verify(const std::string& secret, const std::string& order_id,
                                          const std::string& payment_id,
                                          const std::string& status,
                                          const std::string& signature, int64_t now_ms) {
  // The signature is checked before anything else is looked at: an unsigned request
  // learns nothing, not even whether the payment exists.
  if (!signature_equal(payment_signature(secret, order_id, payment_id, status), signature))
    return {verify_code::bad_signature, "signature does not match", false};
  auto i = intents_.find(payment_id);
  if (i == intents_.end() || i->second.order_id != order_id)
    return {verify_code::not_found, "unknown payment " + payment_id + " for order " + order_id,
            false};
  auto& p = i->second;
  auto wanted = status == "succeeded" ? payment_status::succeeded : payment_status::failed;
  bool past_due = p.status == payment_status::pending && now_ms >= p.expires_at_ms;
  if ((past_due || p.status == payment_status::expired) && wanted == payment_status::succeeded) {
    // A late capture: the provider took the money after the intent expired (or after its
    // order was compensated). It is recorded and given back at once, never kept.
    p.status = payment_status::refunded;
    p.updated_at_ms = now_ms;
    return {verify_code::ok, late_refund_message, true};
  }
  if (past_due) {
    p.status = payment_status::expired;
    p.updated_at_ms = now_ms;
    return {verify_code::conflict, "payment expired", true};
  }
  switch (p.status) {
    case payment_status::pending:
      p.status = wanted;
      p.updated_at_ms = now_ms;
      return {verify_code::ok, to_string(wanted), true};
    case payment_status::succeeded:
    case payment_status::failed:
      if (p.status == wanted)
        return {verify_code::ok, "already verified", false};
      return {verify_code::conflict,
              std::string("payment already ") + to_string(p.status), false};
    case payment_status::expired:
      return {verify_code::conflict, "payment expired", false};
    case payment_status::refunded:
      if (wanted == payment_status::succeeded)
        return {verify_code::ok, "already verified (since refunded)", false};
      return {verify_code::conflict, "payment already succeeded and was refunded", false};
    case payment_status::none:
      break;
  }
  return {verify_code::conflict, "payment in unexpected state", false};
}

payment_book::result payment_book::expire(const std::string& payment_id, int64_t now_ms) {
  auto i = intents_.find(payment_id);
  if (i == intents_.end() || i->second.status != payment_status::pending
      || now_ms < i->second.expires_at_ms)
    return {verify_code::ok, "nothing to expire", false};
  i->second.status = payment_status::expired;
  i->second.updated_at_ms = now_ms;
  return {verify_code::ok, "expired", true};
}

payment_book::result payment_book::cancel(const std::string& payment_id,
                                          const std::string& order_id, int64_t now_ms) {
  auto i = intents_.find(payment_id);
  if (i == intents_.end()) {
    intents_[payment_id] =
      payment_intent{payment_id, order_id, 0, payment_status::expired, now_ms, now_ms};
    return {verify_code::ok, "cancelled", true};
  }
  auto& p = i->second;
  if (p.status != payment_status::pending)
    return {verify_code::ok, std::string("already ") + to_string(p.status), false};
  p.status = payment_status::expired;
  p.updated_at_ms = now_ms;
  return {verify_code::ok, "cancelled", true};
}

payment_book::result payment_book::refund(const std::string& payment_id, int64_t now_ms) {
  auto i = intents_.find(payment_id);
  if (i == intents_.end())
    return {verify_code::not_found, "unknown payment " + payment_id, false};
  auto& p = i->second;
  if (p.status == payment_status::refunded)
    return {verify_code::ok, "already refunded", false};
  if (p.status != payment_status::succeeded)
    return {verify_code::conflict, "only a succeeded payment can be refunded", false};
  p.status = payment_status::refunded;
  p.updated_at_ms = now_ms;
  return {verify_code::ok, "refunded", true};
}

const payment_intent* payment_book::find(const std::string& payment_id) const {
  auto i = intents_.find(payment_id);
  return i == intents_.end() ? nullptr : &i->second;
}

} // namespace saga
