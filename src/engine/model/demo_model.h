#pragma once

#include <filesystem>
#include <string_view>

namespace tether::model {

// The argument that names the built-in demo model wherever a model path is taken.
inline constexpr std::string_view kDemoModelArg = "demo";

// tether's data directory: $TETHER_DATA_DIR, else $XDG_DATA_HOME/tether, else
// $HOME/.local/share/tether (empty or relative XDG values are ignored, as the
// XDG spec says). Created if missing; Error(kIo) if it cannot be.
std::filesystem::path data_dir();

// The demo model (preset tiny, Q8_0, seed 1, built-in vocabulary and ChatML
// template: ~4 MB), made under data_dir()/models on first use and reused
// after. Concurrent first uses are safe: each writes a temporary file and
// renames it into place, and the files they write are identical.
std::filesystem::path ensure_demo_model();

// "demo" → ensure_demo_model(); anything else is a path that must name an
// existing regular file (Error(kNotFound) / kInvalidArgument otherwise).
std::filesystem::path resolve_model_path(std::string_view arg);

}  // namespace tether::model
