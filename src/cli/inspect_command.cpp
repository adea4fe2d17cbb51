#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "cli/commands.h"
#include "common/error.h"
#include "engine/gguf/gguf_file.h"
#include "engine/model/demo_model.h"

namespace tether::cli {
namespace {

namespace json = boost::json;
using gguf::Array;
using gguf::GgufFile;
using gguf::Value;
using gguf::ValueType;

// Names and keys come from the file: keep terminal output on one line each.
std::string printable(std::string_view text) {
  std::string out;
  for (char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    out += (byte < 0x20 || byte == 0x7f) ? '?' : c;
  }
  return out;
}

// Length of the valid UTF-8 sequence starting at text[pos], or 0 if invalid.
size_t utf8_sequence_length(std::string_view text, size_t pos) {
  const auto lead = static_cast<unsigned char>(text[pos]);
  size_t length = 0;
  uint32_t min_code_point = 0;
  if (lead < 0x80) return 1;
  if ((lead & 0xe0) == 0xc0) {
    length = 2;
    min_code_point = 0x80;
  } else if ((lead & 0xf0) == 0xe0) {
    length = 3;
    min_code_point = 0x800;
  } else if ((lead & 0xf8) == 0xf0) {
    length = 4;
    min_code_point = 0x10000;
  } else {
    return 0;
  }
  if (pos + length > text.size()) return 0;
  uint32_t code_point = lead & (0x7f >> length);
  for (size_t i = 1; i < length; ++i) {
    const auto next = static_cast<unsigned char>(text[pos + i]);
    if ((next & 0xc0) != 0x80) return 0;
    code_point = (code_point << 6) | (next & 0x3f);
  }
  if (code_point < min_code_point || code_point > 0x10ffff ||
      (code_point >= 0xd800 && code_point <= 0xdfff)) {
    return 0;
  }
  return length;
}

// JSON strings must be UTF-8; GGUF strings need not be (byte-level vocabularies).
// Invalid bytes become U+FFFD.
json::string to_json_string(std::string_view text) {
  json::string out;
  out.reserve(text.size());
  for (size_t pos = 0; pos < text.size();) {
    const size_t length = utf8_sequence_length(text, pos);
    if (length == 0) {
      out.append("\xef\xbf\xbd");
      ++pos;
    } else {
      out.append(text.substr(pos, length));
      pos += length;
    }
  }
  return out;
}

json::value float_to_json(double value) {
  // JSON has no NaN or infinity; spell them as strings.
  if (std::isnan(value)) return "nan";
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  return value;
}

json::value value_to_json(const Value& value, size_t max_items) {
  switch (value.type) {
    case ValueType::kUint8:
    case ValueType::kUint16:
    case ValueType::kUint32:
    case ValueType::kUint64: return std::get<uint64_t>(value.data);
    case ValueType::kInt8:
    case ValueType::kInt16:
    case ValueType::kInt32:
    case ValueType::kInt64: return std::get<int64_t>(value.data);
    case ValueType::kFloat32: {
      // Via the float's shortest decimal form, so 1e-5f prints as 1E-5, not 9.99999974E-6.
      const double widened = std::get<double>(value.data);
      if (!std::isfinite(widened)) return float_to_json(widened);
      return std::stod(fmt::format("{}", static_cast<float>(widened)));
    }
    case ValueType::kFloat64: return float_to_json(std::get<double>(value.data));
    case ValueType::kBool: return std::get<bool>(value.data);
    case ValueType::kString: return to_json_string(std::get<std::string>(value.data));
    case ValueType::kArray: {
      const Array& array = std::get<Array>(value.data);
      const size_t shown =
          max_items == 0 ? array.items.size() : std::min(max_items, array.items.size());
      json::array items;
      items.reserve(shown);
      for (size_t item_idx = 0; item_idx < shown; ++item_idx) {
        items.push_back(value_to_json(array.items[item_idx], max_items));
      }
      json::object out;
      out["element_type"] = gguf::value_type_name(array.element_type);
      out["count"] = array.items.size();
      out["items"] = std::move(items);
      out["elided"] = shown < array.items.size();  // true: items holds only the first ones
      return out;
    }
  }
  return nullptr;
}

json::array dims_to_json(const std::vector<uint64_t>& dims) {
  json::array out;
  for (uint64_t dim : dims) out.push_back(dim);
  return out;
}

std::string render_json(const GgufFile& file, size_t max_items) {
  json::object root;
  root["file"] = to_json_string(file.source_name());
  root["version"] = file.version();
  root["alignment"] = file.alignment();
  root["tensor_count"] = file.tensors().size();
  root["metadata_count"] = file.metadata().size();
  root["data_offset"] = file.data_offset();
  root["file_size"] = file.file_size();
  root["max_array_items"] = max_items;  // 0: arrays are complete
  json::array metadata;
  for (const auto& kv : file.metadata()) {
    json::object entry;
    entry["key"] = to_json_string(kv.key);
    entry["type"] = gguf::value_type_name(kv.value.type);
    entry["value"] = value_to_json(kv.value, max_items);
    metadata.push_back(std::move(entry));
  }
  root["metadata"] = std::move(metadata);
  json::array tensors;
  for (const auto& tensor : file.tensors()) {
    json::object entry;
    entry["name"] = to_json_string(tensor.name);
    entry["type"] = tensor_type_name(tensor.type);
    entry["dims"] = dims_to_json(tensor.dims);
    entry["elements"] = tensor.n_elements;
    entry["offset"] = tensor.offset;
    entry["file_offset"] = file.data_offset() + tensor.offset;
    entry["bytes"] = tensor.n_bytes;
    tensors.push_back(std::move(entry));
  }
  root["tensors"] = std::move(tensors);
  return json::serialize(root) + "\n";
}

std::string dims_text(const std::vector<uint64_t>& dims) {
  return fmt::format("[{}]", fmt::join(dims, ", "));
}

std::string render_text(const GgufFile& file, size_t max_items) {
  std::string out;
  out += fmt::format("file:         {}\n", printable(file.source_name()));
  out += fmt::format("version:      {}\n", file.version());
  out += fmt::format("alignment:    {}\n", file.alignment());
  out += fmt::format("tensors:      {}\n", file.tensors().size());
  out += fmt::format("metadata:     {} keys\n", file.metadata().size());
  out += fmt::format("data offset:  {}\n", file.data_offset());
  out += fmt::format("file size:    {} bytes\n", file.file_size());

  // Columns as wide as their widest entry, within reason.
  constexpr size_t kMaxColumn = 48;
  const size_t items = max_items == 0 ? SIZE_MAX : max_items;
  out += "\nmetadata:\n";
  size_t key_width = 3;
  for (const auto& kv : file.metadata()) key_width = std::max(key_width, kv.key.size());
  key_width = std::min(key_width, kMaxColumn);
  for (const auto& kv : file.metadata()) {
    out += fmt::format("  {:<{}}  {:<7}  {}\n", printable(kv.key), key_width,
                       gguf::value_type_name(kv.value.type), kv.value.to_display_string(items));
  }

  out += "\ntensors:\n";
  size_t name_width = 4;
  size_t dims_width = 4;
  for (const auto& tensor : file.tensors()) {
    name_width = std::max(name_width, tensor.name.size());
    dims_width = std::max(dims_width, dims_text(tensor.dims).size());
  }
  name_width = std::min(name_width, kMaxColumn);
  out += fmt::format("  {:<{}}  {:<7}  {:<{}}  {:>12}  {:>12}\n", "name", name_width, "type",
                     "dims", dims_width, "offset", "bytes");
  for (const auto& tensor : file.tensors()) {
    out += fmt::format("  {:<{}}  {:<7}  {:<{}}  {:>12}  {:>12}\n", printable(tensor.name),
                       name_width, tensor_type_name(tensor.type), dims_text(tensor.dims),
                       dims_width, tensor.offset, tensor.n_bytes);
  }
  return out;
}

struct InspectOptions {
  std::string path;
  bool json = false;
  size_t max_items = 8;
};

}  // namespace

void add_inspect_command(CLI::App& app, CommandResult& result) {
  auto options = std::make_shared<InspectOptions>();
  CLI::App* command =
      app.add_subcommand("inspect", "Print a GGUF file's header, metadata and tensor table");
  command->add_option("file", options->path, "GGUF file, or \"demo\" for the built-in demo model")->required();
  command->add_flag("--json", options->json, "Print one JSON document");
  command->add_option("--max-items", options->max_items,
                      "Array elements shown before eliding (0 shows all)")
      ->capture_default_str();
  command->callback([options, &result] {
    const auto file = GgufFile::open(model::resolve_model_path(options->path));
    const std::string out = options->json ? render_json(file, options->max_items)
                                          : render_text(file, options->max_items);
    std::fwrite(out.data(), 1, out.size(), stdout);
    std::fflush(stdout);
    result.exit_code = 0;
  });
}

}  // namespace tether::cli
