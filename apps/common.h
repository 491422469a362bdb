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

// The process's command line, kept by main() so that a command can hand itself over to another program.
void set_process_args(int argc, char** argv);
// build/bin/yoco is linked without the CUDA backend: cuBLAS and the CUDA runtime cost ~0.1 s of every start
// (symbol relocation and static initialisers), whatever the command. Where nvcc was found, the same program
// with the backend is built beside it as build/bin/yoco-cuda, and the commands that use the GPU
// (`--device cuda`) re-run themselves there: this replaces the process with yoco-cuda and the same arguments.
// Throws yoco::Error, naming `what`, when there is no yoco-cuda beside this program or it cannot be run.
[[noreturn]] void exec_cuda_build(const std::string& what);

}  // namespace yoco::app
