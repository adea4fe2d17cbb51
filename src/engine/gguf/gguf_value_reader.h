#pragma once

#include <cstdint>
#include <string_view>

#include "engine/gguf/byte_reader.h"
#include "engine/gguf/gguf_value.h"

namespace tether::gguf {

// Arrays may nest, but not deeper than this: a corrupt file must not be able
// to recurse the reader off its stack.
inline constexpr int kMaxArrayDepth = 8;

// Bytes the smallest encoding of a value of `type` occupies on disk.
uint64_t min_encoded_size(ValueType type);

// Reads one value of type `type_id` (validated here) at the reader's cursor.
// `type_offset` is where the type id was read, for messages; `field` names
// the value ("metadata key 4 ('general.name') value").
Value read_value(ByteReader& reader, uint32_t type_id, uint64_t type_offset,
                 std::string_view field, int depth = 0);

}  // namespace tether::gguf
