#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace tether {

// Tensor element types, numbered as in GGUF files (ggml's type ids).
enum class TensorType : uint32_t {
  kF32 = 0,
  kF16 = 1,
  kQ4_0 = 2,
  kQ4_1 = 3,
  kQ5_0 = 6,
  kQ5_1 = 7,
  kQ8_0 = 8,
  kQ8_1 = 9,
  kQ2_K = 10,
  kQ3_K = 11,
  kQ4_K = 12,
  kQ5_K = 13,
  kQ6_K = 14,
  kQ8_K = 15,
  kIQ2_XXS = 16,
  kIQ2_XS = 17,
  kIQ3_XXS = 18,
  kIQ1_S = 19,
  kIQ4_NL = 20,
  kIQ3_S = 21,
  kIQ2_S = 22,
  kIQ4_XS = 23,
  kI8 = 24,
  kI16 = 25,
  kI32 = 26,
  kI64 = 27,
  kF64 = 28,
  kIQ1_M = 29,
  kBF16 = 30,
  kTQ1_0 = 34,
  kTQ2_0 = 35,
  kMXFP4 = 39,
};

// Storage layout of one type: `block_elems` elements are stored in
// `block_bytes` bytes; a row's element count must be a multiple of block_elems.
struct TensorTypeTraits {
  TensorType type;
  std::string_view name;  // as ggml spells it: "f32", "q8_0", "q4_K"...
  uint32_t block_elems;
  uint32_t block_bytes;
};

// Traits of a type id read from a file; nullopt for ids ggml does not define.
std::optional<TensorTypeTraits> tensor_type_traits(uint32_t type_id);

// Traits of a known type (asserts the type is one of the enum's values).
TensorTypeTraits traits_of(TensorType type);

std::string_view tensor_type_name(TensorType type);

// Parses a name ("f16", "Q8_0", "q4_k", case-insensitive); nullopt if unknown.
std::optional<TensorType> parse_tensor_type(std::string_view name);

}  // namespace tether
