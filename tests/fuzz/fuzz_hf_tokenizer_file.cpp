// Fuzz target: Hugging Face tokenizer.json files (llm/tokenizer_hf.cpp): byte-level BPE vocab, merges,
// pre-tokenizer, decoder, added tokens. Any bytes must give a tokenizer or a yoco::Error; a tokenizer that
// loads keeps the tokenizer contract (tests/fuzz/tokenizer_checks.h).
// Input: the whole tokenizer.json (config {"type": "hf"}). Corpus: corpus/hf_tokenizer_file/.
// Build and run: tools/fuzz.sh (docs/FUZZING.md).
#include <cstddef>
#include <cstdint>
#include <memory>

#include "kernels/error.h"
#include "llm/tokenizer.h"
#include "tests/fuzz/tokenizer_checks.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string& path = yoco::fuzz::scratch_path();
  if (!yoco::fuzz::write_scratch(path, data, size)) return 0;
  std::unique_ptr<yoco::llm::Tokenizer> tok;
  try {
    tok = yoco::llm::load_hf_tokenizer(path, nlohmann::json{{"type", "hf"}});
  } catch (const yoco::Error&) {
    return 0;
  }
  yoco::fuzz::check_tokenizer(*tok, "a sample");
  return 0;
}
