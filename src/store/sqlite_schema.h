#pragma once

#include <cstdint>

namespace tether::store {

// PRAGMA application_id marks a file as a tether job store ("TTHR");
// PRAGMA user_version is its schema version. A store of another version is
// refused rather than guessed at.
inline constexpr int64_t kSqliteApplicationId = 0x54544852;
inline constexpr int64_t kSqliteSchemaVersion = 1;

// The tables of an empty store, created in one transaction:
// jobs (with their item counts, moved with every item transition), items
// (keyed by the job's insertion order and index, which is the claim
// order), deliveries (the webhook outbox: one row per event and URL) and
// files (binary content).
extern const char* const kSqliteSchema;

}  // namespace tether::store
