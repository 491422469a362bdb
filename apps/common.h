// Helpers shared by the subcommands: the default model directory and token-file reading.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace yoco::app {

// The bundled demo model: $YOCO_MODEL if set, else assets/models/demo beside the build (found relative to
// the running executable, so build/bin/yoco works from any working directory).
std::string default_model_dir();
// Whitespace-separated non-negative token ids; throws yoco::Error naming the offending word and its index.
std::vector<int32_t> read_token_file(const std::string& path);
// Whether stderr is a terminal (progress bars only there).
bool stderr_is_tty();

}  // namespace yoco::app
