#include "jobs/webhook_signer.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <fmt/format.h>

#include "common/error.h"

namespace tether::jobs {

namespace {

constexpr std::string_view kVersionPrefix = "v1=";
constexpr size_t kMacBytes = 32;  // SHA-256

std::string mac_hex(std::string_view secret, int64_t timestamp_s, std::string_view body) {
  std::string message = fmt::format("{}.", timestamp_s);
  message.append(body);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_bytes = 0;
  // An empty key is legal for HMAC, but OpenSSL wants a non-null pointer.
  static const unsigned char kEmpty = 0;
  const void* key = secret.empty() ? static_cast<const void*>(&kEmpty) : static_cast<const void*>(secret.data());
  if (HMAC(EVP_sha256(), key, static_cast<int>(secret.size()), reinterpret_cast<const unsigned char*>(message.data()),
           message.size(), mac, &mac_bytes) == nullptr ||
      mac_bytes != kMacBytes) {
    throw_error(ErrorCode::kInternal, "HMAC-SHA256 failed");
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(2 * kMacBytes);
  for (unsigned int byte_idx = 0; byte_idx < mac_bytes; ++byte_idx) {
    hex.push_back(kHex[mac[byte_idx] >> 4]);
    hex.push_back(kHex[mac[byte_idx] & 0xf]);
  }
  return hex;
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

}  // namespace

std::string sign(std::string_view secret, int64_t timestamp_s, std::string_view body) {
  return std::string(kVersionPrefix) + mac_hex(secret, timestamp_s, body);
}

bool verify(std::string_view secret, std::string_view header_value, int64_t timestamp_s,
                    std::string_view body, int64_t now_s, int64_t tolerance_s) {
  if (tolerance_s < 0) return false;
  // Differences of int64 values can overflow; a timestamp that far off is stale anyway.
  const __int128 skew = static_cast<__int128>(now_s) - static_cast<__int128>(timestamp_s);
  if (skew > tolerance_s || skew < -static_cast<__int128>(tolerance_s)) return false;
  const std::string expected = mac_hex(secret, timestamp_s, body);
  bool matched = false;
  while (true) {
    const size_t comma = header_value.find(',');
    const std::string_view entry = trim(header_value.substr(0, comma));
    if (entry.size() == kVersionPrefix.size() + expected.size() &&
        entry.substr(0, kVersionPrefix.size()) == kVersionPrefix) {
      // Every candidate is compared in full: the time taken says nothing about which one matched.
      matched |= CRYPTO_memcmp(entry.data() + kVersionPrefix.size(), expected.data(), expected.size()) == 0;
    }
    if (comma == std::string_view::npos) break;
    header_value.remove_prefix(comma + 1);
  }
  return matched;
}

}  // namespace tether::jobs
