// libFuzzer entry point for the safetensors reader: any bytes must load or throw yoco::Error, never crash,
// and whatever loads must be readable in full.
//
// Not built by default. Build and run (from the repository root):
//   clang++ -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -I. \
//     tests/fuzz/fuzz_safetensors.cpp llm/safetensors.cpp kernels/cpu/dtype.cpp -o fuzz_safetensors
//   ./fuzz_safetensors -max_len=4096 tests/fuzz/corpus/safetensors
// (kernels/cpu/dtype.cpp provides the f16/bf16 conversions; link libyoco_kernels.a instead if it needs more.)
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>

#include "kernels/error.h"
#include "llm/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // The reader maps files, so the input goes through one (per process: fuzzers run one input at a time).
  // /dev/shm keeps it in memory (thousands of executions per second instead of hundreds).
  static const std::string path = std::string(::access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp") +
                                  "/yoco_fuzz_safetensors_" + std::to_string(::getpid());
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) return 0;
  if (size > 0) std::fwrite(data, 1, size, f);
  std::fclose(f);
  try {
    yoco::llm::SafeTensors st(path);
    for (const auto& t : st.tensors()) {
      (void)yoco::llm::to_f32(t);
      (void)yoco::llm::all_finite(t);
      (void)yoco::llm::f32_data(t);
      try {
        (void)yoco::llm::to_i32(t);
      } catch (const yoco::Error&) {
      }
    }
    (void)st.find("a");
  } catch (const yoco::Error&) {
  }
  return 0;
}
