// Fuzz target: tiktoken rank files (llm/tokenizer_tiktoken.cpp): lines of `base64(token) rank`. Any bytes
// must give a tokenizer or a yoco::Error; a tokenizer that loads keeps the tokenizer contract
// (tests/fuzz/tokenizer_checks.h), on sample texts and on the start of the file itself.
// Input: the whole rank file (config {"type": "tiktoken"}: offset 4, no extra specials).
// Corpus: corpus/tiktoken_file/. Build and run: tools/fuzz.sh (docs/FUZZING.md).
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
    tok = yoco::llm::load_tiktoken_tokenizer(path, nlohmann::json{{"type", "tiktoken"}});
  } catch (const yoco::Error&) {
    return 0;
  }
  yoco::fuzz::check_tokenizer(*tok, yoco::fuzz::as_text(data, size));
  return 0;
}
