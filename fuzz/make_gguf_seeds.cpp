// Writes a seed corpus of small, valid, varied GGUF files for the fuzzer.
#include <cstdio>
#include <filesystem>
#include <string>

#include "common/error.h"
#include "engine/gguf/gguf_writer.h"

namespace {

using tether::TensorType;
using tether::gguf::Array;
using tether::gguf::GgufWriter;
using tether::gguf::Value;
using tether::gguf::ValueType;

std::vector<uint8_t> filled(size_t n, uint8_t seed) {
  std::vector<uint8_t> out(n);
  for (size_t i = 0; i < n; ++i) out[i] = static_cast<uint8_t>(seed + i * 13);
  return out;
}

void every_type(GgufWriter& writer) {
  writer.set("u8", Value::of_uint(ValueType::kUint8, 7));
  writer.set("i8", Value::of_int(ValueType::kInt8, -7));
  writer.set("u16", Value::of_uint(ValueType::kUint16, 700));
  writer.set("i16", Value::of_int(ValueType::kInt16, -700));
  writer.set("u32", Value::of_u32(70000));
  writer.set("i32", Value::of_i32(-70000));
  writer.set("u64", Value::of_u64(1ull << 40));
  writer.set("i64", Value::of_int(ValueType::kInt64, -(1ll << 40)));
  writer.set("f32", Value::of_f32(0.5f));
  writer.set("f64", Value::of_float(ValueType::kFloat64, 0.25));
  writer.set("bool", Value::of_bool(true));
  writer.set("str", Value::of_string("text"));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s OUTPUT_DIR\n", argv[0]);
    return 2;
  }
  const std::filesystem::path dir = argv[1];
  try {
    std::filesystem::create_directories(dir);

    GgufWriter header_only;
    header_only.write_file(dir / "header_only.gguf");

    GgufWriter scalars(2);
    every_type(scalars);
    scalars.write_file(dir / "scalars_v2.gguf");

    GgufWriter vocab;
    vocab.set("general.architecture", Value::of_string("llama"));
    vocab.set("tokenizer.ggml.model", Value::of_string("llama"));
    vocab.set("tokenizer.ggml.tokens", Value::of_strings({"<unk>", "<s>", "</s>", "\xe2\x96\x81", "", "\xff"}));
    vocab.set("tokenizer.ggml.scores", Value::of_f32s({0, 0, 0, -1.5f, -2, -3}));
    vocab.set("tokenizer.ggml.token_type", Value::of_i32s({2, 3, 3, 1, 1, 6}));
    vocab.set("tokenizer.ggml.merges", Value::of_strings({"a b", "ab c"}));
    vocab.write_file(dir / "vocab.gguf");

    GgufWriter nested;
    Array inner{ValueType::kArray, {Value::of_i32s({1, 2}), Value::of_strings({"x"}), Value::of_i32s({})}};
    nested.set("nested", Value::of_array(Array{ValueType::kArray, {Value::of_array(std::move(inner))}}));
    nested.set("bools", Value::of_array(Array{ValueType::kBool, {Value::of_bool(false), Value::of_bool(true)}}));
    nested.add_tensor("t", TensorType::kF32, {2}, filled(8, 1));
    nested.write_file(dir / "nested.gguf");

    GgufWriter model(3, 64);
    every_type(model);
    model.add_tensor("token_embd.weight", TensorType::kF16, {8, 2}, filled(32, 2));
    model.add_tensor("blk.0.attn_q.weight", TensorType::kQ8_0, {32, 2}, filled(68, 3));
    model.add_tensor("blk.0.ffn_up.weight", TensorType::kQ4_K, {256}, filled(144, 4));
    model.add_tensor("output_norm.weight", TensorType::kF32, {8}, filled(32, 5));
    model.add_tensor("rope_freqs", TensorType::kI32, {1, 1, 2, 2}, filled(16, 6));
    model.write_file(dir / "model_align64.gguf");
  } catch (const tether::Error& e) {
    std::fprintf(stderr, "make_gguf_seeds: %s\n", e.what());
    return 1;
  }
  return 0;
}
