#include "engine/model/demo_model.h"

#include <cstdlib>
#include <string>

#include "common/error.h"
#include "engine/model/model_maker.h"

namespace tether::model {
namespace {

// Part of the file name: bump it whenever the recipe (preset, seed, type,
// built-in vocabulary or its corpus, weight scales) changes, so that data
// directories holding an older demo model make the new one.
constexpr int kDemoRecipeVersion = 2;  // 2: the ChatML template offers tools

std::string env_value(const char* name) {
  const char* value = std::getenv(name);
  return value == nullptr ? std::string() : std::string(value);
}

}  // namespace

std::filesystem::path data_dir() {
  std::filesystem::path dir;
  if (std::string tether_dir = env_value("TETHER_DATA_DIR"); !tether_dir.empty()) {
    dir = tether_dir;
  } else if (std::string xdg = env_value("XDG_DATA_HOME");
             !xdg.empty() && std::filesystem::path(xdg).is_absolute()) {
    dir = std::filesystem::path(xdg) / "tether";
  } else if (std::string home = env_value("HOME"); !home.empty()) {
    dir = std::filesystem::path(home) / ".local" / "share" / "tether";
  } else {
    throw_error(ErrorCode::kIo,
                "no data directory: set TETHER_DATA_DIR (or XDG_DATA_HOME or HOME)");
  }
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec || !std::filesystem::is_directory(dir)) {
    throw_error(ErrorCode::kIo, "cannot create data directory {}: {}", dir.string(),
                ec ? ec.message() : "exists and is not a directory");
  }
  return dir;
}

std::filesystem::path ensure_demo_model() {
  const std::filesystem::path models_dir = data_dir() / "models";
  const std::filesystem::path path =
      models_dir / ("demo-tiny-q8_0-seed1-v" + std::to_string(kDemoRecipeVersion) + ".gguf");
  std::error_code ec;
  if (std::filesystem::is_regular_file(path, ec)) return path;

  std::filesystem::create_directories(models_dir, ec);
  if (ec) {
    throw_error(ErrorCode::kIo, "cannot create {}: {}", models_dir.string(), ec.message());
  }
  MakeModelOptions options;
  options.shape = model_shape_preset("tiny");
  options.type = TensorType::kQ8_0;
  options.seed = 1;
  options.name = "tether-demo";
  ModelMaker(std::move(options)).write_file(path);  // temp file + rename: atomic
  return path;
}

std::filesystem::path resolve_model_path(std::string_view arg) {
  if (arg == kDemoModelArg) return ensure_demo_model();
  if (arg.empty()) {
    throw_error(ErrorCode::kInvalidArgument,
                "no model given: pass a GGUF file path, or 'demo' for the built-in demo model");
  }
  std::filesystem::path path(arg);
  std::error_code ec;
  auto status = std::filesystem::status(path, ec);
  if (!std::filesystem::exists(status)) {
    throw_error(ErrorCode::kNotFound,
                "model file '{}' does not exist (pass a GGUF file path, or 'demo' for the "
                "built-in demo model)",
                arg);
  }
  if (!std::filesystem::is_regular_file(status)) {
    throw_error(ErrorCode::kInvalidArgument, "model path '{}' is not a regular file", arg);
  }
  return path;
}

}  // namespace tether::model
