// Fuzz target: the safetensors reader (llm/safetensors.h). Any bytes must load or throw yoco::Error, never
// crash; whatever loads must be readable in full (every conversion of every tensor) and self-consistent (each
// tensor's bytes equal its shape × dtype size and lie inside the file; find() finds every tensor).
// Input: the whole file. Corpus: corpus/safetensors/. Build and run: tools/fuzz.sh (docs/FUZZING.md).
#include <cstddef>
#include <cstdint>

#include "kernels/error.h"
#include "llm/safetensors.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // The reader maps files, so the input goes through one.
  const std::string& path = yoco::fuzz::scratch_path();
  if (!yoco::fuzz::write_scratch(path, data, size)) return 0;
  try {
    yoco::llm::SafeTensors st(path);
    for (const auto& t : st.tensors()) {
      if (t.nbytes != static_cast<size_t>(t.numel()) * yoco::llm::tensor_dtype_size(t.dtype))
        yoco::fuzz::fail("tensor bytes differ from shape x dtype size");
      if (t.nbytes > size || (t.nbytes > 0 && t.data == nullptr)) yoco::fuzz::fail("tensor data outside the file");
      if (st.find(t.name) == nullptr) yoco::fuzz::fail("find() misses a tensor of the file");
      const auto f = yoco::llm::to_f32(t);
      if (f.size() != static_cast<size_t>(t.numel())) yoco::fuzz::fail("to_f32 size");
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
