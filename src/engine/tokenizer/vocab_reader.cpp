#include "engine/tokenizer/vocab_reader.h"

#include "common/error.h"
#include "engine/gguf/gguf_file.h"
#include "engine/gguf/gguf_value.h"

namespace tether::tokenizer {
namespace {

using gguf::GgufFile;
using gguf::Value;
using gguf::ValueType;

[[noreturn]] void wrong_type(const GgufFile& file, std::string_view key, const Value& value,
                             std::string_view wanted) {
  throw_error(ErrorCode::kCorruptData, "{}: {} is {}, expected {}", file.source_name(), key,
              gguf::value_type_name(value.type), wanted);
}

const gguf::Array* find_array(const GgufFile& file, std::string_view key) {
  const Value* value = file.find(key);
  if (value == nullptr) return nullptr;
  const gguf::Array* array = value->as_array();
  if (array == nullptr) wrong_type(file, key, *value, "an array");
  return array;
}

std::optional<std::string> find_string(const GgufFile& file, std::string_view key) {
  const Value* value = file.find(key);
  if (value == nullptr) return std::nullopt;
  const std::string* text = value->as_string();
  if (text == nullptr) wrong_type(file, key, *value, "a string");
  return *text;
}

std::optional<int64_t> find_int(const GgufFile& file, std::string_view key) {
  const Value* value = file.find(key);
  if (value == nullptr) return std::nullopt;
  const std::optional<int64_t> number = value->as_int();
  if (!number) {
    // A uint64 too large for int64 is certainly outside any vocabulary.
    if (const std::optional<uint64_t> big = value->as_uint()) return INT64_MAX;
    wrong_type(file, key, *value, "an integer");
  }
  return number;
}

std::optional<bool> find_bool(const GgufFile& file, std::string_view key) {
  const Value* value = file.find(key);
  if (value == nullptr) return std::nullopt;
  const std::optional<bool> flag = value->as_bool();
  if (!flag) wrong_type(file, key, *value, "a bool");
  return flag;
}

std::vector<std::string> read_strings(const GgufFile& file, std::string_view key,
                                      const gguf::Array& array) {
  std::vector<std::string> out;
  out.reserve(array.items.size());
  for (size_t i = 0; i < array.items.size(); ++i) {
    const std::string* text = array.items[i].as_string();
    if (text == nullptr) {
      throw_error(ErrorCode::kCorruptData, "{}: {}[{}] is {}, expected a string",
                  file.source_name(), key, i, gguf::value_type_name(array.items[i].type));
    }
    out.push_back(*text);
  }
  return out;
}

}  // namespace

VocabSpec read_vocab_spec(const GgufFile& file) {
  VocabSpec spec;
  spec.model = find_string(file, "tokenizer.ggml.model").value_or("");
  spec.pre = find_string(file, "tokenizer.ggml.pre").value_or("");
  spec.model_name = find_string(file, "general.name").value_or("");

  if (const gguf::Array* tokens = find_array(file, "tokenizer.ggml.tokens")) {
    spec.tokens = read_strings(file, "tokenizer.ggml.tokens", *tokens);
  }
  if (const gguf::Array* scores = find_array(file, "tokenizer.ggml.scores")) {
    spec.scores.reserve(scores->items.size());
    for (size_t i = 0; i < scores->items.size(); ++i) {
      const std::optional<double> score = scores->items[i].as_float();
      if (!score) {
        throw_error(ErrorCode::kCorruptData, "{}: tokenizer.ggml.scores[{}] is not a number",
                    file.source_name(), i);
      }
      spec.scores.push_back(static_cast<float>(*score));
    }
  }
  if (const gguf::Array* types = find_array(file, "tokenizer.ggml.token_type")) {
    spec.token_types.reserve(types->items.size());
    for (size_t i = 0; i < types->items.size(); ++i) {
      const std::optional<int64_t> type = types->items[i].as_int();
      if (!type || *type < INT32_MIN || *type > INT32_MAX) {
        throw_error(ErrorCode::kCorruptData, "{}: tokenizer.ggml.token_type[{}] is not an int32",
                    file.source_name(), i);
      }
      spec.token_types.push_back(static_cast<int32_t>(*type));
    }
  }
  if (const gguf::Array* merges = find_array(file, "tokenizer.ggml.merges")) {
    spec.has_merges = true;
    spec.merges = read_strings(file, "tokenizer.ggml.merges", *merges);
  }

  spec.bos_id = find_int(file, "tokenizer.ggml.bos_token_id");
  spec.eos_id = find_int(file, "tokenizer.ggml.eos_token_id");
  spec.eot_id = find_int(file, "tokenizer.ggml.eot_token_id");
  spec.unk_id = find_int(file, "tokenizer.ggml.unknown_token_id");
  spec.pad_id = find_int(file, "tokenizer.ggml.padding_token_id");
  spec.add_bos = find_bool(file, "tokenizer.ggml.add_bos_token");
  spec.add_eos = find_bool(file, "tokenizer.ggml.add_eos_token");
  spec.add_space_prefix = find_bool(file, "tokenizer.ggml.add_space_prefix");
  return spec;
}

}  // namespace tether::tokenizer
