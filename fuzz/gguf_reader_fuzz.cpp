// libFuzzer target: any bytes given to GgufFile::from_bytes either parse or
// throw tether::Error; nothing crashes, leaks, reads out of bounds or hangs.
// What parses must also survive a rewrite with GgufWriter, and rewriting the
// rewrite must give the same bytes.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "common/error.h"
#include "engine/gguf/gguf_file.h"
#include "engine/gguf/gguf_writer.h"

namespace {

using tether::gguf::GgufFile;
using tether::gguf::Value;

uint64_t touch(const Value& value) {
  uint64_t sum = static_cast<uint64_t>(value.type);
  if (auto u = value.as_uint()) sum += *u;
  if (auto i = value.as_int()) sum += static_cast<uint64_t>(*i);
  if (auto f = value.as_float()) sum += static_cast<uint64_t>(*f == *f);
  if (auto b = value.as_bool()) sum += *b;
  if (const auto* s = value.as_string()) {
    for (char c : *s) sum += static_cast<unsigned char>(c);
  }
  if (const auto* array = value.as_array()) {
    for (const Value& item : array->items) sum += touch(item);
  }
  return sum;
}

std::vector<uint8_t> rewrite(const GgufFile& file) {
  tether::gguf::GgufWriter writer(file.version(), file.alignment());
  for (const auto& kv : file.metadata()) writer.set(kv.key, kv.value);
  for (const auto& tensor : file.tensors()) {
    auto data = file.tensor_data(tensor);
    writer.add_tensor(tensor.name, tensor.type, tensor.dims,
                      std::vector<uint8_t>(data.begin(), data.end()));
  }
  return writer.write_to_memory();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<uint8_t> bytes(data, data + size);
  try {
    const GgufFile file = GgufFile::from_bytes(std::move(bytes), "fuzz.gguf");
    volatile uint64_t sink = 0;
    for (const auto& kv : file.metadata()) {
      sink = sink + touch(kv.value) + kv.value.to_display_string(4).size();
      if (file.find(kv.key) == nullptr) std::abort();
    }
    for (const auto& tensor : file.tensors()) {
      for (uint8_t byte : file.tensor_data(tensor)) sink = sink + byte;
      if (file.find_tensor(tensor.name) == nullptr) std::abort();
    }
    (void)file.find_array("tokenizer.ggml.tokens", tether::gguf::ValueType::kString);

    // Tensor names the writer refuses (empty, over 63 bytes) end the check here.
    for (const auto& tensor : file.tensors()) {
      if (tensor.name.empty() || tensor.name.size() > 63) return 0;
    }
    const auto first = rewrite(file);
    const auto second = rewrite(GgufFile::from_bytes(first, "rewrite.gguf"));
    if (first != second) std::abort();
  } catch (const tether::Error&) {
  }
  return 0;
}
