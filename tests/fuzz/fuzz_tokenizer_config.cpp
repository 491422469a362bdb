// Fuzz target: the config.json "tokenizer" object (load_tokenizer, llm/tokenizer.h): type, specials, offset,
// roles (bos/eos/pad/unk), against the real files of tests/data/tokenizer. Any JSON must give a tokenizer or
// a yoco::Error; a tokenizer that loads keeps the tokenizer contract (tests/fuzz/tokenizer_checks.h).
// Input: the JSON text of the object. A "file" other than the two test files is skipped (the fuzzer must not
// read /dev/zero). Corpus: corpus/tokenizer_config/. Build and run: tools/fuzz.sh (docs/FUZZING.md).
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "kernels/error.h"
#include "llm/tokenizer.h"
#include "tests/fuzz/tokenizer_checks.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto text = yoco::fuzz::as_text(data, size);
  const nlohmann::json config = nlohmann::json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (config.is_discarded()) return 0;
  if (config.is_object() && config.contains("file")) {
    const auto& f = config["file"];
    if (f.is_string() && f != "tiny.tiktoken" && f != "tiny_hf/tokenizer.json") return 0;
  }
  std::unique_ptr<yoco::llm::Tokenizer> tok;
  try {
    tok = yoco::llm::load_tokenizer(std::string(YOCO_TEST_DATA) + "/tokenizer", config);
  } catch (const yoco::Error&) {
    return 0;
  }
  yoco::fuzz::check_tokenizer(*tok, text);
  return 0;
}
