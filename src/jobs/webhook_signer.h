#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace tether::jobs {

// Webhook signatures. Each POST carries
//   x-tether-timestamp: <unix seconds>
//   x-tether-signature: v1=<lowercase hex HMAC-SHA256(secret, timestamp + "." + body)>
// The timestamp is inside the MAC, so a receiver that rejects stale
// timestamps also rejects a captured request replayed later.

// "v1=" + 64 lowercase hex digits.
std::string sign(std::string_view secret, int64_t timestamp_s, std::string_view body);

// Whether `header_value` holds a valid signature of (timestamp_s, body)
// under `secret` and the timestamp is within tolerance_s of now_s (either
// side). The header may list several comma-separated "v1=" values (a sender
// signing with an old and a new secret while they rotate); one match
// suffices. Other schemes in the list are ignored. Compares in constant time.
bool verify(std::string_view secret, std::string_view header_value, int64_t timestamp_s,
                    std::string_view body, int64_t now_s, int64_t tolerance_s);

}  // namespace tether::jobs
